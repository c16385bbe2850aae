//! FAT12/16/32 boot sector (Microsoft's FAT specification, BPB at offset 11).

use std::io;

use super::probe::Superblock;
use super::reader::{le16, le32, BlockRead};

pub fn probe(dev: &dyn BlockRead) -> io::Result<Option<Superblock>> {
    let bs = dev.read_at(0, 512)?;
    if bs.len() < 512 {
        return Ok(None);
    }
    Ok(parse(&bs))
}

/// The boot sector alone (also used by the MBR parser, which must not take a FAT boot
/// sector's code area for a partition table).
pub fn parse(bs: &[u8]) -> Option<Superblock> {
    if bs.len() < 512 || bs[510..512] != [0x55, 0xAA] {
        return None;
    }
    let sector = le16(bs, 11);
    let per_cluster = bs[13];
    let reserved = le16(bs, 14);
    let fats = bs[16];
    if !matches!(sector, 512 | 1024 | 2048 | 4096)
        || per_cluster == 0
        || !per_cluster.is_power_of_two()
        || reserved == 0
        || fats == 0
        || fats > 4
    {
        return None;
    }
    // FAT32 keeps its extended BPB at 64, FAT12/16 at 36; the type string confirms which.
    let (ext, fat_name) = if &bs[82..87] == b"FAT32" {
        (64, "FAT32")
    } else if &bs[54..59] == b"FAT12" {
        (36, "FAT12")
    } else if &bs[54..57] == b"FAT" {
        (36, "FAT16")
    } else {
        return None;
    };
    let total16 = u64::from(le16(bs, 19));
    let total = if total16 != 0 {
        total16
    } else {
        u64::from(le32(bs, 32))
    };
    let has_serial = bs[ext + 2] == 0x29 || bs[ext + 2] == 0x28;
    let serial = le32(bs, ext + 3);
    let label = if bs[ext + 2] == 0x29 {
        let raw = String::from_utf8_lossy(&bs[ext + 7..ext + 18])
            .trim_end()
            .to_string();
        (!raw.is_empty() && raw != "NO NAME").then_some(raw)
    } else {
        None
    };
    Some(Superblock {
        fstype: "vfat".into(),
        uuid: has_serial.then(|| format!("{:04X}-{:04X}", serial >> 16, serial & 0xFFFF)),
        label,
        size: total.checked_mul(u64::from(sector)),
        version: Some(fat_name.into()),
        block_size: Some(u32::from(sector)),
        ..Default::default()
    })
}
