//! MS-DOS partition table: four entries at 446, extended partitions as a chain of EBRs whose
//! first entry is a logical partition (numbered 5, 6, … in chain order, as the kernel does).

use std::collections::HashSet;
use std::io;

use super::reader::{le32, BlockRead};

/// Types the kernel follows as extended partitions (DOS, Windows LBA, Linux).
const EXTENDED: [u8; 3] = [0x05, 0x0F, 0x85];
/// GPT's protective MBR.
pub const PROTECTIVE: u8 = 0xEE;
/// The kernel stops at this many logical partitions too (`MAX_PART` in msdos.c is looser,
/// but a longer chain is a loop or garbage).
const MAX_LOGICAL: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MbrPartition {
    /// 1..4 primary or extended, 5.. logical.
    pub number: u32,
    pub type_id: u8,
    pub bootable: bool,
    /// In sectors of `sector_size` from the start of the disk.
    pub start: u64,
    pub sectors: u64,
}

impl MbrPartition {
    pub fn is_extended(&self) -> bool {
        EXTENDED.contains(&self.type_id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MbrTable {
    /// The 32-bit disk signature at 440 (blkid's PTUUID for dos tables).
    pub disk_id: u32,
    /// Primaries and extended in slot order (numbers 1..4), then logicals in chain order.
    pub partitions: Vec<MbrPartition>,
    /// Why the EBR chain was cut short, if it was.
    pub warning: Option<String>,
}

impl MbrTable {
    pub fn is_protective(&self) -> bool {
        self.partitions.iter().any(|p| p.type_id == PROTECTIVE)
    }
}

struct Entry {
    boot: u8,
    type_id: u8,
    start: u32,
    sectors: u32,
}

fn entries(sector: &[u8]) -> Option<[Entry; 4]> {
    if sector.len() < 512 || sector[510..512] != [0x55, 0xAA] {
        return None;
    }
    let e = |i: usize| {
        let o = 446 + 16 * i;
        Entry {
            boot: sector[o],
            type_id: sector[o + 4],
            start: le32(sector, o + 8),
            sectors: le32(sector, o + 12),
        }
    };
    Some([e(0), e(1), e(2), e(3)])
}

/// The table at sector 0, or `None` when there is none (no 0x55AA, boot flags that are not
/// 0 or 0x80, no entry in use, or a FAT boot sector, whose code area is not a table).
pub fn parse(dev: &dyn BlockRead, sector_size: u64) -> io::Result<Option<MbrTable>> {
    let s0 = dev.read_at(0, 512)?;
    let Some(primary) = entries(&s0) else {
        return Ok(None);
    };
    if primary.iter().any(|e| e.boot != 0 && e.boot != 0x80)
        || primary.iter().all(|e| e.type_id == 0)
        || super::vfat::parse(&s0).is_some()
    {
        return Ok(None);
    }
    let mut table = MbrTable {
        disk_id: le32(&s0, 440),
        partitions: Vec::new(),
        warning: None,
    };
    let mut extended = None;
    for (i, e) in primary.iter().enumerate() {
        if e.type_id == 0 || e.sectors == 0 {
            continue;
        }
        let p = MbrPartition {
            number: i as u32 + 1,
            type_id: e.type_id,
            bootable: e.boot == 0x80,
            start: u64::from(e.start),
            sectors: u64::from(e.sectors),
        };
        if p.is_extended() && extended.is_none() {
            extended = Some((p.start, p.sectors));
        }
        table.partitions.push(p);
    }
    if let Some((ext_start, ext_len)) = extended {
        logicals(dev, sector_size, ext_start, ext_len, &mut table)?;
    }
    Ok(Some(table))
}

fn logicals(
    dev: &dyn BlockRead,
    sector_size: u64,
    ext_start: u64,
    ext_len: u64,
    table: &mut MbrTable,
) -> io::Result<()> {
    let mut seen = HashSet::new();
    let mut ebr = ext_start;
    let mut number = 5;
    while table.partitions.len() < 4 + MAX_LOGICAL {
        if !seen.insert(ebr) {
            table.warning = Some(format!("EBR chain loops back to sector {ebr}"));
            return Ok(());
        }
        let Some(off) = ebr.checked_mul(sector_size) else {
            return Ok(());
        };
        let sector = dev.read_at(off, 512)?;
        let Some(e) = entries(&sector) else {
            if ebr != ext_start {
                table.warning = Some(format!("no EBR signature at sector {ebr}"));
            }
            return Ok(());
        };
        // Entry 1: the logical partition, relative to this EBR. Entry 2: the next EBR,
        // relative to the start of the extended partition.
        if e[0].type_id != 0 && e[0].sectors != 0 {
            table.partitions.push(MbrPartition {
                number,
                type_id: e[0].type_id,
                bootable: e[0].boot == 0x80,
                start: ebr + u64::from(e[0].start),
                sectors: u64::from(e[0].sectors),
            });
            number += 1;
        }
        let next = &e[1];
        if next.type_id == 0 || next.sectors == 0 || !EXTENDED.contains(&next.type_id) {
            return Ok(());
        }
        let rel = u64::from(next.start);
        if rel >= ext_len {
            table.warning = Some(format!(
                "EBR at sector {ebr} points outside the extended partition"
            ));
            return Ok(());
        }
        ebr = ext_start + rel;
    }
    table.warning = Some(format!("more than {MAX_LOGICAL} logical partitions"));
    Ok(())
}

/// A few well-known type ids, for people reading the report (fdisk's names).
pub fn type_name(id: u8) -> Option<&'static str> {
    Some(match id {
        0x01 => "FAT12",
        0x04 | 0x06 => "FAT16",
        0x05 => "Extended",
        0x07 => "HPFS/NTFS/exFAT",
        0x0B => "W95 FAT32",
        0x0C => "W95 FAT32 (LBA)",
        0x0E => "W95 FAT16 (LBA)",
        0x0F => "W95 Ext'd (LBA)",
        0x82 => "Linux swap / Solaris",
        0x83 => "Linux",
        0x85 => "Linux extended",
        0x8E => "Linux LVM",
        0xA5 => "FreeBSD",
        0xEE => "GPT",
        0xEF => "EFI (FAT-12/16/32)",
        0xFD => "Linux raid autodetect",
        _ => return None,
    })
}
