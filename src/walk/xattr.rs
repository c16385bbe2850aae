//! Extended attributes of one path, without following symlinks (`lgetxattr`).

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Largest value we accept: the VFS limit (XATTR_SIZE_MAX).
const MAX_VALUE: usize = 64 * 1024;

/// The value of `name` on `path`, `None` when the attribute is not set (or the filesystem
/// has no xattrs at all).
pub fn get(path: &Path, name: &str) -> std::io::Result<Option<Vec<u8>>> {
    let c_path = CString::new(path.as_os_str().as_bytes())?;
    let c_name = CString::new(name)?;
    let mut buf = vec![0u8; 256];
    loop {
        // SAFETY: both strings are NUL-terminated, and buf is valid for buf.len() bytes.
        let n = unsafe {
            libc::lgetxattr(
                c_path.as_ptr(),
                c_name.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        if n >= 0 {
            buf.truncate(n as usize);
            return Ok(Some(buf));
        }
        let err = std::io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::ENODATA) | Some(libc::ENOTSUP) => return Ok(None),
            Some(libc::ERANGE) if buf.len() < MAX_VALUE => buf.resize(MAX_VALUE, 0),
            _ => return Err(err),
        }
    }
}

/// Names of all extended attributes of `path` (not following symlinks), in the kernel's order.
pub fn list(path: &Path) -> std::io::Result<Vec<Vec<u8>>> {
    let c_path = CString::new(path.as_os_str().as_bytes())?;
    let mut buf = vec![0u8; 1024];
    loop {
        // SAFETY: NUL-terminated path, buffer valid for buf.len() bytes.
        let n = unsafe { libc::llistxattr(c_path.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            buf.truncate(n as usize);
            return Ok(buf
                .split(|&b| b == 0)
                .filter(|n| !n.is_empty())
                .map(<[u8]>::to_vec)
                .collect());
        }
        let err = std::io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::ENOTSUP) => return Ok(Vec::new()),
            Some(libc::ERANGE) if buf.len() < MAX_VALUE => buf.resize(MAX_VALUE, 0),
            _ => return Err(err),
        }
    }
}

/// Does `path` carry a POSIX access ACL beyond what its mode bits say? The kernel stores
/// `system.posix_acl_access` only for such ACLs, but a value with just the three base entries
/// (4-byte header + 3 × 8 bytes) is still equivalent to the mode.
pub fn has_extended_acl(path: &Path) -> std::io::Result<bool> {
    Ok(get(path, "system.posix_acl_access")?.is_some_and(|v| v.len() > 4 + 3 * 8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_xattr_round_trip_and_absent() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"x").unwrap();
        assert_eq!(get(&p, "user.livescan").unwrap(), None);
        let c_path = CString::new(p.as_os_str().as_bytes()).unwrap();
        let value = vec![b'v'; 1000];
        // SAFETY: valid strings and buffer.
        let rc = unsafe {
            libc::lsetxattr(
                c_path.as_ptr(),
                c"user.livescan".as_ptr(),
                value.as_ptr().cast(),
                value.len(),
                0,
            )
        };
        if rc != 0 {
            return; // tmpfs without user xattrs: nothing to test here
        }
        assert_eq!(get(&p, "user.livescan").unwrap(), Some(value));
        assert!(list(&p).unwrap().contains(&b"user.livescan".to_vec()));
        assert!(!has_extended_acl(&p).unwrap());
    }
}
