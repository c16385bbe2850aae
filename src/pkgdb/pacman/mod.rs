//! pacman (Arch): `var/lib/pacman/local/*/{desc,files,mtree}`. Work in progress.

use crate::rootfs::RootFs;

pub struct PacmanDb;

impl PacmanDb {
    pub fn detect(_root: &RootFs) -> Option<PacmanDb> {
        None
    }
}
