//! md RAID member superblocks (mdadm super0.c, super1.c) and `mdadm.conf` `ARRAY` lines.
//!
//! v0.90 lives in the last 64 KiB-aligned 64 KiB of the device, v1.0 8 KiB from the end
//! (4 KiB-aligned), v1.1 at 0 and v1.2 at 4 KiB. Both v0.90 and v1.0 leave the array's
//! own content at offset 0, which is why members are probed for md before filesystems.

use std::io;

use super::probe::Superblock;
use super::reader::{label, le32, le64, uuid, BlockRead};

const MAGIC: u32 = 0xa92b_4efc;

/// What a member's superblock says about its array.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MdMember {
    pub metadata: String,
    /// The array's UUID in mdadm's `xxxxxxxx:xxxxxxxx:xxxxxxxx:xxxxxxxx` form.
    pub array_uuid: String,
    /// v1.x `name` (`host:0`); v0.90 has none.
    pub array_name: Option<String>,
    /// `raid0`, `raid1`, …, `linear`.
    pub level: String,
    pub raid_disks: u32,
    /// Bytes of each member given to the array, when the superblock says.
    pub component_size: Option<u64>,
}

pub fn probe(dev: &dyn BlockRead) -> io::Result<Option<(Superblock, MdMember)>> {
    let size = dev.size();
    let mut candidates = vec![(4096, "1.2"), (0, "1.1")];
    if size >= 128 * 1024 {
        candidates.push(((size & !0xFFFF) - 0x10000, "0.90"));
        candidates.push((((size - 8192) & !4095), "1.0"));
    }
    for (off, version) in candidates {
        let sb = dev.read_at(off, 4096)?;
        if sb.len() < 256 || le32(&sb, 0) != MAGIC {
            continue;
        }
        let found = if version == "0.90" {
            v090(&sb)
        } else {
            v1(&sb, off, version)
        };
        if let Some(m) = found {
            let mut sub = None;
            if version != "0.90" {
                sub = Some(uuid(&sb, 168));
            }
            let hex = m.array_uuid.replace(':', "");
            return Ok(Some((
                Superblock {
                    fstype: "linux_raid_member".into(),
                    uuid: Some(format!(
                        "{}-{}-{}-{}-{}",
                        &hex[0..8],
                        &hex[8..12],
                        &hex[12..16],
                        &hex[16..20],
                        &hex[20..32]
                    )),
                    uuid_sub: sub,
                    label: m.array_name.clone(),
                    version: Some(m.metadata.clone()),
                    ..Default::default()
                },
                m,
            )));
        }
    }
    Ok(None)
}

fn level_name(level: i32) -> String {
    match level {
        -1 => "linear".into(),
        -4 => "multipath".into(),
        -5 => "faulty".into(),
        n if n >= 0 => format!("raid{n}"),
        n => format!("level {n}"),
    }
}

fn colon_uuid(raw: &[u8]) -> String {
    raw.chunks(4)
        .map(|c| c.iter().map(|b| format!("{b:02x}")).collect::<String>())
        .collect::<Vec<_>>()
        .join(":")
}

fn v090(sb: &[u8]) -> Option<MdMember> {
    if le32(sb, 4) != 0 || le32(sb, 8) != 90 {
        return None;
    }
    // set_uuid0 at 20, set_uuid1..3 at 52: mdadm joins them in this order.
    let mut raw = Vec::with_capacity(16);
    raw.extend_from_slice(&sb[20..24]);
    raw.extend_from_slice(&sb[52..64]);
    Some(MdMember {
        metadata: "0.90".into(),
        array_uuid: colon_uuid(&raw),
        array_name: None,
        level: level_name(le32(sb, 28) as i32),
        raid_disks: le32(sb, 40),
        component_size: Some(u64::from(le32(sb, 32)) * 1024),
    })
}

fn v1(sb: &[u8], off: u64, version: &str) -> Option<MdMember> {
    if le32(sb, 4) != 1 {
        return None;
    }
    // super_offset (at 144) must be where we found it, in 512-byte sectors.
    if le64(sb, 144) != off / 512 {
        return None;
    }
    Some(MdMember {
        metadata: version.into(),
        array_uuid: colon_uuid(&sb[16..32]),
        array_name: label(sb, 32, 32),
        level: level_name(le32(sb, 72) as i32),
        raid_disks: le32(sb, 92),
        component_size: le64(sb, 80).checked_mul(512),
    })
}

/// One `ARRAY` line of mdadm.conf (mdadm.conf(5)): the fallback when the devices cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConfArray {
    pub device: String,
    pub metadata: Option<String>,
    pub uuid: Option<String>,
    pub name: Option<String>,
    pub level: Option<String>,
    pub num_devices: Option<u32>,
}

pub fn parse_conf(text: &str) -> Vec<ConfArray> {
    let mut out = Vec::new();
    // Lines starting with white space continue the previous one.
    let mut joined: Vec<String> = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        if line.starts_with([' ', '\t']) {
            if let Some(last) = joined.last_mut() {
                last.push(' ');
                last.push_str(line.trim());
                continue;
            }
        }
        joined.push(line.trim().to_string());
    }
    for line in joined {
        let mut words = line.split_whitespace();
        if words.next() != Some("ARRAY") {
            continue;
        }
        let mut a = ConfArray::default();
        for w in words {
            match w.split_once('=') {
                Some(("metadata", v)) => a.metadata = Some(v.into()),
                Some(("UUID" | "uuid", v)) => a.uuid = Some(v.to_lowercase()),
                Some(("name", v)) => a.name = Some(v.into()),
                Some(("level", v)) => a.level = Some(v.into()),
                Some(("num-devices", v)) => a.num_devices = v.parse().ok(),
                Some(_) => {}
                None if a.device.is_empty() => a.device = w.into(),
                None => {}
            }
        }
        out.push(a);
    }
    out
}
