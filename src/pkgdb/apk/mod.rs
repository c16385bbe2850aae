//! apk (Alpine): `lib/apk/db/installed`. Work in progress.

use crate::rootfs::RootFs;

pub struct ApkDb;

impl ApkDb {
    pub fn detect(_root: &RootFs) -> Option<ApkDb> {
        None
    }
}
