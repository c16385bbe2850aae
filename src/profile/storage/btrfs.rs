//! btrfs superblock (4 KiB at 64 KiB; kernel include/uapi/linux/btrfs_tree.h
//! `btrfs_super_block`). Subvolumes are not read from the trees on disk: they come from the
//! mount table and fstab (`subvol=`), see `mounts.rs`.

use std::io;

use super::probe::Superblock;
use super::reader::{label, le32, le64, uuid, BlockRead};

const OFFSET: u64 = 64 * 1024;
const MAGIC: &[u8; 8] = b"_BHRfS_M";

pub fn probe(dev: &dyn BlockRead) -> io::Result<Option<Superblock>> {
    let sb = dev.read_at(OFFSET, 4096)?;
    if sb.len() < 4096 || &sb[64..72] != MAGIC {
        return Ok(None);
    }
    // The superblock records where it is: a stray magic elsewhere is not one.
    if le64(&sb, 48) != OFFSET {
        return Ok(None);
    }
    let sector = le32(&sb, 144);
    Ok(Some(Superblock {
        fstype: "btrfs".into(),
        uuid: Some(uuid(&sb, 32)),
        // dev_item (at 201) .uuid (at +66): this device of a multi-device filesystem.
        uuid_sub: Some(uuid(&sb, 201 + 66)),
        label: label(&sb, 299, 256),
        size: Some(le64(&sb, 112)),
        used: Some(le64(&sb, 120)),
        block_size: (sector.is_power_of_two() && sector >= 512).then_some(sector),
        devices: Some(le64(&sb, 136)),
        ..Default::default()
    }))
}
