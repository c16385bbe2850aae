//! Disks from sysfs, their partition tables and what each partition, md array and
//! device-mapper device holds, read from the devices themselves.

use std::collections::{BTreeMap, HashMap};

use super::btrfs;
use super::gpt::{self, GptTable};
use super::mbr::{self, MbrTable};
use super::probe::{self, Content};
use super::reader::{BlockRead, Device, Window};
use super::sysfs::{self, SysBlock};
use super::{Disk, Filesystem, Inputs, Partition, Storage};

/// What the later steps join against.
#[derive(Debug, Default)]
pub struct Found {
    pub sys: Vec<SysBlock>,
    /// Kernel name → what its superblock says.
    pub contents: BTreeMap<String, Content>,
    /// `major:minor` → kernel name (partitions included).
    pub by_dev: HashMap<String, String>,
    /// Partition kernel name → (PARTUUID, PARTLABEL).
    pub part_ids: HashMap<String, (Option<String>, Option<String>)>,
    /// btrfs device (kernel name) → the subvolumes its trees list.
    pub btrfs: BTreeMap<String, btrfs::Subvolumes>,
}

impl Found {
    pub fn sys(&self, name: &str) -> Option<&SysBlock> {
        self.sys.iter().find(|b| b.name == name)
    }
}

pub fn fs_from(content: &Content, identified_by: &str) -> Filesystem {
    let sb = content.superblock();
    Filesystem {
        fstype: sb.fstype.clone(),
        uuid: sb.uuid.clone(),
        label: sb.label.clone(),
        size: sb.size,
        used: sb.used,
        identified_by: identified_by.into(),
        ..Default::default()
    }
}

pub fn read(inputs: &Inputs, st: &mut Storage) -> Found {
    let mut found = Found::default();
    let Some(block) = &inputs.sys_block else {
        st.notes.push(
            "no live facts: disks unknown; mounts, LVM and md from the root's own files".into(),
        );
        return found;
    };
    match sysfs::read_block_dir(block) {
        Ok(sys) => found.sys = sys,
        Err(e) => {
            st.notes
                .push(format!("{}: {e}; disks unknown", block.display()));
            return found;
        }
    }
    st.sources.sysfs = true;
    for b in &found.sys {
        found.by_dev.insert(b.dev.clone(), b.name.clone());
        for p in &b.partitions {
            found.by_dev.insert(p.dev.clone(), p.name.clone());
        }
    }
    let mut any_read = false;
    let sys = found.sys.clone();
    for b in &sys {
        let wanted = b.is_disk() || ((b.is_md() || b.is_dm()) && b.size > 0);
        if !wanted {
            continue;
        }
        let dev = inputs
            .dev_dir
            .as_ref()
            .map(|d| Device::open(&d.join(&b.name), Some(b.size)));
        let dev = match dev {
            None => None,
            Some(Ok(d)) => {
                any_read = true;
                Some(d)
            }
            Some(Err(e)) => {
                st.notes.push(format!(
                    "{e}: superblocks of {} not read (types from the mount table and fstab)",
                    b.name
                ));
                None
            }
        };
        if b.is_disk() {
            let disk = disk(b, dev.as_ref().map(|d| d as &dyn BlockRead), &mut found, st);
            st.disks.push(disk);
        } else if let Some(d) = &dev {
            probe_into(&b.name, d, &mut found, st);
        }
    }
    st.sources.devices = any_read;
    found
}

fn probe_into(name: &str, dev: &dyn BlockRead, found: &mut Found, st: &mut Storage) {
    match probe::probe(dev) {
        Ok(Some(c)) => {
            if c.superblock().fstype == "btrfs" {
                match btrfs::subvolumes(dev) {
                    Ok(s) => {
                        found.btrfs.insert(name.to_string(), s);
                    }
                    Err(e) => st.notes.push(format!("{name}: btrfs subvolumes: {e}")),
                }
            }
            found.contents.insert(name.to_string(), c);
        }
        Ok(None) => {}
        Err(e) => st.notes.push(format!("{name}: {e}")),
    }
}

enum Table {
    Gpt(GptTable),
    Mbr(MbrTable),
}

fn disk(b: &SysBlock, dev: Option<&dyn BlockRead>, found: &mut Found, st: &mut Storage) -> Disk {
    let mut d = Disk {
        name: b.name.clone(),
        size: b.size,
        block_size: b.logical_block_size,
        model: b.model.clone(),
        read_only: b.read_only,
        ..Default::default()
    };
    let ss = u64::from(b.logical_block_size.max(512));
    let table = match dev {
        Some(dev) => read_table(dev, ss, &b.name, st),
        None => None,
    };
    let by_number: BTreeMap<u32, &sysfs::SysPart> =
        b.partitions.iter().map(|p| (p.number, p)).collect();
    match &table {
        Some(Table::Gpt(t)) => {
            d.partition_type = Some("gpt".into());
            d.table_id = Some(t.disk_guid.clone());
            for p in &t.partitions {
                let start = p.first_lba.saturating_mul(t.sector_size);
                let size = p
                    .last_lba
                    .saturating_sub(p.first_lba)
                    .saturating_add(1)
                    .saturating_mul(t.sector_size);
                d.partitions.push(Partition {
                    number: p.number,
                    kind: Some("primary".into()),
                    start,
                    size,
                    type_id: Some(p.type_guid.clone()),
                    type_name: gpt::type_name(&p.type_guid).map(str::to_string),
                    part_uuid: Some(p.part_uuid.clone()),
                    part_label: p.name.clone(),
                    // Attribute bit 2: legacy BIOS bootable.
                    bootable: p.attributes & 0x4 != 0,
                    ..Default::default()
                });
            }
        }
        Some(Table::Mbr(t)) => {
            d.partition_type = Some("msdos".into());
            d.table_id = Some(format!("0x{:08x}", t.disk_id));
            for p in &t.partitions {
                let kind = if p.number > 4 {
                    "logical"
                } else if p.is_extended() {
                    "extended"
                } else {
                    "primary"
                };
                d.partitions.push(Partition {
                    number: p.number,
                    kind: Some(kind.into()),
                    start: p.start.saturating_mul(ss),
                    size: p.sectors.saturating_mul(ss),
                    type_id: Some(format!("0x{:02x}", p.type_id)),
                    type_name: mbr::type_name(p.type_id).map(str::to_string),
                    part_uuid: Some(format!("{:08x}-{:02x}", t.disk_id, p.number)),
                    bootable: p.bootable,
                    ..Default::default()
                });
            }
        }
        None => {
            // The kernel's partitions without the table (the device could not be read).
            for p in &b.partitions {
                d.partitions.push(Partition {
                    number: p.number,
                    start: p.start,
                    size: p.size,
                    ..Default::default()
                });
            }
        }
    }
    for p in d.partitions.iter_mut() {
        if let Some(s) = by_number.get(&p.number) {
            p.name = Some(s.name.clone());
            // The kernel shows an extended partition as its first 1 KiB (the EBR).
            let extended = p.kind.as_deref() == Some("extended");
            if table.is_some() && (s.start != p.start || (s.size != p.size && !extended)) {
                st.notes.push(format!(
                    "{}: the kernel's partition {} ({} bytes at {}) differs from the table on disk ({} bytes at {}); the table was changed and not re-read",
                    b.name, p.number, s.size, s.start, p.size, p.start
                ));
            }
        }
        if let Some(name) = &p.name {
            found
                .part_ids
                .insert(name.clone(), (p.part_uuid.clone(), p.part_label.clone()));
        }
        // An extended partition holds the EBR chain, not a filesystem.
        if p.kind.as_deref() == Some("extended") {
            continue;
        }
        let key = p
            .name
            .clone()
            .unwrap_or_else(|| format!("{}#{}", b.name, p.number));
        if let Some(dev) = dev {
            let w = Window {
                inner: dev,
                start: p.start,
                size: p.size,
            };
            probe_into(&key, &w, found, st);
        }
        p.filesystem = found.contents.get(&key).map(|c| fs_from(c, "superblock"));
    }
    if d.partitions.is_empty() {
        if let Some(dev) = dev {
            probe_into(&b.name, dev, found, st);
        }
        d.filesystem = found
            .contents
            .get(&b.name)
            .map(|c| fs_from(c, "superblock"));
    }
    nest_logicals(&mut d.partitions);
    d
}

fn read_table(dev: &dyn BlockRead, ss: u64, name: &str, st: &mut Storage) -> Option<Table> {
    let mbr = match mbr::parse(dev, ss) {
        Ok(m) => m,
        Err(e) => {
            st.notes.push(format!("{name}: partition table: {e}"));
            return None;
        }
    };
    // GPT when the MBR is protective, or when there is no MBR at all (a damaged or
    // hybrid-less GPT): the header's CRC decides.
    if mbr.as_ref().is_none_or(MbrTable::is_protective) {
        match gpt::parse(dev, ss) {
            Ok(Some(t)) => {
                if t.from_backup {
                    st.notes.push(format!(
                        "{name}: primary GPT header damaged; the backup header was used"
                    ));
                }
                return Some(Table::Gpt(t));
            }
            Ok(None) => {}
            Err(e) => st.notes.push(format!("{name}: GPT: {e}")),
        }
    }
    let m = mbr?;
    if m.is_protective() {
        st.notes
            .push(format!("{name}: protective MBR but no valid GPT header"));
        return None;
    }
    if let Some(w) = &m.warning {
        st.notes.push(format!("{name}: {w}"));
    }
    Some(Table::Mbr(m))
}

/// Logical partitions go inside the extended partition, in number order (UForge's
/// `logicalPartitions`); everything else stays in number order.
fn nest_logicals(parts: &mut Vec<Partition>) {
    let (logical, mut rest): (Vec<Partition>, Vec<Partition>) = std::mem::take(parts)
        .into_iter()
        .partition(|p| p.kind.as_deref() == Some("logical"));
    rest.sort_by_key(|p| p.number);
    if let Some(ext) = rest
        .iter_mut()
        .find(|p| p.kind.as_deref() == Some("extended"))
    {
        ext.logical_partitions = logical;
        ext.logical_partitions.sort_by_key(|p| p.number);
    } else {
        rest.extend(logical);
    }
    *parts = rest;
}
