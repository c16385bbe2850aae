//! Walk the scanned root in parallel and `lstat` every entry.
//!
//! A hand-rolled walker on rayon rather than walkdir: each directory is a rayon task, so
//! `readdir` and `fstatat` run on every core at once, and the mount-point check happens on
//! the name from `readdir` *before* anything touches the entry (see [`mounts`]).
//! Excludes and skipped mounts are matched on whole path components.

pub mod exclude;
pub mod mounts;
pub mod xattr;

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::sync::Mutex;

use serde::Serialize;

pub use exclude::Excludes;

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
    pub nlink: u64,
    pub rdev: u64,
    /// 512-byte blocks allocated (sparse files have fewer than size/512).
    pub blocks: u64,
}

impl Meta {
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
            nlink: m.nlink(),
            rdev: m.rdev(),
            blocks: m.blocks(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct WalkedEntry {
    /// Absolute path of the scanned system, as bytes.
    pub path: Vec<u8>,
    pub meta: Meta,
    /// For symlinks: the target, as stored.
    pub link_target: Option<Vec<u8>>,
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
    pub entries: Vec<WalkedEntry>,
    pub errors: Vec<WalkError>,
    /// Entries not walked because a user exclude covers them (counted at the excluded top).
    pub excluded: u64,
}

struct Shared {
    entries: Mutex<Vec<Vec<WalkedEntry>>>,
    errors: Mutex<Vec<WalkError>>,
    excluded: std::sync::atomic::AtomicU64,
}

/// Walk the whole root. Runs on the current rayon pool; never follows symlinks.
pub fn walk(opts: &WalkOptions) -> WalkResult {
    let shared = Shared {
        entries: Mutex::new(Vec::new()),
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
    match fs::symlink_metadata(&root_host) {
        Ok(m) if m.is_dir() => {
            lock(&shared.entries).push(vec![WalkedEntry {
                path: b"/".to_vec(),
                meta: Meta::from_std(&m),
                link_target: None,
            }]);
            rayon::scope(|s| walk_dir(s, opts, &shared, b"/".to_vec()));
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
        .entries
        .into_inner()
        .unwrap_or_else(|p| p.into_inner());
    // Exact capacity: on a million entries, growing by doubling would leave up to half of
    // the largest allocation of the scan unused.
    let mut entries: Vec<WalkedEntry> =
        Vec::with_capacity(batches.iter().map(Vec::len).sum::<usize>());
    for batch in batches {
        entries.extend(batch);
    }
    entries.sort_unstable_by(|a, b| a.path.cmp(&b.path));
    let mut errors = shared
        .errors
        .into_inner()
        .unwrap_or_else(|p| p.into_inner());
    errors.sort_by(|a, b| a.path.cmp(&b.path));
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

fn walk_dir<'s>(
    scope: &rayon::Scope<'s>,
    opts: &'s WalkOptions<'s>,
    shared: &'s Shared,
    dir: Vec<u8>,
) {
    let host = opts.root.host_path(&dir);
    let reader = match fs::read_dir(&host) {
        Ok(r) => r,
        Err(e) => return push_error(shared, dir, "readdir", e.to_string()),
    };
    let mut batch = Vec::new();
    for item in reader {
        let entry = match item {
            Ok(e) => e,
            Err(e) => {
                push_error(shared, dir.clone(), "readdir", e.to_string());
                break;
            }
        };
        let path = child_path(&dir, entry.file_name().as_bytes());
        if opts.skip_mounts.contains(&path) {
            continue; // decided from mountinfo; do not even lstat it
        }
        if opts.excludes.contains(&path) {
            shared
                .excluded
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            continue;
        }
        // fstatat relative to the directory fd: no second path lookup.
        let meta = match entry.metadata() {
            Ok(m) => Meta::from_std(&m),
            Err(e) => {
                // Vanished between readdir and lstat: a live system, not an error.
                if e.kind() != std::io::ErrorKind::NotFound {
                    push_error(shared, path, "lstat", e.to_string());
                }
                continue;
            }
        };
        let link_target = if meta.kind == FileKind::Symlink {
            match fs::read_link(entry.path()) {
                Ok(t) => Some(t.as_os_str().as_bytes().to_vec()),
                Err(e) => {
                    push_error(shared, path.clone(), "readlink", e.to_string());
                    None
                }
            }
        } else {
            None
        };
        if meta.kind == FileKind::Dir {
            let sub = path.clone();
            scope.spawn(move |s| walk_dir(s, opts, shared, sub));
        }
        batch.push(WalkedEntry {
            path,
            meta,
            link_target,
        });
    }
    if !batch.is_empty() {
        lock(&shared.entries).push(batch);
    }
}
