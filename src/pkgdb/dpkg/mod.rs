//! dpkg (Debian, Ubuntu): `/var/lib/dpkg`, read directly.

use std::path::{Path, PathBuf};

use super::{DbContents, DbError, DbFormat, PackageDb};
use crate::rootfs::RootFs;

pub struct DpkgDb {
    admindir: PathBuf,
}

impl DpkgDb {
    pub fn detect(root: &RootFs) -> Option<DpkgDb> {
        let admindir = PathBuf::from("/var/lib/dpkg");
        let host = root.host_path(b"/var/lib/dpkg");
        (host.join("status").is_file() || host.join("status.d").is_dir())
            .then_some(DpkgDb { admindir })
    }
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
    fn read(&self, _root: &RootFs) -> Result<DbContents, DbError> {
        Ok(DbContents::default())
    }
}
