//! `/etc/fstab` of the scanned root (fstab(5)): what is mounted where at boot, by which
//! name (`UUID=`, `LABEL=`, `PARTUUID=`, `PARTLABEL=`, a `/dev` path), and swap.

use crate::walk::mounts::unescape;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FstabEntry {
    /// The first field as written (`UUID=…`, `/dev/mapper/vg-root`).
    pub spec: String,
    pub mount_point: String,
    pub fstype: String,
    pub options: String,
    pub dump: u32,
    pub pass: u32,
}

/// How an fstab spec names its device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spec {
    Uuid(String),
    Label(String),
    PartUuid(String),
    PartLabel(String),
    /// A path (`/dev/sda1`, `/dev/mapper/vg-lv`, `/swapfile`).
    Path(String),
    /// Anything else (`proc`, `tmpfs`, `server:/export`).
    Other(String),
}

impl FstabEntry {
    pub fn spec(&self) -> Spec {
        let s = self.spec.as_str();
        let (key, val) = s.split_once('=').unwrap_or(("", s));
        let val = val.trim_matches('"').to_string();
        match key {
            "UUID" => return Spec::Uuid(val.to_lowercase()),
            "LABEL" => return Spec::Label(val),
            "PARTUUID" => return Spec::PartUuid(val.to_lowercase()),
            "PARTLABEL" => return Spec::PartLabel(val),
            _ => {}
        }
        for (dir, f) in [
            ("/dev/disk/by-uuid/", Spec::Uuid as fn(String) -> Spec),
            ("/dev/disk/by-label/", Spec::Label),
            ("/dev/disk/by-partuuid/", Spec::PartUuid),
            ("/dev/disk/by-partlabel/", Spec::PartLabel),
        ] {
            if let Some(rest) = s.strip_prefix(dir) {
                let v = rest.to_string();
                return f(if dir.contains("uuid") {
                    v.to_lowercase()
                } else {
                    v
                });
            }
        }
        if s.starts_with('/') {
            Spec::Path(s.to_string())
        } else {
            Spec::Other(s.to_string())
        }
    }

    pub fn is_swap(&self) -> bool {
        self.fstype == "swap"
    }

    /// `subvol=` of a btrfs entry, without its leading `/`.
    pub fn subvolume(&self) -> Option<String> {
        option_value(&self.options, "subvol").map(|v| v.trim_start_matches('/').to_string())
    }
}

/// `key=value` out of a comma-separated option string.
pub fn option_value<'a>(options: &'a str, key: &str) -> Option<&'a str> {
    options
        .split(',')
        .find_map(|o| o.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
}

/// Every entry in file order; lines with fewer than two fields are skipped (as mount does).
pub fn parse(text: &str) -> Vec<FstabEntry> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<String> = line
            .split_whitespace()
            .map(|w| String::from_utf8_lossy(&unescape(w.as_bytes())).into_owned())
            .collect();
        if f.len() < 2 {
            continue;
        }
        let get = |i: usize, d: &str| f.get(i).cloned().unwrap_or_else(|| d.to_string());
        out.push(FstabEntry {
            spec: f[0].clone(),
            mount_point: f[1].clone(),
            fstype: get(2, "auto"),
            options: get(3, "defaults"),
            dump: get(4, "0").parse().unwrap_or(0),
            pass: get(5, "0").parse().unwrap_or(0),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_and_escapes() {
        let f = parse(
            "# comment\n\nUUID=ABCD-12 / ext4 defaults 0 1\nLABEL=my\\040disk /m vfat\n\
             /dev/disk/by-partuuid/AA-01 /b xfs ro 0 0\n/dev/mapper/vg-root /r\\040x btrfs subvol=/@,ro 0 0\n\
             server:/e /n nfs\nlonely\n",
        );
        assert_eq!(f.len(), 5, "a one-field line is skipped");
        assert_eq!(f[0].spec(), Spec::Uuid("abcd-12".into()));
        assert_eq!(f[1].spec(), Spec::Label("my disk".into()));
        assert_eq!((f[1].options.as_str(), f[1].pass), ("defaults", 0));
        assert_eq!(f[2].spec(), Spec::PartUuid("aa-01".into()));
        assert_eq!(f[3].mount_point, "/r x");
        assert_eq!(f[3].subvolume().as_deref(), Some("@"));
        assert_eq!(f[4].spec(), Spec::Other("server:/e".into()));
        assert_eq!(option_value("a,subvolid=5,b", "subvolid"), Some("5"));
        assert_eq!(option_value("subvolid", "subvolid"), None);
    }
}
