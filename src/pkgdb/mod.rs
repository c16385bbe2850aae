//! Package databases, read directly from their files (no `dpkg`/`rpm` calls).
//!
//! One trait, [`PackageDb`], with one module per on-disk format. A reader turns its
//! format into the same plain data, [`DbContents`]: the installed packages and every
//! path they record, already mapped to where the file really lives (diversions
//! applied) and annotated with what can be verified about it.

pub mod dpkg;
pub mod rpm;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::rootfs::RootFs;

/// Which package manager a database belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DbFormat {
    Dpkg,
}

/// A package database found in a root. Implementations only read.
pub trait PackageDb: Send + Sync {
    fn format(&self) -> DbFormat;
    /// The database location inside the root, as seen on the scanned system (e.g. `/var/lib/dpkg`).
    fn location(&self) -> &Path;
    /// Lock files the package manager holds while it writes; probed before reading.
    fn lock_files(&self) -> Vec<PathBuf>;
    /// Read the whole database. Errors name the file and, where it helps, the line or offset.
    fn read(&self, root: &RootFs) -> Result<DbContents, DbError>;
}

/// Find every package database present in `root` (a host can carry more than one).
pub fn detect(root: &RootFs) -> Vec<Box<dyn PackageDb>> {
    let mut found: Vec<Box<dyn PackageDb>> = Vec::new();
    if let Some(db) = dpkg::DpkgDb::detect(root) {
        found.push(Box::new(db));
    }
    found
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// Everything a database says about the installed system.
#[derive(Debug, Default)]
pub struct DbContents {
    pub packages: Vec<Package>,
    pub files: Vec<PackagedFile>,
    /// Non-fatal oddities (a stanza without Description, a missing `.list`, …).
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Package {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u32>,
    /// Upstream version, without epoch and revision/release.
    pub version: String,
    /// Debian revision or RPM release.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    pub arch: String,
    /// The package manager's own state word (`installed`, `config-files`, `unpacked`, …).
    pub state: String,
}

/// Who owns a packaged path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Owner {
    /// Index into [`DbContents::packages`].
    Package(u32),
    /// The alternatives system (`/etc/alternatives/*` and the link paths it manages).
    Alternatives,
}

/// A digest recorded by the package manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Digest {
    Md5([u8; 16]),
}

/// Whether a recorded path must exist on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presence {
    /// Missing on disk ⇒ `deleted`.
    Required,
    /// Recorded but legitimately absent (the reason is reported): missing ⇒ not installed.
    NotInstalled(&'static str),
    /// May be missing without it being a change (obsolete conffiles, rc leftovers).
    Optional,
}

/// One path recorded by a package database.
#[derive(Debug, Clone)]
pub struct PackagedFile {
    /// Absolute path inside the root, as bytes, where the file really lives (diversions applied),
    /// not yet canonicalised through directory symlinks.
    pub path: Vec<u8>,
    pub owner: Owner,
    pub digest: Option<Digest>,
    pub conffile: bool,
    pub presence: Presence,
    /// Mode/owner the database expects (dpkg: only from `statoverride`).
    pub expected: ExpectedAttrs,
}

/// Attributes a database records beyond the digest. `None` = not recorded, not checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpectedAttrs {
    /// Permission bits (and, where recorded, the file type bits).
    pub mode: Option<u32>,
    pub user: Option<UserRef>,
    pub group: Option<UserRef>,
}

/// A user or group as a database names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRef {
    Name(String),
    Id(u32),
}
