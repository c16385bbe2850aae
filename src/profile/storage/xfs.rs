//! XFS superblock (sector 0, big-endian; xfsprogs include/xfs_format.h `xfs_dsb`).

use std::io;

use super::probe::Superblock;
use super::reader::{be16, be32, be64, label, uuid, BlockRead};

pub fn probe(dev: &dyn BlockRead) -> io::Result<Option<Superblock>> {
    let sb = dev.read_at(0, 512)?;
    if sb.len() < 512 || &sb[0..4] != b"XFSB" {
        return Ok(None);
    }
    let block = be32(&sb, 4);
    let sect = be16(&sb, 102);
    // Sanity as blkid: power-of-two sizes in range, else a stray "XFSB".
    if !(512..=65536).contains(&block)
        || !block.is_power_of_two()
        || !(512..=32768).contains(&sect)
        || !sect.is_power_of_two()
    {
        return Ok(None);
    }
    let dblocks = be64(&sb, 8);
    let fdblocks = be64(&sb, 144);
    let size = dblocks.checked_mul(u64::from(block));
    Ok(Some(Superblock {
        fstype: "xfs".into(),
        uuid: Some(uuid(&sb, 32)),
        label: label(&sb, 108, 12),
        size,
        // sb_fdblocks on disk lags behind a mounted filesystem (lazy counters); it is exact
        // after a clean unmount, and statvfs replaces it for mounted filesystems.
        used: size.and_then(|s| s.checked_sub(fdblocks.saturating_mul(u64::from(block)))),
        block_size: Some(block),
        ..Default::default()
    }))
}
