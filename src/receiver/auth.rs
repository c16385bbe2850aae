//! Receiver accounts: `livescan-receiver user add NAME` stores a salted PBKDF2-HMAC-SHA256
//! hash (never the password) in `users.json` (0600). HTTP basic credentials are checked
//! against it; a credential that verified once is remembered (by BLAKE3 of login and
//! password, in memory) so the slow hash is not paid for every chunk.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Mutex;

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

pub struct Authenticator {
    users: BTreeMap<String, Stored>,
    keys: BTreeMap<String, ApiKey>,
    verified: Mutex<HashSet<[u8; 32]>>,
}

impl Authenticator {
    pub fn load(data: &Path) -> std::io::Result<Authenticator> {
        let users: UsersFile =
            super::store::Store::read_json(&data.join("users.json"))?.unwrap_or_default();
        let keys: ApiKeysFile =
            super::store::Store::read_json(&data.join("apikeys.json"))?.unwrap_or_default();
        Ok(Authenticator {
            users: users.users,
            keys: keys.keys,
            verified: Mutex::new(HashSet::new()),
        })
    }

    /// The login behind a signed request URI (`…?…&apiKey=PUB&signature=SIG`, relative to
    /// `/api/`). Both signature forms UForge's docs show are accepted.
    pub fn check_api_key(&self, relative_uri: &str) -> Option<String> {
        let (signed, sig) = relative_uri.rsplit_once("&signature=")?;
        let (_, query) = signed.split_once('?')?;
        let public = query.split('&').find_map(|kv| kv.strip_prefix("apiKey="))?;
        let key = self.keys.get(&super::percent_decode(public)?)?;
        let sig = super::percent_decode(sig)?;
        use crate::ship::apikey::{signature, SignatureForm};
        [SignatureForm::Raw, SignatureForm::Hex]
            .into_iter()
            .any(|form| signature(key.secret.as_bytes(), signed, form) == sig)
            .then(|| key.login.clone())
    }

    /// The login of a valid `Authorization: Basic …` header.
    pub fn check(&self, header: Option<&str>) -> Option<String> {
        let b64 = header?.strip_prefix("Basic ")?;
        let raw = STANDARD.decode(b64.trim()).ok()?;
        // The login may contain '@' but not ':' (RFC 7617); the password may contain ':'.
        let colon = raw.iter().position(|&c| c == b':')?;
        let (login, password) = (std::str::from_utf8(&raw[..colon]).ok()?, &raw[colon + 1..]);
        let key = *blake3::hash(&raw).as_bytes();
        if self.verified.lock().ok()?.contains(&key) {
            return Some(login.to_string());
        }
        let stored = self.users.get(login)?;
        let salt = crate::pkgdb::digest::decode_hex(stored.salt.as_bytes())?;
        let want = crate::pkgdb::digest::decode_hex(stored.hash.as_bytes())?;
        let got = derive(password, &salt, stored.iterations);
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
        self.verified.lock().ok()?.insert(key);
        Some(login.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(a.check(Some(&good)).as_deref(), Some("ops@example.com"));
        assert_eq!(
            a.check(Some(&good)).as_deref(),
            Some("ops@example.com"),
            "cached"
        );
        let bad = format!("Basic {}", STANDARD.encode("ops@example.com:wrong"));
        assert_eq!(a.check(Some(&bad)), None);
        assert_eq!(a.check(Some("Bearer x")), None);
        assert_eq!(a.check(None), None);
    }
}
