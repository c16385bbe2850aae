//! md arrays and LVM volume groups, put together from their members' superblocks and the
//! kernel's view; from `/etc/lvm/backup` and `mdadm.conf` when the devices were not read.

use std::collections::BTreeMap;

use super::disks::{fs_from, Found};
use super::lvm::{self, VgMeta};
use super::md;
use super::probe::Content;
use super::{LogicalGroup, LogicalVolume, MappedDevice, MdArray, PhysicalVolume, Storage};
use crate::rootfs::RootFs;

/// How many backup files are read at most (one per VG; a directory of thousands is not).
const MAX_BACKUPS: usize = 256;

pub fn assemble(root: &RootFs, found: &Found, st: &mut Storage) {
    md_arrays(root, found, st);
    lvm_groups(root, found, st);
    mapped_devices(found, st);
}

/// dm devices no LV claimed: dm-crypt, multipath, kpartx partitions.
fn mapped_devices(found: &Found, st: &mut Storage) {
    for b in found.sys.iter().filter(|b| b.is_dm()) {
        if st
            .logical_volumes
            .iter()
            .any(|l| l.device.as_deref() == Some(b.name.as_str()))
        {
            continue;
        }
        // LVM's own hidden sub-LVs (thin pool data, RAID images) are part of their LV.
        if b.dm_uuid.as_deref().is_some_and(|u| u.starts_with("LVM-")) {
            continue;
        }
        st.mapped_devices.push(MappedDevice {
            device: b.name.clone(),
            name: b.dm_name.clone(),
            kind: b
                .dm_uuid
                .as_deref()
                .and_then(|u| u.split_once('-'))
                .map(|(k, _)| k.to_lowercase()),
            slaves: b.slaves.clone(),
            size: b.size,
            filesystem: found
                .contents
                .get(&b.name)
                .map(|c| fs_from(c, "superblock")),
        });
    }
}

fn md_arrays(root: &RootFs, found: &Found, st: &mut Storage) {
    for b in found.sys.iter().filter(|b| b.is_md() && !b.is_dm()) {
        let sys_md = b.md.clone().unwrap_or_default();
        // A member's superblock (any one: they agree) gives the UUID and name.
        let member = b.slaves.iter().find_map(|s| match found.contents.get(s) {
            Some(Content::Md(_, m)) => Some(m),
            _ => None,
        });
        st.md_arrays.push(MdArray {
            name: b.name.clone(),
            level: sys_md.level.or_else(|| member.map(|m| m.level.clone())),
            raid_disks: sys_md.raid_disks.or(member.map(|m| m.raid_disks)),
            metadata: sys_md
                .metadata_version
                .or_else(|| member.map(|m| m.metadata.clone())),
            uuid: member.map(|m| m.array_uuid.clone()),
            array_name: member.and_then(|m| m.array_name.clone()),
            members: b.slaves.clone(),
            size: (b.size > 0).then_some(b.size),
            state: sys_md.array_state,
            filesystem: found
                .contents
                .get(&b.name)
                .map(|c| fs_from(c, "superblock")),
        });
    }
    // Arrays not assembled (or no sysfs): what members say, grouped by array UUID.
    let mut by_uuid: BTreeMap<String, MdArray> = BTreeMap::new();
    for (name, c) in &found.contents {
        if let Content::Md(_, m) = c {
            if st.md_arrays.iter().any(|a| a.members.contains(name)) {
                continue;
            }
            let a = by_uuid
                .entry(m.array_uuid.clone())
                .or_insert_with(|| MdArray {
                    name: m.array_name.clone().unwrap_or_else(|| m.array_uuid.clone()),
                    level: Some(m.level.clone()),
                    raid_disks: Some(m.raid_disks),
                    metadata: Some(m.metadata.clone()),
                    uuid: Some(m.array_uuid.clone()),
                    array_name: m.array_name.clone(),
                    state: Some("not assembled".into()),
                    ..Default::default()
                });
            a.members.push(name.clone());
        }
    }
    st.md_arrays.extend(by_uuid.into_values());
    if !st.sources.sysfs {
        let text = ["/etc/mdadm/mdadm.conf", "/etc/mdadm.conf"]
            .iter()
            .find_map(|p| root.read(p).ok());
        if let Some(text) = text {
            for a in md::parse_conf(&String::from_utf8_lossy(&text)) {
                st.sources.mdadm_conf = true;
                st.md_arrays.push(MdArray {
                    name: a.device,
                    level: a.level,
                    raid_disks: a.num_devices,
                    metadata: a.metadata,
                    uuid: a.uuid,
                    array_name: a.name,
                    ..Default::default()
                });
            }
        }
    }
}

/// `/dev/mapper` names: VG and LV joined by `-`, dashes inside either doubled.
pub fn mapper_name(vg: &str, lv: &str) -> String {
    format!("{}-{}", vg.replace('-', "--"), lv.replace('-', "--"))
}

fn lvm_groups(root: &RootFs, found: &Found, st: &mut Storage) {
    let mut metas = Vec::new();
    // PV uuid → kernel name of the device carrying it.
    let mut pv_device: BTreeMap<String, String> = BTreeMap::new();
    for (name, c) in &found.contents {
        if let Content::Lvm(_, pv) = c {
            pv_device.insert(pv.pv_uuid.clone(), name.clone());
            if let Some(text) = &pv.metadata {
                match lvm::vg_from_text(text) {
                    Ok(vg) => metas.push(vg),
                    Err(e) => st.notes.push(format!("{name}: LVM metadata: {e}")),
                }
            }
        }
    }
    if metas.is_empty() && !st.sources.devices {
        metas = backups(root, st);
    }
    for vg in lvm::newest(metas) {
        add_vg(vg, &pv_device, found, st);
    }
}

fn backups(root: &RootFs, st: &mut Storage) -> Vec<VgMeta> {
    let dir = root.host_path(b"/etc/lvm/backup");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut names: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    names.sort();
    for path in names.into_iter().take(MAX_BACKUPS) {
        let Ok(text) = std::fs::read(&path) else {
            continue;
        };
        if text.len() > super::reader::MAX_READ {
            st.notes
                .push(format!("{}: larger than 1 MiB, not read", path.display()));
            continue;
        }
        match lvm::vg_from_text(&String::from_utf8_lossy(&text)) {
            Ok(vg) => {
                st.sources.lvm_backup = true;
                out.push(vg);
            }
            Err(e) => st.notes.push(format!("{}: {e}", path.display())),
        }
    }
    out
}

fn add_vg(vg: VgMeta, pv_device: &BTreeMap<String, String>, found: &Found, st: &mut Storage) {
    let pvs: Vec<PhysicalVolume> = vg
        .pvs
        .iter()
        .map(|p| PhysicalVolume {
            uuid: p.uuid.clone(),
            device: pv_device.get(&p.uuid).cloned(),
            device_hint: p.device_hint.clone(),
            size: p.pe_count.saturating_mul(vg.extent_size),
        })
        .collect();
    let total: u64 = vg.pvs.iter().map(|p| p.pe_count).sum();
    let used: u64 = vg.lvs.iter().map(|l| l.extents).sum();
    for lv in vg.lvs.iter().filter(|l| l.visible) {
        let mapper = mapper_name(&vg.name, &lv.name);
        // device-mapper uuid: "LVM-" + VG id + LV id, dashes removed (a suffix for
        // hidden sub-LVs follows after a dash).
        let want = format!(
            "LVM-{}{}",
            vg.uuid.replace('-', ""),
            lv.uuid.replace('-', "")
        );
        let dm = found.sys.iter().find(|b| {
            b.dm_uuid.as_deref() == Some(want.as_str()) || b.dm_name.as_deref() == Some(&mapper)
        });
        let device = dm.map(|b| b.name.clone());
        st.logical_volumes.push(LogicalVolume {
            name: lv.name.clone(),
            group: vg.name.clone(),
            uuid: lv.uuid.clone(),
            size: lv.extents.saturating_mul(vg.extent_size),
            mapper_name: mapper,
            filesystem: device
                .as_ref()
                .and_then(|d| found.contents.get(d))
                .map(|c| fs_from(c, "superblock")),
            device,
            segment_types: lv.segment_types.clone(),
            physical_volumes: lv
                .pvs
                .iter()
                .filter_map(|k| vg.pvs.iter().find(|p| &p.key == k))
                .map(|p| p.uuid.clone())
                .collect(),
        });
    }
    st.logical_groups.push(LogicalGroup {
        name: vg.name.clone(),
        uuid: vg.uuid.clone(),
        extent_size: vg.extent_size,
        size: total.saturating_mul(vg.extent_size),
        free: total.saturating_sub(used).saturating_mul(vg.extent_size),
        physical_volumes: pvs,
    });
}
