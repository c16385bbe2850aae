//! The host's install profile: what a target image needs besides files — distribution,
//! kernel, locale and keyboard, users, disks, network, services (UForge's `installProfile`).
//!
//! Everything is read from the scanned root's own files. Live facts (mount table, kernel
//! command line, NIC addresses, memory) come from [`LiveSources`]: the running host's
//! `/proc` and `/sys` when the root is `/`, captured trees given with `--proc`/`--sys`
//! otherwise, and are `null` ("unknown") when neither is there — never the scanning host's
//! facts passed off as the image's.

pub mod live;
pub mod network;
pub mod storage;

use serde::Serialize;

pub use live::LiveSources;

use crate::rootfs::RootFs;

/// The `profile` section of the report.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Profile {
    /// Whether live facts were available (`/proc`, `/sys` of the scanned system).
    pub live: bool,
    pub storage: storage::Storage,
    pub network: network::Network,
}

/// Collect the profile of `root`. Never fails: what cannot be read is recorded as unknown
/// (and explained in the section's `notes`), so one odd file cannot lose the scan.
pub fn collect(root: &RootFs, live: &LiveSources) -> Profile {
    Profile {
        live: live.is_available(),
        storage: storage::collect(root, live),
        network: network::collect(root, live),
    }
}
