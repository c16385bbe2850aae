//! GUID partition table (UEFI spec §5.3): header at LBA 1 (backup at the last LBA), entry
//! array with a CRC32 each. Partition numbers are entry indices + 1, as the kernel names them.

use std::io;

use super::reader::{guid, le32, le64, BlockRead, MAX_READ};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GptPartition {
    pub number: u32,
    pub type_guid: String,
    pub part_uuid: String,
    /// Sectors of the table's sector size.
    pub first_lba: u64,
    pub last_lba: u64,
    pub attributes: u64,
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GptTable {
    pub disk_guid: String,
    pub sector_size: u64,
    pub partitions: Vec<GptPartition>,
    /// The primary header was damaged and the backup was used.
    pub from_backup: bool,
}

/// The table, trying `sector_size` first and then the other usual size (a 4Kn disk in a
/// 512-byte image, or the reverse).
pub fn parse(dev: &dyn BlockRead, sector_size: u64) -> io::Result<Option<GptTable>> {
    for ss in [sector_size, if sector_size == 512 { 4096 } else { 512 }] {
        if let Some(t) = header_at(dev, ss, ss, false)? {
            return Ok(Some(t));
        }
        let last = (dev.size() / ss).saturating_sub(1);
        if last > 1 {
            if let Some(t) = header_at(dev, ss, last * ss, true)? {
                return Ok(Some(t));
            }
        }
    }
    Ok(None)
}

fn header_at(
    dev: &dyn BlockRead,
    ss: u64,
    offset: u64,
    backup: bool,
) -> io::Result<Option<GptTable>> {
    let h = dev.read_at(offset, 512)?;
    if h.len() < 92 || &h[0..8] != b"EFI PART" {
        return Ok(None);
    }
    let header_size = le32(&h, 12) as usize;
    if !(92..=h.len()).contains(&header_size) {
        return Ok(None);
    }
    let mut check = h[..header_size].to_vec();
    check[16..20].fill(0);
    if crc32fast::hash(&check) != le32(&h, 16) {
        return Ok(None);
    }
    if le64(&h, 24) != offset / ss {
        return Ok(None); // a header that is not where it says it is
    }
    let entries_lba = le64(&h, 72);
    let count = le32(&h, 80) as usize;
    let entry_size = le32(&h, 84) as usize;
    if entry_size < 128 || entry_size % 8 != 0 || count == 0 {
        return Ok(None);
    }
    let Some(len) = count.checked_mul(entry_size).filter(|&l| l <= MAX_READ) else {
        return Ok(None);
    };
    let Some(at) = entries_lba.checked_mul(ss) else {
        return Ok(None);
    };
    let array = dev.read_at(at, len)?;
    if array.len() < len || crc32fast::hash(&array) != le32(&h, 88) {
        return Ok(None);
    }
    let mut partitions = Vec::new();
    for (i, e) in array.chunks_exact(entry_size).enumerate() {
        if e[0..16].iter().all(|&b| b == 0) {
            continue;
        }
        let units: Vec<u16> = e[56..128]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take_while(|&u| u != 0)
            .collect();
        let name = String::from_utf16_lossy(&units);
        partitions.push(GptPartition {
            number: i as u32 + 1,
            type_guid: guid(e, 0),
            part_uuid: guid(e, 16),
            first_lba: le64(e, 32),
            last_lba: le64(e, 40),
            attributes: le64(e, 48),
            name: (!name.is_empty()).then_some(name),
        });
    }
    Ok(Some(GptTable {
        disk_guid: guid(&h, 56),
        sector_size: ss,
        partitions,
        from_backup: backup,
    }))
}

/// Names of the type GUIDs Linux installers use (sfdisk's names).
pub fn type_name(guid: &str) -> Option<&'static str> {
    Some(match guid {
        "c12a7328-f81f-11d2-ba4b-00a0c93ec93b" => "EFI System",
        "21686148-6449-6e6f-744e-656564454649" => "BIOS boot",
        "0fc63daf-8483-4772-8e79-3d69d8477de4" => "Linux filesystem",
        "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f" => "Linux swap",
        "e6d6d379-f507-44c2-a23c-238f2a3df928" => "Linux LVM",
        "a19d880f-05fc-4d3b-a006-743f0f84911e" => "Linux RAID",
        "4f68bce3-e8cd-4db1-96e7-fbcaf984b709" => "Linux root (x86-64)",
        "b921b045-1df0-41c3-af44-4c6f280d3fae" => "Linux root (ARM-64)",
        "933ac7e1-2eb4-4f13-b844-0e14e2aef915" => "Linux home",
        "bc13c2ff-59e6-4262-a352-b275fd6f7172" => "Linux extended boot",
        "ebd0a0a2-b9e5-4433-87c0-68b6b72699c7" => "Microsoft basic data",
        "e3c9e316-0b5c-4db8-817d-f92df00215ae" => "Microsoft reserved",
        "9e1a2d38-c612-4316-aa26-8b49521e5a8b" => "PowerPC PReP boot",
        _ => return None,
    })
}
