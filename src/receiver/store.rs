//! The receiver's durable storage, plain files under `--data DIR`:
//!
//! ```text
//! ids                                   next object id (written with rename)
//! users.json                            login → salted PBKDF2 hash (0600)
//! u/<hex(login)>/i/<siid>/instance.json
//! u/<hex(login)>/i/<siid>/s/<sid>/scan.json, overlay, and the report: report.xml with
//!                                  its pieces installProfile.xml, packages.xml, files.xml
//!                                  (UForge XML), or report.json
//! ```
//!
//! Logins may hold any character (`@` is common), so they are hex-encoded on disk: no path
//! trick can come from a name. JSON documents are replaced by write-to-temp, fsync, rename;
//! overlay bytes are appended and fsynced before a chunk is acknowledged, so what was
//! acknowledged survives a crash. Every byte ever written to `overlay` was checked against
//! its chunk's BLAKE3 first, so its length is always a valid resume point.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

pub struct Store {
    pub root: PathBuf,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|c| format!("{c:02x}")).collect()
}

/// Write `data` to `path` atomically and durably (temp file, fsync, rename, fsync dir).
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("no parent"))?;
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension("tmp");
    {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    File::open(dir)?.sync_all()
}

/// Move the directory `from` to `to` (which must not exist) and make it durable.
pub fn rename_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    let parent = to
        .parent()
        .ok_or_else(|| std::io::Error::other("no parent"))?;
    std::fs::create_dir_all(parent)?;
    std::fs::rename(from, to)?;
    File::open(parent)?.sync_all()
}

impl Store {
    pub fn open(root: &Path) -> std::io::Result<Store> {
        std::fs::create_dir_all(root)?;
        Ok(Store {
            root: root.to_path_buf(),
        })
    }

    pub fn user_dir(&self, login: &str) -> PathBuf {
        self.root.join("u").join(hex(login.as_bytes()))
    }
    pub fn instance_dir(&self, login: &str, siid: u64) -> PathBuf {
        self.user_dir(login).join("i").join(siid.to_string())
    }
    pub fn scan_dir(&self, login: &str, siid: u64, sid: u64) -> PathBuf {
        self.instance_dir(login, siid)
            .join("s")
            .join(sid.to_string())
    }

    /// A new object id (ids are global, as UForge dbIds are). Callers hold the store lock.
    pub fn next_id(&self) -> std::io::Result<u64> {
        let path = self.root.join("ids");
        let cur: u64 = std::fs::read_to_string(&path)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        let next = cur + 1;
        write_atomic(&path, next.to_string().as_bytes(), 0o644)?;
        Ok(next)
    }

    pub fn read_json<T: DeserializeOwned>(path: &Path) -> std::io::Result<Option<T>> {
        match std::fs::read(path) {
            Ok(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| std::io::Error::other(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn write_json<T: Serialize>(path: &Path, v: &T) -> std::io::Result<()> {
        write_atomic(path, &serde_json::to_vec_pretty(v)?, 0o644)
    }

    /// Ids of the subdirectories of `dir` (instances or scans), sorted.
    pub fn ids(dir: &Path) -> Vec<u64> {
        let mut v: Vec<u64> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .collect();
        v.sort_unstable();
        v
    }
}
