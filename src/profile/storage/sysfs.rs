//! The kernel's view of block devices: `/sys/block/<dev>` (size in 512-byte sectors,
//! `queue/logical_block_size`, `removable`, partitions as subdirectories with a `partition`
//! file, `holders/` and `slaves/`, `dm/name`, `md/level`).

use std::fs;
use std::path::Path;

/// Devices that are never disks of the host: memory-backed, loop-mounted images, network
/// block devices, floppies and optical drives.
const NOT_DISKS: [&str; 6] = ["loop", "ram", "zram", "nbd", "fd", "sr"];

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SysBlock {
    pub name: String,
    /// `major:minor`.
    pub dev: String,
    /// Bytes.
    pub size: u64,
    pub logical_block_size: u32,
    pub removable: bool,
    pub read_only: bool,
    pub model: Option<String>,
    pub partitions: Vec<SysPart>,
    pub holders: Vec<String>,
    pub slaves: Vec<String>,
    pub dm_name: Option<String>,
    pub dm_uuid: Option<String>,
    pub md: Option<SysMd>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SysPart {
    pub name: String,
    pub dev: String,
    pub number: u32,
    /// Bytes from the start of the disk.
    pub start: u64,
    pub size: u64,
    pub holders: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SysMd {
    pub level: Option<String>,
    pub raid_disks: Option<u32>,
    pub metadata_version: Option<String>,
    pub array_state: Option<String>,
}

impl SysBlock {
    pub fn is_dm(&self) -> bool {
        self.dm_name.is_some() || self.name.starts_with("dm-")
    }
    pub fn is_md(&self) -> bool {
        self.md.is_some() || self.name.starts_with("md")
    }
    /// A disk of the host (not virtual, not removable media, not a loop image).
    pub fn is_disk(&self) -> bool {
        !self.is_dm()
            && !self.is_md()
            && !self.removable
            && !NOT_DISKS.iter().any(|p| {
                self.name.strip_prefix(p).is_some_and(|rest| {
                    rest.is_empty() || rest.starts_with(|c: char| c.is_ascii_digit())
                })
            })
    }
}

fn text(p: &Path) -> Option<String> {
    let s = fs::read_to_string(p).ok()?;
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

fn num<T: std::str::FromStr>(p: &Path) -> Option<T> {
    text(p)?.parse().ok()
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Every device under `block` (a `/sys/block` or a captured copy), sorted by name.
pub fn read_block_dir(block: &Path) -> std::io::Result<Vec<SysBlock>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(block)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        out.push(read_one(&block.join(&name), name));
    }
    out.sort_by_key(|b| natural(&b.name));
    Ok(out)
}

/// `sda2` before `sda10`: names split into text and number runs.
fn natural(s: &str) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut digits = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            if !digits.is_empty() {
                out.push((
                    std::mem::take(&mut text),
                    digits.parse().unwrap_or(u64::MAX),
                ));
                digits.clear();
            }
            text.push(c);
        }
    }
    out.push((text, digits.parse().unwrap_or(0)));
    out
}

fn read_one(d: &Path, name: String) -> SysBlock {
    let sectors: u64 = num(&d.join("size")).unwrap_or(0);
    let mut partitions = Vec::new();
    for sub in names(d) {
        let p = d.join(&sub);
        let Some(number) = num::<u32>(&p.join("partition")) else {
            continue;
        };
        partitions.push(SysPart {
            number,
            dev: text(&p.join("dev")).unwrap_or_default(),
            start: num::<u64>(&p.join("start"))
                .unwrap_or(0)
                .saturating_mul(512),
            size: num::<u64>(&p.join("size")).unwrap_or(0).saturating_mul(512),
            holders: names(&p.join("holders")),
            name: sub,
        });
    }
    partitions.sort_by_key(|p| p.number);
    let md = d.join("md").is_dir().then(|| SysMd {
        level: text(&d.join("md/level")),
        raid_disks: num(&d.join("md/raid_disks")),
        metadata_version: text(&d.join("md/metadata_version")),
        array_state: text(&d.join("md/array_state")),
    });
    SysBlock {
        dev: text(&d.join("dev")).unwrap_or_default(),
        size: sectors.saturating_mul(512),
        logical_block_size: num(&d.join("queue/logical_block_size")).unwrap_or(512),
        removable: num::<u8>(&d.join("removable")).unwrap_or(0) == 1,
        read_only: num::<u8>(&d.join("ro")).unwrap_or(0) == 1,
        model: text(&d.join("device/model")),
        partitions,
        holders: names(&d.join("holders")),
        slaves: names(&d.join("slaves")),
        dm_name: text(&d.join("dm/name")),
        dm_uuid: text(&d.join("dm/uuid")),
        md,
        name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_by_their_numbers() {
        let mut v = vec!["sda10", "sdb", "sda2", "nvme10n1", "nvme2n1", "sda"];
        v.sort_by_key(|n| natural(n));
        assert_eq!(v, ["nvme2n1", "nvme10n1", "sda", "sda2", "sda10", "sdb"]);
    }

    #[test]
    fn what_is_not_a_disk() {
        let b = |name: &str, removable: bool| SysBlock {
            name: name.into(),
            removable,
            ..Default::default()
        };
        for n in ["sda", "vda", "xvda", "nvme0n1", "mmcblk0", "loopy", "srx"] {
            assert!(b(n, false).is_disk(), "{n}");
        }
        for n in [
            "loop0", "zram0", "ram0", "nbd3", "sr0", "fd0", "dm-0", "md127",
        ] {
            assert!(!b(n, false).is_disk(), "{n}");
        }
        assert!(!b("sdc", true).is_disk(), "removable media");
    }
}
