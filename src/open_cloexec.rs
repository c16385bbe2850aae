//! `openat(2)` with `O_CLOEXEC`, as one system call.
//!
//! musl's `open()` (the shipped static build's libc, and so std's `File::open` there) follows
//! every `O_CLOEXEC` open with `fcntl(F_SETFD, FD_CLOEXEC)`, for kernels older than 2.6.23
//! that ignored the flag. Every kernel we run on honours it (RHEL 6's 2.6.32 included), and a
//! host scan opens a descriptor for each of its ~70 k directories and ~100 k hashed files:
//! the second call was one system call in every five of a first scan (strace -c).

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Paths shorter than this are made NUL-terminated on the stack, as std does: the hashing
/// opens one per packaged file.
const STACK_PATH: usize = 512;

/// Opens `path` (absolute, or relative to the working directory) with `flags | O_CLOEXEC`.
/// A path holding a NUL byte is refused (`InvalidInput`), as by std.
pub fn open(path: &Path, flags: libc::c_int) -> io::Result<OwnedFd> {
    let bytes = path.as_os_str().as_bytes();
    if bytes.len() < STACK_PATH {
        let mut buf = [0u8; STACK_PATH];
        buf[..bytes.len()].copy_from_slice(bytes);
        let c = CStr::from_bytes_with_nul(&buf[..=bytes.len()])
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path holds a NUL byte"))?;
        open_c(c, flags)
    } else {
        open_c(&CString::new(bytes)?, flags)
    }
}

fn open_c(path: &CStr, flags: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: a NUL-terminated path is the only pointer; the mode (used only with
    // O_CREAT) is given, not left to whatever the register holds.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat,
            libc::AT_FDCWD,
            path.as_ptr(),
            flags | libc::O_CLOEXEC,
            0 as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = libc::c_int::try_from(fd)
        .map_err(|_| io::Error::other("openat: descriptor out of range"))?;
    // SAFETY: fd is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn descriptor_is_close_on_exec_and_errors_are_the_kernels() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"x").unwrap();
        let fd = open(&p, libc::O_RDONLY).unwrap();
        // SAFETY: F_GETFD on a descriptor we own.
        let fd_flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
        assert_eq!(fd_flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
        let e = open(&dir.path().join("nope"), libc::O_RDONLY).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
        let e = open(&p, libc::O_RDONLY | libc::O_DIRECTORY).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOTDIR));
    }

    #[test]
    fn long_paths_open_and_a_nul_byte_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        // Longer than the stack buffer, and exactly one byte short of it.
        let mut long = dir.path().to_path_buf();
        while long.as_os_str().len() < STACK_PATH + 100 {
            long.push("d".repeat(60));
        }
        std::fs::create_dir_all(&long).unwrap();
        std::fs::write(long.join("f"), b"x").unwrap();
        assert!(open(&long.join("f"), libc::O_RDONLY).is_ok());
        let parent = dir.path().join("a".repeat(200)).join("b".repeat(200));
        std::fs::create_dir_all(&parent).unwrap();
        let name_len = STACK_PATH - 1 - parent.as_os_str().len() - 1;
        let edge = parent.join("e".repeat(name_len));
        assert_eq!(edge.as_os_str().len(), STACK_PATH - 1);
        std::fs::write(&edge, b"x").unwrap();
        assert!(open(&edge, libc::O_RDONLY).is_ok());
        let nul = Path::new(std::ffi::OsStr::from_bytes(b"/tmp/a\0b"));
        let e = open(nul, libc::O_RDONLY).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }
}
