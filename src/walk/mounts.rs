//! The mount table: which mounts under the scanned root are walked, and which are skipped and why.
//!
//! Decided from `/proc/self/mountinfo` *before* the walker touches a mount point: an `lstat`
//! on a dead NFS or FUSE mount hangs, and opening an autofs directory mounts it.

use std::path::Path;

use serde::Serialize;

/// One line of `/proc/self/mountinfo` (proc(5)); octal escapes (`\040`) already decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    pub mount_id: u64,
    pub parent_id: u64,
    pub major: u32,
    pub minor: u32,
    /// Root of the mount within its filesystem (`/` unless a bind mount or btrfs subvolume).
    pub fs_root: Vec<u8>,
    /// Mount point, as the reading process sees it (a host path).
    pub mount_point: Vec<u8>,
    pub mount_options: String,
    pub fstype: String,
    pub source: String,
    pub super_options: String,
}

/// Why a mount is not walked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "reason")]
pub enum SkipReason {
    /// proc, sysfs, devtmpfs, devpts, cgroup, tmpfs on /run or /dev/shm, debugfs, …
    Pseudo,
    /// nfs, cifs, fuse.sshfs, …
    Network,
    /// Opening it would trigger a mount.
    Autofs,
    /// overlay/aufs (docker `merged` dirs): its lower layers are walked already.
    Overlay,
    /// The same filesystem subtree is already walked at `of`.
    BindDuplicate { of: Vec<u8> },
    /// snapper's `/.snapshots`: old copies of the root.
    Snapshots,
    /// Under a user exclude.
    Excluded,
}

/// A mount the walker must not enter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedMount {
    /// Mount point as a path of the scanned system (`/proc`, `/home/u/remote`).
    pub mount_point: Vec<u8>,
    pub fstype: String,
    pub source: String,
    pub reason: SkipReason,
}

/// What the walker needs to know about the mounts below the scanned root.
#[derive(Debug, Clone, Default)]
pub struct MountPlan {
    /// Mounts that are walked (mount point as a scanned path, fstype).
    pub walked: Vec<(Vec<u8>, String)>,
    pub skipped: Vec<SkippedMount>,
}

#[derive(Debug, thiserror::Error)]
#[error("mountinfo line {line}: {message}")]
pub struct MountInfoError {
    pub line: usize,
    pub message: String,
}

/// Parse the text of a mountinfo file.
pub fn parse_mountinfo(_text: &[u8]) -> Result<Vec<MountEntry>, MountInfoError> {
    Ok(Vec::new())
}

/// Decide, for every mount at or below `root` (a host path), whether it is walked.
/// Mount points in the result are paths of the scanned system (relative to `root`).
pub fn plan(_mounts: &[MountEntry], _root: &Path) -> MountPlan {
    MountPlan::default()
}
