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

/// Pseudo filesystems: kernel views, never data of the host.
const PSEUDO: &[&str] = &[
    "proc",
    "sysfs",
    "devtmpfs",
    "devpts",
    "cgroup",
    "cgroup2",
    "debugfs",
    "tracefs",
    "securityfs",
    "pstore",
    "bpf",
    "configfs",
    "fusectl",
    "mqueue",
    "hugetlbfs",
    "binfmt_misc",
    "efivarfs",
    "selinuxfs",
    "rpc_pipefs",
    "nsfs",
    "ramfs",
    "rootfs",
    "nfsd",
    "sockfs",
];
/// Network and cluster filesystems: another host's data, and an lstat on a dead one hangs.
const NETWORK: &[&str] = &[
    "nfs",
    "nfs4",
    "cifs",
    "smb3",
    "smbfs",
    "ncpfs",
    "afs",
    "ceph",
    "glusterfs",
    "9p",
    "lustre",
    "gpfs",
    "ocfs2",
    "gfs2",
    "davfs",
    "coda",
    "sshfs",
];
/// FUSE filesystems known to hold local data; any other `fuse.*` is treated as remote, since
/// a dead FUSE daemon hangs every lstat below its mount point.
const LOCAL_FUSE: &[&str] = &["fuse.ntfs-3g", "fuseblk", "fuse.mergerfs", "fuse.lxcfs"];
/// tmpfs below these is runtime state that does not survive a reboot.
const VOLATILE_TMPFS_UNDER: &[&[u8]] = &[b"/run", b"/dev", b"/sys", b"/proc", b"/var/run", b"/tmp"];

/// Parse the text of a mountinfo file.
pub fn parse_mountinfo(text: &[u8]) -> Result<Vec<MountEntry>, MountInfoError> {
    let mut out = Vec::new();
    for (n, line) in text.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        let bad = |m: &str| MountInfoError {
            line: n + 1,
            message: m.to_string(),
        };
        let fields: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
        let sep = fields
            .iter()
            .position(|f| *f == b"-")
            .ok_or_else(|| bad("no ' - ' separator"))?;
        if sep < 6 || fields.len() < sep + 3 {
            return Err(bad("too few fields"));
        }
        let num = |f: &[u8], what: &str| -> Result<u64, MountInfoError> {
            std::str::from_utf8(f)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad(&format!("bad {what}")))
        };
        let (maj, min) = {
            let f = fields[2];
            let colon = f
                .iter()
                .position(|&b| b == b':')
                .ok_or_else(|| bad("bad major:minor"))?;
            (num(&f[..colon], "major")?, num(&f[colon + 1..], "minor")?)
        };
        let text = |f: &[u8]| String::from_utf8_lossy(&crate::scan::unescape_octal(f)).into_owned();
        out.push(MountEntry {
            mount_id: num(fields[0], "mount id")?,
            parent_id: num(fields[1], "parent id")?,
            major: u32::try_from(maj).map_err(|_| bad("major too large"))?,
            minor: u32::try_from(min).map_err(|_| bad("minor too large"))?,
            fs_root: crate::scan::unescape_octal(fields[3]),
            mount_point: crate::scan::unescape_octal(fields[4]),
            mount_options: text(fields[5]),
            fstype: text(fields[sep + 1]),
            source: text(fields[sep + 2]),
            super_options: fields.get(sep + 3).map(|f| text(f)).unwrap_or_default(),
        });
    }
    Ok(out)
}

fn under(path: &[u8], dir: &[u8]) -> bool {
    dir == b"/" || path == dir || (path.starts_with(dir) && path.get(dir.len()) == Some(&b'/'))
}

fn classify_type(m: &MountEntry, scanned: &[u8]) -> Option<SkipReason> {
    let t = m.fstype.as_str();
    if t == "autofs" {
        return Some(SkipReason::Autofs);
    }
    if PSEUDO.contains(&t) {
        return Some(SkipReason::Pseudo);
    }
    if t == "tmpfs" || t == "devtmpfs" {
        if VOLATILE_TMPFS_UNDER.iter().any(|d| under(scanned, d)) {
            return Some(SkipReason::Pseudo);
        }
        return None;
    }
    let base = t.split('.').next().unwrap_or(t);
    if NETWORK.contains(&t) || NETWORK.contains(&base) {
        return Some(SkipReason::Network);
    }
    if t.starts_with("fuse.") && !LOCAL_FUSE.contains(&t) || t == "fuse" {
        return Some(SkipReason::Network);
    }
    if t == "overlay" || t == "aufs" {
        return Some(SkipReason::Overlay);
    }
    if scanned == b"/.snapshots" {
        return Some(SkipReason::Snapshots);
    }
    None
}

/// btrfs subvolumes of one filesystem share major:minor; the subvolume tells them apart.
fn subvolume(m: &MountEntry) -> Option<&str> {
    m.super_options
        .split(',')
        .chain(m.mount_options.split(','))
        .find_map(|o| o.strip_prefix("subvolid="))
}

/// Decide, for every mount at or below `root` (a host path), whether it is walked.
/// Mount points in the result are paths of the scanned system (relative to `root`).
pub fn plan(mounts: &[MountEntry], root: &Path) -> MountPlan {
    use std::os::unix::ffi::OsStrExt;
    let root_b = crate::rootfs::normalize(root.as_os_str().as_bytes());
    let mut visible: Vec<(Vec<u8>, &MountEntry)> = Vec::new();
    for m in mounts {
        let mp = crate::rootfs::normalize(&m.mount_point);
        if !under(&mp, &root_b) {
            continue;
        }
        let scanned = if root_b == b"/" {
            mp
        } else {
            let rest = &mp[root_b.len()..];
            if rest.is_empty() {
                b"/".to_vec()
            } else {
                rest.to_vec()
            }
        };
        // A later mount on the same point hides the earlier one.
        visible.retain(|(p, _)| *p != scanned);
        visible.push((scanned, m));
    }
    visible.sort_by(|a, b| {
        a.0.len()
            .cmp(&b.0.len())
            .then(a.1.mount_id.cmp(&b.1.mount_id))
    });
    let mut plan = MountPlan::default();
    let mut walked: Vec<(Vec<u8>, &MountEntry)> = Vec::new();
    for (scanned, m) in visible {
        if plan.skipped.iter().any(|s| under(&scanned, &s.mount_point)) {
            continue; // inside a skipped mount: never reached
        }
        // The scanned root itself is always walked, whatever it is (a container's overlay /).
        let reason = if scanned == b"/" {
            None
        } else {
            classify_type(m, &scanned).or_else(|| {
                walked
                    .iter()
                    .find(|(_, w)| {
                        w.major == m.major
                            && w.minor == m.minor
                            && subvolume(w) == subvolume(m)
                            && under(&m.fs_root, &w.fs_root)
                    })
                    .map(|(p, _)| SkipReason::BindDuplicate { of: p.clone() })
            })
        };
        match reason {
            Some(reason) => plan.skipped.push(SkippedMount {
                mount_point: scanned,
                fstype: m.fstype.clone(),
                source: m.source.clone(),
                reason,
            }),
            None => {
                plan.walked.push((scanned.clone(), m.fstype.clone()));
                walked.push((scanned, m));
            }
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "\
22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw
23 22 0:21 / /proc rw,nosuid shared:2 - proc proc rw
24 22 0:22 / /sys rw shared:3 - sysfs sysfs rw
25 24 0:23 / /sys/fs/cgroup rw shared:4 - cgroup2 cgroup2 rw
26 22 0:5 / /dev rw shared:5 - devtmpfs udev rw
27 26 0:24 / /dev/shm rw shared:6 - tmpfs tmpfs rw
28 22 0:25 / /run rw shared:7 - tmpfs tmpfs rw
29 22 254:2 / /home rw shared:8 - ext4 /dev/vda2 rw
30 22 254:2 /alice/data /srv/data rw shared:8 - ext4 /dev/vda2 rw
31 22 0:40 / /mnt/nfs rw - nfs4 server:/export rw
32 22 0:41 / /mnt/ssh rw - fuse.sshfs u@h:/ rw
33 22 0:42 / /misc rw - autofs systemd-1 rw
34 22 0:43 / /var/lib/docker/overlay2/x/merged rw - overlay overlay rw
35 22 0:44 / /mnt/with\\040space rw - ext4 /dev/vdb rw
36 22 0:45 / /.snapshots rw - btrfs /dev/vdc rw,subvolid=260
";

    #[test]
    fn host_mounts_are_planned() {
        let m = parse_mountinfo(HOST.as_bytes()).unwrap();
        assert_eq!(m.len(), 15);
        assert_eq!(m[13].mount_point, b"/mnt/with space");
        let p = plan(&m, Path::new("/"));
        let walked: Vec<&[u8]> = p.walked.iter().map(|w| w.0.as_slice()).collect();
        assert_eq!(walked, vec![&b"/"[..], b"/home", b"/mnt/with space"]);
        let skipped: Vec<(String, SkipReason)> = p
            .skipped
            .iter()
            .map(|s| {
                (
                    String::from_utf8_lossy(&s.mount_point).into_owned(),
                    s.reason.clone(),
                )
            })
            .collect();
        assert!(skipped.contains(&("/proc".into(), SkipReason::Pseudo)));
        assert!(skipped.contains(&("/run".into(), SkipReason::Pseudo)));
        assert!(skipped.contains(&("/mnt/nfs".into(), SkipReason::Network)));
        assert!(skipped.contains(&("/mnt/ssh".into(), SkipReason::Network)));
        assert!(skipped.contains(&("/misc".into(), SkipReason::Autofs)));
        assert!(skipped.contains(&("/.snapshots".into(), SkipReason::Snapshots)));
        assert!(skipped.contains(&(
            "/var/lib/docker/overlay2/x/merged".into(),
            SkipReason::Overlay
        )));
        assert!(skipped.contains(&(
            "/srv/data".into(),
            SkipReason::BindDuplicate {
                of: b"/home".to_vec()
            }
        )));
        // /sys/fs/cgroup and /dev/shm are inside skipped mounts: not listed twice.
        assert!(!skipped.iter().any(|s| s.0 == "/dev/shm"));
    }

    #[test]
    fn btrfs_subvolumes_are_distinct() {
        let text = "\
1 0 0:30 /@ / rw - btrfs /dev/sda2 rw,subvolid=256,subvol=/@
2 1 0:30 /@home /home rw - btrfs /dev/sda2 rw,subvolid=257,subvol=/@home
3 1 0:30 /@/srv /srv2 rw - btrfs /dev/sda2 rw,subvolid=256,subvol=/@
";
        let p = plan(&parse_mountinfo(text.as_bytes()).unwrap(), Path::new("/"));
        assert_eq!(p.walked.len(), 2);
        assert_eq!(p.skipped.len(), 1);
        assert_eq!(
            p.skipped[0].reason,
            SkipReason::BindDuplicate { of: b"/".to_vec() }
        );
    }

    #[test]
    fn other_root_maps_to_scanned_paths_and_overlay_root_is_walked() {
        let text = "\
1 0 0:30 / / rw - overlay overlay rw
2 1 0:31 / /mnt/img rw - ext4 /dev/loop0 rw
3 2 0:32 / /mnt/img/proc rw - proc proc rw
";
        let m = parse_mountinfo(text.as_bytes()).unwrap();
        let p = plan(&m, Path::new("/mnt/img"));
        assert_eq!(p.walked, vec![(b"/".to_vec(), "ext4".to_string())]);
        assert_eq!(p.skipped[0].mount_point, b"/proc");
        let p = plan(&m, Path::new("/"));
        assert_eq!(p.walked[0], (b"/".to_vec(), "overlay".to_string()));
    }

    #[test]
    fn malformed_lines_are_errors_with_line_numbers() {
        let e = parse_mountinfo(b"1 0 0:1 / / rw - ext4 x rw\ngarbage\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(parse_mountinfo(b"1 0 x:1 / / rw - ext4 x rw").is_err());
        assert!(parse_mountinfo(b"").unwrap().is_empty());
    }

    #[test]
    fn this_hosts_mountinfo_parses() {
        if let Ok(t) = std::fs::read("/proc/self/mountinfo") {
            let m = parse_mountinfo(&t).unwrap();
            let p = plan(&m, Path::new("/"));
            assert!(p.walked.iter().any(|w| w.0 == b"/"));
            assert!(p.skipped.iter().any(|s| s.mount_point == b"/proc"));
        }
    }
}
