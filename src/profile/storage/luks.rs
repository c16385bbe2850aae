//! LUKS1/LUKS2 header (cryptsetup docs/on-disk-format*.pdf): the encrypted container is
//! recorded with its UUID (what `/etc/crypttab` names it by); what is inside is only seen
//! through its open `dm-crypt` device.

use std::io;

use super::probe::Superblock;
use super::reader::{be16, label, BlockRead};

const MAGIC: &[u8; 6] = b"LUKS\xba\xbe";

pub fn probe(dev: &dyn BlockRead) -> io::Result<Option<Superblock>> {
    let h = dev.read_at(0, 512)?;
    if h.len() < 512 || &h[0..6] != MAGIC {
        return Ok(None);
    }
    let version = be16(&h, 6);
    if version != 1 && version != 2 {
        return Ok(None);
    }
    Ok(Some(Superblock {
        fstype: "crypto_LUKS".into(),
        uuid: label(&h, 168, 40),
        // Only LUKS2 has a label (48 bytes at 24); LUKS1 keeps the cipher name there.
        label: if version == 2 {
            label(&h, 24, 48)
        } else {
            None
        },
        version: Some(version.to_string()),
        ..Default::default()
    }))
}
