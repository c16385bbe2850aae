//! ext2/3/4 superblock (1024 bytes at offset 1024; `e2fsprogs` lib/ext2fs/ext2_fs.h).

use std::io;

use super::probe::Superblock;
use super::reader::{label, le16, le32, uuid, BlockRead};

const MAGIC: u16 = 0xEF53;
const COMPAT_HAS_JOURNAL: u32 = 0x4;
const INCOMPAT_JOURNAL_DEV: u32 = 0x8;
const INCOMPAT_64BIT: u32 = 0x80;
/// What ext3 understands; anything beyond makes it ext4 (blkid's rule, superblocks.c).
const EXT3_INCOMPAT: u32 = 0x2 | 0x4 | 0x10;
const EXT3_RO_COMPAT: u32 = 0x1 | 0x2 | 0x4;

pub fn probe(dev: &dyn BlockRead) -> io::Result<Option<Superblock>> {
    let sb = dev.read_at(1024, 1024)?;
    if sb.len() < 1024 || le16(&sb, 0x38) != MAGIC {
        return Ok(None);
    }
    let log_block = le32(&sb, 0x18);
    if log_block > 6 {
        return Ok(None); // blocks above 64 KiB: not a superblock
    }
    let block = 1024u64 << log_block;
    let compat = le32(&sb, 0x5C);
    let incompat = le32(&sb, 0x60);
    let ro_compat = le32(&sb, 0x64);
    let (hi_blocks, hi_free) = if incompat & INCOMPAT_64BIT != 0 {
        (u64::from(le32(&sb, 0x150)), u64::from(le32(&sb, 0x158)))
    } else {
        (0, 0)
    };
    let blocks = u64::from(le32(&sb, 0x4)) | hi_blocks << 32;
    let free = u64::from(le32(&sb, 0xC)) | hi_free << 32;
    let fstype = if incompat & INCOMPAT_JOURNAL_DEV != 0 {
        "jbd"
    } else if incompat & !EXT3_INCOMPAT != 0 || ro_compat & !EXT3_RO_COMPAT != 0 {
        "ext4"
    } else if compat & COMPAT_HAS_JOURNAL != 0 {
        "ext3"
    } else {
        "ext2"
    };
    let size = blocks.checked_mul(block);
    Ok(Some(Superblock {
        fstype: fstype.into(),
        uuid: Some(uuid(&sb, 0x68)),
        label: label(&sb, 0x78, 16),
        size,
        used: size.and_then(|s| s.checked_sub(free.saturating_mul(block))),
        block_size: Some(block as u32),
        ..Default::default()
    }))
}
