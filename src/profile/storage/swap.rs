//! Linux swap area header (util-linux `swapheader.h`): signature in the last 10 bytes of
//! the first page, version, last page, UUID and label at 1024.

use std::io;

use super::probe::Superblock;
use super::reader::{label, le32, uuid, BlockRead};

/// Page sizes the signature can end: 4 KiB (x86), 8/16/64 KiB (sparc, arm64, ppc64).
const PAGE_SIZES: [u64; 4] = [4096, 8192, 16384, 65536];

pub fn probe(dev: &dyn BlockRead) -> io::Result<Option<Superblock>> {
    for page in PAGE_SIZES {
        let sig = dev.read_at(page - 10, 10)?;
        if sig != b"SWAPSPACE2" && sig != b"SWAP-SPACE" {
            continue;
        }
        if sig == b"SWAP-SPACE" {
            // Version 0: no UUID or label.
            return Ok(Some(Superblock {
                fstype: "swap".into(),
                version: Some("0".into()),
                ..Default::default()
            }));
        }
        let h = dev.read_exact_at(1024, 512)?;
        let version = le32(&h, 0);
        let last_page = le32(&h, 4);
        let size = (u64::from(last_page) + 1).checked_mul(page);
        return Ok(Some(Superblock {
            fstype: "swap".into(),
            uuid: Some(uuid(&h, 12)),
            label: label(&h, 28, 16),
            size,
            version: Some(version.to_string()),
            block_size: Some(page as u32),
            ..Default::default()
        }));
    }
    Ok(None)
}
