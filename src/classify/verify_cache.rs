//! The verify cache: digests computed by an earlier scan, so a rescan of an unchanged host
//! reads only the files that changed.
//!
//! What is cached is what was *computed* from a file's content (one full digest per
//! algorithm), never a verdict: every scan compares it with the digest the package database
//! records now, so an upgraded package, another database or another expected digest is never
//! judged on stale data. A cached digest is used only when the walk's `lstat` of the file
//! equals the key exactly: device, inode, size, mtime and ctime (both to the nanosecond). The
//! ctime is the part no one can set: rewriting a file and putting its mtime back with
//! `touch -d` still moves it, so a changed file is never missed.
//!
//! Files whose ctime or mtime is not safely older than the scan's start are not cached (git
//! handles its "racily clean" index entries the same way): a write landing in the same
//! timestamp tick as our read could otherwise keep the key and change the content.
//!
//! There is one cache file per cache directory, for one root. It is checked as a whole
//! (BLAKE3 trailer) and rebuilt, never trusted, when it is corrupt, truncated, too large,
//! from another format version or for another root; it is written to a temporary file in
//! the same directory and renamed, so a crash leaves the previous cache or none.

use std::fs;
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::classify::digest::Computed;
use crate::pkgdb::digest::{AlgoSet, DigestAlgo};
use crate::walk::Meta;

/// Default directory of the cache file (`--cache-dir`, `scan.cache_dir`).
pub const DEFAULT_DIR: &str = "/var/lib/livescan";
/// The file's name inside the cache directory.
pub const FILE_NAME: &str = "verify-cache";

const MAGIC: &[u8; 8] = b"LSVCACHE";
/// Bumped whenever the layout or the meaning of an entry changes.
const VERSION: u32 = 1;
/// Bytes of a fixed entry before its digests.
const ENTRY_FIXED: usize = 8 + 8 + 8 + 8 + 4 + 8 + 4 + 1;
const TRAILER: usize = 32;
/// Longest root path stored (PATH_MAX).
const MAX_ROOT_LEN: usize = 4096;
/// Bound on the file read back and on the entries written: a host with more hashed files
/// than this simply rehashes the rest.
pub const MAX_ENTRIES: usize = 4_000_000;
const MAX_FILE_BYTES: u64 = 512 << 20;
/// Files changed less than this long before the scan started are not cached (coarse
/// timestamp filesystems tick in up to 2 s).
const RACY_SECS: i64 = 2;

/// Which scanned root a cache describes: its absolute path and its directory's inode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootId {
    pub path: Vec<u8>,
    pub dev: u64,
    pub ino: u64,
}

impl RootId {
    pub fn of(root: &Path) -> std::io::Result<RootId> {
        let path = fs::canonicalize(root)?;
        let m = fs::metadata(&path)?;
        Ok(RootId {
            path: path.as_os_str().as_bytes().to_vec(),
            dev: m.dev(),
            ino: m.ino(),
        })
    }
}

/// The exact `lstat` fields a cached digest is valid for. Ordered by device and inode
/// first: the order the scan writes them in (its hash jobs are in inode order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime: i64,
    pub mtime_nsec: u32,
    pub ctime: i64,
    pub ctime_nsec: u32,
}

impl Key {
    pub fn of(m: &Meta) -> Key {
        Key {
            dev: m.dev,
            ino: m.ino,
            size: m.size,
            mtime: m.mtime,
            mtime_nsec: m.mtime_nsec,
            ctime: m.ctime,
            ctime_nsec: m.ctime_nsec,
        }
    }
}

/// A file's digests as held from hashing until the next scan's cache is written: an MD5
/// alone (every file of a dpkg host) inline, anything else boxed. 24 bytes where a
/// [`Computed`] is 56: half a million of them are collected for a 1 M-file tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cached {
    Md5([u8; 16]),
    Other(Box<Computed>),
}

impl Cached {
    pub fn of(c: Computed) -> Cached {
        match c.md5_alone() {
            Some(md5) => Cached::Md5(md5),
            None => Cached::Other(Box::new(c)),
        }
    }

    /// The digest of `algo`, if held.
    pub fn get(&self, algo: DigestAlgo) -> Option<&[u8]> {
        match self {
            Cached::Md5(md5) => (algo == DigestAlgo::Md5).then_some(&md5[..]),
            Cached::Other(c) => c.get(algo),
        }
    }

    pub fn computed(&self) -> Computed {
        match self {
            Cached::Md5(md5) => Computed::md5(*md5),
            Cached::Other(c) => (**c).clone(),
        }
    }
}

/// Why a cache file was not used. Absent and "for another root/version" are normal; the
/// others deserve a warning.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("no cache yet")]
    Absent,
    #[error("{0}")]
    Unreadable(std::io::Error),
    #[error("{0} bytes, more than the {MAX_FILE_BYTES}-byte bound")]
    TooLarge(u64),
    #[error("corrupt at offset {offset}: {what}")]
    Corrupt { offset: usize, what: &'static str },
    #[error("written by another format version ({0})")]
    OtherVersion(u32),
    #[error("describes another root ({0})")]
    OtherRoot(String),
}

impl LoadError {
    /// True for the cases a user should hear about (the file exists and is damaged).
    pub fn is_damage(&self) -> bool {
        matches!(
            self,
            LoadError::Unreadable(_) | LoadError::TooLarge(_) | LoadError::Corrupt { .. }
        )
    }
}

/// Digests from the previous scan, read from the file as [`Self::answers`] reaches them:
/// decoded whole, half a million entries (48 MB on a 1 M-file tree) were held beside the
/// hash jobs they answer, the peak of a rescan. The file's checksum is checked by a first
/// read before any entry is used ([`Self::load`]).
pub struct VerifyCache {
    /// Positioned at the first entry.
    body: Reader<Box<dyn Read + Send>>,
    body_len: usize,
    /// Entries the file holds, as its header says (checked against its length).
    count: u64,
}

impl Default for VerifyCache {
    /// A cache with no entries (none yet, or one not used).
    fn default() -> VerifyCache {
        VerifyCache {
            body: Reader {
                inner: Box::new(std::io::empty()),
                pos: 0,
            },
            body_len: 0,
            count: 0,
        }
    }
}

impl std::fmt::Debug for VerifyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyCache")
            .field("count", &self.count)
            .finish_non_exhaustive()
    }
}

impl VerifyCache {
    pub fn len(&self) -> usize {
        usize::try_from(self.count).unwrap_or(usize::MAX)
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The cache consumed by a merge join with `queries` (key and algorithms), which must
    /// come sorted by key, strictly ascending (the hash jobs do: one per inode, in inode
    /// order): for each query, in order, its digests if the cache holds every algorithm
    /// asked for, `None` otherwise. Unsorted queries give misses (a file read again), never
    /// another file's digests.
    ///
    /// The file is written sorted by key. Were its entries not (a file from elsewhere,
    /// whose checksum is right), the join stops at the first one out of order and every
    /// later query is a miss, as it is after an entry that does not decode: a warning,
    /// files read again, nothing judged on a wrong digest. Of a key written twice, the
    /// first wins.
    pub fn answers<Q>(self, queries: Q) -> impl Iterator<Item = Option<Computed>>
    where
        Q: Iterator<Item = (Key, AlgoSet)>,
    {
        let mut entries = Entries {
            cache: self,
            read: 0,
            last: None,
            stopped: false,
        };
        let mut peeked: Option<(Key, Computed)> = None;
        queries.map(move |(key, algos)| loop {
            let (k, c) = peeked.take().or_else(|| entries.next())?;
            match k.cmp(&key) {
                std::cmp::Ordering::Less => continue,
                std::cmp::Ordering::Greater => {
                    peeked = Some((k, c));
                    return None;
                }
                std::cmp::Ordering::Equal => {
                    return algos.iter().all(|a| c.get(a).is_some()).then_some(c);
                }
            }
        })
    }

    /// Read `path`; anything but a whole, intact file for `root` is an error.
    pub fn load(path: &Path, root: &RootId) -> Result<VerifyCache, LoadError> {
        let file = match fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(LoadError::Absent),
            Err(e) => return Err(LoadError::Unreadable(e)),
        };
        let len = file.metadata().map_err(LoadError::Unreadable)?.len();
        if len > MAX_FILE_BYTES {
            return Err(LoadError::TooLarge(len));
        }
        // Read twice, a buffer at a time: through once now to check the trailer, then
        // entry by entry as the join with the hash jobs reaches them ([`Self::answers`]).
        // The second read is of the same open file (a new cache replaces it by rename).
        let body_len = checked_body(&file, len)?;
        (&file)
            .seek(SeekFrom::Start(0))
            .map_err(LoadError::Unreadable)?;
        let body = BufReader::with_capacity(1 << 16, file.take(body_len as u64));
        open_body(Box::new(body), body_len, Some(root))
    }
}

/// A cache's entries in file order, each decoded as it is asked for; ends early (with a
/// warning) at the first one that does not decode or comes before the one read last.
struct Entries {
    cache: VerifyCache,
    read: u64,
    last: Option<Key>,
    stopped: bool,
}

impl Iterator for Entries {
    type Item = (Key, Computed);

    fn next(&mut self) -> Option<(Key, Computed)> {
        while !self.stopped {
            if self.read == self.cache.count {
                self.stopped = true;
                if self.cache.body.pos != self.cache.body_len {
                    log::warn!(
                        "verify cache: {} bytes after its last entry (offset {}); ignored",
                        self.cache.body_len - self.cache.body.pos,
                        self.cache.body.pos
                    );
                }
                return None;
            }
            let at = self.cache.body.pos;
            let (key, computed) = match decode_entry(&mut self.cache.body) {
                Ok(e) => e,
                Err(e) => {
                    self.stop(&e.to_string());
                    return None;
                }
            };
            self.read += 1;
            match self.last.map(|last| key.cmp(&last)) {
                Some(std::cmp::Ordering::Less) => {
                    self.stop(&format!("entry at offset {at} out of key order"));
                    return None;
                }
                Some(std::cmp::Ordering::Equal) => continue,
                _ => {}
            }
            self.last = Some(key);
            return Some((key, computed));
        }
        None
    }
}

impl Entries {
    fn stop(&mut self, why: &str) {
        self.stopped = true;
        log::warn!(
            "verify cache: {why}; the files its {} later entries stand for are read again",
            self.cache.count - self.read
        );
    }
}

/// Checks the magic and the BLAKE3 trailer of the cache file `file` of `len` bytes, reading
/// it through once; the length of the body the trailer covers.
fn checked_body(mut file: &fs::File, len: u64) -> Result<usize, LoadError> {
    let not_ours = LoadError::Corrupt {
        offset: 0,
        what: "not a livescan verify cache (magic)",
    };
    let Some(body_len) = usize::try_from(len)
        .ok()
        .filter(|&l| l >= MAGIC.len() + 4 + TRAILER)
        .map(|l| l - TRAILER)
    else {
        return Err(not_ours);
    };
    let mut magic = [0u8; MAGIC.len()];
    file.read_exact(&mut magic).map_err(LoadError::Unreadable)?;
    if &magic != MAGIC {
        return Err(not_ours);
    }
    let mut hasher = blake3::Hasher::new();
    hasher.update(&magic);
    let rest = (body_len - MAGIC.len()) as u64;
    let copied = std::io::copy(&mut file.take(rest), &mut hasher).map_err(LoadError::Unreadable)?;
    let mut trailer = [0u8; TRAILER];
    if copied != rest
        || file.read_exact(&mut trailer).is_err()
        || hasher.finalize().as_bytes() != &trailer
    {
        return Err(LoadError::Corrupt {
            offset: body_len,
            what: "checksum mismatch (truncated or damaged)",
        });
    }
    Ok(body_len)
}

/// Is a file with this `lstat`, hashed in a scan that started at `scan_start` (seconds since
/// the epoch), safe to cache? Not when it changed too close to the scan (see the module doc).
pub fn cacheable(m: &Meta, scan_start: i64) -> bool {
    m.ctime < scan_start - RACY_SECS && m.mtime < scan_start - RACY_SECS
}

/// What happened to the verify cache in one scan (the report's `verify_cache`).
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct CacheInfo {
    /// The cache file; `None` with `--no-cache`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// Entries read from the previous scan's cache (0: none, or not usable).
    pub loaded: usize,
    /// Why the previous cache was not used, when it existed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rebuilt_because: Option<String>,
    /// Entries written for the next scan.
    pub saved: usize,
}

/// The cache's bytes, read in order; errors name the offset.
struct Reader<R> {
    inner: R,
    pos: usize,
}

impl<R: Read> Reader<R> {
    fn fill(&mut self, buf: &mut [u8], what: &'static str) -> Result<(), LoadError> {
        match self.inner.read_exact(buf) {
            Ok(()) => {
                self.pos += buf.len();
                Ok(())
            }
            // The body's length is known: ending early is damage, not an I/O failure.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(LoadError::Corrupt {
                offset: self.pos,
                what,
            }),
            Err(e) => Err(LoadError::Unreadable(e)),
        }
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], LoadError> {
        let mut b = [0u8; N];
        self.fill(&mut b, what)?;
        Ok(b)
    }

    /// `n` bytes; the callers bound `n` (a root path, a digest).
    fn bytes(&mut self, n: usize, what: &'static str) -> Result<Vec<u8>, LoadError> {
        let mut b = vec![0u8; n];
        self.fill(&mut b, what)?;
        Ok(b)
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, LoadError> {
        self.array(what).map(u64::from_le_bytes)
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, LoadError> {
        self.array(what).map(u32::from_le_bytes)
    }
}

/// Bit `i` of an entry's algorithm byte is `DigestAlgo::ALL[i]`.
fn algo_index(a: DigestAlgo) -> usize {
    DigestAlgo::ALL.iter().position(|x| *x == a).unwrap_or(0)
}

/// Parse a cache file's bytes (the fuzz target's entry point). Bounded: the whole input
/// is checked against its trailer first, and the entry count against the bytes present.
pub fn decode(data: &[u8], root: &RootId) -> Result<VerifyCache, LoadError> {
    decode_for(data, Some(root))
}

/// [`decode`] accepting whatever root the file names (the fuzz target: mutations of the
/// root's identity must still reach the entries).
pub fn decode_any_root(data: &[u8]) -> Result<VerifyCache, LoadError> {
    decode_for(data, None)
}

fn decode_for(data: &[u8], root: Option<&RootId>) -> Result<VerifyCache, LoadError> {
    if data.len() < MAGIC.len() + 4 + TRAILER || &data[..MAGIC.len()] != MAGIC {
        return Err(LoadError::Corrupt {
            offset: 0,
            what: "not a livescan verify cache (magic)",
        });
    }
    let body_len = data.len() - TRAILER;
    if blake3::hash(&data[..body_len]).as_bytes() != &data[body_len..] {
        return Err(LoadError::Corrupt {
            offset: body_len,
            what: "checksum mismatch (truncated or damaged)",
        });
    }
    let body = std::io::Cursor::new(data[..body_len].to_vec());
    open_body(Box::new(body), body_len, root)
}

/// A cache body of `body_len` bytes (magic included) whose trailer was checked, read up
/// to its first entry: the header must be this format's, for `root` when one is given.
fn open_body(
    body: Box<dyn Read + Send>,
    body_len: usize,
    root: Option<&RootId>,
) -> Result<VerifyCache, LoadError> {
    let mut r = Reader {
        inner: body,
        pos: 0,
    };
    // Checked with the trailer by the callers; read past.
    r.array::<{ MAGIC.len() }>("magic")?;
    let version = r.u32("version")?;
    if version != VERSION {
        return Err(LoadError::OtherVersion(version));
    }
    let dev = r.u64("root device")?;
    let ino = r.u64("root inode")?;
    let root_len = r.u32("root path length")? as usize;
    if root_len > MAX_ROOT_LEN {
        return Err(LoadError::Corrupt {
            offset: r.pos - 4,
            what: "root path too long",
        });
    }
    let path = r.bytes(root_len, "root path")?;
    if root.is_some_and(|root| path != root.path || dev != root.dev || ino != root.ino) {
        return Err(LoadError::OtherRoot(
            String::from_utf8_lossy(&path).into_owned(),
        ));
    }
    let count = r.u64("entry count")?;
    let left = body_len.saturating_sub(r.pos) as u64;
    if count > MAX_ENTRIES as u64 || count.saturating_mul(ENTRY_FIXED as u64) > left {
        return Err(LoadError::Corrupt {
            offset: r.pos - 8,
            what: "entry count larger than the file",
        });
    }
    Ok(VerifyCache {
        body: r,
        body_len,
        count,
    })
}

/// One entry: its key, and the digests its algorithm byte announces.
fn decode_entry(r: &mut Reader<impl Read>) -> Result<(Key, Computed), LoadError> {
    let key = Key {
        dev: r.u64("entry")?,
        ino: r.u64("entry")?,
        size: r.u64("entry")?,
        mtime: r.u64("entry")? as i64,
        mtime_nsec: r.u32("entry")?,
        ctime: r.u64("entry")? as i64,
        ctime_nsec: r.u32("entry")?,
    };
    let [bits] = r.array::<1>("entry algorithms")?;
    if bits == 0 || bits >> DigestAlgo::ALL.len() != 0 {
        return Err(LoadError::Corrupt {
            offset: r.pos - 1,
            what: "unknown digest algorithm",
        });
    }
    let mut parts = Vec::with_capacity(bits.count_ones() as usize);
    for (i, a) in DigestAlgo::ALL.into_iter().enumerate() {
        if bits & (1 << i) != 0 {
            parts.push((a, r.bytes(a.output_len(), "digest")?));
        }
    }
    Ok((key, Computed::from_parts(parts)))
}

/// The bytes of a cache file for `root` holding `entries` (at most [`MAX_ENTRIES`]).
/// `entries` is gone through twice: once to size the buffer exactly (grown by doubling,
/// for the 1 M-file tree's 500 k entries its last step held the old 32 MB and the new
/// 64 MB at once), once to fill it.
pub fn encode<I, C>(root: &RootId, entries: I) -> Vec<u8>
where
    I: IntoIterator<Item = (Key, C)> + Clone,
    C: std::borrow::Borrow<Computed>,
{
    let path = &root.path[..root.path.len().min(MAX_ROOT_LEN)];
    let header = MAGIC.len() + 4 + 8 + 8 + 4 + path.len() + 8;
    let body: usize = entries
        .clone()
        .into_iter()
        .take(MAX_ENTRIES)
        .map(|(_, c)| {
            let parts = stored_parts(c.borrow());
            if parts.is_empty() {
                0
            } else {
                ENTRY_FIXED + parts.iter().map(|(_, v)| v.len()).sum::<usize>()
            }
        })
        .sum();
    let mut out = Vec::with_capacity(header + body + TRAILER);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&root.dev.to_le_bytes());
    out.extend_from_slice(&root.ino.to_le_bytes());
    out.extend_from_slice(&(path.len() as u32).to_le_bytes());
    out.extend_from_slice(path);
    let count_at = out.len();
    out.extend_from_slice(&0u64.to_le_bytes());
    let mut count: u64 = 0;
    for (k, c) in entries.into_iter().take(MAX_ENTRIES) {
        let parts = stored_parts(c.borrow());
        if parts.is_empty() {
            continue;
        }
        out.extend_from_slice(&k.dev.to_le_bytes());
        out.extend_from_slice(&k.ino.to_le_bytes());
        out.extend_from_slice(&k.size.to_le_bytes());
        out.extend_from_slice(&k.mtime.to_le_bytes());
        out.extend_from_slice(&k.mtime_nsec.to_le_bytes());
        out.extend_from_slice(&k.ctime.to_le_bytes());
        out.extend_from_slice(&k.ctime_nsec.to_le_bytes());
        out.push(parts.iter().fold(0u8, |b, (a, _)| b | 1 << algo_index(*a)));
        for (_, v) in parts {
            out.extend_from_slice(v);
        }
        count += 1;
    }
    out[count_at..count_at + 8].copy_from_slice(&count.to_le_bytes());
    let sum = blake3::hash(&out);
    out.extend_from_slice(sum.as_bytes());
    debug_assert_eq!(
        out.len(),
        header + body + TRAILER,
        "cache size computed exactly"
    );
    out
}

/// The digests of `c` a cache file stores: only full-length digests of known algorithms,
/// each once (what decode accepts), in file order.
fn stored_parts(c: &Computed) -> Vec<(DigestAlgo, &[u8])> {
    let mut parts: Vec<(DigestAlgo, &[u8])> = c
        .parts()
        .filter(|(a, v)| v.len() == a.output_len())
        .collect();
    parts.sort_by_key(|(a, _)| algo_index(*a));
    parts.dedup_by_key(|(a, _)| *a);
    parts
}

/// Write `bytes` as `dir/verify-cache`: a 0600 temporary file in `dir` (created 0700 when
/// missing), synced, then renamed over the old cache.
pub fn save(dir: &Path, bytes: &[u8]) -> std::io::Result<PathBuf> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let target = dir.join(FILE_NAME);
    let tmp = dir.join(format!(".{FILE_NAME}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, &target)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map(|()| target)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> RootId {
        RootId {
            path: b"/".to_vec(),
            dev: 1,
            ino: 2,
        }
    }

    fn key(ino: u64) -> Key {
        Key {
            dev: 9,
            ino,
            size: 100,
            mtime: 1_700_000_000,
            mtime_nsec: 5,
            ctime: 1_700_000_001,
            ctime_nsec: 6,
        }
    }

    fn meta(k: Key) -> Meta {
        Meta {
            kind: crate::walk::FileKind::Regular,
            mode: 0o100644,
            uid: 0,
            gid: 0,
            size: k.size,
            mtime: k.mtime,
            mtime_nsec: k.mtime_nsec,
            ctime: k.ctime,
            ctime_nsec: k.ctime_nsec,
            dev: k.dev,
            ino: k.ino,
            nlink: 1,
            rdev: 0,
            blocks: 8,
        }
    }

    fn md5(v: u8) -> Computed {
        Computed::from_parts(vec![(DigestAlgo::Md5, vec![v; 16])])
    }

    /// The answer of the cache file `bytes` to a single query.
    fn lookup(bytes: &[u8], m: &Meta, algos: AlgoSet) -> Option<Computed> {
        let c = decode(bytes, &root()).unwrap();
        c.answers(std::iter::once((Key::of(m), algos)))
            .next()
            .flatten()
    }

    /// Every entry of a cache, in the order the join reads them.
    fn all_entries(c: VerifyCache) -> Vec<(Key, Computed)> {
        Entries {
            cache: c,
            read: 0,
            last: None,
            stopped: false,
        }
        .collect()
    }

    #[test]
    fn round_trip_and_exact_keys() {
        let both = Computed::from_parts(vec![
            (DigestAlgo::Sha256, vec![3; 32]),
            (DigestAlgo::Md5, vec![4; 16]),
        ]);
        let a = md5(1);
        let bytes = encode(&root(), [(key(1), &a), (key(2), &both)]);
        assert_eq!(decode(&bytes, &root()).unwrap().len(), 2);
        let c = &bytes[..];
        let mut want_md5 = AlgoSet::default();
        want_md5.insert(DigestAlgo::Md5);
        let mut want_sha = AlgoSet::default();
        want_sha.insert(DigestAlgo::Sha256);
        assert_eq!(lookup(c, &meta(key(1)), want_md5), Some(a));
        assert_eq!(
            lookup(c, &meta(key(1)), want_sha),
            None,
            "algorithm not cached"
        );
        let got = lookup(c, &meta(key(2)), want_sha.union(want_md5)).unwrap();
        assert_eq!(got.get(DigestAlgo::Sha256), Some(&[3u8; 32][..]));
        assert_eq!(got.get(DigestAlgo::Md5), Some(&[4u8; 16][..]));
        // Any field of the key differing is a miss.
        let base = meta(key(1));
        for changed in [
            Meta {
                ctime_nsec: 7,
                ..base
            },
            Meta { ctime: 1, ..base },
            Meta {
                mtime_nsec: 0,
                ..base
            },
            Meta { size: 101, ..base },
            Meta { dev: 8, ..base },
        ] {
            assert_eq!(lookup(c, &changed, want_md5), None, "{changed:?}");
        }
    }

    /// A file whose entries are out of key order (not one this program writes, but one
    /// with a right checksum): answers up to the first entry out of order, misses after
    /// it, never another file's digests. A key written twice: the first wins.
    #[test]
    fn entries_out_of_order_end_the_join_with_misses_only() {
        let mut want = AlgoSet::default();
        want.insert(DigestAlgo::Md5);
        let entries: Vec<(Key, Computed)> = [1u64, 3, 3, 7, 900, 50, 60]
            .iter()
            .enumerate()
            .map(|(i, &ino)| (key(ino), md5(i as u8)))
            .collect();
        let bytes = encode(&root(), entries.iter().map(|(k, v)| (*k, v)));
        let c = decode(&bytes, &root()).unwrap();
        assert_eq!(c.len(), 7);
        let read: Vec<u64> = all_entries(c).iter().map(|(k, _)| k.ino).collect();
        assert_eq!(read, [1, 3, 7, 900], "second 3 skipped, stopped at 50");
        let queries = [1u64, 3, 4, 7, 50, 60, 900];
        let got: Vec<Option<Computed>> = decode(&bytes, &root())
            .unwrap()
            .answers(queries.iter().map(|&i| (key(i), want)))
            .collect();
        let want_got = [
            Some(md5(0)),
            Some(md5(1)),
            None,
            Some(md5(3)),
            None,
            None,
            Some(md5(4)),
        ];
        assert_eq!(got, want_got);
        let moved = Meta {
            ctime_nsec: 7,
            ..meta(key(900))
        };
        assert_eq!(lookup(&bytes, &moved, want), None, "ctime changed");
    }

    #[test]
    fn damage_other_roots_and_versions_are_refused() {
        let a = md5(1);
        let bytes = encode(&root(), [(key(1), &a), (key(2), &a)]);
        for cut in [0, 7, 20, bytes.len() / 2, bytes.len() - 1] {
            let e = decode(&bytes[..cut], &root()).unwrap_err();
            assert!(e.is_damage(), "cut {cut}: {e}");
        }
        for flip in [9, 40, bytes.len() - 40, bytes.len() - 1] {
            let mut b = bytes.clone();
            b[flip] ^= 0x10;
            assert!(decode(&b, &root()).unwrap_err().is_damage(), "flip {flip}");
        }
        let other = RootId {
            path: b"/mnt/image".to_vec(),
            ..root()
        };
        assert!(matches!(
            decode(&bytes, &other),
            Err(LoadError::OtherRoot(_))
        ));
        let moved = RootId { ino: 3, ..root() };
        assert!(matches!(
            decode(&bytes, &moved),
            Err(LoadError::OtherRoot(_))
        ));
        // Another version, with a valid checksum: recognised as such, not as damage.
        let mut v2 = bytes[..bytes.len() - TRAILER].to_vec();
        v2[8..12].copy_from_slice(&2u32.to_le_bytes());
        let sum = blake3::hash(&v2);
        v2.extend_from_slice(sum.as_bytes());
        assert!(matches!(
            decode(&v2, &root()),
            Err(LoadError::OtherVersion(2))
        ));
    }

    /// The file is read a buffer at a time, not whole: the same answers as decoding its
    /// bytes, for an intact file and for every truncation and damaged byte of one.
    #[test]
    fn loading_a_file_agrees_with_decoding_its_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(FILE_NAME);
        let both = Computed::from_parts(vec![
            (DigestAlgo::Sha256, vec![3; 32]),
            (DigestAlgo::Md5, vec![4; 16]),
        ]);
        let a = md5(1);
        let bytes = encode(&root(), [(key(1), &a), (key(2), &both), (key(9), &a)]);
        fs::write(&p, &bytes).unwrap();
        let loaded = VerifyCache::load(&p, &root()).unwrap();
        let decoded = decode(&bytes, &root()).unwrap();
        assert_eq!(loaded.len(), 3);
        let loaded = all_entries(loaded);
        assert_eq!(loaded.len(), 3);
        assert_eq!(format!("{loaded:?}"), format!("{:?}", all_entries(decoded)));
        for cut in 0..bytes.len() {
            fs::write(&p, &bytes[..cut]).unwrap();
            let e = VerifyCache::load(&p, &root()).unwrap_err();
            assert!(e.is_damage(), "cut {cut}: {e}");
        }
        for flip in 0..bytes.len() {
            let mut b = bytes.clone();
            b[flip] ^= 0x01;
            fs::write(&p, &b).unwrap();
            let e = VerifyCache::load(&p, &root()).unwrap_err();
            assert!(e.is_damage(), "flip {flip}: {e}");
        }
    }

    /// What is held for the next cache gives back what was computed, MD5 alone inline.
    #[test]
    fn cached_digests_give_back_what_was_computed() {
        let both = Computed::from_parts(vec![
            (DigestAlgo::Sha256, vec![3; 32]),
            (DigestAlgo::Md5, vec![4; 16]),
        ]);
        assert_eq!(Cached::of(md5(7)), Cached::Md5([7; 16]));
        assert_eq!(Cached::of(md5(7)).computed(), md5(7));
        assert_eq!(
            Cached::of(md5(7)).get(DigestAlgo::Md5),
            Some(&[7u8; 16][..])
        );
        assert_eq!(Cached::of(md5(7)).get(DigestAlgo::Sha256), None);
        assert_eq!(
            Cached::of(both.clone()).get(DigestAlgo::Sha256),
            Some(&[3u8; 32][..])
        );
        let other = Cached::of(both.clone());
        assert!(matches!(other, Cached::Other(_)));
        assert_eq!(other.computed(), both);
        let bytes = encode(&root(), [(key(1), Cached::of(md5(7)).computed())]);
        assert_eq!(bytes, encode(&root(), [(key(1), &md5(7))]));
    }

    #[test]
    fn racy_files_are_not_cacheable() {
        let m = meta(key(1));
        assert!(cacheable(&m, m.ctime + 10));
        assert!(
            !cacheable(&m, m.ctime + 1),
            "changed a second before the scan"
        );
        assert!(!cacheable(
            &Meta {
                mtime: m.ctime + 100,
                ..m
            },
            m.ctime + 10
        ));
    }

    #[test]
    fn save_replaces_atomically_and_load_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("state");
        let a = md5(1);
        let p = save(&d, &encode(&root(), [(key(1), &a)])).unwrap();
        assert_eq!(VerifyCache::load(&p, &root()).unwrap().len(), 1);
        save(&d, &encode(&root(), [(key(1), &a), (key(2), &a)])).unwrap();
        assert_eq!(VerifyCache::load(&p, &root()).unwrap().len(), 2);
        let names: Vec<_> = fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names,
            vec![std::ffi::OsString::from(FILE_NAME)],
            "no temporary left"
        );
        let mode = fs::metadata(&p).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(matches!(
            VerifyCache::load(&d.join("none"), &root()),
            Err(LoadError::Absent)
        ));
    }

    #[test]
    fn answers_move_out_exact_matches_only() {
        let mut md5_alg = AlgoSet::default();
        md5_alg.insert(DigestAlgo::Md5);
        let mut sha_alg = AlgoSet::default();
        sha_alg.insert(DigestAlgo::Sha256);
        let entries: Vec<(Key, Computed)> = (1..=200_000u64)
            .map(|ino| (key(ino), md5((ino % 251) as u8)))
            .collect();
        let bytes = encode(&root(), entries.iter().map(|(k, v)| (*k, v)));
        // Every third inode asked for, one with a moved ctime, one with another algorithm,
        // one the cache never saw; past 65,536 entries those gone through are released.
        let mut queries: Vec<(Key, AlgoSet)> = (1..=200_000u64)
            .step_by(3)
            .map(|ino| (key(ino), md5_alg))
            .collect();
        queries[10].0.ctime_nsec += 1;
        queries[11].1 = sha_alg;
        queries.push((key(300_000), md5_alg));
        let got: Vec<Option<Computed>> = decode(&bytes, &root())
            .unwrap()
            .answers(queries.iter().copied())
            .collect();
        assert_eq!(got.len(), queries.len());
        for (i, (c, (k, _))) in got.iter().zip(&queries).enumerate() {
            if i == 10 || i == 11 || i == queries.len() - 1 {
                assert_eq!(c, &None, "query {i}");
            } else {
                assert_eq!(c.as_ref(), Some(&md5((k.ino % 251) as u8)), "query {i}");
            }
        }
        // Out of order: misses, never another file's digests.
        let shuffled = [key(9), key(4), key(7), key(8)];
        let got: Vec<Option<Computed>> = decode(&bytes, &root())
            .unwrap()
            .answers(shuffled.iter().map(|k| (*k, md5_alg)))
            .collect();
        for (c, k) in got.iter().zip(&shuffled) {
            if let Some(c) = c {
                assert_eq!(c, &md5((k.ino % 251) as u8));
            }
        }
        assert!(got[0].is_some() && got[1].is_none() && got[2].is_none());
    }
}
