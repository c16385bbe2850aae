//! Receiver accounts: `livescan-receiver user add NAME` stores a salted PBKDF2-HMAC-SHA256
//! hash (never the password) in `users.json` (0600). HTTP basic credentials are checked
//! against it; a credential that verified is remembered for its connection
//! ([`CredentialCache`]: bounded, expiring, dropped when the account files change) so the
//! slow hash is not paid for every chunk. The account files are re-read when they change,
//! so `user add` and `apikey add` take effect on a running receiver.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::store::write_atomic;

const ITERATIONS: u32 = 200_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    salt: String,
    hash: String,
    iterations: u32,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct UsersFile {
    users: BTreeMap<String, Stored>,
}

/// API keys: public key → (login, secret). Secrets must stay recoverable for HMAC checks,
/// so the file is 0600.
#[derive(Debug, Default, Serialize, Deserialize)]
struct ApiKeysFile {
    keys: BTreeMap<String, ApiKey>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ApiKey {
    login: String,
    secret: String,
}

/// Create an API key pair for `login`; returns (public, secret).
pub fn add_api_key(data: &Path, login: &str) -> std::io::Result<(String, String)> {
    let path = data.join("apikeys.json");
    let mut keys: ApiKeysFile = super::store::Store::read_json(&path)?.unwrap_or_default();
    let mut raw = [0u8; 36];
    getrandom::fill(&mut raw).map_err(|e| std::io::Error::other(e.to_string()))?;
    let public = hex(&raw[..12]);
    let secret = STANDARD.encode(&raw[12..]);
    keys.keys.insert(
        public.clone(),
        ApiKey {
            login: login.to_string(),
            secret: secret.clone(),
        },
    );
    write_atomic(&path, &serde_json::to_vec_pretty(&keys)?, 0o600)?;
    Ok((public, secret))
}

fn derive(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, salt, iterations, &mut out);
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|c| format!("{c:02x}")).collect()
}

/// Add or replace a user. The password comes from the caller (stdin), never argv.
pub fn add_user(data: &Path, login: &str, password: &[u8]) -> std::io::Result<()> {
    let path = data.join("users.json");
    let mut users: UsersFile = super::store::Store::read_json(&path)?.unwrap_or_default();
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| std::io::Error::other(e.to_string()))?;
    users.users.insert(
        login.to_string(),
        Stored {
            salt: hex(&salt),
            hash: hex(&derive(password, &salt, ITERATIONS)),
            iterations: ITERATIONS,
        },
    );
    write_atomic(&path, &serde_json::to_vec_pretty(&users)?, 0o600)
}

/// How long a verified credential is trusted on one connection before it is checked again.
const CACHE_TTL: Duration = Duration::from_secs(600);
/// Most connections remembered at once (the oldest entry goes first).
const CACHE_MAX: usize = 1024;

/// What `users.json` and `apikeys.json` looked like when loaded (inode, mtime, size): both
/// are replaced by rename, so any change gives another stamp.
type Stamp = [Option<(u64, i64, i64, u64)>; 2];

fn stamp(data: &Path) -> Stamp {
    use std::os::unix::fs::MetadataExt;
    let one = |name: &str| {
        std::fs::metadata(data.join(name))
            .ok()
            .map(|m| (m.ino(), m.mtime(), m.mtime_nsec(), m.size()))
    };
    [one("users.json"), one("apikeys.json")]
}

struct Accounts {
    users: BTreeMap<String, Stored>,
    keys: BTreeMap<String, ApiKey>,
    stamp: Stamp,
}

fn load_accounts(data: &Path) -> std::io::Result<Accounts> {
    // Stamp first: a change racing with the read gives a newer stamp next time, so it is
    // read again rather than missed.
    let stamp = stamp(data);
    let users: UsersFile =
        super::store::Store::read_json(&data.join("users.json"))?.unwrap_or_default();
    let keys: ApiKeysFile =
        super::store::Store::read_json(&data.join("apikeys.json"))?.unwrap_or_default();
    Ok(Accounts {
        users: users.users,
        keys: keys.keys,
        stamp,
    })
}

/// Verified basic credentials, per connection. The key is the peer's address (ip and port:
/// one TCP connection while it lives) together with a keyed BLAKE3 of the exact
/// `login:password` bytes, so an entry only ever spares the slow hash for a request that
/// presents the same credential again on that connection. A port reused later by another
/// connection gains nothing from it unless it presents the same password — which it could
/// have had checked anyway. Entries expire after [`CACHE_TTL`], at most [`CACHE_MAX`] are
/// kept, and all are dropped when the account files change (a changed password or a
/// removed user takes effect on the next request, not at the next restart).
struct CredentialCache {
    /// Random per process: the hashes in memory are not a plain digest of passwords.
    key: [u8; 32],
    entries: HashMap<(SocketAddr, [u8; 32]), (String, Instant)>,
    ttl: Duration,
}

impl CredentialCache {
    fn get(&mut self, peer: SocketAddr, cred: &[u8]) -> Option<String> {
        let k = (peer, *blake3::keyed_hash(&self.key, cred).as_bytes());
        match self.entries.get(&k) {
            Some((login, at)) if at.elapsed() < self.ttl => Some(login.clone()),
            Some(_) => {
                self.entries.remove(&k);
                None
            }
            None => None,
        }
    }

    fn put(&mut self, peer: SocketAddr, cred: &[u8], login: &str) {
        if self.entries.len() >= CACHE_MAX {
            let ttl = self.ttl;
            self.entries.retain(|_, (_, at)| at.elapsed() < ttl);
        }
        if self.entries.len() >= CACHE_MAX {
            if let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, (_, at))| *at)
                .map(|(k, _)| *k)
            {
                self.entries.remove(&oldest);
            }
        }
        let k = (peer, *blake3::keyed_hash(&self.key, cred).as_bytes());
        self.entries.insert(k, (login.to_string(), Instant::now()));
    }
}

pub struct Authenticator {
    data: PathBuf,
    accounts: RwLock<Accounts>,
    cache: Mutex<CredentialCache>,
    /// Slow hashes computed so far (for tests and logs).
    slow_hashes: AtomicU64,
}

impl Authenticator {
    pub fn load(data: &Path) -> std::io::Result<Authenticator> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(Authenticator {
            data: data.to_path_buf(),
            accounts: RwLock::new(load_accounts(data)?),
            cache: Mutex::new(CredentialCache {
                key,
                entries: HashMap::new(),
                ttl: CACHE_TTL,
            }),
            slow_hashes: AtomicU64::new(0),
        })
    }

    /// Re-read the account files if they changed since they were loaded, and forget every
    /// cached credential then. A file that cannot be read leaves no account usable (fail
    /// closed) until it can.
    fn refresh(&self) {
        let now = stamp(&self.data);
        if self
            .accounts
            .read()
            .map(|a| a.stamp == now)
            .unwrap_or(false)
        {
            return;
        }
        let fresh = load_accounts(&self.data).unwrap_or_else(|e| {
            log::error!("account files unreadable, refusing all logins: {e}");
            Accounts {
                users: BTreeMap::new(),
                keys: BTreeMap::new(),
                stamp: now,
            }
        });
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.entries.clear();
        *self.accounts.write().unwrap_or_else(|p| p.into_inner()) = fresh;
    }

    pub fn slow_hashes(&self) -> u64 {
        self.slow_hashes.load(Ordering::Relaxed)
    }

    /// The login behind a signed request URI (`…?…&apiKey=PUB&signature=SIG`, relative to
    /// `/api/`). Both signature forms UForge's docs show are accepted. (HMAC is cheap: not
    /// cached.)
    pub fn check_api_key(&self, relative_uri: &str) -> Option<String> {
        self.refresh();
        let (signed, sig) = relative_uri.rsplit_once("&signature=")?;
        let (_, query) = signed.split_once('?')?;
        let public = query.split('&').find_map(|kv| kv.strip_prefix("apiKey="))?;
        let accounts = self.accounts.read().ok()?;
        let key = accounts.keys.get(&super::percent_decode(public)?)?;
        let sig = super::percent_decode(sig)?;
        use crate::ship::apikey::{signature, SignatureForm};
        [SignatureForm::Raw, SignatureForm::Hex]
            .into_iter()
            .any(|form| signature(key.secret.as_bytes(), signed, form) == sig)
            .then(|| key.login.clone())
    }

    /// The login of a valid `Authorization: Basic …` header sent by `peer` (the connection's
    /// remote address; `None`: nothing is cached).
    pub fn check(&self, peer: Option<SocketAddr>, header: Option<&str>) -> Option<String> {
        self.refresh();
        let b64 = header?.strip_prefix("Basic ")?;
        let raw = STANDARD.decode(b64.trim()).ok()?;
        // The login may contain '@' but not ':' (RFC 7617); the password may contain ':'.
        let colon = raw.iter().position(|&c| c == b':')?;
        let (login, password) = (std::str::from_utf8(&raw[..colon]).ok()?, &raw[colon + 1..]);
        if let Some(peer) = peer {
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(l) = cache.get(peer, &raw) {
                return Some(l);
            }
        }
        let (salt, want, iterations) = {
            let accounts = self.accounts.read().ok()?;
            let stored = accounts.users.get(login)?;
            (
                crate::pkgdb::digest::decode_hex(stored.salt.as_bytes())?,
                crate::pkgdb::digest::decode_hex(stored.hash.as_bytes())?,
                stored.iterations,
            )
        };
        self.slow_hashes.fetch_add(1, Ordering::Relaxed);
        let got = derive(password, &salt, iterations);
        // Constant-time comparison: no early exit on the first differing byte.
        let same = want.len() == got.len()
            && want
                .iter()
                .zip(got.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if !same {
            return None;
        }
        if let Some(peer) = peer {
            self.cache
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .put(peer, &raw, login);
        }
        Some(login.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(port: u16) -> Option<SocketAddr> {
        Some(SocketAddr::from(([127, 0, 0, 1], port)))
    }

    #[test]
    fn add_then_check() {
        let dir = tempfile::tempdir().unwrap();
        add_user(dir.path(), "ops@example.com", b"s3cr:et").unwrap();
        let meta = std::fs::metadata(dir.path().join("users.json")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let text = std::fs::read_to_string(dir.path().join("users.json")).unwrap();
        assert!(!text.contains("s3cr"), "the password is never stored");
        let a = Authenticator::load(dir.path()).unwrap();
        let good = format!("Basic {}", STANDARD.encode("ops@example.com:s3cr:et"));
        assert_eq!(
            a.check(peer(1), Some(&good)).as_deref(),
            Some("ops@example.com")
        );
        let bad = format!("Basic {}", STANDARD.encode("ops@example.com:wrong"));
        assert_eq!(a.check(peer(1), Some(&bad)), None);
        assert_eq!(a.check(peer(1), Some("Bearer x")), None);
        assert_eq!(a.check(peer(1), None), None);
    }

    #[test]
    fn cache_is_per_connection_bounded_and_dropped_on_change() {
        let dir = tempfile::tempdir().unwrap();
        add_user(dir.path(), "ops", b"one").unwrap();
        let a = Authenticator::load(dir.path()).unwrap();
        let one = format!("Basic {}", STANDARD.encode("ops:one"));
        assert!(a.check(peer(1), Some(&one)).is_some());
        assert!(a.check(peer(1), Some(&one)).is_some());
        assert_eq!(a.slow_hashes(), 1, "the same connection pays once");
        assert!(a.check(peer(2), Some(&one)).is_some());
        assert_eq!(a.slow_hashes(), 2, "another connection pays its own");
        assert!(a.check(None, Some(&one)).is_some());
        assert!(a.check(None, Some(&one)).is_some());
        assert_eq!(a.slow_hashes(), 4, "no peer address: no caching");
        // A wrong password on a connection with a cached credential: checked, refused.
        let two = format!("Basic {}", STANDARD.encode("ops:two"));
        assert_eq!(a.check(peer(1), Some(&two)), None);
        assert_eq!(a.slow_hashes(), 5);

        // The password changes while the receiver runs: the old one stops working at once,
        // even on the connection that had it cached; the new one works.
        add_user(dir.path(), "ops", b"two").unwrap();
        assert_eq!(a.check(peer(1), Some(&one)), None);
        assert!(a.check(peer(1), Some(&two)).is_some());

        // Bounded: many connections never grow the cache past its limit.
        for port in 0..(CACHE_MAX as u16 + 50) {
            a.cache
                .lock()
                .unwrap()
                .put(SocketAddr::from(([10, 0, 0, 1], port)), b"ops:two", "ops");
        }
        assert!(a.cache.lock().unwrap().entries.len() <= CACHE_MAX);

        // Expired entries are checked again.
        a.cache.lock().unwrap().ttl = Duration::ZERO;
        let before = a.slow_hashes();
        assert!(a.check(peer(3), Some(&two)).is_some());
        assert!(a.check(peer(3), Some(&two)).is_some());
        assert_eq!(a.slow_hashes(), before + 2);
    }
}
