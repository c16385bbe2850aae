//! Hash one file the gentle way: `O_NOATIME` (no inode write for every read), large
//! sequential reads, and `POSIX_FADV_DONTNEED` afterwards so the scan does not evict the
//! workload's page cache. Detects files that change while they are read.

use std::cell::RefCell;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use md5::{Digest as _, Md5};
use nix::fcntl::{posix_fadvise, PosixFadviseAdvice};

use crate::walk::Meta;

/// Read size: large enough to amortise syscalls, small enough to stay in L2.
const BUF_SIZE: usize = 256 * 1024;

thread_local! {
    static BUF: RefCell<Vec<u8>> = RefCell::new(vec![0; BUF_SIZE]);
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashOutcome {
    Md5([u8; 16]),
    /// The file is not the one the walk saw, or changed while read: no verdict.
    Changed(&'static str),
}

/// Open read-only without updating atime; `O_NOATIME` is refused (EPERM) for files we do not
/// own when not root, so fall back to a plain open.
pub fn open_gently(path: &Path) -> std::io::Result<File> {
    let flags = libc::O_NOATIME | libc::O_NOFOLLOW | libc::O_NONBLOCK;
    match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)
    {
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(path),
        r => r,
    }
}

/// True when at least half of the file's pages are in the page cache (`mincore` on a
/// read-only mapping; no page is faulted in by asking).
fn mostly_cached(file: &File, size: u64) -> bool {
    use std::os::fd::AsRawFd;
    let Ok(len) = usize::try_from(size) else {
        return false;
    };
    if len == 0 {
        return true;
    }
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

/// MD5 of the regular file at `path`, which the walk saw with metadata `seen`.
pub fn md5_file(path: &Path, seen: &Meta) -> std::io::Result<HashOutcome> {
    let mut file = open_gently(path)?;
    let before = file.metadata()?;
    if before.ino() != seen.ino || before.dev() != seen.dev {
        return Ok(HashOutcome::Changed("replaced since the walk"));
    }
    // Drop the pages afterwards only if we are the ones bringing them in: pages that were
    // already cached belong to the workload (or to the previous scan) and stay.
    let was_cached = mostly_cached(&file, before.size());
    let fd = std::os::fd::AsFd::as_fd(&file);
    let _ = posix_fadvise(fd, 0, 0, PosixFadviseAdvice::POSIX_FADV_SEQUENTIAL);
    let mut hasher = Md5::new();
    let mut total: u64 = 0;
    let read_result = BUF.with(|buf| -> std::io::Result<()> {
        let mut buf = buf.borrow_mut();
        loop {
            let n = match file.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            hasher.update(&buf[..n]);
            total += n as u64;
        }
    });
    if !was_cached {
        let fd = std::os::fd::AsFd::as_fd(&file);
        let _ = posix_fadvise(fd, 0, 0, PosixFadviseAdvice::POSIX_FADV_DONTNEED);
    }
    read_result?;
    let after = file.metadata()?;
    if after.size() != before.size()
        || after.mtime() != before.mtime()
        || after.mtime_nsec() != before.mtime_nsec()
        || total != after.size()
    {
        return Ok(HashOutcome::Changed("changed while read"));
    }
    Ok(HashOutcome::Md5(hasher.finalize().into()))
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
        let HashOutcome::Md5(d) = md5_file(&p, &meta).unwrap() else {
            panic!("unexpected outcome")
        };
        let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "b1946ac92492d2347c6235b4d2611184");
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
                md5_file(&p, &meta).unwrap(),
                HashOutcome::Changed("replaced since the walk")
            );
        }
    }

    #[test]
    fn symlinks_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/etc/hostname", dir.path().join("l")).unwrap();
        assert!(open_gently(&dir.path().join("l")).is_err());
    }
}
