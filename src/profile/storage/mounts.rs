//! The mount table, the root's fstab and `/proc/swaps`, joined to the devices found: each
//! filesystem learns its mount point, options and (mounted, on the running host) statvfs
//! usage; swap areas and btrfs subvolumes are listed.

use std::collections::HashSet;

use super::disks::Found;
use super::fstab::{self, FstabEntry, Spec};
use super::probe::Content;
use super::volumes::mapper_name;
use super::{BtrfsSubvolume, Filesystem, Inputs, Mount, Storage, SwapArea};
use crate::rootfs::RootFs;
use crate::walk::mounts::{parse_mountinfo, unescape};

/// `/proc/swaps` is one line per area; more than this many is not a real host.
const MAX_SWAPS: usize = 4096;

pub fn join(root: &RootFs, inputs: &Inputs, found: &Found, st: &mut Storage) {
    let names = Names::new(found, st);
    let mut mounts = mounted(inputs, &names, st);
    let fstab = match root.read("/etc/fstab") {
        Ok(t) => {
            st.sources.fstab = true;
            fstab::parse(&String::from_utf8_lossy(&t))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            st.notes.push(format!("/etc/fstab: {e}"));
            Vec::new()
        }
    };
    for e in fstab.iter().filter(|e| !e.is_swap() && is_block_entry(e)) {
        if let Some(m) = mounts.iter_mut().find(|m| m.mount_point == e.mount_point) {
            m.in_fstab = true;
            m.fstab_spec = Some(e.spec.clone());
            m.fstab_options = Some(e.options.clone());
            if m.device.is_none() {
                m.device = names.spec(&e.spec());
            }
            continue;
        }
        mounts.push(Mount {
            mount_point: e.mount_point.clone(),
            source: e.spec.clone(),
            device: names.spec(&e.spec()),
            fstype: e.fstype.clone(),
            options: e.options.clone(),
            subvolume: e.subvolume().filter(|s| !s.is_empty()),
            mounted: false,
            in_fstab: true,
            fstab_spec: Some(e.spec.clone()),
            fstab_options: Some(e.options.clone()),
            ..Default::default()
        });
    }
    if inputs.statvfs {
        for m in mounts.iter_mut().filter(|m| m.mounted) {
            statvfs(m);
        }
    }
    let swaps = swap_areas(inputs, &fstab, &names, st);
    let subvols = subvolumes(&mounts, found);
    fill_filesystems(st, &mounts, found);
    st.mounts = mounts;
    st.swap = swaps;
    st.btrfs_subvolumes = subvols;
}

/// Resolves the names a system gives its devices to kernel names.
struct Names<'a> {
    found: &'a Found,
    /// `/dev/mapper` names of the LVs, VG names, md (name, array name): from the steps before.
    lv_mappers: Vec<String>,
    vgs: Vec<String>,
    md: Vec<(String, Option<String>)>,
}

impl<'a> Names<'a> {
    fn new(found: &'a Found, st: &Storage) -> Self {
        Names {
            found,
            lv_mappers: st
                .logical_volumes
                .iter()
                .map(|l| l.mapper_name.clone())
                .collect(),
            vgs: st.logical_groups.iter().map(|g| g.name.clone()).collect(),
            md: st
                .md_arrays
                .iter()
                .map(|a| (a.name.clone(), a.array_name.clone()))
                .collect(),
        }
    }

    fn by_superblock(&self, f: impl Fn(&Content) -> bool) -> Option<String> {
        // Members of md arrays share the array's UUID: never take one for the array's content.
        self.found
            .contents
            .iter()
            .filter(|(_, c)| !matches!(c, Content::Md(..)))
            .find(|(_, c)| f(c))
            .map(|(n, _)| n.clone())
    }

    fn spec(&self, spec: &Spec) -> Option<String> {
        match spec {
            Spec::Uuid(u) => self.by_superblock(|c| c.superblock().uuid.as_deref() == Some(u)),
            Spec::Label(l) => self.by_superblock(|c| c.superblock().label.as_deref() == Some(l)),
            Spec::PartUuid(u) => self.part(|(id, _)| id.as_deref() == Some(u)),
            Spec::PartLabel(l) => self.part(|(_, label)| label.as_deref() == Some(l)),
            Spec::Path(p) => self.path(p),
            Spec::Other(_) => None,
        }
    }

    fn part(&self, f: impl Fn(&(Option<String>, Option<String>)) -> bool) -> Option<String> {
        let mut hits: Vec<&String> = self
            .found
            .part_ids
            .iter()
            .filter(|(_, ids)| f(ids))
            .map(|(n, _)| n)
            .collect();
        hits.sort();
        hits.first().map(|s| s.to_string())
    }

    /// `/dev/sda1`, `/dev/mapper/vg-lv`, `/dev/vg/lv`, `/dev/md/0` → kernel name; an LV
    /// that is not active resolves to `mapper:<name>`, which its slot is keyed by.
    fn path(&self, p: &str) -> Option<String> {
        let rest = p.strip_prefix("/dev/")?;
        let sys = &self.found.sys;
        let dm = |mapper: &str| -> Option<String> {
            sys.iter()
                .find(|b| b.dm_name.as_deref() == Some(mapper))
                .map(|b| b.name.clone())
                .or_else(|| {
                    self.lv_mappers
                        .iter()
                        .find(|m| *m == mapper)
                        .map(|m| format!("mapper:{m}"))
                })
        };
        if let Some(m) = rest.strip_prefix("mapper/") {
            return dm(m);
        }
        if let Some(n) = rest.strip_prefix("md/") {
            return self
                .md
                .iter()
                .find(|(name, array_name)| {
                    *name == format!("md{n}")
                        || array_name
                            .as_deref()
                            .is_some_and(|an| an == n || an.rsplit(':').next() == Some(n))
                })
                .map(|(name, _)| name.clone());
        }
        if let Some((vg, lv)) = rest.split_once('/') {
            if self.vgs.iter().any(|g| g == vg) {
                return dm(&mapper_name(vg, lv));
            }
            return None;
        }
        self.found
            .by_dev
            .values()
            .find(|n| n.as_str() == rest)
            .cloned()
            .or_else(|| Some(rest.to_string()))
    }
}

/// fstab entries of filesystems on block devices (not proc, tmpfs, NFS or bind mounts).
fn is_block_entry(e: &FstabEntry) -> bool {
    if e.options.split(',').any(|o| o == "bind" || o == "rbind") {
        return false;
    }
    match e.spec() {
        Spec::Uuid(_) | Spec::Label(_) | Spec::PartUuid(_) | Spec::PartLabel(_) => true,
        Spec::Path(p) => p.starts_with("/dev/"),
        Spec::Other(_) => false,
    }
}

fn mounted(inputs: &Inputs, names: &Names, st: &mut Storage) -> Vec<Mount> {
    let Some(path) = &inputs.mountinfo else {
        return Vec::new();
    };
    let entries = match std::fs::read(path) {
        Ok(t) => match parse_mountinfo(&t) {
            Ok(e) => e,
            Err(e) => {
                st.notes.push(format!("{}: {e}", path.display()));
                return Vec::new();
            }
        },
        Err(e) => {
            st.notes.push(format!("{}: {e}", path.display()));
            return Vec::new();
        }
    };
    st.sources.mountinfo = true;
    let mut out = Vec::new();
    for e in entries {
        let dev = format!("{}:{}", e.major, e.minor);
        let device = names
            .found
            .by_dev
            .get(&dev)
            .cloned()
            .or_else(|| names.path(&e.source));
        // Block-device filesystems only; loop-mounted images are not the host's storage.
        if !e.source.starts_with("/dev/") || e.source.starts_with("/dev/loop") {
            continue;
        }
        let fs_root = String::from_utf8_lossy(&e.fs_root).into_owned();
        let subvolume = if e.fstype == "btrfs" {
            fstab::option_value(&e.super_options, "subvol")
                .map(|s| s.trim_start_matches('/').to_string())
                .or_else(|| Some(fs_root.trim_start_matches('/').to_string()))
        } else {
            (fs_root != "/").then(|| fs_root.trim_start_matches('/').to_string())
        };
        out.push(Mount {
            mount_point: String::from_utf8_lossy(&e.mount_point).into_owned(),
            source: e.source.clone(),
            device,
            fstype: e.fstype.clone(),
            options: e.mount_options.clone(),
            super_options: Some(e.super_options.clone()),
            subvolume: subvolume.filter(|s| !s.is_empty()),
            mounted: true,
            ..Default::default()
        });
    }
    out
}

// fsblkcnt_t and the fragment size are 32-bit on some 32-bit targets: the casts are not
// no-ops everywhere.
#[allow(clippy::unnecessary_cast)]
fn statvfs(m: &mut Mount) {
    match nix::sys::statvfs::statvfs(m.mount_point.as_str()) {
        Ok(s) => {
            let f = s.fragment_size() as u64;
            let blocks = s.blocks() as u64;
            m.size = Some(blocks.saturating_mul(f));
            m.used = Some(
                blocks
                    .saturating_sub(s.blocks_free() as u64)
                    .saturating_mul(f),
            );
            m.available = Some((s.blocks_available() as u64).saturating_mul(f));
        }
        Err(e) => log::debug!("statvfs {}: {e}", m.mount_point),
    }
}

/// Every filesystem slot (disk, partition, md array, LV) with its device key.
fn slots(st: &mut Storage) -> Vec<(String, &mut Option<Filesystem>)> {
    let mut out = Vec::new();
    for d in st.disks.iter_mut() {
        out.push((d.name.clone(), &mut d.filesystem));
        for p in d.partitions.iter_mut() {
            let dname = d.name.clone();
            let key = |p: &super::Partition| {
                p.name
                    .clone()
                    .unwrap_or_else(|| format!("{dname}#{}", p.number))
            };
            out.push((key(p), &mut p.filesystem));
            for l in p.logical_partitions.iter_mut() {
                out.push((key(l), &mut l.filesystem));
            }
        }
    }
    for a in st.md_arrays.iter_mut() {
        out.push((a.name.clone(), &mut a.filesystem));
    }
    for m in st.mapped_devices.iter_mut() {
        out.push((m.device.clone(), &mut m.filesystem));
    }
    for l in st.logical_volumes.iter_mut() {
        let key = l
            .device
            .clone()
            .unwrap_or_else(|| format!("mapper:{}", l.mapper_name));
        out.push((key, &mut l.filesystem));
    }
    out
}

fn fill_filesystems(st: &mut Storage, mounts: &[Mount], _found: &Found) {
    let members: Vec<(String, String)> = st
        .logical_groups
        .iter()
        .flat_map(|g| {
            g.physical_volumes
                .iter()
                .filter_map(|p| p.device.clone().map(|d| (d, g.name.clone())))
        })
        .chain(
            st.md_arrays
                .iter()
                .flat_map(|a| a.members.iter().map(|m| (m.clone(), a.name.clone()))),
        )
        .collect();
    for (key, slot) in slots(st) {
        // The mount of the filesystem's root first (a btrfs top level or a plain mount),
        // mounted before fstab-only.
        let mut mine: Vec<&Mount> = mounts
            .iter()
            .filter(|m| m.device.as_deref() == Some(key.as_str()))
            .collect();
        mine.sort_by_key(|m| (!m.mounted, m.subvolume.is_some(), m.mount_point.len()));
        if slot.is_none() {
            if let Some(m) = mine.first() {
                let mut fs = Filesystem {
                    fstype: m.fstype.clone(),
                    identified_by: if m.mounted { "mountinfo" } else { "fstab" }.into(),
                    ..Default::default()
                };
                // fstab names the filesystem by UUID or LABEL: that is its UUID or label.
                for m in &mine {
                    let spec = m
                        .fstab_spec
                        .as_ref()
                        .map(|s| fstab_spec(s))
                        .unwrap_or(Spec::Other(String::new()));
                    match spec {
                        Spec::Uuid(u) => fs.uuid = fs.uuid.or(Some(u)),
                        Spec::Label(l) => fs.label = fs.label.or(Some(l)),
                        _ => {}
                    }
                }
                *slot = Some(fs);
            }
        }
        let Some(fs) = slot.as_mut() else {
            continue;
        };
        if let Some((_, of)) = members.iter().find(|(d, _)| *d == key) {
            fs.member_of = Some(of.clone());
        }
        if let Some(m) = mine.first() {
            fs.mount_point = Some(m.mount_point.clone());
            fs.mount_options = Some(m.options.clone());
            if m.size.is_some() {
                fs.size = m.size;
                fs.used = m.used;
                fs.available = m.available;
            }
        }
    }
}

fn fstab_spec(spec: &str) -> Spec {
    FstabEntry {
        spec: spec.to_string(),
        mount_point: String::new(),
        fstype: String::new(),
        options: String::new(),
        dump: 0,
        pass: 0,
    }
    .spec()
}

fn swap_areas(
    inputs: &Inputs,
    fstab: &[FstabEntry],
    names: &Names,
    st: &mut Storage,
) -> Vec<SwapArea> {
    let mut out: Vec<SwapArea> = Vec::new();
    if let Some(path) = &inputs.swaps {
        match std::fs::read(path) {
            Ok(t) => {
                // "Filename Type Size Used Priority", sizes in KiB.
                for line in t.split(|&b| b == b'\n').skip(1).take(MAX_SWAPS) {
                    let f: Vec<&[u8]> = line
                        .split(|b| b.is_ascii_whitespace())
                        .filter(|w| !w.is_empty())
                        .collect();
                    if f.len() < 5 {
                        continue;
                    }
                    let s = |i: usize| String::from_utf8_lossy(f[i]).into_owned();
                    let name = String::from_utf8_lossy(&unescape(f[0])).into_owned();
                    let name = name.strip_suffix(" (deleted)").unwrap_or(&name).to_string();
                    out.push(SwapArea {
                        device: if s(1) == "partition" {
                            names.path(&name)
                        } else {
                            None
                        },
                        kind: if s(1) == "partition" {
                            "partition"
                        } else {
                            "file"
                        }
                        .into(),
                        size: s(2).parse::<u64>().ok().map(|k| k * 1024),
                        used: s(3).parse::<u64>().ok().map(|k| k * 1024),
                        priority: s(4).parse().ok(),
                        path: name,
                        active: true,
                        ..Default::default()
                    });
                }
            }
            Err(e) => st.notes.push(format!("{}: {e}", path.display())),
        }
    }
    for e in fstab.iter().filter(|e| e.is_swap()) {
        let spec = e.spec();
        let device = names.spec(&spec);
        let hit = out
            .iter_mut()
            .find(|s| s.path == e.spec || (device.is_some() && s.device == device));
        if let Some(s) = hit {
            s.in_fstab = true;
            continue;
        }
        let file = matches!(&spec, Spec::Path(p) if !p.starts_with("/dev/"));
        out.push(SwapArea {
            path: e.spec.clone(),
            kind: if file { "file" } else { "partition" }.into(),
            device,
            in_fstab: true,
            ..Default::default()
        });
    }
    for (name, c) in &names.found.contents {
        let sb = c.superblock();
        if sb.fstype != "swap" {
            continue;
        }
        match out.iter_mut().find(|s| s.device.as_deref() == Some(name)) {
            Some(s) => {
                s.uuid = sb.uuid.clone();
                s.label = sb.label.clone();
                s.size = s.size.or(sb.size);
            }
            None => out.push(SwapArea {
                path: format!("/dev/{name}"),
                kind: "partition".into(),
                device: Some(name.clone()),
                size: sb.size,
                uuid: sb.uuid.clone(),
                label: sb.label.clone(),
                ..Default::default()
            }),
        }
    }
    out
}

/// Subvolumes from the trees on disk (every one, mounted or not), then those only the mount
/// table or fstab know (devices not read).
fn subvolumes(mounts: &[Mount], found: &Found) -> Vec<BtrfsSubvolume> {
    let mut out: Vec<BtrfsSubvolume> = Vec::new();
    let mut seen = HashSet::new();
    let fs_uuid = |dev: &str| {
        found
            .contents
            .get(dev)
            .and_then(|c| c.superblock().uuid.clone())
    };
    for (dev, subs) in &found.btrfs {
        let uuid = fs_uuid(dev);
        // One list per filesystem, whichever of its devices was read first.
        if !seen.insert(uuid.clone().unwrap_or_else(|| dev.clone())) {
            continue;
        }
        let fs_devices: Vec<&String> = found.btrfs.keys().filter(|d| fs_uuid(d) == uuid).collect();
        for s in &subs.list {
            let mount_point = mounts
                .iter()
                .filter(|m| m.fstype == "btrfs" && m.subvolume.as_deref() == Some(s.path.as_str()))
                .filter(|m| m.device.as_ref().is_some_and(|d| fs_devices.contains(&d)))
                .min_by_key(|m| (!m.mounted, m.mount_point.len()))
                .map(|m| m.mount_point.clone());
            out.push(BtrfsSubvolume {
                filesystem_uuid: uuid.clone(),
                device: Some(dev.clone()),
                path: s.path.clone(),
                id: Some(s.id),
                parent_id: Some(s.parent),
                mount_point,
                default: s.id == subs.default_id,
                read_only: Some(s.read_only),
                snapshot: Some(s.snapshot),
            });
        }
    }
    for m in mounts.iter().filter(|m| m.fstype == "btrfs") {
        let Some(path) = &m.subvolume else {
            continue;
        };
        let uuid = m.device.as_deref().and_then(fs_uuid).or_else(|| {
            match m.fstab_spec.as_deref().map(fstab_spec) {
                Some(Spec::Uuid(u)) => Some(u),
                _ => None,
            }
        });
        let known = out.iter().any(|s| {
            &s.path == path
                && (s.filesystem_uuid.is_some() && s.filesystem_uuid == uuid
                    || s.device.is_some() && s.device == m.device)
        });
        if known {
            continue;
        }
        let opts = [m.options.as_str(), m.fstab_options.as_deref().unwrap_or("")];
        let super_opts = m.super_options.as_deref().unwrap_or("");
        let id = opts
            .iter()
            .chain([&super_opts])
            .find_map(|o| fstab::option_value(o, "subvolid"))
            .and_then(|v| v.parse().ok());
        out.push(BtrfsSubvolume {
            filesystem_uuid: uuid,
            device: m.device.clone(),
            path: path.clone(),
            id,
            mount_point: Some(m.mount_point.clone()),
            ..Default::default()
        });
    }
    out
}
