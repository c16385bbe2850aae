//! dpkg (Debian, Ubuntu): `/var/lib/dpkg`, read directly — `status` plus the `updates/`
//! journal, `info/*.list`/`.md5sums`, conffile hashes, `diversions`, `statoverride`,
//! `alternatives/`, distroless `status.d/`, and the `path-exclude`/localepurge filters.
//! Format: `../shared/docs/package-databases.md` §2.
//!
//! Every file is read as bytes (paths are not UTF-8 in general), nothing on file data is
//! unwrapped, and each part is bounded by its file (small admin files by a cap). Damage the
//! package manager itself would refuse (a malformed status stanza) is a [`DbError::Parse`]
//! naming file and line; damage it would survive (a bad md5sums line) is a warning.

pub mod alternatives;
mod bytes;
pub mod deb822;
pub mod diversions;
mod fsread;
pub mod info;
mod package_files;
pub mod path_exclude;
pub mod statoverride;
pub mod status;
pub mod version;

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::{DbContents, DbError, DbFormat, PackageDb};
use crate::rootfs::RootFs;
use diversions::Diversions;
use package_files::{package_files, Context, PackageOutput};
use path_exclude::PathFilter;
use statoverride::StatOverrides;

pub use status::{parse_status_bytes, StatusEntry};

/// The dpkg database of a root.
pub struct DpkgDb {
    admindir: PathBuf,
}

impl DpkgDb {
    /// A root has a dpkg database if it has `status`, or (distroless) `status.d/`.
    pub fn detect(root: &RootFs) -> Option<DpkgDb> {
        let admindir = PathBuf::from("/var/lib/dpkg");
        let host = root.host_path(b"/var/lib/dpkg");
        (host.join("status").is_file() || host.join("status.d").is_dir())
            .then_some(DpkgDb { admindir })
    }
}

/// An optional admin file (`diversions`, `statoverride`), parsed with `parse`.
fn read_admin_file<T: Default>(
    path: &Path,
    warnings: &mut Vec<String>,
    parse: impl FnOnce(&Path, &[u8], &mut Vec<String>) -> T,
) -> Result<T, DbError> {
    Ok(match fsread::read_optional(path)? {
        Some(text) => parse(path, &text, warnings),
        None => T::default(),
    })
}

impl PackageDb for DpkgDb {
    fn format(&self) -> DbFormat {
        DbFormat::Dpkg
    }

    fn location(&self) -> &Path {
        &self.admindir
    }

    fn lock_files(&self) -> Vec<PathBuf> {
        vec![
            self.admindir.join("lock-frontend"),
            self.admindir.join("lock"),
        ]
    }

    fn read(&self, root: &RootFs) -> Result<DbContents, DbError> {
        let admin = root.host_path(self.admindir.as_os_str().as_encoded_bytes());
        let mut warnings = Vec::new();
        let entries = status::read_packages(&admin, &mut warnings)?;
        let info_dir = admin.join("info");
        let info_format = info::read_format(&info_dir, &mut warnings)?;
        let diversions =
            read_admin_file(&admin.join("diversions"), &mut warnings, Diversions::parse)?;
        let overrides = read_admin_file(
            &admin.join("statoverride"),
            &mut warnings,
            StatOverrides::parse,
        )?;
        let filter = PathFilter::load(root, &mut warnings);
        let ctx = Context {
            info_dir: &info_dir,
            info_format,
            diversions: &diversions,
            overrides: &overrides,
            filter: &filter,
        };

        // The info files are ~1000 small reads and 100 k+ lines: spread them over the
        // cores; `collect` keeps package order, so the output is deterministic.
        let outputs: Vec<Result<PackageOutput, DbError>> = entries
            .par_iter()
            .enumerate()
            .map(|(i, e)| package_files(&ctx, i, e))
            .collect();
        let mut per_package = Vec::with_capacity(outputs.len());
        for out in outputs {
            per_package.push(out?);
        }
        // Read before the vector is sized, so it is sized exactly: appending the
        // alternatives to a full vector doubled its capacity (~230 bytes of slack per
        // packaged file). Their warnings still come after the packages'.
        let mut alt_warnings = Vec::new();
        let alternatives = alternatives::read_all(&admin, &mut alt_warnings)?;
        // Reserved whole, once: pages are resident only as records are moved in, while each
        // package's list is freed as it is moved. Grown in steps instead, every step
        // reallocated and copied all that was moved before, the old and the new buffer
        // held at once: a 1 M-file tree's half-million records peaked at 117 MiB instead
        // of 75.
        let total = per_package.iter().map(|o| o.files.len()).sum::<usize>() + alternatives.len();
        let mut files = Vec::with_capacity(total);
        for out in per_package {
            files.extend(out.files);
            warnings.extend(out.warnings);
        }
        files.reserve_exact(alternatives.len());
        files.extend(alternatives);
        warnings.extend(alt_warnings);
        Ok(DbContents {
            packages: entries.into_iter().map(|e| e.package).collect(),
            files,
            warnings,
        })
    }
}

#[cfg(test)]
mod tests;
