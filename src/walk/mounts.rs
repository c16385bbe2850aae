//! The mount table: which mounts under the scanned root are walked, and which are skipped and why.
//!
//! Decided from `/proc/self/mountinfo` *before* the walker touches a mount point: an `lstat`
//! on a dead NFS or FUSE mount hangs, and opening an autofs directory mounts it.
//!
//! [`plan`] works in four steps:
//! 1. *Visibility*: of several mounts stacked on one mount point only the top one can be
//!    reached, and a mount whose parent has been mounted over cannot be reached at all.
//! 2. *Type*: pseudo, volatile, network, autofs, union, image and snapshot mounts are skipped.
//! 3. *Bind duplicates*: a mount showing a subtree of a filesystem that another walked mount
//!    already shows is skipped, so each file is reported once.
//! 4. Mounts below a skipped mount are left out of the plan: the walker never gets there.

use std::collections::{HashMap, HashSet};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use serde::Serialize;

use crate::rootfs::normalize;

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
    /// Kernel views and volatile memory: proc, sysfs, devtmpfs, cgroup, nsfs, …, and tmpfs or
    /// ramfs on /run, /dev, /tmp and the like.
    Pseudo,
    /// nfs, cifs, ceph, fuse.sshfs, …, and any FUSE filesystem not known to be local.
    Network,
    /// Opening it would trigger a mount.
    Autofs,
    /// overlay/aufs/mergerfs (docker `merged` dirs): views of layers walked elsewhere.
    Overlay,
    /// The same filesystem subtree is already walked at `of`.
    BindDuplicate {
        #[serde(with = "crate::path_bytes")]
        of: Vec<u8>,
    },
    /// snapper's `/.snapshots` (and ZFS `.zfs/snapshot`): old copies of the system.
    Snapshots,
    /// Under a user exclude.
    Excluded,
    /// A read-only image whose content lives elsewhere: snapd's squashfs packages under
    /// `/snap` (rebuilt by `snap install`), CDs, DVDs and ISO images (iso9660, udf).
    ReadOnlyImage,
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
    /// Mounts that are walked (mount point as a scanned path, fstype), sorted by path.
    /// `/` is the mount holding the scanned root, even when the root is not a mount point.
    pub walked: Vec<(Vec<u8>, String)>,
    /// Sorted by path. Mounts below a skipped mount are not listed: nothing reaches them.
    pub skipped: Vec<SkippedMount>,
}

#[derive(Debug, thiserror::Error)]
#[error("mountinfo line {line}: {message}")]
pub struct MountInfoError {
    pub line: usize,
    pub message: String,
}

// ---------------------------------------------------------------------------------------------
// Parsing

/// Fields between the mount options and the ` - ` separator (`shared:1`, `master:2`,
/// `propagate_from:3`, `unbindable`). Kernels print at most four; the bound keeps a hostile
/// line from making us count forever.
const MAX_OPTIONAL_FIELDS: usize = 64;

/// Parse the text of a mountinfo file.
///
/// Memory is linear in the input: fields are slices of `text` until they are decoded.
pub fn parse_mountinfo(text: &[u8]) -> Result<Vec<MountEntry>, MountInfoError> {
    let mut out = Vec::new();
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        // The final newline leaves an empty piece; hand-made captures may have blank lines.
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let entry = parse_line(line).map_err(|message| MountInfoError {
            line: i + 1,
            message,
        })?;
        out.push(entry);
    }
    Ok(out)
}

/// Splits at single spaces. The kernel escapes spaces inside fields, so two spaces in a row
/// mean an empty field (a mount whose source is the empty string).
struct Fields<'a> {
    rest: Option<&'a [u8]>,
}

impl<'a> Fields<'a> {
    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = self.rest?;
        match rest.iter().position(|&b| b == b' ') {
            Some(i) => {
                self.rest = Some(&rest[i + 1..]);
                Some(&rest[..i])
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }

    fn remainder(&mut self) -> Option<&'a [u8]> {
        self.rest.take()
    }
}

fn parse_line(line: &[u8]) -> Result<MountEntry, String> {
    let mut f = Fields { rest: Some(line) };
    let mut fixed: [&[u8]; 6] = [&[]; 6];
    let names = [
        "mount id",
        "parent id",
        "major:minor",
        "root",
        "mount point",
        "mount options",
    ];
    for (slot, name) in fixed.iter_mut().zip(names) {
        *slot = f
            .next()
            .ok_or_else(|| format!("the line ends before the {name} field"))?;
    }
    let [id, parent, dev, fs_root, mount_point, mount_options] = fixed;
    // Optional fields end at the first field that is exactly "-".
    let mut optional = 0;
    loop {
        match f.next() {
            None => return Err("no ' - ' separator".into()),
            Some(b"-") => break,
            Some(_) if optional == MAX_OPTIONAL_FIELDS => {
                return Err(format!(
                    "more than {MAX_OPTIONAL_FIELDS} optional fields before ' - '"
                ))
            }
            Some(_) => optional += 1,
        }
    }
    let fstype = f
        .next()
        .filter(|t| !t.is_empty())
        .ok_or("no filesystem type after ' - '")?;
    let source = f
        .next()
        .ok_or("no mount source after the filesystem type")?;
    // The rest is the super options. Kernels before 4.x printed some of them (a cifs user
    // name) with a raw space, so take the rest of the line rather than one field.
    let super_options = f.remainder().unwrap_or_default();

    let (major, minor) = match dev.iter().position(|&b| b == b':') {
        Some(colon) => (
            number::<u32>(&dev[..colon], "major")?,
            number::<u32>(&dev[colon + 1..], "minor")?,
        ),
        None => return Err("major:minor has no ':'".into()),
    };
    // A field shift (a garbled line) shows up here first: the kernel prints mount points
    // from the reader's root, so they are always absolute.
    if mount_point.first() != Some(&b'/') {
        return Err("the mount point is not an absolute path".into());
    }
    Ok(MountEntry {
        mount_id: number(id, "mount id")?,
        parent_id: number(parent, "parent id")?,
        major,
        minor,
        fs_root: unescape(fs_root),
        mount_point: unescape(mount_point),
        mount_options: text(mount_options),
        fstype: text(fstype),
        source: text(source),
        super_options: text(super_options),
    })
}

fn number<T: std::str::FromStr>(field: &[u8], what: &str) -> Result<T, String> {
    std::str::from_utf8(field)
        .ok()
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("{what} is not a number"))
}

fn text(field: &[u8]) -> String {
    String::from_utf8_lossy(&unescape(field)).into_owned()
}

/// The kernel writes space, tab, newline and backslash in these fields as `\040`, `\011`,
/// `\012` and `\134` (newer kernels also `#` as `\043`). Since a literal backslash is always
/// escaped, every `\` followed by three octal digits is an escape; anything else (`\9`,
/// `\777`, a trailing `\`) is kept as it is rather than rejected.
pub(crate) fn unescape(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'\\' {
            if let Some(&[a @ b'0'..=b'3', b @ b'0'..=b'7', c @ b'0'..=b'7']) = s.get(i + 1..i + 4)
            {
                out.push((a - b'0') * 64 + (b - b'0') * 8 + (c - b'0'));
                i += 4;
                continue;
            }
        }
        out.push(s[i]);
        i += 1;
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Skip rules by filesystem type

/// Kernel views and device nodes, never data of the host: every one of them is recreated by
/// the kernel or systemd at boot. lxcfs, gvfsd-fuse and the document portal are FUSE views of
/// /proc and of other mounts, not storage.
const PSEUDO: &[&str] = &[
    "proc",
    "sysfs",
    "devtmpfs",
    "devpts",
    "cgroup",
    "cgroup2",
    "cpuset",
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
    "smackfs",
    "rpc_pipefs",
    "nfsd",
    "nsfs",
    "xenfs",
    "usbfs",
    "fuse.lxcfs",
    "fuse.gvfsd-fuse",
    "fuse.portal",
];

/// Memory-backed filesystems: their content does not survive a reboot.
const VOLATILE: &[&str] = &["tmpfs", "ramfs"];

/// Where a volatile filesystem is runtime state by convention (FHS: /run is cleared at boot,
/// /tmp may be), so skipping it loses nothing a migration could carry over. /tmp is included:
/// a tmpfs /tmp (systemd's tmp.mount, Debian 13, Fedora) is emptied by every reboot, so no
/// user can rely on what is in it. A tmpfs elsewhere (an admin's `/srv/cache`) is walked:
/// someone mounted it there on purpose, and it is cheap.
const VOLATILE_DIRS: &[&[u8]] = &[
    b"/run",
    b"/var/run",
    b"/var/lock",
    b"/dev",
    b"/sys",
    b"/proc",
    b"/tmp",
];

/// Another host's data, and an `lstat` on a dead server hangs (hard NFS mounts block
/// forever). Cluster filesystems (ocfs2, gfs2, gpfs, lustre, beegfs) count too: shared with
/// other nodes and frozen while the cluster fences. 9p, virtiofs, vboxsf and vmhgfs are the
/// hypervisor host's folders.
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
    "virtiofs",
    "vboxsf",
    "vmhgfs",
    "lustre",
    "gpfs",
    "beegfs",
    "orangefs",
    "ocfs2",
    "gfs2",
    "davfs",
    "coda",
    "fuse.sshfs",
    "fuse.s3fs",
    "fuse.glusterfs",
    "fuse.davfs",
    "fuse.rclone",
    "fuse.ceph-fuse",
    "fuse.gcsfuse",
    "fuse.vmhgfs-fuse",
    "fuse.curlftpfs",
];

/// Union views over directories that are walked where they lie (docker's overlay2 `merged`
/// dirs over `diff` layers, mergerfs pools over their branch disks, rootless podman's
/// fuse-overlayfs); walking the view would report every file twice.
const UNION: &[&str] = &[
    "overlay",
    "aufs",
    "unionfs",
    "fuse.unionfs",
    "fuse.unionfs-fuse",
    "fuse.fuse-overlayfs",
    "fuse.mergerfs",
];

/// CDs, DVDs and ISO images: a removable medium is not part of the host, and an ISO file
/// (the RHEL DVD loop-mounted as a local yum repository) is itself walked where it lies.
const MEDIA: &[&str] = &["iso9660", "udf"];

/// snapd mounts each installed snap revision (a squashfs image) under /snap — or
/// /var/lib/snapd/snap where /snap is a symlink (Fedora, RHEL). The images are package
/// content that `snap install` rebuilds, and walking them would report ~10 000 files per
/// revision as unowned (dpkg knows nothing of them). In LXD containers snaps are mounted with
/// squashfuse instead. Squashfs elsewhere is walked: it may be the only copy.
const SNAP_IMAGE: &[&str] = &["squashfs", "fuse.squashfuse", "fuse.snapfuse"];
const SNAP_DIRS: &[&[u8]] = &[b"/snap", b"/var/lib/snapd/snap"];

/// Whether a tmpfs mounted at `point` holds runtime state only: it is in one of
/// [`VOLATILE_DIRS`], or it is named `shm` — some container's /dev/shm (docker:
/// containers/<id>/mounts/shm, podman: userdata/shm).
fn volatile_place(point: &[u8]) -> bool {
    last_component(point) == b"shm" || VOLATILE_DIRS.iter().any(|d| under(point, d))
}

/// The reason a mount is skipped for what it is and where it is, before bind duplicates are
/// considered. `scanned` is its mount point as a path of the scanned system.
fn type_reason(m: &MountEntry, scanned: &[u8]) -> Option<SkipReason> {
    let t = m.fstype.as_str();
    if t == "autofs" {
        // Even `lstat` on an indirect map's key triggers the automounter.
        return Some(SkipReason::Autofs);
    }
    if PSEUDO.contains(&t) {
        return Some(SkipReason::Pseudo);
    }
    if VOLATILE.contains(&t) {
        return volatile_place(scanned).then_some(SkipReason::Pseudo);
    }
    if NETWORK.contains(&t) {
        return Some(SkipReason::Network);
    }
    if UNION.contains(&t) {
        return Some(SkipReason::Overlay);
    }
    if MEDIA.contains(&t)
        || (SNAP_IMAGE.contains(&t) && SNAP_DIRS.iter().any(|d| under(scanned, d)))
    {
        return Some(SkipReason::ReadOnlyImage);
    }
    if t == "fuse" || t.starts_with("fuse.") {
        // Any other FUSE filesystem: a userspace daemon serves every lstat, and when it has
        // died or its server is unreachable the walker hangs. Most are remote (sshfs, s3fs,
        // rclone, …); the local ones (encfs, gocryptfs, bindfs) are views of directories that
        // are walked where they lie. `fuseblk` (ntfs-3g, exfat-fuse on a local disk) is not
        // `fuse.*` and is walked: its data is on a disk of this host.
        return Some(SkipReason::Network);
    }
    if scanned
        .split(|&b| b == b'/')
        .any(|c| c == b".snapshots" || c == b".zfs")
    {
        // snapper's snapshots (btrfs subvolumes, or LVM thin snapshots mounted at
        // /.snapshots/N/snapshot) and ZFS's automounted .zfs/snapshot/<name>: old copies of
        // the system, each the size of the original.
        return Some(SkipReason::Snapshots);
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Paths (normalised, absolute, as bytes)

/// `path` is `dir` or below it, on whole components.
fn under(path: &[u8], dir: &[u8]) -> bool {
    dir == b"/" || path == dir || (path.starts_with(dir) && path.get(dir.len()) == Some(&b'/'))
}

fn depth(path: &[u8]) -> usize {
    if path == b"/" {
        0
    } else {
        path.iter().filter(|&&b| b == b'/').count()
    }
}

fn last_component(path: &[u8]) -> &[u8] {
    path.rsplit(|&b| b == b'/').next().unwrap_or(path)
}

/// `/a/b/c` → `/a/b`, `/a`, `/`.
fn proper_ancestors(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut end = (path != b"/").then_some(path.len());
    std::iter::from_fn(move || {
        let e = end?;
        match path[..e].iter().rposition(|&b| b == b'/')? {
            0 => {
                end = None;
                Some(&path[..1])
            }
            pos => {
                end = Some(pos);
                Some(&path[..pos])
            }
        }
    })
}

fn ancestors_or_self(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::once(path).chain(proper_ancestors(path))
}

/// `base` + `rel`, where `rel` is empty or starts with `/`.
fn join(base: &[u8], rel: &[u8]) -> Vec<u8> {
    if rel.is_empty() || rel == b"/" {
        base.to_vec()
    } else if base == b"/" {
        rel.to_vec()
    } else {
        [base, rel].concat()
    }
}

/// The part of `path` below `dir` (`""` or starting with `/`); `path` must be under `dir`.
fn below<'p>(path: &'p [u8], dir: &[u8]) -> &'p [u8] {
    if dir == b"/" {
        path
    } else {
        &path[dir.len()..]
    }
}

// ---------------------------------------------------------------------------------------------
// Visibility

/// The mount that is seen at each mount point (the top of its stack), keyed by normalised
/// mount point. Mounts that are not in the map cannot be reached by any path lookup.
///
/// A mount is stacked on another at the same point when its parent is that mount, so the
/// stack is followed through parent ids, starting from the mount seen at the nearest
/// ancestor mount point. A mount whose parent is a known mount other than that one was
/// mounted on a directory that has been mounted over since, and is hidden. Where the parent
/// ids do not chain (the namespace root, whose parent is outside the table, or old kernels
/// that put two mounts with the same parent on one point), the last one in mountinfo order
/// wins, as the kernel's mount hash lookup does.
fn visible_mounts<'a>(mounts: &[MountEntry], points: &'a [Vec<u8>]) -> HashMap<&'a [u8], usize> {
    let mut by_point: HashMap<&[u8], Vec<usize>> = HashMap::new();
    for (i, p) in points.iter().enumerate() {
        by_point.entry(p.as_slice()).or_default().push(i);
    }
    let known: HashSet<u64> = mounts.iter().map(|m| m.mount_id).collect();
    let mut order: Vec<&[u8]> = by_point.keys().copied().collect();
    // Parents' mount points are decided before their children's.
    order.sort_by(|a, b| depth(a).cmp(&depth(b)).then_with(|| a.cmp(b)));
    let mut top: HashMap<&'a [u8], usize> = HashMap::new();
    for point in order {
        let members = &by_point[point];
        let below = proper_ancestors(point).find_map(|a| top.get(a).copied());
        let chosen = match below.map(|b| mounts[b].mount_id) {
            Some(base) if members.iter().any(|&i| mounts[i].parent_id == base) => {
                stack_top(mounts, members, base)
            }
            Some(_)
                if members
                    .iter()
                    .all(|&i| known.contains(&mounts[i].parent_id)) =>
            {
                None
            }
            _ => {
                // The bottom is a member whose parent is not another member.
                let ids: HashSet<u64> = members.iter().map(|&i| mounts[i].mount_id).collect();
                let bottom = members
                    .iter()
                    .rev()
                    .copied()
                    .find(|&i| {
                        let m = &mounts[i];
                        m.parent_id == m.mount_id || !ids.contains(&m.parent_id)
                    })
                    .unwrap_or(members[members.len() - 1]);
                Some(stack_top(mounts, members, mounts[bottom].mount_id).unwrap_or(bottom))
            }
        };
        if let Some(i) = chosen {
            top.insert(point, i);
        }
    }
    top
}

/// Follow mounts stacked on the mount `base` within `members` (one mount point) to the top.
/// Bounded by the number of members, so a parent-id cycle in a hostile table ends.
fn stack_top(mounts: &[MountEntry], members: &[usize], base: u64) -> Option<usize> {
    let mut parent = base;
    let mut top = None;
    for _ in 0..members.len() {
        let next = members.iter().rev().copied().find(|&i| {
            mounts[i].parent_id == parent && mounts[i].mount_id != parent && Some(i) != top
        });
        match next {
            Some(i) => {
                top = Some(i);
                parent = mounts[i].mount_id;
            }
            None => break,
        }
    }
    top
}

// ---------------------------------------------------------------------------------------------
// The plan

/// A visible mount at or below the scanned root.
struct Candidate {
    /// Index into the mount table.
    idx: usize,
    /// Mount point as a path of the scanned system.
    scanned: Vec<u8>,
    /// The filesystem path shown at `scanned` (normalised fs_root; for the mount holding the
    /// root, the root's own place inside it).
    fs_path: Vec<u8>,
    /// The mount holding the scanned root: walked whatever it is (the user asked for it, and a
    /// container's overlay `/` is all there is).
    is_root: bool,
}

/// Decide, for every mount at or below `root` (a host path), whether it is walked.
/// Mount points in the result are paths of the scanned system (relative to `root`).
///
/// `root` is compared with mountinfo's mount points lexically; a caller with a root that
/// may contain symlinks should canonicalise it first.
pub fn plan(mounts: &[MountEntry], root: &Path) -> MountPlan {
    let root = normalize(root.as_os_str().as_bytes());
    let points: Vec<Vec<u8>> = mounts.iter().map(|m| normalize(&m.mount_point)).collect();
    let visible = visible_mounts(mounts, &points);

    let mut cands = Vec::new();
    if let Some((point, idx)) =
        ancestors_or_self(&root).find_map(|a| visible.get(a).map(|&i| (a, i)))
    {
        // The root may be a plain directory inside a mount (`--root /srv/chroot/sid`); then
        // that directory, not the mount's root, is what the walk shows of its filesystem.
        let fs_path = normalize(&join(&mounts[idx].fs_root, below(&root, point)));
        cands.push(Candidate {
            idx,
            scanned: b"/".to_vec(),
            fs_path,
            is_root: true,
        });
    }
    for (&point, &idx) in &visible {
        if point != root.as_slice() && under(point, &root) {
            cands.push(Candidate {
                idx,
                scanned: below(point, &root).to_vec(),
                fs_path: normalize(&mounts[idx].fs_root),
                is_root: false,
            });
        }
    }
    cands.sort_by(|a, b| {
        depth(&a.scanned)
            .cmp(&depth(&b.scanned))
            .then_with(|| a.scanned.cmp(&b.scanned))
    });

    // A tmpfs is runtime state wherever it shows up if it is also mounted at a runtime place:
    // chroot and container tools bind the host's /run and /dev/shm into their trees.
    let volatile_devs: HashSet<(u32, u32)> = visible
        .iter()
        .map(|(&point, &idx)| (point, idx))
        .chain(cands.iter().map(|c| (c.scanned.as_slice(), c.idx)))
        .filter(|&(point, idx)| {
            VOLATILE.contains(&mounts[idx].fstype.as_str()) && volatile_place(point)
        })
        .map(|(_, idx)| (mounts[idx].major, mounts[idx].minor))
        .collect();
    let mut reasons: Vec<Option<SkipReason>> = cands
        .iter()
        .map(|c| {
            let m = &mounts[c.idx];
            if c.is_root {
                None
            } else if VOLATILE.contains(&m.fstype.as_str())
                && volatile_devs.contains(&(m.major, m.minor))
            {
                Some(SkipReason::Pseudo)
            } else {
                type_reason(m, &c.scanned)
            }
        })
        .collect();
    // Bind duplicates among the mounts the walker can reach and would walk.
    let typed_skips: HashSet<&[u8]> = cands
        .iter()
        .zip(&reasons)
        .filter(|(_, r)| r.is_some())
        .map(|(c, _)| c.scanned.as_slice())
        .collect();
    let walkable: Vec<usize> = (0..cands.len())
        .filter(|&i| {
            reasons[i].is_none()
                && !proper_ancestors(&cands[i].scanned).any(|a| typed_skips.contains(a))
        })
        .collect();
    let all_points: HashSet<&[u8]> = cands.iter().map(|c| c.scanned.as_slice()).collect();
    for (i, of) in bind_duplicates(mounts, &cands, &walkable, &all_points) {
        reasons[i] = Some(SkipReason::BindDuplicate {
            of: cands[of].scanned.clone(),
        });
    }

    let mut plan = MountPlan::default();
    let mut skipped_points: HashSet<&[u8]> = HashSet::new();
    for (c, reason) in cands.iter().zip(reasons) {
        if proper_ancestors(&c.scanned).any(|a| skipped_points.contains(a)) {
            continue; // below a skipped mount: the walker never gets here
        }
        let m = &mounts[c.idx];
        match reason {
            None => plan.walked.push((c.scanned.clone(), m.fstype.clone())),
            Some(reason) => {
                skipped_points.insert(c.scanned.as_slice());
                plan.skipped.push(SkippedMount {
                    mount_point: c.scanned.clone(),
                    fstype: m.fstype.clone(),
                    source: m.source.clone(),
                    reason,
                });
            }
        }
    }
    plan.walked.sort();
    plan.skipped
        .sort_by(|a, b| a.mount_point.cmp(&b.mount_point));
    plan
}

/// `subvolid=` from the options (btrfs, Linux ≥ 4.2).
fn subvolid(m: &MountEntry) -> Option<&str> {
    m.super_options
        .split(',')
        .chain(m.mount_options.split(','))
        .find_map(|o| o.strip_prefix("subvolid="))
}

/// Whether `w`, whose filesystem path `w_path` is an ancestor of `m`'s, can show `m`'s files.
///
/// btrfs subvolumes of one filesystem share major:minor. Since Linux 4.2 fs_root is the
/// subvolume's path from the top level (`/@`, `/@home`, `/@/.snapshots/1/snapshot`) and the
/// options carry `subvolid=`, so comparing paths tells subvolumes apart, and a nested
/// subvolume (`/@/srv/vm`) really is visible inside its parent's mount. Older kernels
/// printed `/` as the root of a subvolume mounted by `subvolid=` and no subvolid: two such
/// mounts may be different subvolumes, so an fs_root of `/` proves nothing there, and both
/// are walked (a file reported twice beats a subvolume not reported).
fn may_show(m: &MountEntry, w: &MountEntry, w_path: &[u8]) -> bool {
    m.fstype != "btrfs" || w_path != b"/" || (subvolid(m).is_some() && subvolid(w).is_some())
}

/// Bind duplicates among `walkable` (indices into `cands`): pairs (duplicate, the walked
/// mount that shows its files).
///
/// `m` duplicates `w` when both are the same device, `m`'s filesystem path is at or below
/// `w`'s, and the walk of `w` really reaches that place: the corresponding path under `w`'s
/// mount point must not be a mount point itself (`mount --bind /x /x` is its own only view,
/// as is docker's `-v /srv/app/conf:/data/conf` inside `-v /srv/app:/data`).
///
/// Of several mounts showing the same files, the one walked is the one showing the most of
/// the filesystem (shallowest filesystem path: the data disk at /data/disk1, not its bind
/// /var/www of `www/`), then the shortest mount point, then the lowest mount id — so data is
/// reported where it is stored, and binds are listed as such.
///
/// The walker does not enter a skipped duplicate, so a mount below one would be lost; if such
/// a mount is not itself shown elsewhere, the duplicate is walked after all (a subtree
/// reported twice beats a filesystem missed), and everything is decided again. Each round
/// forces at least one more mount, so this ends.
fn bind_duplicates(
    mounts: &[MountEntry],
    cands: &[Candidate],
    walkable: &[usize],
    all_points: &HashSet<&[u8]>,
) -> Vec<(usize, usize)> {
    let mut order = walkable.to_vec();
    order.sort_by_key(|&i| {
        let c = &cands[i];
        (
            depth(&c.fs_path),
            c.scanned.len(),
            mounts[c.idx].mount_id,
            i,
        )
    });
    let rank: HashMap<usize, usize> = order.iter().enumerate().map(|(r, &i)| (i, r)).collect();
    let reaches = |w: usize, m: usize| -> bool {
        let (cw, cm) = (&cands[w], &cands[m]);
        let there = join(&cw.scanned, below(&cm.fs_path, &cw.fs_path));
        for a in ancestors_or_self(&there) {
            if a == cw.scanned.as_slice() {
                return true;
            }
            if all_points.contains(a) {
                return false;
            }
        }
        true
    };
    let by_point: HashMap<&[u8], usize> = walkable
        .iter()
        .map(|&i| (cands[i].scanned.as_slice(), i))
        .collect();
    let mut forced: HashSet<usize> = walkable
        .iter()
        .copied()
        .filter(|&i| cands[i].is_root)
        .collect();
    loop {
        let mut dup_of: HashMap<usize, usize> = HashMap::new();
        let mut kept: HashMap<(u32, u32, &[u8]), Vec<usize>> = HashMap::new();
        for &i in &order {
            let m = &mounts[cands[i].idx];
            let of = if forced.contains(&i) {
                None
            } else {
                ancestors_or_self(&cands[i].fs_path)
                    .filter_map(|a| kept.get(&(m.major, m.minor, a)))
                    .flatten()
                    .copied()
                    .filter(|&w| {
                        may_show(m, &mounts[cands[w].idx], &cands[w].fs_path) && reaches(w, i)
                    })
                    .min_by_key(|w| rank[w])
            };
            match of {
                Some(w) => {
                    dup_of.insert(i, w);
                }
                None => kept
                    .entry((m.major, m.minor, cands[i].fs_path.as_slice()))
                    .or_default()
                    .push(i),
            }
        }
        let mut changed = false;
        for &i in walkable {
            if dup_of.contains_key(&i) {
                continue;
            }
            for a in proper_ancestors(&cands[i].scanned) {
                if let Some(&d) = by_point.get(a) {
                    if dup_of.contains_key(&d) {
                        changed |= forced.insert(d);
                    }
                }
            }
        }
        if !changed {
            let mut pairs: Vec<(usize, usize)> = dup_of.into_iter().collect();
            pairs.sort_unstable();
            return pairs;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SkipReason::*;

    fn fixture(name: &str) -> Vec<MountEntry> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/mountinfo")
            .join(name);
        let text = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        parse_mountinfo(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn parse(text: &str) -> Vec<MountEntry> {
        parse_mountinfo(text.as_bytes()).unwrap()
    }

    fn walked(p: &MountPlan) -> Vec<(String, String)> {
        p.walked
            .iter()
            .map(|(m, t)| (String::from_utf8_lossy(m).into_owned(), t.clone()))
            .collect()
    }

    fn skipped(p: &MountPlan) -> Vec<(String, SkipReason)> {
        p.skipped
            .iter()
            .map(|s| {
                (
                    String::from_utf8_lossy(&s.mount_point).into_owned(),
                    s.reason.clone(),
                )
            })
            .collect()
    }

    fn w(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect()
    }

    fn s(list: &[(&str, SkipReason)]) -> Vec<(String, SkipReason)> {
        list.iter()
            .map(|(p, r)| (p.to_string(), r.clone()))
            .collect()
    }

    fn dup(of: &str) -> SkipReason {
        BindDuplicate {
            of: of.as_bytes().to_vec(),
        }
    }

    fn host(mounts: &[MountEntry]) -> MountPlan {
        plan(mounts, Path::new("/"))
    }

    // ---- parsing ----

    #[test]
    fn parses_fields_escapes_and_optional_fields() {
        let m = parse(
            "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n\
             37 35 0:40 / /a\\040b\\011c\\012d\\134e rw - ext4 /dev/x\\040y rw\n\
             38 35 0:41 / /m rw shared:5 master:3 propagate_from:2 unbindable - cifs //s/share\\040x rw,username=a b\n\
             39 35 0:4 net:[4026532601] /run/netns/x rw - nsfs  rw\n",
        );
        assert_eq!(m.len(), 4);
        assert_eq!(
            m[0],
            MountEntry {
                mount_id: 36,
                parent_id: 35,
                major: 98,
                minor: 0,
                fs_root: b"/mnt1".to_vec(),
                mount_point: b"/mnt2".to_vec(),
                mount_options: "rw,noatime".into(),
                fstype: "ext3".into(),
                source: "/dev/root".into(),
                super_options: "rw,errors=continue".into(),
            }
        );
        assert_eq!(m[1].mount_point, b"/a b\tc\nd\\e");
        assert_eq!(m[1].source, "/dev/x y");
        // Four optional fields; super options with a raw space (old kernels' cifs).
        assert_eq!(m[2].fstype, "cifs");
        assert_eq!(m[2].source, "//s/share x");
        assert_eq!(m[2].super_options, "rw,username=a b");
        // nsfs: a root that is not a path, and an empty source.
        assert_eq!(m[3].fs_root, b"net:[4026532601]");
        assert_eq!(m[3].source, "");
        assert_eq!(m[3].super_options, "rw");
    }

    #[test]
    fn undecodable_escapes_are_kept_and_bytes_are_not_utf8_checked() {
        assert_eq!(unescape(b"a\\777b\\9\\04"), b"a\\777b\\9\\04");
        assert_eq!(unescape(b"\\377\\000x\\"), b"\xff\x00x\\");
        let m = parse_mountinfo(b"1 0 8:1 / /caf\xe9\\040\\377 rw - ext4 /dev/sda1 rw\n").unwrap();
        assert_eq!(m[0].mount_point, b"/caf\xe9 \xff");
    }

    #[test]
    fn malformed_lines_are_errors_with_line_numbers() {
        let good = "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n";
        let cases: &[(&str, &str)] = &[
            ("garbage", "parent id"),
            ("1 0 8:1 / / rw shared:1 ext4 /dev/sda1 rw", "separator"),
            ("1 0 8:1 / /", "mount options"),
            ("x 0 8:1 / / rw - ext4 /dev/sda1 rw", "mount id"),
            ("1 -1 8:1 / / rw - ext4 /dev/sda1 rw", "parent id"),
            ("1 0 8-1 / / rw - ext4 /dev/sda1 rw", "major:minor"),
            ("1 0 8: / / rw - ext4 /dev/sda1 rw", "minor"),
            ("1 0 99999999999:1 / / rw - ext4 /dev/sda1 rw", "major"),
            ("1 0 8:1 / relative rw - ext4 /dev/sda1 rw", "absolute"),
            ("1 0 8:1 / / rw -", "filesystem type"),
            ("1 0 8:1 / / rw - ext4", "source"),
        ];
        for (bad, what) in cases {
            let text = format!("{good}{good}{bad}\n{good}");
            let e = parse_mountinfo(text.as_bytes()).unwrap_err();
            assert_eq!(e.line, 3, "{bad}");
            assert!(e.message.contains(what), "{bad}: {}", e.message);
            assert!(e.to_string().starts_with("mountinfo line 3: "));
        }
        let many = format!("1 0 8:1 / / rw {}- ext4 x rw", "shared:1 ".repeat(65));
        assert!(parse_mountinfo(many.as_bytes())
            .unwrap_err()
            .message
            .contains("optional fields"));
        assert!(parse_mountinfo(b"").unwrap().is_empty());
        assert!(parse_mountinfo(b"\n\n").unwrap().is_empty());
    }

    #[test]
    fn hostile_bytes_never_panic() {
        // Every prefix and every one-byte mutation of real lines, plus pseudo-random bytes.
        let base = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mountinfo/nfs-autofs-sshfs.txt"),
        )
        .unwrap();
        for end in 0..base.len().min(2000) {
            let _ = parse_mountinfo(&base[..end]);
        }
        let alphabet = b" -:/\\0123\n7a";
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..3000 {
            let mut line = base[..400].to_vec();
            for _ in 0..4 {
                let at = (next() % line.len() as u64) as usize;
                line[at] = alphabet[(next() % alphabet.len() as u64) as usize];
            }
            if let Ok(m) = parse_mountinfo(&line) {
                let _ = host(&m);
                let _ = plan(&m, Path::new("/mnt"));
            }
            let noise: Vec<u8> = (0..64).map(|_| next() as u8).collect();
            let _ = parse_mountinfo(&noise);
        }
    }

    // ---- captured tables ----

    #[test]
    fn debian12_host() {
        let p = host(&fixture("debian12-host.txt"));
        assert_eq!(
            walked(&p),
            w(&[
                ("/", "ext4"),
                ("/boot/efi", "vfat"),
                ("/home", "ext4"),
                ("/media/usb backup", "vfat"),
                ("/srv", "xfs"),
            ])
        );
        // Everything below /dev, /proc, /run and /sys is left out: the walker never gets
        // there (the autofs and binfmt_misc stacked on /proc/sys/fs/binfmt_misc included).
        assert_eq!(
            skipped(&p),
            s(&[
                ("/dev", Pseudo),
                ("/proc", Pseudo),
                ("/run", Pseudo),
                ("/sys", Pseudo),
                ("/tmp", Pseudo),
            ])
        );
        assert_eq!(p.skipped[0].fstype, "devtmpfs");
        assert_eq!(p.skipped[0].source, "udev");
    }

    #[test]
    fn centos7_host_with_cgroup_v1() {
        let p = host(&fixture("centos7-host.txt"));
        assert_eq!(
            walked(&p),
            w(&[("/", "xfs"), ("/boot", "xfs"), ("/home", "xfs")])
        );
        assert_eq!(
            skipped(&p),
            s(&[
                ("/dev", Pseudo),
                ("/mnt/rhel-dvd", ReadOnlyImage),
                ("/proc", Pseudo),
                ("/run", Pseudo),
                ("/sys", Pseudo),
                ("/var/lib/nfs/rpc_pipefs", Pseudo),
            ])
        );
    }

    #[test]
    fn ubuntu2204_snaps_are_images() {
        let p = host(&fixture("ubuntu2204-snaps.txt"));
        assert_eq!(
            walked(&p),
            w(&[
                ("/", "ext4"),
                ("/boot", "ext4"),
                ("/boot/efi", "vfat"),
                // A tmpfs outside the runtime directories is walked (holding only nsfs
                // mount points here, which are skipped).
                ("/var/snap/lxd/common/ns", "tmpfs"),
            ])
        );
        assert_eq!(
            skipped(&p),
            s(&[
                ("/dev", Pseudo),
                ("/proc", Pseudo),
                ("/run", Pseudo),
                ("/snap/core20/1974", ReadOnlyImage),
                ("/snap/core20/2015", ReadOnlyImage),
                ("/snap/lxd/24322", ReadOnlyImage),
                ("/snap/snapd/19457", ReadOnlyImage),
                ("/sys", Pseudo),
                ("/var/snap/lxd/common/ns/mntns", Pseudo),
                ("/var/snap/lxd/common/ns/shmounts", Pseudo),
                ("/var/snap/lxd/common/var/lib/lxcfs", Pseudo),
            ])
        );
    }

    #[test]
    fn opensuse_btrfs_subvolumes_are_all_walked_and_snapshots_skipped() {
        let m = fixture("opensuse-btrfs.txt");
        // One filesystem: every subvolume has the same major:minor.
        assert!(m
            .iter()
            .filter(|e| e.fstype == "btrfs")
            .all(|e| (e.major, e.minor) == (0, 43)));
        let p = host(&m);
        assert_eq!(
            walked(&p),
            w(&[
                ("/", "btrfs"),
                ("/boot/efi", "vfat"),
                ("/boot/grub2/i386-pc", "btrfs"),
                ("/boot/grub2/x86_64-efi", "btrfs"),
                ("/home", "btrfs"),
                ("/opt", "btrfs"),
                ("/root", "btrfs"),
                ("/srv", "btrfs"),
                ("/usr/local", "btrfs"),
                ("/var", "btrfs"),
            ])
        );
        assert_eq!(
            skipped(&p),
            s(&[
                ("/.snapshots", Snapshots),
                ("/dev", Pseudo),
                ("/proc", Pseudo),
                ("/run", Pseudo),
                ("/sys", Pseudo),
            ])
        );
    }

    #[test]
    fn docker_host_overlays_netns_and_shm() {
        let p = host(&fixture("docker-host.txt"));
        assert_eq!(
            walked(&p),
            w(&[
                ("/", "ext4"),
                ("/boot/efi", "vfat"),
                ("/var/lib/docker", "xfs")
            ])
        );
        let o = "/var/lib/docker/overlay2";
        let c = "/var/lib/docker/containers";
        assert_eq!(
            skipped(&p),
            s(&[
                ("/dev", Pseudo),
                ("/proc", Pseudo),
                ("/run", Pseudo),
                ("/sys", Pseudo),
                (
                    &format!("{c}/3c9f0b1d7e2a4c6f8e0d2b4a6c8e0f1a3b5d7f9e1c3a5b7d9f0e2c4a6b8d0f1e/mounts/shm"),
                    Pseudo
                ),
                (
                    &format!("{c}/a71e5c3b9d0f2e4a6c8b0d1f3e5a7c9b1d3f5e7a9c0b2d4f6e8a0c1e3f5a7b9d/mounts/shm"),
                    Pseudo
                ),
                (
                    &format!("{o}/1f0e8a6b2d7c4e5fa3b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1/merged"),
                    Overlay
                ),
                (
                    &format!("{o}/9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c/merged"),
                    Overlay
                ),
            ])
        );
    }

    #[test]
    fn container_with_overlay_root() {
        let p = host(&fixture("container-overlay-root.txt"));
        assert_eq!(
            walked(&p),
            w(&[
                ("/", "overlay"),
                ("/data", "ext4"),
                // Nested volume: its files lie under /data's source, but /data/config inside
                // /data is this very mount, so it is its own only view.
                ("/data/config", "ext4"),
                ("/etc/hostname", "ext4"),
                ("/etc/hosts", "ext4"),
                ("/etc/resolv.conf", "ext4"),
            ])
        );
        assert_eq!(
            skipped(&p),
            s(&[("/dev", Pseudo), ("/proc", Pseudo), ("/sys", Pseudo)])
        );
    }

    #[test]
    fn nfs_autofs_and_fuse() {
        let p = host(&fixture("nfs-autofs-sshfs.txt"));
        assert_eq!(
            walked(&p),
            w(&[("/", "xfs"), ("/boot", "xfs"), ("/mnt/windows", "fuseblk")])
        );
        assert_eq!(
            skipped(&p),
            s(&[
                ("/dev", Pseudo),
                ("/home/bob/remote", Network),
                // The automounted NFS home below it is not listed: nothing reaches it.
                ("/home/users", Autofs),
                ("/misc", Autofs),
                ("/mnt/archive", Network),
                ("/mnt/cephfs", Network),
                ("/mnt/gdrive", Network),
                ("/mnt/gluster", Network),
                ("/mnt/public share", Network),
                ("/mnt/s3", Network),
                ("/net", Autofs),
                // Unknown FUSE (gocryptfs): a dead daemon would hang the walk.
                ("/opt/vault", Network),
                ("/proc", Pseudo),
                ("/run", Pseudo),
                ("/sys", Pseudo),
                ("/var/lib/nfs/rpc_pipefs", Pseudo),
            ])
        );
        let share = &p.skipped[8];
        assert_eq!(share.source, "//winsrv01/Public Share");
        assert_eq!(share.fstype, "cifs");
    }

    #[test]
    fn bind_mounts() {
        let p = host(&fixture("bind-mounts.txt"));
        assert_eq!(
            walked(&p),
            w(&[
                ("/", "ext4"),
                ("/backup", "xfs"),
                ("/home", "ext4"),
                // `mount --bind /opt/app /opt/app`: /opt/app under / is this mount itself.
                ("/opt/app", "ext4"),
            ])
        );
        assert_eq!(
            skipped(&p),
            s(&[
                ("/dev", Pseudo),
                ("/export/backup", dup("/backup")),
                ("/mnt/data", dup("/")),
                ("/proc", Pseudo),
                ("/run", Pseudo),
                ("/srv/chroot/sid/home", dup("/home")),
                ("/srv/chroot/sid/proc", Pseudo),
                ("/sys", Pseudo),
                ("/var/www", dup("/backup")),
            ])
        );
    }

    #[test]
    fn rescue_system_scanned_below_its_mount_point() {
        let m = fixture("rescue-sysimage.txt");
        let p = plan(&m, Path::new("/mnt/sysimage"));
        assert_eq!(
            walked(&p),
            w(&[("/", "xfs"), ("/boot", "xfs"), ("/home", "xfs")])
        );
        assert_eq!(
            skipped(&p),
            s(&[
                ("/dev", Pseudo),
                ("/proc", Pseudo),
                ("/run", Pseudo),
                ("/sys", Pseudo),
            ])
        );
        // A trailing slash or `..` in the root changes nothing.
        let again = plan(&m, Path::new("/mnt/x/../sysimage/"));
        assert_eq!(walked(&again), walked(&p));
        // The rescue system itself: rootfs under the live root is hidden.
        let live = host(&m);
        assert_eq!(
            walked(&live),
            w(&[
                ("/", "ext4"),
                ("/mnt/sysimage", "xfs"),
                ("/mnt/sysimage/boot", "xfs"),
                ("/mnt/sysimage/home", "xfs"),
            ])
        );
        // /mnt/sysimage/run is not below /run, but it is the same tmpfs as /run.
        assert_eq!(
            skipped(&live),
            s(&[
                ("/dev", Pseudo),
                ("/mnt/sysimage/dev", Pseudo),
                ("/mnt/sysimage/proc", Pseudo),
                ("/mnt/sysimage/run", Pseudo),
                ("/mnt/sysimage/sys", Pseudo),
                ("/proc", Pseudo),
                ("/run", Pseudo),
                ("/sys", Pseudo),
            ])
        );
    }

    #[test]
    fn this_machine_captured() {
        let p = host(&fixture("this-machine.txt"));
        assert_eq!(
            walked(&p),
            w(&[
                ("/", "ext4"),
                ("/mnt/sandboxing/model_tools_env/v1/python", "tmpfs"),
            ])
        );
        assert_eq!(
            skipped(&p),
            s(&[("/dev", Pseudo), ("/proc", Pseudo), ("/sys", Pseudo)])
        );
    }

    #[test]
    fn this_machine_live() {
        // Whatever this host has: it parses, and / is walked.
        let text = std::fs::read("/proc/self/mountinfo").expect("/proc/self/mountinfo");
        let p = host(&parse_mountinfo(&text).unwrap());
        assert!(p.walked.iter().any(|(m, _)| m == b"/"), "{p:?}");
        assert!(!p.skipped.iter().any(|s| s.mount_point == b"/"));
    }

    // ---- rules, one at a time ----

    #[test]
    fn stacked_mounts_only_the_top_one_counts() {
        let m = parse(
            "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n\
             2 1 8:2 / /mnt/a rw - ext4 /dev/sdb1 rw\n\
             3 2 8:3 / /mnt/a rw - xfs /dev/sdc1 rw\n\
             4 2 8:4 / /mnt/a/sub rw - ext4 /dev/sdd1 rw\n\
             5 1 0:40 / /mnt/b rw - nfs srv:/x rw\n\
             6 5 8:5 / /mnt/b rw - ext4 /dev/sde1 rw\n\
             7 1 8:6 / /mnt/c rw - ext4 /dev/sdf1 rw\n\
             8 1 8:7 / /mnt/c rw - btrfs /dev/sdg1 rw\n\
             9 1 8:8 / /srv rw - ext4 /dev/sdh1 rw\n\
             10 9 8:9 / /srv/x rw - ext4 /dev/sdi1 rw\n\
             11 1 8:10 / /srv rw - xfs /dev/sdj1 rw\n",
        );
        let p = host(&m);
        assert_eq!(
            walked(&p),
            w(&[
                ("/", "ext4"),
                // xfs on top of ext4; /mnt/a/sub was mounted on the ext4 and is hidden.
                ("/mnt/a", "xfs"),
                // A local disk mounted over an NFS mount: the NFS mount is never touched.
                ("/mnt/b", "ext4"),
                // Same parent (old kernels): the later one is seen.
                ("/mnt/c", "btrfs"),
                // /srv mounted over (new mount on the same parent): /srv/x went with the old.
                ("/srv", "xfs"),
            ])
        );
        assert!(p.skipped.is_empty(), "{:?}", p.skipped);
    }

    #[test]
    fn stacked_at_the_root_and_rootfs() {
        let m = parse(
            "1 1 0:1 / / rw - rootfs rootfs rw\n\
             20 1 8:1 / / rw - ext4 /dev/sda1 rw\n\
             21 20 0:3 / /proc rw - proc proc rw\n",
        );
        let p = host(&m);
        assert_eq!(walked(&p), w(&[("/", "ext4")]));
        assert_eq!(skipped(&p), s(&[("/proc", Pseudo)]));
    }

    #[test]
    fn btrfs_subvolumes_share_a_device_but_not_their_files() {
        let m = parse(
            "1 0 0:30 /@ / rw - btrfs /dev/sda2 rw,subvolid=256,subvol=/@\n\
             2 1 0:30 /@home /home rw - btrfs /dev/sda2 rw,subvolid=257,subvol=/@home\n\
             3 1 0:30 /@/srv/www /var/www rw - btrfs /dev/sda2 rw,subvolid=256,subvol=/@\n\
             4 1 0:30 /@/var/lib/machines /var/lib/machines rw - btrfs /dev/sda2 rw,subvolid=300,subvol=/@/var/lib/machines\n\
             5 1 0:30 /@snapshots /.snapshots rw - btrfs /dev/sda2 rw,subvolid=258,subvol=/@snapshots\n",
        );
        let p = host(&m);
        assert_eq!(
            walked(&p),
            w(&[
                ("/", "btrfs"),
                ("/home", "btrfs"),
                ("/var/lib/machines", "btrfs")
            ])
        );
        assert_eq!(
            skipped(&p),
            s(&[("/.snapshots", Snapshots), ("/var/www", dup("/"))])
        );
        // A nested subvolume mounted elsewhere is visible inside its parent's mount too.
        let nested = parse(
            "1 0 0:30 /@ / rw - btrfs /dev/sda2 rw,subvolid=256,subvol=/@\n\
             2 1 0:30 /@/srv/vm /vm rw - btrfs /dev/sda2 rw,subvolid=300,subvol=/@/srv/vm\n",
        );
        assert_eq!(skipped(&host(&nested)), s(&[("/vm", dup("/"))]));
    }

    #[test]
    fn btrfs_without_subvolid_is_never_deduplicated_against_a_bare_root() {
        // Kernels before 4.2 printed `/` for a subvolume mounted with subvolid= and did not
        // print subvolid: these two may be different subvolumes.
        let m = parse(
            "1 0 0:30 / / rw - btrfs /dev/sda2 rw,space_cache\n\
             2 1 0:30 / /home rw - btrfs /dev/sda2 rw,space_cache\n\
             3 1 0:30 /@data /data rw - btrfs /dev/sda2 rw,space_cache\n\
             4 1 0:30 /@data/www /var/www rw - btrfs /dev/sda2 rw,space_cache\n",
        );
        let p = host(&m);
        assert_eq!(
            walked(&p),
            w(&[("/", "btrfs"), ("/data", "btrfs"), ("/home", "btrfs")])
        );
        // A named path still proves it: /@data/www is inside /@data.
        assert_eq!(skipped(&p), s(&[("/var/www", dup("/data"))]));
        // ext4 has no subvolumes: the same device at / twice is the same files.
        let ext = parse(
            "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n\
             2 1 8:1 / /mnt/rootbind rw - ext4 /dev/sda1 rw\n",
        );
        assert_eq!(skipped(&host(&ext)), s(&[("/mnt/rootbind", dup("/"))]));
    }

    #[test]
    fn the_mount_showing_most_of_a_filesystem_is_walked() {
        // /var/www has the shorter mount point, but /data/disk1 shows the whole disk: the
        // data is reported where it is stored, and the binds are listed as binds.
        let m = parse(
            "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n\
             2 1 8:17 /www /var/www rw - xfs /dev/sdb1 rw\n\
             3 1 8:17 / /data/disk1 rw - xfs /dev/sdb1 rw\n\
             4 1 8:17 /mysql /var/lib/mysql rw - xfs /dev/sdb1 rw\n",
        );
        let p = host(&m);
        assert_eq!(walked(&p), w(&[("/", "ext4"), ("/data/disk1", "xfs")]));
        assert_eq!(
            skipped(&p),
            s(&[
                ("/var/lib/mysql", dup("/data/disk1")),
                ("/var/www", dup("/data/disk1")),
            ])
        );
        // The same files at several points: the shortest mount point, then the lowest id.
        let m = parse(
            "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n\
             5 1 8:17 / /zz rw - xfs /dev/sdb1 rw\n\
             6 1 8:17 / /aa rw - xfs /dev/sdb1 rw\n\
             7 1 8:17 / /b/c rw - xfs /dev/sdb1 rw\n",
        );
        let p = host(&m);
        assert_eq!(walked(&p), w(&[("/", "ext4"), ("/zz", "xfs")]));
        assert_eq!(skipped(&p), s(&[("/aa", dup("/zz")), ("/b/c", dup("/zz"))]));
    }

    #[test]
    fn a_duplicate_with_a_mount_found_nowhere_else_below_it_is_walked() {
        let m = parse(
            "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n\
             2 1 8:1 /srv/data /mnt/data rw - ext4 /dev/sda1 rw\n\
             3 2 8:17 / /mnt/data/disk rw - xfs /dev/sdb1 rw\n",
        );
        let p = host(&m);
        assert_eq!(
            walked(&p),
            w(&[
                ("/", "ext4"),
                ("/mnt/data", "ext4"),
                ("/mnt/data/disk", "xfs")
            ])
        );
        assert!(p.skipped.is_empty());
        // `mount --rbind / /mnt/chroot`: every mount below the copy is found elsewhere too.
        let rbind = parse(
            "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n\
             2 1 8:17 / /disk rw - xfs /dev/sdb1 rw\n\
             3 1 0:3 / /proc rw - proc proc rw\n\
             4 1 8:1 / /mnt/chroot rw - ext4 /dev/sda1 rw\n\
             5 4 8:17 / /mnt/chroot/disk rw - xfs /dev/sdb1 rw\n\
             6 4 0:3 / /mnt/chroot/proc rw - proc proc rw\n",
        );
        let p = host(&rbind);
        assert_eq!(walked(&p), w(&[("/", "ext4"), ("/disk", "xfs")]));
        assert_eq!(
            skipped(&p),
            s(&[("/mnt/chroot", dup("/")), ("/proc", Pseudo)])
        );
    }

    #[test]
    fn root_that_is_a_plain_directory() {
        // schroot-style: /srv/chroot/sid is a directory of /, with binds into it.
        let m = parse(
            "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n\
             2 1 8:2 / /home rw - ext4 /dev/sda2 rw\n\
             3 1 0:3 / /srv/chroot/sid/proc rw - proc proc rw\n\
             4 1 8:2 /shared /srv/chroot/sid/home/shared rw - ext4 /dev/sda2 rw\n\
             5 1 8:1 /var/cache/apt/archives /srv/chroot/sid/var/cache/apt/archives rw - ext4 /dev/sda1 rw\n\
             6 1 8:1 /srv/chroot/sid/opt /srv/chroot/sid/mnt/opt rw - ext4 /dev/sda1 rw\n",
        );
        let p = plan(&m, Path::new("/srv/chroot/sid"));
        assert_eq!(
            walked(&p),
            w(&[
                ("/", "ext4"),
                // /home is outside the scanned root, so this is the only view of it.
                ("/home/shared", "ext4"),
                // Outside the chroot directory: not shown by the walk of /.
                ("/var/cache/apt/archives", "ext4"),
            ])
        );
        assert_eq!(skipped(&p), s(&[("/mnt/opt", dup("/")), ("/proc", Pseudo)]));
    }

    #[test]
    fn only_mounts_below_the_root_count() {
        let m = parse(
            "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n\
             2 1 0:3 / /proc rw - proc proc rw\n\
             3 1 8:17 / /mnt/img rw - ext4 /dev/sdb1 rw\n\
             4 3 0:3 / /mnt/img/proc rw - proc proc rw\n\
             5 3 8:1 /home /mnt/img/home rw - ext4 /dev/sda1 rw\n\
             6 1 8:18 / /mnt/imgother rw - ext4 /dev/sdb2 rw\n",
        );
        let p = plan(&m, Path::new("/mnt/img"));
        // The host's / is outside, so /home of the host is walked as the image's /home.
        assert_eq!(walked(&p), w(&[("/", "ext4"), ("/home", "ext4")]));
        assert_eq!(skipped(&p), s(&[("/proc", Pseudo)]));
        assert_eq!(p.walked.len() + p.skipped.len(), 3);
    }

    #[test]
    fn the_scanned_root_is_walked_whatever_it_is() {
        let m = parse(
            "1 0 0:40 / / rw - overlay overlay rw,lowerdir=/l\n\
             2 1 0:41 / /mnt/nfs rw - nfs4 srv:/ rw\n\
             3 2 0:42 / /mnt/nfs/snap rw - tmpfs tmpfs rw\n",
        );
        assert_eq!(walked(&host(&m)), w(&[("/", "overlay")]));
        let p = plan(&m, Path::new("/mnt/nfs"));
        assert_eq!(walked(&p), w(&[("/", "nfs4"), ("/snap", "tmpfs")]));
        assert!(p.skipped.is_empty());
    }

    #[test]
    fn a_bind_of_run_is_runtime_state_anywhere() {
        // Build chroots get the host's /run and /dev/shm bound in; a tmpfs of its own is data.
        let m = parse(
            "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n\
             2 1 0:25 / /run rw - tmpfs tmpfs rw\n\
             3 1 0:25 / /srv/chroot/sid/run rw - tmpfs tmpfs rw\n\
             4 1 0:25 /lock /srv/build/lock rw - tmpfs tmpfs rw\n\
             5 1 0:26 / /srv/chroot/sid/scratch rw - tmpfs tmpfs rw\n",
        );
        let p = host(&m);
        assert_eq!(
            walked(&p),
            w(&[("/", "ext4"), ("/srv/chroot/sid/scratch", "tmpfs")])
        );
        assert_eq!(
            skipped(&p),
            s(&[
                ("/run", Pseudo),
                ("/srv/build/lock", Pseudo),
                ("/srv/chroot/sid/run", Pseudo),
            ])
        );
    }

    #[test]
    fn type_rules() {
        let reason = |fstype: &str, at: &str| {
            let text = format!(
                "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n2 1 0:50 / {at} rw - {fstype} src rw\n"
            );
            let p = host(&parse(&text));
            p.skipped.first().map(|s| s.reason.clone())
        };
        // Volatile filesystems: skipped where they are runtime state only.
        for at in [
            "/run",
            "/run/user/0",
            "/var/run",
            "/dev/shm",
            "/tmp",
            "/sys/fs/cgroup",
        ] {
            assert_eq!(reason("tmpfs", at), Some(Pseudo), "{at}");
            assert_eq!(reason("ramfs", at), Some(Pseudo), "{at}");
        }
        assert_eq!(reason("tmpfs", "/srv/cache"), None);
        assert_eq!(reason("tmpfs", "/var/tmp"), None);
        assert_eq!(reason("tmpfs", "/tmpfiles"), None);
        assert_eq!(
            reason("tmpfs", "/var/lib/containers/storage/x/userdata/shm"),
            Some(Pseudo)
        );
        assert_eq!(reason("devtmpfs", "/srv/dev"), Some(Pseudo));
        assert_eq!(reason("nsfs", "/srv/netns/x"), Some(Pseudo));
        assert_eq!(reason("fuse.lxcfs", "/var/lib/lxcfs"), Some(Pseudo));
        // Network, and FUSE that is not known to be local.
        for t in [
            "nfs",
            "nfs4",
            "cifs",
            "smb3",
            "9p",
            "virtiofs",
            "ocfs2",
            "fuse.sshfs",
            "fuse",
            "fuse.whatever",
        ] {
            assert_eq!(reason(t, "/mnt/x"), Some(Network), "{t}");
        }
        assert_eq!(reason("fuseblk", "/mnt/win"), None);
        assert_eq!(reason("autofs", "/net"), Some(Autofs));
        for t in ["overlay", "aufs", "fuse.mergerfs", "fuse.fuse-overlayfs"] {
            assert_eq!(reason(t, "/srv/pool"), Some(Overlay), "{t}");
        }
        // Images: snaps (also where /snap is a symlink), CDs, ISOs; other squashfs is data.
        assert_eq!(reason("squashfs", "/snap/core22/1033"), Some(ReadOnlyImage));
        assert_eq!(
            reason("squashfs", "/var/lib/snapd/snap/core22/1033"),
            Some(ReadOnlyImage)
        );
        assert_eq!(
            reason("fuse.squashfuse", "/snap/lxd/1"),
            Some(ReadOnlyImage)
        );
        assert_eq!(reason("squashfs", "/opt/tool"), None);
        assert_eq!(reason("squashfs", "/snapshot"), None);
        assert_eq!(reason("iso9660", "/media/cdrom"), Some(ReadOnlyImage));
        assert_eq!(reason("udf", "/mnt/dvd"), Some(ReadOnlyImage));
        // Snapshots, whatever the filesystem.
        assert_eq!(reason("btrfs", "/.snapshots"), Some(Snapshots));
        assert_eq!(reason("xfs", "/.snapshots/12/snapshot"), Some(Snapshots));
        assert_eq!(reason("btrfs", "/home/.snapshots"), Some(Snapshots));
        assert_eq!(reason("zfs", "/tank/.zfs/snapshot/daily"), Some(Snapshots));
        assert_eq!(reason("btrfs", "/snapshots"), None);
        // Local filesystems.
        for t in [
            "ext2", "ext3", "ext4", "xfs", "btrfs", "vfat", "zfs", "jfs", "reiserfs", "f2fs",
            "ecryptfs",
        ] {
            assert_eq!(reason(t, "/data"), None, "{t}");
        }
    }

    #[test]
    fn bind_duplicate_reason_serialises_its_path_as_text() {
        let j = serde_json::to_value(dup("/srv/data")).unwrap();
        assert_eq!(
            j,
            serde_json::json!({"reason": "bind-duplicate", "of": "/srv/data"})
        );
        let j = serde_json::to_value(ReadOnlyImage).unwrap();
        assert_eq!(j, serde_json::json!({"reason": "read-only-image"}));
    }

    #[test]
    fn many_mounts_are_all_planned() {
        // A Kubernetes node can have tens of thousands of mounts. The plan is near linear;
        // that is measured by hand (no wall-clock asserts: a loaded CI machine fails them).
        let mut text = String::from("1 0 8:1 / / rw - ext4 /dev/sda1 rw\n");
        for i in 0..20_000 {
            text.push_str(&format!(
                "{} 1 8:1 /var/lib/kubelet/pods/{i}/vol /var/lib/kubelet/pods/{i}/volumes/v rw - ext4 /dev/sda1 rw\n",
                i + 2
            ));
        }
        let p = host(&parse(&text));
        assert_eq!(p.skipped.len(), 20_000);
    }
}
