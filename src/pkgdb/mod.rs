//! Package databases, read directly from their files (no `dpkg`/`rpm` calls).
//!
//! One trait, [`PackageDb`], with one module per on-disk format. A reader turns its
//! format into the same plain data, [`DbContents`]: the installed packages and every
//! path they record, already mapped to where the file really lives (diversions
//! applied) and annotated with what can be verified about it.

pub mod apk;
pub mod digest;
pub mod dpkg;
pub mod pacman;
pub mod rpm;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::rootfs::RootFs;

/// Which package manager a database belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DbFormat {
    Dpkg,
    RpmSqlite,
    RpmBdb,
    RpmNdb,
    Apk,
    Pacman,
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
    if let Some(db) = rpm::RpmDb::detect(root) {
        found.push(Box::new(db));
    }
    if let Some(db) = apk::ApkDb::detect(root) {
        found.push(Box::new(db));
    }
    if let Some(db) = pacman::PacmanDb::detect(root) {
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
    /// A binary database that is not what its magic promised; the message names the
    /// offset/page.
    #[error("{path}: {message}")]
    Corrupt { path: PathBuf, message: String },
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

pub use digest::{Digest, DigestAlgo};

/// Whether a recorded path must exist on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presence {
    /// Missing on disk ⇒ `deleted`.
    Required,
    /// Recorded but legitimately absent (the reason is reported): missing ⇒ not installed.
    NotInstalled(NotInstalled),
    /// May be missing without it being a change (obsolete conffiles, rc leftovers).
    Optional,
}

/// Why a recorded path was never installed. An enum rather than the reason's text: a
/// packaged file holds a `Presence`, and a `&'static str` in it made every one of a
/// million records 24 bytes longer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotInstalled {
    DpkgPathExclude,
    Localepurge,
    PacmanNoExtract,
    /// rpm's `RPMFILE_STATE_NOTINSTALLED`.
    RpmNotInstalled,
    RpmNetshared,
}

impl NotInstalled {
    /// As the report and the summary say it.
    pub fn reason(self) -> &'static str {
        match self {
            NotInstalled::DpkgPathExclude => "dpkg path-exclude",
            NotInstalled::Localepurge => "localepurge",
            NotInstalled::PacmanNoExtract => "pacman NoExtract",
            NotInstalled::RpmNotInstalled => {
                "rpm did not install it (excludedocs or %_install_langs)"
            }
            NotInstalled::RpmNetshared => "rpm netshared path",
        }
    }
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
    /// The rpm -V marker of the file (`c d g l r`), where the format has one.
    pub marker: Option<Marker>,
    pub presence: Presence,
    /// What the database expects beyond the digest (dpkg: only `statoverride`; rpm: all of
    /// it, already masked by `%verify` and the file's state).
    pub expected: Expected,
}

/// rpm's file markers, as `rpm -V` prints them after the flags (one letter, in this priority).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Marker {
    Config,
    Doc,
    Ghost,
    License,
    Readme,
}

impl Marker {
    pub fn letter(self) -> char {
        match self {
            Marker::Config => 'c',
            Marker::Doc => 'd',
            Marker::Ghost => 'g',
            Marker::License => 'l',
            Marker::Readme => 'r',
        }
    }
}

/// Attributes a database records beyond the digest. `None` = not recorded or masked out
/// (`%verify(not …)`, ghost), so not checked. Which of them apply also depends on what is on
/// disk (rpm -V: a symlink has no mode, a non-symlink no target, a non-regular file no size,
/// mtime, caps or digest); the classifier applies those rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpectedAttrs {
    /// Permission bits (and, where recorded, the file type bits).
    pub mode: Option<u32>,
    pub user: Option<UserRef>,
    pub group: Option<UserRef>,
    pub size: Option<u64>,
    /// Seconds since the epoch (rpm records whole seconds).
    pub mtime: Option<i64>,
    /// Symlink target; `Some(empty)` means "not a symlink" (rpm records "" for other files).
    pub link_target: Option<Vec<u8>>,
    /// Device number (rpm keeps the low 16 bits), checked for character/block devices.
    pub rdev: Option<u32>,
    /// File capabilities in `cap_to_text` form; `Some("")` means "none".
    pub caps: Option<Arc<str>>,
    /// A non-trivial POSIX access ACL counts as a mode change (rpm -V: rpm cannot have set it).
    pub acl_is_mode_change: bool,
    /// The digest of a symlink is the digest of its target string (apk).
    pub symlink_digest: bool,
}

/// [`ExpectedAttrs`] as a packaged file keeps them: nothing for the common case of a record
/// with none (every dpkg file without a `statoverride`), a box otherwise. `ExpectedAttrs`
/// is ~150 bytes; inline on a million dpkg records that was the largest part of the
/// database in memory. Reads go through `Deref`, so `f.expected.mode` works either way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expected(Option<Box<ExpectedAttrs>>);

/// What an [`Expected`] without attributes reads as.
static NO_ATTRS: ExpectedAttrs = ExpectedAttrs {
    mode: None,
    user: None,
    group: None,
    size: None,
    mtime: None,
    link_target: None,
    rdev: None,
    caps: None,
    acl_is_mode_change: false,
    symlink_digest: false,
};

impl From<ExpectedAttrs> for Expected {
    fn from(a: ExpectedAttrs) -> Expected {
        Expected((a != NO_ATTRS).then(|| Box::new(a)))
    }
}

impl std::ops::Deref for Expected {
    type Target = ExpectedAttrs;
    fn deref(&self) -> &ExpectedAttrs {
        self.0.as_deref().unwrap_or(&NO_ATTRS)
    }
}

/// A user or group as a database names it. Names are shared (`Arc`): an rpm host records the
/// same few names on a hundred thousand files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRef {
    Name(Arc<str>),
    Id(u32),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_attrs_are_boxed_only_when_there_are_some() {
        let none: Expected = ExpectedAttrs::default().into();
        assert!(none.0.is_none());
        assert_eq!(none.mode, None);
        assert!(!none.symlink_digest);
        let some: Expected = ExpectedAttrs {
            mode: Some(0o4755),
            user: Some(UserRef::Id(0)),
            ..ExpectedAttrs::default()
        }
        .into();
        assert!(some.0.is_some());
        assert_eq!(some.mode, Some(0o4755));
        assert_eq!(some.user, Some(UserRef::Id(0)));
        assert!(std::mem::size_of::<Expected>() <= 8);
    }
}
