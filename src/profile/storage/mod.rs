//! Disks, partition tables, filesystems, LVM, md RAID, btrfs subvolumes and swap.
//!
//! Data flow: [`sysfs`] lists the kernel's block devices; [`disks`] opens each one read-only
//! and reads its partition table ([`mbr`], [`gpt`]) and what each partition holds
//! ([`probe`]: [`md`], [`lvm`], [`swap`], [`ext`], [`xfs`], [`btrfs`], [`vfat`]);
//! [`volumes`] puts md arrays and LVM volume groups together from their members;
//! [`mounts`] joins the mount table, the root's [`fstab`] and `/proc/swaps` to the devices.
//!
//! Devices are read only when the scanned root is the running host (`/`, with the host's
//! own `/sys`): a captured `--sys` tree names devices of another machine, and this host's
//! `/dev/sda` is not that machine's. Without live facts at all, the root's own files say
//! what they can: fstab, `/etc/lvm/backup/*`, `mdadm.conf`.
//!
//! Names follow UForge's partitionTable: `disks` (each with `partitions`, extended ones
//! holding `logical_partitions`), `logical_groups` (VGs), `logical_volumes`.

pub mod btrfs;
pub mod disks;
pub mod ext;
pub mod fstab;
pub mod gpt;
pub mod luks;
pub mod lvm;
pub mod mbr;
pub mod md;
pub mod mounts;
pub mod probe;
pub mod reader;
pub mod swap;
pub mod sysfs;
pub mod vfat;
pub mod volumes;
pub mod xfs;

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::LiveSources;
use crate::rootfs::RootFs;

#[derive(Debug, Clone, Serialize, Default)]
pub struct Storage {
    pub sources: Sources,
    pub disks: Vec<Disk>,
    pub md_arrays: Vec<MdArray>,
    /// LVM volume groups (UForge `logicalGroup`).
    pub logical_groups: Vec<LogicalGroup>,
    /// LVM logical volumes (UForge `logicalVolume`), VG by VG, in metadata order.
    pub logical_volumes: Vec<LogicalVolume>,
    /// device-mapper devices that are not LVs: dm-crypt (LUKS), multipath, …
    pub mapped_devices: Vec<MappedDevice>,
    pub btrfs_subvolumes: Vec<BtrfsSubvolume>,
    pub swap: Vec<SwapArea>,
    /// Mounted (mount table) and boot-time (fstab) mounts of block-device filesystems.
    pub mounts: Vec<Mount>,
    /// What could not be read, and what was inferred instead.
    pub notes: Vec<String>,
}

/// Which inputs the section was built from.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Sources {
    /// `/sys/block` (or a captured copy) was read.
    pub sysfs: bool,
    /// The mount table of the scanned system was read.
    pub mountinfo: bool,
    /// Superblocks were read from the devices themselves.
    pub devices: bool,
    pub fstab: bool,
    /// VGs come from `/etc/lvm/backup` (devices not read).
    pub lvm_backup: bool,
    /// md arrays come from `mdadm.conf` (no live facts).
    pub mdadm_conf: bool,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Disk {
    /// Kernel name, kept as it is (`sda`, `vda`, `nvme0n1`, `xvda`).
    pub name: String,
    /// Bytes.
    pub size: u64,
    /// Logical block size in bytes.
    pub block_size: u32,
    pub model: Option<String>,
    pub read_only: bool,
    /// `msdos` or `gpt`; `None` when unpartitioned or unknown.
    pub partition_type: Option<String>,
    /// MBR disk signature (`0x1234abcd`) or GPT disk GUID.
    pub table_id: Option<String>,
    /// Primary and extended partitions by number; logicals inside their extended partition.
    pub partitions: Vec<Partition>,
    /// What the whole disk holds when it has no partition table.
    pub filesystem: Option<Filesystem>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Partition {
    /// As the kernel numbers it: 1-4 primary/extended, 5… logical; GPT entry index + 1.
    pub number: u32,
    /// Kernel device name (`sda1`, `nvme0n1p2`), when the kernel shows it.
    pub name: Option<String>,
    /// `primary`, `extended`, `logical`; `None` when only sysfs was seen.
    pub kind: Option<String>,
    /// Bytes from the start of the disk.
    pub start: u64,
    /// Bytes.
    pub size: u64,
    /// MBR type id (`0x83`) or GPT type GUID.
    pub type_id: Option<String>,
    pub type_name: Option<String>,
    /// GPT unique GUID, or for MBR `<disk signature>-<number>` (what PARTUUID= matches).
    pub part_uuid: Option<String>,
    /// GPT partition name (PARTLABEL=).
    pub part_label: Option<String>,
    pub bootable: bool,
    pub filesystem: Option<Filesystem>,
    pub logical_partitions: Vec<Partition>,
}

/// What a block device holds (blkid's TYPE/UUID/LABEL) and where it is mounted.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Filesystem {
    /// blkid's names: `ext4`, `xfs`, `btrfs`, `vfat`, `swap`, `LVM2_member`,
    /// `linux_raid_member`, …
    pub fstype: String,
    pub uuid: Option<String>,
    pub label: Option<String>,
    /// Bytes, from the superblock or statvfs.
    pub size: Option<u64>,
    pub used: Option<u64>,
    /// Bytes available to unprivileged users (statvfs of a mounted filesystem).
    pub available: Option<u64>,
    /// The first mount of the filesystem's root (or of any subtree), mount table first.
    pub mount_point: Option<String>,
    pub mount_options: Option<String>,
    /// The VG or md array this device belongs to.
    pub member_of: Option<String>,
    /// Where the type came from: `superblock`, `mountinfo` or `fstab`.
    pub identified_by: String,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct MdArray {
    /// `md0`, or mdadm.conf's device name when only the configuration is known.
    pub name: String,
    pub level: Option<String>,
    pub raid_disks: Option<u32>,
    pub metadata: Option<String>,
    /// mdadm's form (`xxxxxxxx:xxxxxxxx:xxxxxxxx:xxxxxxxx`).
    pub uuid: Option<String>,
    /// v1.x array name (`host:0`).
    pub array_name: Option<String>,
    /// Member devices (kernel names).
    pub members: Vec<String>,
    pub size: Option<u64>,
    pub state: Option<String>,
    pub filesystem: Option<Filesystem>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct LogicalGroup {
    pub name: String,
    pub uuid: String,
    /// Bytes.
    pub extent_size: u64,
    /// Bytes of all PVs' extents.
    pub size: u64,
    /// Bytes not given to any LV.
    pub free: u64,
    pub physical_volumes: Vec<PhysicalVolume>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct PhysicalVolume {
    pub uuid: String,
    /// Kernel name of the device it was found on, when devices were read.
    pub device: Option<String>,
    /// The device the metadata last saw it on (may differ after a reboot).
    pub device_hint: Option<String>,
    /// Bytes of extents.
    pub size: u64,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct LogicalVolume {
    pub name: String,
    /// The VG's name (UForge `groupUri`).
    pub group: String,
    pub uuid: String,
    /// Bytes.
    pub size: u64,
    /// `/dev/mapper/` name (`vg-lv`, dashes doubled).
    pub mapper_name: String,
    /// Kernel name (`dm-0`) when active.
    pub device: Option<String>,
    pub segment_types: Vec<String>,
    /// PV uuids the LV's extents are on.
    pub physical_volumes: Vec<String>,
    pub filesystem: Option<Filesystem>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct MappedDevice {
    /// Kernel name (`dm-3`).
    pub device: String,
    /// `/dev/mapper/` name (`luks-1f2e…`, `mpatha`).
    pub name: Option<String>,
    /// The subsystem, from the dm uuid's prefix: `crypt` (`CRYPT-…`), `mpath`, `part`, …
    pub kind: Option<String>,
    /// The devices underneath (kernel names).
    pub slaves: Vec<String>,
    pub size: u64,
    pub filesystem: Option<Filesystem>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct BtrfsSubvolume {
    /// The btrfs filesystem's UUID, when known.
    pub filesystem_uuid: Option<String>,
    pub device: Option<String>,
    /// Path inside the filesystem, without a leading `/` (`@home`).
    pub path: String,
    pub id: Option<u64>,
    /// The subvolume it sits in (5: the top level).
    pub parent_id: Option<u64>,
    pub mount_point: Option<String>,
    /// What is mounted when no `subvol=` is given (`btrfs subvolume set-default`).
    pub default: bool,
    pub read_only: Option<bool>,
    pub snapshot: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct SwapArea {
    /// `/dev/…` path or swap file path, as the system names it.
    pub path: String,
    /// `partition` (any block device) or `file`.
    pub kind: String,
    pub device: Option<String>,
    /// Bytes.
    pub size: Option<u64>,
    pub used: Option<u64>,
    pub priority: Option<i32>,
    pub uuid: Option<String>,
    pub label: Option<String>,
    /// In `/proc/swaps`.
    pub active: bool,
    pub in_fstab: bool,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Mount {
    pub mount_point: String,
    /// The source as the mount table or fstab names it.
    pub source: String,
    /// The kernel device it resolves to.
    pub device: Option<String>,
    pub fstype: String,
    /// Per-mount options (`rw,relatime`).
    pub options: String,
    /// The filesystem's own options from the mount table (`rw,discard,subvol=/@`).
    pub super_options: Option<String>,
    /// btrfs subvolume (or bind root) inside the filesystem, without a leading `/`.
    pub subvolume: Option<String>,
    pub mounted: bool,
    pub in_fstab: bool,
    /// fstab's first field (`UUID=…`) when in fstab.
    pub fstab_spec: Option<String>,
    pub fstab_options: Option<String>,
    /// statvfs of a mounted filesystem, bytes.
    pub size: Option<u64>,
    pub used: Option<u64>,
    pub available: Option<u64>,
}

/// Where each input is; [`collect`] fills it for the scanned system, tests point it at
/// captured trees and image files.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// `/sys/block` or a copy.
    pub sys_block: Option<PathBuf>,
    /// `/proc/self/mountinfo` or a copy.
    pub mountinfo: Option<PathBuf>,
    /// `/proc/swaps` or a copy.
    pub swaps: Option<PathBuf>,
    /// Where device nodes named after the kernel names are (`/dev`; image files in tests).
    pub dev_dir: Option<PathBuf>,
    /// statvfs the mount points (only for the running host: they are host paths).
    pub statvfs: bool,
}

pub fn collect(root: &RootFs, live: &LiveSources) -> Storage {
    let host = root.is_host_root() && live.sys_dir.as_deref() == Some(Path::new("/sys"));
    let inputs = Inputs {
        sys_block: live.sys("block"),
        mountinfo: live.proc("self/mountinfo"),
        swaps: live.proc("swaps"),
        dev_dir: host.then(|| PathBuf::from("/dev")),
        statvfs: host && live.proc_dir.as_deref() == Some(Path::new("/proc")),
    };
    collect_from(root, &inputs)
}

pub fn collect_from(root: &RootFs, inputs: &Inputs) -> Storage {
    let mut st = Storage::default();
    let found = disks::read(inputs, &mut st);
    volumes::assemble(root, &found, &mut st);
    mounts::join(root, inputs, &found, &mut st);
    st
}
