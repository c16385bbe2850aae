//! Walk the scanned root in parallel and `lstat` every entry.
//!
//! A hand-rolled walker on rayon rather than walkdir: each directory is a rayon task, so
//! `readdir` and `fstatat` run on every core at once, and the mount-point check happens on
//! the name from `readdir` *before* anything touches the entry (see [`mounts`]).
//! Excludes and skipped mounts are matched on whole path components.

mod dir_reader;
pub mod exclude;
pub mod mounts;
mod order;
pub mod packed;
pub mod xattr;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;

use serde::Serialize;

use dir_reader::DirReader;
pub use exclude::Excludes;
pub use order::InPathOrder;
use order::{Batch, BatchBuilder};

use crate::path_order;
use crate::rootfs::RootFs;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileKind {
    Regular,
    Dir,
    Symlink,
    CharDevice,
    BlockDevice,
    Fifo,
    Socket,
}

impl FileKind {
    pub fn from_mode(mode: u32) -> FileKind {
        match mode & libc::S_IFMT {
            libc::S_IFDIR => FileKind::Dir,
            libc::S_IFLNK => FileKind::Symlink,
            libc::S_IFCHR => FileKind::CharDevice,
            libc::S_IFBLK => FileKind::BlockDevice,
            libc::S_IFIFO => FileKind::Fifo,
            libc::S_IFSOCK => FileKind::Socket,
            _ => FileKind::Regular,
        }
    }
}

/// What `lstat` said about an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    pub kind: FileKind,
    /// Full `st_mode` (type and permission bits).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub mtime: i64,
    pub mtime_nsec: u32,
    pub ctime: i64,
    /// Part of the verify cache's key: a rewrite with the mtime put back moves the ctime.
    pub ctime_nsec: u32,
    pub dev: u64,
    pub ino: u64,
    /// 32 bits wide in the kernel (`nlink_t`, and `dev_t` as `stat` encodes it), so a
    /// `u32` loses nothing and the record 8 bytes (a million are held through a scan).
    pub nlink: u32,
    pub rdev: u32,
    /// 512-byte blocks allocated (sparse files have fewer than size/512).
    pub blocks: u64,
}

impl Meta {
    /// From a raw `struct stat` (`fstatat` in the walker). The casts are no-ops on x86_64
    /// but not on every architecture (`st_nlink`, `st_blocks`, `st_mode` widths differ).
    #[allow(clippy::unnecessary_cast)]
    pub fn from_stat(st: &libc::stat) -> Meta {
        let mode = st.st_mode as u32;
        Meta {
            kind: FileKind::from_mode(mode),
            mode,
            uid: st.st_uid,
            gid: st.st_gid,
            size: st.st_size as u64,
            mtime: st.st_mtime,
            mtime_nsec: u32::try_from(st.st_mtime_nsec).unwrap_or(0),
            ctime: st.st_ctime,
            ctime_nsec: u32::try_from(st.st_ctime_nsec).unwrap_or(0),
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
            nlink: u32::try_from(st.st_nlink).unwrap_or(u32::MAX),
            rdev: u32::try_from(st.st_rdev).unwrap_or(u32::MAX),
            blocks: st.st_blocks as u64,
        }
    }

    pub fn from_std(m: &fs::Metadata) -> Meta {
        Meta {
            kind: FileKind::from_mode(m.mode()),
            mode: m.mode(),
            uid: m.uid(),
            gid: m.gid(),
            size: m.size(),
            mtime: m.mtime(),
            mtime_nsec: u32::try_from(m.mtime_nsec()).unwrap_or(0),
            ctime: m.ctime(),
            ctime_nsec: u32::try_from(m.ctime_nsec()).unwrap_or(0),
            dev: m.dev(),
            ino: m.ino(),
            nlink: u32::try_from(m.nlink()).unwrap_or(u32::MAX),
            rdev: u32::try_from(m.rdev()).unwrap_or(u32::MAX),
            blocks: m.blocks(),
        }
    }
}

/// One walked entry. Boxed slices rather than `Vec`s: no capacity word (16 bytes a record,
/// a million records on a large host), and a walked path never grows.
#[derive(Debug, Clone)]
pub struct WalkedEntry {
    /// Absolute path of the scanned system, as bytes.
    pub path: Box<[u8]>,
    pub meta: Meta,
    /// For symlinks: the target, as stored.
    pub link_target: LinkTarget,
}

/// A symlink's target in one pointer: most entries are not symlinks, and an
/// `Option<Box<[u8]>>` (pointer and length) cost 16 bytes on every one of them — 8 MB of
/// a 1 M-file scan's walk records, held until the report is built.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkTarget(Option<Box<Box<[u8]>>>);

impl LinkTarget {
    pub fn new(target: Vec<u8>) -> LinkTarget {
        LinkTarget(Some(Box::new(target.into_boxed_slice())))
    }

    pub fn as_deref(&self) -> Option<&[u8]> {
        self.0.as_deref().map(|t| &t[..])
    }

    pub fn into_vec(self) -> Option<Vec<u8>> {
        self.0.map(|t| t.into_vec())
    }
}

/// An entry that could not be read (permission, I/O error, vanished mid-walk).
#[derive(Debug, Clone, Serialize)]
pub struct WalkError {
    #[serde(with = "crate::path_bytes")]
    pub path: Vec<u8>,
    pub operation: &'static str,
    pub error: String,
}

pub struct WalkOptions<'a> {
    pub root: &'a RootFs,
    pub excludes: &'a Excludes,
    /// Mount points (scanned paths) the walker must not enter or even `lstat`.
    pub skip_mounts: &'a Excludes,
}

#[derive(Debug, Default)]
pub struct WalkResult {
    /// In path order, moved out as they are taken.
    pub entries: InPathOrder,
    pub errors: Vec<WalkError>,
    /// Entries not walked because a user exclude covers them (counted at the excluded top).
    pub excluded: u64,
}

struct Shared {
    /// Each directory's entries, with the id its parent gave it.
    batches: Mutex<Vec<(u32, Batch)>>,
    next_batch: AtomicU32,
    errors: Mutex<Vec<WalkError>>,
    excluded: AtomicU64,
}

/// Batch id of the root directory.
const ROOT_BATCH: u32 = 0;

/// Walk the whole root. Runs on the current rayon pool; never follows symlinks.
pub fn walk(opts: &WalkOptions) -> WalkResult {
    let shared = Shared {
        batches: Mutex::new(Vec::new()),
        next_batch: AtomicU32::new(ROOT_BATCH + 1),
        errors: Mutex::new(Vec::new()),
        excluded: Default::default(),
    };
    if opts.excludes.covers(b"/") {
        return WalkResult {
            excluded: 1,
            ..Default::default()
        };
    }
    let root_host = opts.root.root().to_path_buf();
    let mut root_entry = None;
    match fs::symlink_metadata(&root_host) {
        Ok(m) if m.is_dir() => {
            root_entry = Some(WalkedEntry {
                path: Box::from(&b"/"[..]),
                meta: Meta::from_std(&m),
                link_target: LinkTarget::default(),
            });
            rayon::scope(|s| walk_dir(s, opts, &shared, b"/".to_vec(), ROOT_BATCH));
        }
        Ok(_) => push_error(
            &shared,
            b"/".to_vec(),
            "lstat",
            "the root is not a directory".into(),
        ),
        Err(e) => push_error(&shared, b"/".to_vec(), "lstat", e.to_string()),
    }
    let batches = shared
        .batches
        .into_inner()
        .unwrap_or_else(|p| p.into_inner());
    let entries = order::in_path_order(root_entry, ROOT_BATCH, batches);
    let mut errors = shared
        .errors
        .into_inner()
        .unwrap_or_else(|p| p.into_inner());
    errors.sort_by(|a, b| path_order::cmp(&a.path, &b.path));
    WalkResult {
        entries,
        errors,
        excluded: shared.excluded.into_inner(),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panicking walker thread must not hide every other result.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn push_error(shared: &Shared, path: Vec<u8>, operation: &'static str, error: String) {
    lock(&shared.errors).push(WalkError {
        path,
        operation,
        error,
    });
}

fn child_path(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(dir.len() + 1 + name.len());
    p.extend_from_slice(dir);
    if dir != b"/" {
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}

/// `lstat` of `name` inside the directory `dir`.
fn lstat_at(dir: &std::os::fd::OwnedFd, c: &std::ffi::CStr) -> std::io::Result<Meta> {
    use std::os::fd::AsRawFd;
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: valid fd, NUL-terminated name, and a buffer of the right type.
    let r = unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            c.as_ptr(),
            st.as_mut_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fstatat succeeded, so it filled the buffer.
    Ok(Meta::from_stat(unsafe { &st.assume_init() }))
}

/// The target of the symlink `name` inside `dir`, any length.
fn readlink_at(dir: &std::os::fd::OwnedFd, c: &std::ffi::CStr) -> std::io::Result<Vec<u8>> {
    use std::os::fd::AsRawFd;
    let mut buf = vec![0u8; 256];
    loop {
        // SAFETY: the buffer is valid for buf.len() bytes.
        let n = unsafe {
            libc::readlinkat(
                dir.as_raw_fd(),
                c.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        if n < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let n = n as usize;
        if n < buf.len() {
            buf.truncate(n);
            return Ok(buf);
        }
        if buf.len() >= 1 << 20 {
            return Err(std::io::Error::other("symlink target longer than 1 MiB"));
        }
        buf.resize(buf.len() * 2, 0);
    }
}

fn walk_dir<'s>(
    scope: &rayon::Scope<'s>,
    opts: &'s WalkOptions<'s>,
    shared: &'s Shared,
    dir: Vec<u8>,
    id: u32,
) {
    let host = opts.root.host_path(&dir);
    // One descriptor for reading the entries and for `fstatat` relative to it: std's
    // `DirEntry::metadata` falls back to `lstat` of the full path on musl (the shipped
    // build), which walks every component again for every entry.
    let mut reader = match DirReader::open(&host) {
        Ok(r) => r,
        Err(e) => return push_error(shared, dir, "readdir", e.to_string()),
    };
    let mut batch = BatchBuilder::default();
    let mut children = Vec::new();
    let skips_here = opts.skip_mounts.has_entries_in(&dir);
    let excludes_here = opts.excludes.has_entries_in(&dir);
    // A full path is built only where one is needed (a skip or exclude to match, an
    // error to report, a subdirectory to walk): the batch keeps names.
    let path_of = |name: &std::ffi::CStr| child_path(&dir, name.to_bytes());
    while let Some(item) = reader.next_entry() {
        let range = match item {
            Ok(r) => r,
            Err(e) => {
                push_error(shared, dir.clone(), "readdir", e.to_string());
                break;
            }
        };
        let name = reader.name(&range);
        if skips_here && opts.skip_mounts.contains(&path_of(name)) {
            continue; // decided from mountinfo; do not even lstat it
        }
        if excludes_here && opts.excludes.contains(&path_of(name)) {
            shared.excluded.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let dir_fd = reader.fd();
        let meta = match lstat_at(dir_fd, name) {
            Ok(m) => m,
            Err(e) => {
                // Vanished between readdir and lstat: a live system, not an error.
                if e.kind() != std::io::ErrorKind::NotFound {
                    push_error(shared, path_of(name), "lstat", e.to_string());
                }
                continue;
            }
        };
        let link_target = if meta.kind == FileKind::Symlink {
            match readlink_at(dir_fd, name) {
                Ok(t) => Some(t),
                Err(e) => {
                    push_error(shared, path_of(name), "readlink", e.to_string());
                    None
                }
            }
        } else {
            None
        };
        if meta.kind == FileKind::Dir {
            let sub = path_of(name);
            let child = shared.next_batch.fetch_add(1, Ordering::Relaxed);
            children.push(child);
            scope.spawn(move |s| walk_dir(s, opts, shared, sub, child));
        }
        batch.push(name.to_bytes(), meta, link_target.as_deref());
    }
    if !batch.is_empty() {
        let batch = batch.finish(dir, children);
        lock(&shared.batches).push((id, batch));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A million walk records are held through a scan: their size is part of its peak.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn records_stay_small() {
        assert_eq!(std::mem::size_of::<LinkTarget>(), 8);
        assert_eq!(std::mem::size_of::<Meta>(), 80);
        assert_eq!(std::mem::size_of::<WalkedEntry>(), 104);
    }

    #[test]
    fn a_link_target_reads_back_as_given() {
        let t = LinkTarget::new(b"../lib/x\xff".to_vec());
        assert_eq!(t.as_deref(), Some(&b"../lib/x\xff"[..]));
        assert_eq!(t.into_vec(), Some(b"../lib/x\xff".to_vec()));
        assert_eq!(LinkTarget::default().as_deref(), None);
    }
}
