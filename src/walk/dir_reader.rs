//! A directory's entries, read with `getdents64` on the descriptor its entries are
//! `fstatat`-ed against.
//!
//! std's `read_dir` opened each directory by its full path a second time (beside the
//! `O_PATH` descriptor the walker stat'ed entries against), read 2 KiB per call on musl,
//! and allocated a name and a reference-count bump per entry. Here: one open, 32 KiB per
//! call, and each name is handed out as the NUL-terminated string the kernel wrote.

use std::ffi::CStr;
use std::io;
use std::ops::Range;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

const BUF_SIZE: usize = 32 * 1024;
/// `d_ino` (8), `d_off` (8), `d_reclen` (2), `d_type` (1): the name starts here.
const NAME_OFFSET: usize = 19;

pub struct DirReader {
    fd: OwnedFd,
    buf: Vec<u8>,
    /// Bytes of `buf` the last `getdents64` filled.
    len: usize,
    /// Next record in `buf`.
    pos: usize,
    done: bool,
}

impl DirReader {
    /// Opens the directory at `host` (not following a symlink in its last component: the
    /// walk saw a directory there; something else now is an error, not a detour).
    pub fn open(host: &Path) -> io::Result<DirReader> {
        let fd =
            crate::open_cloexec::open(host, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW)?;
        Ok(DirReader {
            fd,
            buf: vec![0; BUF_SIZE],
            len: 0,
            pos: 0,
            done: false,
        })
    }

    /// The directory's descriptor, for `fstatat`/`readlinkat` of its entries.
    pub fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    /// Where the next entry's name is (never `.` or `..`; read it with [`Self::name`]),
    /// `None` after the last one.
    pub fn next_entry(&mut self) -> Option<io::Result<Range<usize>>> {
        loop {
            if self.pos >= self.len {
                if self.done {
                    return None;
                }
                if let Err(e) = self.fill() {
                    self.done = true;
                    return Some(Err(e));
                }
                continue;
            }
            let rec = match record(&self.buf[self.pos..self.len]) {
                Ok(r) => r,
                Err(e) => {
                    self.done = true;
                    self.pos = self.len;
                    return Some(Err(e));
                }
            };
            let name = self.pos + NAME_OFFSET..self.pos + NAME_OFFSET + rec.name_len;
            self.pos += rec.reclen;
            let n = &self.buf[name.clone()];
            if n != b"." && n != b".." {
                return Some(Ok(name));
            }
        }
    }

    /// The name at `range` (from [`Self::next_entry`], before the next call).
    pub fn name(&self, range: &Range<usize>) -> &CStr {
        // The range ends just before the NUL `record` found; were it wrong, the empty
        // name fails the caller's fstatat (ENOENT) instead of reading out of bounds.
        self.buf
            .get(range.start..range.end + 1)
            .and_then(|b| CStr::from_bytes_with_nul(b).ok())
            .unwrap_or_default()
    }

    fn fill(&mut self) -> io::Result<()> {
        loop {
            // SAFETY: the buffer is valid for writes of its length; the kernel writes whole
            // records and returns how many bytes.
            let n = unsafe {
                libc::syscall(
                    libc::SYS_getdents64,
                    self.fd.as_raw_fd(),
                    self.buf.as_mut_ptr(),
                    self.buf.len(),
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            self.len = usize::try_from(n).unwrap_or(0).min(self.buf.len());
            self.pos = 0;
            self.done = self.len == 0;
            return Ok(());
        }
    }
}

struct Record {
    reclen: usize,
    name_len: usize,
}

/// The record at the start of `b`: its length and its name's, checked against `b`.
fn record(b: &[u8]) -> io::Result<Record> {
    let bad = |what: &str| io::Error::other(format!("getdents64: {what}"));
    let reclen = b
        .get(16..18)
        .map(|r| usize::from(u16::from_ne_bytes([r[0], r[1]])))
        .ok_or_else(|| bad("truncated record"))?;
    if reclen <= NAME_OFFSET || reclen > b.len() {
        return Err(bad("record length out of bounds"));
    }
    let name_len = b[NAME_OFFSET..reclen]
        .iter()
        .position(|&c| c == 0)
        .ok_or_else(|| bad("name without its NUL"))?;
    if name_len == 0 {
        return Err(bad("empty name"));
    }
    Ok(Record { reclen, name_len })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    fn names(dir: &Path) -> io::Result<Vec<Vec<u8>>> {
        let mut r = DirReader::open(dir)?;
        let mut out = Vec::new();
        while let Some(e) = r.next_entry() {
            let range = e?;
            out.push(r.name(&range).to_bytes().to_vec());
        }
        out.sort();
        Ok(out)
    }

    #[test]
    fn same_names_as_read_dir_for_a_directory_larger_than_one_read() {
        let dir = tempfile::tempdir().unwrap();
        // Long names and odd bytes: more than one 32 KiB getdents64 call.
        for i in 0..3000 {
            let mut name = format!("{i:04}-{}", "x".repeat(i % 200)).into_bytes();
            name.extend_from_slice(&[0xff, b'\n', b' ']);
            std::fs::write(dir.path().join(std::ffi::OsStr::from_bytes(&name)), b"").unwrap();
        }
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let mut want: Vec<Vec<u8>> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().as_bytes().to_vec())
            .collect();
        want.sort();
        assert_eq!(names(dir.path()).unwrap(), want);
        assert_eq!(
            names(&dir.path().join("sub")).unwrap(),
            Vec::<Vec<u8>>::new()
        );
    }

    #[test]
    fn symlink_and_missing_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(dir.path(), dir.path().join("l")).unwrap();
        assert!(DirReader::open(&dir.path().join("l")).is_err());
        assert!(DirReader::open(&dir.path().join("missing")).is_err());
        std::fs::write(dir.path().join("f"), b"").unwrap();
        assert!(DirReader::open(&dir.path().join("f")).is_err());
    }

    #[test]
    fn malformed_records_are_errors_not_panics() {
        let mut rec = vec![0u8; 24];
        rec[16..18].copy_from_slice(&24u16.to_ne_bytes());
        rec[19] = b'a';
        let r = record(&rec).unwrap();
        assert_eq!((r.reclen, r.name_len), (24, 1));
        for reclen in [0u16, 5, 19, 25, 600] {
            let mut b = rec.clone();
            b[16..18].copy_from_slice(&reclen.to_ne_bytes());
            assert!(record(&b).is_err(), "reclen {reclen}");
        }
        let mut no_nul = rec.clone();
        no_nul[19..].fill(b'a');
        assert!(record(&no_nul).is_err());
        let mut empty = rec.clone();
        empty[19] = 0;
        assert!(record(&empty).is_err());
        assert!(record(&rec[..10]).is_err());
    }
}
