//! `openat(2)` with `O_CLOEXEC`, as one system call.
//!
//! musl's `open()` (the shipped static build's libc, and so std's `File::open` there) follows
//! every `O_CLOEXEC` open with `fcntl(F_SETFD, FD_CLOEXEC)`, for kernels older than 2.6.23
//! that ignored the flag. Every kernel we run on honours it (RHEL 6's 2.6.32 included), and a
//! host scan opens a descriptor for each of its ~70 k directories and ~100 k hashed files:
//! the second call was one system call in every five of a first scan (strace -c).

use std::ffi::CStr;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

/// Opens `path` (absolute, or relative to the working directory) with `flags | O_CLOEXEC`.
pub fn open(path: &CStr, flags: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: a NUL-terminated path; openat takes no other pointer and no mode is needed
    // (flags never include O_CREAT here).
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat,
            libc::AT_FDCWD,
            path.as_ptr(),
            flags | libc::O_CLOEXEC,
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
        let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
        let fd = open(&c, libc::O_RDONLY).unwrap();
        // SAFETY: F_GETFD on a descriptor we own.
        let fd_flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
        assert_eq!(fd_flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
        let missing =
            std::ffi::CString::new(dir.path().join("nope").as_os_str().as_encoded_bytes()).unwrap();
        let e = open(&missing, libc::O_RDONLY).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
        let e = open(&c, libc::O_RDONLY | libc::O_DIRECTORY).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOTDIR));
    }
}
