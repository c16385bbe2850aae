//! rpm databases, read without librpm or libdb: the header blob ([`header`]), the three
//! storage backends ([`sqlite`], [`bdb`], [`ndb`]) and what each header says about its files
//! ([`package`]).

pub mod bdb;
pub mod header;
pub mod ndb;
pub mod package;
pub mod sqlite;

use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::{DbContents, DbError, DbFormat, PackageDb};
use crate::rootfs::{DirResolver, RootFs};
use bdb::Record;
use header::Header;
use package::{package_from_header, Interner};

/// Where rpm keeps its database, in the order rpm's own defaults moved over the years:
/// Fedora ≥ 36 and SUSE use /usr/lib/sysimage/rpm (with /var/lib/rpm a symlink to it on
/// Fedora), everything older /var/lib/rpm; rpm-ostree ships /usr/share/rpm.
const DB_DIRS: [&str; 3] = ["/usr/lib/sysimage/rpm", "/var/lib/rpm", "/usr/share/rpm"];

/// Backends by file name, newest first: when a conversion left the old file behind, the
/// new one is the live database.
const BACKENDS: [(&str, DbFormat); 3] = [
    ("rpmdb.sqlite", DbFormat::RpmSqlite),
    ("Packages.db", DbFormat::RpmNdb),
    ("Packages", DbFormat::RpmBdb),
];

/// Headers above this size are refused by rpm itself (header.cc: 256 MiB); a database file
/// is bounded by what the host can hold, but we do not read more than 4 GiB into memory.
const MAX_DB_FILE: u64 = 4 << 30;

pub struct RpmDb {
    /// Directory as seen on the scanned system.
    dir: PathBuf,
    file: PathBuf,
    format: DbFormat,
    /// Other rpm databases found in the root (stale copies after a backend conversion).
    ignored: Vec<String>,
}

impl RpmDb {
    pub fn detect(root: &RootFs) -> Option<RpmDb> {
        let mut resolver = DirResolver::new(root);
        let mut seen_dirs: Vec<Vec<u8>> = Vec::new();
        let mut found: Vec<(PathBuf, PathBuf, DbFormat)> = Vec::new();
        for dir in DB_DIRS {
            // /var/lib/rpm is often a symlink to /usr/lib/sysimage/rpm: one database.
            let canonical = resolver.canonical_dir(dir.as_bytes());
            if seen_dirs.contains(&canonical) {
                continue;
            }
            seen_dirs.push(canonical.clone());
            for (name, format) in BACKENDS {
                let mut scanned = canonical.clone();
                scanned.push(b'/');
                scanned.extend_from_slice(name.as_bytes());
                if magic_matches(&root.host_path(&scanned), format) {
                    found.push((PathBuf::from(dir), PathBuf::from(name), format));
                }
            }
        }
        let mut found = found.into_iter();
        let (dir, file, format) = found.next()?;
        let ignored = found
            .map(|(d, f, _)| {
                format!(
                    "{}: another rpm database; {} is the one read (rpm's newest location and backend)",
                    d.join(f).display(),
                    dir.join(&file).display()
                )
            })
            .collect();
        Some(RpmDb {
            dir,
            file,
            format,
            ignored,
        })
    }

    fn records(
        &self,
        host_file: &Path,
        warnings: &mut Vec<String>,
    ) -> Result<Vec<Record>, DbError> {
        let corrupt = |message: String| DbError::Corrupt {
            path: host_file.to_path_buf(),
            message,
        };
        match self.format {
            DbFormat::RpmSqlite => {
                let r = sqlite::read(host_file).map_err(|e| corrupt(e.to_string()))?;
                warnings.extend(r.warning);
                Ok(r.records)
            }
            DbFormat::RpmBdb => {
                let bytes = read_db_file(host_file)?;
                bdb::read_records(&bytes).map_err(|e| corrupt(e.to_string()))
            }
            _ => {
                let bytes = read_db_file(host_file)?;
                ndb::read_records(&bytes).map_err(|e| corrupt(e.to_string()))
            }
        }
    }
}

fn magic_matches(host_file: &Path, format: DbFormat) -> bool {
    let mut head = [0u8; 16];
    let Ok(mut f) = std::fs::File::open(host_file) else {
        return false;
    };
    if f.read_exact(&mut head).is_err() {
        return false;
    }
    match format {
        DbFormat::RpmSqlite => sqlite::looks_like(&head),
        DbFormat::RpmBdb => bdb::looks_like(&head),
        _ => ndb::looks_like(&head),
    }
}

fn read_db_file(path: &Path) -> Result<Vec<u8>, DbError> {
    let io = |source| DbError::Io {
        path: path.to_path_buf(),
        source,
    };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > MAX_DB_FILE {
        return Err(DbError::Corrupt {
            path: path.to_path_buf(),
            message: format!("{len} bytes, more than the {MAX_DB_FILE}-byte limit"),
        });
    }
    std::fs::read(path).map_err(io)
}

impl PackageDb for RpmDb {
    fn format(&self) -> DbFormat {
        self.format
    }

    fn location(&self) -> &Path {
        &self.dir
    }

    fn lock_files(&self) -> Vec<PathBuf> {
        // rpm ≥ 4.6 serialises writers with an fcntl lock on .rpm.lock; NDB writers also
        // hold an exclusive flock on Packages.db itself.
        let mut locks = vec![self.dir.join(".rpm.lock")];
        if self.format == DbFormat::RpmNdb {
            locks.push(self.dir.join(&self.file));
        }
        locks
    }

    fn read(&self, root: &RootFs) -> Result<DbContents, DbError> {
        let mut resolver = DirResolver::new(root);
        let dir = resolver.canonical_dir(self.dir.as_os_str().as_encoded_bytes());
        let host_file = root.host_path(&dir).join(&self.file);
        let mut warnings = self.ignored.clone();
        let records = self.records(&host_file, &mut warnings)?;
        let shown = self.dir.join(&self.file);
        // Header parsing is independent per package: in parallel, in record order.
        let parsed: Vec<Result<package::PackageRead, String>> = records
            .par_iter()
            .enumerate()
            .map(|(i, (key, blob))| {
                let owner = u32::try_from(i).unwrap_or(u32::MAX);
                let h = Header::parse(blob).map_err(|e| format!("record {key}: {e}"))?;
                package_from_header(&h, owner, &mut Interner::default())
                    .map_err(|e| format!("record {key}: {e}"))
            })
            .collect();
        let mut out = DbContents::default();
        for p in parsed {
            match p {
                Ok(mut p) => {
                    // Owners index `packages`: renumber past skipped records.
                    let idx = u32::try_from(out.packages.len()).unwrap_or(u32::MAX);
                    for f in &mut p.files {
                        f.owner = super::Owner::Package(idx);
                    }
                    out.packages.push(p.package);
                    out.files.append(&mut p.files);
                    warnings.extend(p.warnings);
                }
                Err(e) => warnings.push(format!(
                    "{}: {e}; package skipped (its files are treated as unowned)",
                    shown.display()
                )),
            }
        }
        out.warnings = warnings;
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
