//! What a block device holds, found from its own bytes: md member, LVM PV, swap, or a
//! filesystem (blkid's order: RAID members first, since md v0.90/1.0 keep the array's
//! content at offset 0 and a member would otherwise look like a filesystem).

use std::io;

use serde::Serialize;

use super::lvm::PvLabel;
use super::md::MdMember;
use super::reader::BlockRead;
use super::{btrfs, ext, luks, lvm, md, swap, vfat, xfs};

/// A superblock's identity, in blkid's vocabulary (`TYPE`, `UUID`, `LABEL`, `UUID_SUB`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Superblock {
    /// `ext4`, `xfs`, `btrfs`, `vfat`, `swap`, `LVM2_member`, `linux_raid_member`,
    /// `crypto_LUKS`, …
    pub fstype: String,
    pub uuid: Option<String>,
    pub label: Option<String>,
    /// This device's own id in a multi-device set (btrfs dev_item, md device uuid).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uuid_sub: Option<String>,
    /// Bytes the filesystem spans, from the superblock.
    pub size: Option<u64>,
    /// Bytes in use, from the superblock's free counters (statvfs replaces it when mounted).
    pub used: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_size: Option<u32>,
    /// Format version (`FAT32`, swap `1`, md `1.2`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Devices of a btrfs filesystem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub devices: Option<u64>,
}

/// The probe's verdict, with what md and LVM members tell about their array or VG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    Md(Superblock, MdMember),
    Lvm(Superblock, PvLabel),
    Fs(Superblock),
}

impl Content {
    pub fn superblock(&self) -> &Superblock {
        match self {
            Content::Md(s, _) | Content::Lvm(s, _) | Content::Fs(s) => s,
        }
    }
}

pub fn probe(dev: &dyn BlockRead) -> io::Result<Option<Content>> {
    if let Some((sb, m)) = md::probe(dev)? {
        return Ok(Some(Content::Md(sb, m)));
    }
    if let Some((sb, pv)) = lvm::probe(dev)? {
        return Ok(Some(Content::Lvm(sb, pv)));
    }
    for f in [
        luks::probe,
        swap::probe,
        ext::probe,
        xfs::probe,
        btrfs::probe,
        vfat::probe,
    ] {
        if let Some(sb) = f(dev)? {
            return Ok(Some(Content::Fs(sb)));
        }
    }
    Ok(None)
}
