//! Hash one file the gentle way: `O_NOATIME` (no inode write for every read), large
//! sequential reads, and `POSIX_FADV_DONTNEED` afterwards so the scan does not evict the
//! workload's page cache. Detects files that change while they are read.

use std::cell::RefCell;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use md5::{Digest as _, Md5};
use nix::fcntl::{posix_fadvise, PosixFadviseAdvice};

use crate::pkgdb::digest::{AlgoSet, Digest, DigestAlgo};
use crate::walk::Meta;

/// Read size: large enough to amortise syscalls, small enough to stay in L2.
const BUF_SIZE: usize = 256 * 1024;

thread_local! {
    static BUF: RefCell<Vec<u8>> = RefCell::new(vec![0; BUF_SIZE]);
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashOutcome {
    /// One full-length digest per requested algorithm.
    Digests(Computed),
    /// The file is not the one the walk saw, or changed while read: no verdict.
    Changed(&'static str),
}

/// Open read-only without updating atime; `O_NOATIME` is refused (EPERM) for files we do not
/// own when not root, so fall back to a plain open.
pub fn open_gently(path: &Path) -> std::io::Result<File> {
    let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK;
    let fd = match crate::open_cloexec::open(path, flags | libc::O_NOATIME) {
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => crate::open_cloexec::open(path, flags),
        r => r,
    }?;
    Ok(File::from(fd))
}

/// True when at least half of the file's pages are in the page cache.
///
/// `cachestat(2)` (Linux 6.5) answers in one call; older kernels (and seccomp filters
/// that refuse it) get `mincore` on a throw-away mapping. The mapping path cost a third of
/// the hashing phase's system time on a host scan (mmap, mincore, munmap per file, and
/// munmap takes the address-space lock every other thread's page faults wait for).
fn mostly_cached(file: &File, size: u64) -> bool {
    if size == 0 {
        return true;
    }
    let pages = size.div_ceil(4096);
    match cached_pages_cachestat(file) {
        Some(cached) => cached * 2 >= pages,
        None => mostly_cached_mincore(file, size),
    }
}

/// Whether `cachestat` is worth trying (cleared on the first ENOSYS/EPERM/EINVAL).
static CACHESTAT_WORKS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Pages of the file in the page cache, from `cachestat(2)`; `None` when the kernel does
/// not have it.
fn cached_pages_cachestat(file: &File) -> Option<u64> {
    use std::os::fd::AsRawFd;
    use std::sync::atomic::Ordering;
    // The same number on x86_64 and in the generic table (aarch64, riscv64); the libc
    // crate does not name it for musl.
    const SYS_CACHESTAT: libc::c_long = 451;
    #[repr(C)]
    struct Range {
        off: u64,
        /// 0 = to the end of the file.
        len: u64,
    }
    #[repr(C)]
    #[derive(Default)]
    struct Stat {
        nr_cache: u64,
        nr_dirty: u64,
        nr_writeback: u64,
        nr_evicted: u64,
        nr_recently_evicted: u64,
    }
    if !CACHESTAT_WORKS.load(Ordering::Relaxed) {
        return None;
    }
    let range = Range { off: 0, len: 0 };
    let mut st = Stat::default();
    // SAFETY: both structs have the kernel's layout (include/uapi/linux/mman.h) and live
    // across the call; flags must be 0.
    let r = unsafe {
        libc::syscall(
            SYS_CACHESTAT,
            file.as_raw_fd(),
            &range as *const Range,
            &mut st as *mut Stat,
            0u32,
        )
    };
    if r == 0 {
        return Some(st.nr_cache);
    }
    // ENOSYS: older kernel; EPERM: a seccomp filter; EINVAL/EOPNOTSUPP: unexpected here
    // (a hugetlbfs file): fall back from now on rather than ask again for every file.
    CACHESTAT_WORKS.store(false, Ordering::Relaxed);
    None
}

/// `mincore` on a read-only mapping (no page is faulted in by asking).
fn mostly_cached_mincore(file: &File, size: u64) -> bool {
    use std::os::fd::AsRawFd;
    let Ok(len) = usize::try_from(size) else {
        return false;
    };
    // SAFETY: a fresh read-only shared mapping of a file we hold open; unmapped below and
    // never dereferenced, only passed to mincore.
    unsafe {
        let addr = libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_SHARED,
            file.as_raw_fd(),
            0,
        );
        if addr == libc::MAP_FAILED {
            return false;
        }
        let pages = len.div_ceil(4096);
        let mut vec = vec![0u8; pages];
        let ok = libc::mincore(addr, len, vec.as_mut_ptr()) == 0;
        libc::munmap(addr, len);
        ok && vec.iter().filter(|&&b| b & 1 == 1).count() * 2 >= pages
    }
}

/// Digests computed from one read of a file. Almost always one (a dpkg host: MD5 only),
/// kept inline: a scan holds one per hashed file (its results and the next verify cache),
/// and a `Vec` of `Vec`s cost two allocations and ~80 bytes more each.
#[derive(Debug, Clone, Default)]
pub struct Computed(Parts);

#[derive(Debug, Clone, Default)]
enum Parts {
    #[default]
    None,
    One(Digest),
    Many(Vec<Digest>),
}

impl Computed {
    /// An MD5 computed elsewhere (the multi-buffer hasher).
    pub fn md5(digest: [u8; 16]) -> Computed {
        Computed(Parts::One(Digest::md5(digest)))
    }

    pub fn get(&self, algo: DigestAlgo) -> Option<&[u8]> {
        self.digests()
            .iter()
            .find(|d| d.algo == algo)
            .map(Digest::value)
    }

    /// The MD5, if that is the one digest held (a dpkg host's every file).
    pub fn md5_alone(&self) -> Option<[u8; 16]> {
        match &self.0 {
            Parts::One(d) if d.algo == DigestAlgo::Md5 => d.value().try_into().ok(),
            _ => None,
        }
    }

    /// Digests read back from the verify cache (one value per algorithm, full length).
    pub fn from_parts(parts: Vec<(DigestAlgo, Vec<u8>)>) -> Computed {
        let mut digests: Vec<Digest> = parts
            .into_iter()
            .map(|(a, v)| Digest::any_len(a, &v))
            .collect();
        Computed(match digests.len() {
            0 => Parts::None,
            1 => Parts::One(digests.remove(0)),
            _ => Parts::Many(digests),
        })
    }

    /// (algorithm, value) of each digest, in the order they were computed or read.
    pub fn parts(&self) -> impl Iterator<Item = (DigestAlgo, &[u8])> {
        self.digests().iter().map(|d| (d.algo, d.value()))
    }

    fn digests(&self) -> &[Digest] {
        match &self.0 {
            Parts::None => &[],
            Parts::One(d) => std::slice::from_ref(d),
            Parts::Many(v) => v,
        }
    }
}

impl PartialEq for Computed {
    fn eq(&self, other: &Computed) -> bool {
        self.digests() == other.digests()
    }
}

impl Eq for Computed {}

/// Several hash functions fed from one read.
pub struct MultiHasher(Vec<(DigestAlgo, Box<dyn DynHasher>)>);

/// Object-safe view of the RustCrypto `Digest` trait.
pub trait DynHasher: Send {
    fn update(&mut self, data: &[u8]);
    fn finish(self: Box<Self>) -> Vec<u8>;
}

impl<D: md5::Digest + Send + 'static> DynHasher for D {
    fn update(&mut self, data: &[u8]) {
        md5::Digest::update(self, data);
    }
    fn finish(self: Box<Self>) -> Vec<u8> {
        self.finalize().to_vec()
    }
}

impl MultiHasher {
    pub fn new(algos: AlgoSet) -> MultiHasher {
        MultiHasher(
            algos
                .iter()
                .map(|a| {
                    let h: Box<dyn DynHasher> = match a {
                        DigestAlgo::Md5 => Box::new(Md5::new()),
                        DigestAlgo::Sha1 => Box::new(sha1::Sha1::new()),
                        DigestAlgo::Sha224 => Box::new(sha2::Sha224::new()),
                        DigestAlgo::Sha256 => Box::new(sha2::Sha256::new()),
                        DigestAlgo::Sha384 => Box::new(sha2::Sha384::new()),
                        DigestAlgo::Sha512 => Box::new(sha2::Sha512::new()),
                    };
                    (a, h)
                })
                .collect(),
        )
    }

    pub fn update(&mut self, data: &[u8]) {
        for (_, h) in &mut self.0 {
            h.update(data);
        }
    }

    pub fn finish(self) -> Computed {
        Computed::from_parts(self.0.into_iter().map(|(a, h)| (a, h.finish())).collect())
    }
}

/// Digests of a byte string held in memory (apk records symlinks by their target string).
pub fn hash_bytes(data: &[u8], algos: AlgoSet) -> Computed {
    let mut h = MultiHasher::new(algos);
    h.update(data);
    h.finish()
}

/// A regular file opened for hashing: the one the walk saw, read without touching its
/// atime, and dropped from the page cache when closed unless it was cached already.
pub struct GentleFile {
    file: File,
    before: std::fs::Metadata,
    was_cached: bool,
    /// Bytes read so far.
    total: u64,
}

impl GentleFile {
    /// Opens the file at `path`, which the walk saw with metadata `seen`; `Ok(Err(reason))`
    /// when it is not that file any more.
    pub fn open(path: &Path, seen: &Meta) -> std::io::Result<Result<GentleFile, &'static str>> {
        let file = open_gently(path)?;
        let before = file.metadata()?;
        if before.ino() != seen.ino || before.dev() != seen.dev {
            return Ok(Err("replaced since the walk"));
        }
        // Drop the pages afterwards only if we are the ones bringing them in: pages that were
        // already cached belong to the workload (or to the previous scan) and stay.
        let was_cached = mostly_cached(&file, before.size());
        if before.size() > BUF_SIZE as u64 {
            // Doubles the readahead window; a file read in one call has nothing to gain.
            let fd = std::os::fd::AsFd::as_fd(&file);
            let _ = posix_fadvise(fd, 0, 0, PosixFadviseAdvice::POSIX_FADV_SEQUENTIAL);
        }
        Ok(Ok(GentleFile {
            file,
            before,
            was_cached,
            total: 0,
        }))
    }

    /// Asks the kernel to start reading the first `max` bytes, unless they were cached
    /// before (then there is nothing to read, and the check stays truthful).
    pub fn read_ahead(&self, max: u64) {
        if self.was_cached {
            return;
        }
        let len = self.before.size().min(max);
        let Ok(len) = i64::try_from(len) else { return };
        let fd = std::os::fd::AsFd::as_fd(&self.file);
        let _ = posix_fadvise(fd, 0, len, PosixFadviseAdvice::POSIX_FADV_WILLNEED);
    }

    /// After the last read: `Some(reason)` when the file changed while it was read (size,
    /// mtime, or not as many bytes read as it holds).
    pub fn changed(&self) -> std::io::Result<Option<&'static str>> {
        let after = self.file.metadata()?;
        let before = &self.before;
        Ok((after.size() != before.size()
            || after.mtime() != before.mtime()
            || after.mtime_nsec() != before.mtime_nsec()
            || self.total != after.size())
        .then_some("changed while read"))
    }
}

impl Read for GentleFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read(buf)?;
        self.total += n as u64;
        Ok(n)
    }
}

impl Drop for GentleFile {
    fn drop(&mut self) {
        if !self.was_cached {
            let fd = std::os::fd::AsFd::as_fd(&self.file);
            let _ = posix_fadvise(fd, 0, 0, PosixFadviseAdvice::POSIX_FADV_DONTNEED);
        }
    }
}

/// Digests, with every algorithm in `algos`, of the regular file at `path`, which the walk
/// saw with metadata `seen`.
pub fn hash_file(path: &Path, seen: &Meta, algos: AlgoSet) -> std::io::Result<HashOutcome> {
    match GentleFile::open(path, seen)? {
        Ok(f) => hash_opened(f, algos),
        Err(why) => Ok(HashOutcome::Changed(why)),
    }
}

/// Digests of a file opened with [`GentleFile::open`].
pub fn hash_opened(mut file: GentleFile, algos: AlgoSet) -> std::io::Result<HashOutcome> {
    let mut hasher = MultiHasher::new(algos);
    BUF.with(|buf| -> std::io::Result<()> {
        let mut buf = buf.borrow_mut();
        loop {
            let n = match file.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            hasher.update(&buf[..n]);
        }
    })?;
    Ok(match file.changed()? {
        Some(why) => HashOutcome::Changed(why),
        None => HashOutcome::Digests(hasher.finish()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_of_known_content() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"hello\n").unwrap();
        let meta = Meta::from_std(&std::fs::symlink_metadata(&p).unwrap());
        let mut algos = AlgoSet::default();
        for a in DigestAlgo::ALL {
            algos.insert(a);
        }
        let HashOutcome::Digests(d) = hash_file(&p, &meta, algos).unwrap() else {
            panic!("unexpected outcome")
        };
        let hex = |a| -> String {
            d.get(a)
                .unwrap()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        };
        // Oracles: coreutils md5sum/sha1sum/sha224sum/sha256sum/sha384sum/sha512sum of "hello\n".
        assert_eq!(hex(DigestAlgo::Md5), "b1946ac92492d2347c6235b4d2611184");
        assert_eq!(
            hex(DigestAlgo::Sha1),
            "f572d396fae9206628714fb2ce00f72e94f2258f"
        );
        assert_eq!(
            hex(DigestAlgo::Sha256),
            "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
        );
        assert_eq!(d.get(DigestAlgo::Sha224).unwrap().len(), 28);
        assert_eq!(d.get(DigestAlgo::Sha384).unwrap().len(), 48);
        assert_eq!(d.get(DigestAlgo::Sha512).unwrap().len(), 64);
    }

    #[test]
    fn replaced_file_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"one").unwrap();
        let meta = Meta::from_std(&std::fs::symlink_metadata(&p).unwrap());
        std::fs::remove_file(&p).unwrap();
        std::fs::write(dir.path().join("other"), b"keep the inode busy").unwrap();
        std::fs::write(&p, b"two").unwrap();
        let now = Meta::from_std(&std::fs::symlink_metadata(&p).unwrap());
        if now.ino != meta.ino {
            assert_eq!(
                hash_file(&p, &meta, AlgoSet::default()).unwrap(),
                HashOutcome::Changed("replaced since the walk")
            );
        }
    }

    #[test]
    fn page_cache_residency_agrees_with_mincore() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, vec![7u8; 1 << 20]).unwrap();
        let f = File::open(&p).unwrap();
        f.sync_all().unwrap();
        // Just written: every page is cached, whatever the filesystem.
        assert!(mostly_cached(&f, 1 << 20));
        assert!(mostly_cached_mincore(&f, 1 << 20));
        let _ = posix_fadvise(&f, 0, 0, PosixFadviseAdvice::POSIX_FADV_DONTNEED);
        // Dropped (or not, on tmpfs): both ways of asking give the same answer.
        assert_eq!(
            mostly_cached(&f, 1 << 20),
            mostly_cached_mincore(&f, 1 << 20)
        );
        if let Some(pages) = cached_pages_cachestat(&f) {
            assert!(pages <= 256);
        }
    }

    #[test]
    fn symlinks_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/etc/hostname", dir.path().join("l")).unwrap();
        assert!(open_gently(&dir.path().join("l")).is_err());
    }
}
