//! Which distribution the scanned root is: `/etc/os-release` first, then the release files
//! of hosts older than it (`/etc/oracle-release`, `/etc/redhat-release`, `/etc/SuSE-release`,
//! `/etc/lsb-release`, `/etc/debian_version`, `/etc/alpine-release`, `/etc/arch-release`).
//!
//! Rebuilds of RHEL (Oracle Linux, Scientific Linux, CentOS, Rocky, AlmaLinux, Amazon Linux)
//! are named as themselves: their `ID` says so, and on hosts without os-release the
//! distribution's own release file is read before `/etc/redhat-release` (Oracle Linux 6
//! ships a `/etc/redhat-release` that says "Red Hat Enterprise Linux").

use serde::Serialize;

use super::read;
use super::LiveSources;
use crate::rootfs::RootFs;

#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct Distribution {
    /// UForge's name for it where UForge has one (`RedHat Enterprise Linux`, `CentOS`,
    /// `Oracle Linux`, `Scientific Linux`, `SUSE Linux Enterprise Server`, `OpenSUSE`,
    /// `Debian`, `Ubuntu`, `Fedora Core`), else the distribution's own (`Rocky Linux`,
    /// `AlmaLinux`, `Amazon Linux`, `Alpine Linux`, `Arch Linux`, or os-release's `NAME`).
    pub name: Option<String>,
    /// os-release's `ID` (`rhel`, `ol`, `sles`, …), or the equivalent for old hosts.
    pub id: Option<String>,
    /// os-release's `VERSION_ID` (`7.9`, `12`, `22.04`, `15.5`), or the release file's number.
    pub version: Option<String>,
    pub pretty_name: Option<String>,
    /// CPU architecture of the root's own programs (`x86_64`, `aarch64`, `i686`, …).
    pub arch: Option<String>,
    /// UForge's family: always `linux` here.
    pub family: String,
    /// The lineage it belongs to: `rhel`, `fedora`, `suse`, `debian`, `alpine`, `arch`.
    pub lineage: Option<String>,
    /// Native package format: `rpm`, `deb`, `apk`, `pacman`.
    pub pkg_type: Option<String>,
    /// The file the facts came from (`/etc/os-release`, `/etc/redhat-release`, …).
    pub source: Option<String>,
}

impl Distribution {
    /// The scanned instance's distribution as the UForge API names it.
    pub fn to_uforge(&self) -> crate::uforge::Distribution {
        crate::uforge::Distribution {
            name: self.name.clone().unwrap_or_default(),
            version: self.version.clone().unwrap_or_default(),
            arch: self.arch.clone().unwrap_or_default(),
        }
    }
}

pub fn collect(root: &RootFs, live: &LiveSources) -> Distribution {
    let mut d = from_os_release(root).unwrap_or_else(|| from_release_files(root));
    d.family = "linux".into();
    if d.lineage.is_none() {
        d.lineage = d.id.as_deref().and_then(lineage_of).map(str::to_string);
    }
    d.pkg_type = d
        .lineage
        .as_deref()
        .and_then(pkg_type_of)
        .map(str::to_string);
    d.arch = root_arch(root).or_else(|| live_arch(root, live));
    d
}

fn from_os_release(root: &RootFs) -> Option<Distribution> {
    let (source, os) = ["/etc/os-release", "/usr/lib/os-release"]
        .iter()
        .find_map(|p| read::read_assignments(root, p).map(|m| (*p, m)))?;
    let id = os.get("ID").map(|s| s.to_ascii_lowercase())?;
    let like: Vec<String> = os
        .get("ID_LIKE")
        .map(|l| l.split_whitespace().map(str::to_ascii_lowercase).collect())
        .unwrap_or_default();
    let lineage = lineage_of(&id)
        .or_else(|| like.iter().find_map(|l| lineage_of(l)))
        .map(str::to_string);
    Some(Distribution {
        name: uforge_name(&id)
            .map(str::to_string)
            .or(os.get("NAME").cloned()),
        version: os.get("VERSION_ID").cloned(),
        pretty_name: os.get("PRETTY_NAME").cloned(),
        lineage,
        id: Some(id),
        source: Some(source.into()),
        ..Distribution::default()
    })
}

/// Hosts without os-release (RHEL/CentOS ≤ 6, SLES ≤ 11, Debian ≤ 6, Ubuntu ≤ 11.10).
fn from_release_files(root: &RootFs) -> Distribution {
    // A distribution's own file before the one it keeps for RHEL compatibility.
    for path in [
        "/etc/oracle-release",
        "/etc/enterprise-release",
        "/etc/system-release",
        "/etc/centos-release",
        "/etc/redhat-release",
    ] {
        if let Some(line) = read::first_line(root, path) {
            if let Some(d) = parse_redhat_release(&line) {
                return Distribution {
                    source: Some(path.into()),
                    ..d
                };
            }
        }
    }
    if let Some(text) = read::read_config(root, "/etc/SuSE-release") {
        return Distribution {
            source: Some("/etc/SuSE-release".into()),
            ..parse_suse_release(&text)
        };
    }
    if let Some(lsb) = read::read_assignments(root, "/etc/lsb-release") {
        if let Some(id) = lsb.get("DISTRIB_ID").map(|s| s.to_ascii_lowercase()) {
            return Distribution {
                name: uforge_name(&id)
                    .map(str::to_string)
                    .or(lsb.get("DISTRIB_ID").cloned()),
                version: lsb.get("DISTRIB_RELEASE").cloned(),
                pretty_name: lsb.get("DISTRIB_DESCRIPTION").cloned(),
                id: Some(id),
                source: Some("/etc/lsb-release".into()),
                ..Distribution::default()
            };
        }
    }
    if let Some(v) = read::first_line(root, "/etc/debian_version") {
        // "6.0.10" is Debian 6 (VERSION_ID style); "bookworm/sid" is testing: no number.
        let version = v
            .split('.')
            .next()
            .filter(|m| m.chars().all(|c| c.is_ascii_digit()) && !m.is_empty())
            .map(|m| {
                if m.parse::<u32>().unwrap_or(0) < 7 {
                    v.splitn(3, '.').take(2).collect::<Vec<_>>().join(".")
                } else {
                    m.to_string()
                }
            });
        return Distribution {
            name: Some("Debian".into()),
            id: Some("debian".into()),
            pretty_name: Some(format!("Debian GNU/Linux {v}")),
            version,
            source: Some("/etc/debian_version".into()),
            ..Distribution::default()
        };
    }
    if let Some(v) = read::first_line(root, "/etc/alpine-release") {
        return Distribution {
            name: Some("Alpine Linux".into()),
            id: Some("alpine".into()),
            pretty_name: Some(format!("Alpine Linux v{v}")),
            version: Some(v),
            source: Some("/etc/alpine-release".into()),
            ..Distribution::default()
        };
    }
    if read::exists(root, "/etc/arch-release") {
        return Distribution {
            name: Some("Arch Linux".into()),
            id: Some("arch".into()),
            source: Some("/etc/arch-release".into()),
            ..Distribution::default()
        };
    }
    Distribution::default()
}

/// `Red Hat Enterprise Linux Server release 6.10 (Santiago)`, `CentOS release 6.10 (Final)`,
/// `Scientific Linux release 6.10 (Carbon)`, `Oracle Linux Server release 6.10`,
/// `Enterprise Linux Enterprise Linux Server release 5.11 (Carthage)` (Oracle's 5.x).
pub fn parse_redhat_release(line: &str) -> Option<Distribution> {
    let (product, rest) = line.split_once(" release ")?;
    let version = rest.split_whitespace().next().map(str::to_string);
    let p = product.to_ascii_lowercase();
    let id = if p.starts_with("red hat enterprise linux") {
        "rhel"
    } else if p.starts_with("centos") {
        "centos"
    } else if p.starts_with("scientific linux") {
        "scientific"
    } else if p.starts_with("oracle linux") || p.starts_with("enterprise linux") {
        "ol"
    } else if p.starts_with("rocky linux") {
        "rocky"
    } else if p.starts_with("almalinux") {
        "almalinux"
    } else if p.starts_with("amazon linux") {
        "amzn"
    } else if p.starts_with("fedora") {
        "fedora"
    } else {
        // Another rebuild: its own name, the RHEL lineage.
        return Some(Distribution {
            name: Some(product.trim().to_string()),
            version,
            pretty_name: Some(line.trim().to_string()),
            lineage: Some("rhel".into()),
            ..Distribution::default()
        });
    };
    Some(Distribution {
        name: uforge_name(id).map(str::to_string),
        id: Some(id.into()),
        version,
        pretty_name: Some(line.trim().to_string()),
        ..Distribution::default()
    })
}

/// `SUSE Linux Enterprise Server 11 (x86_64)` / `VERSION = 11` / `PATCHLEVEL = 4`.
pub fn parse_suse_release(text: &str) -> Distribution {
    let first = text.lines().next().unwrap_or("").trim();
    let value = |key: &str| {
        text.lines().find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == key).then(|| v.trim().to_string())
        })
    };
    let opensuse = first.to_ascii_lowercase().starts_with("opensuse");
    let id = if opensuse { "opensuse" } else { "sles" };
    let version = match (value("VERSION"), value("PATCHLEVEL")) {
        (Some(v), Some(p)) if p != "0" => Some(format!("{v}.{p}")),
        (v, _) => v,
    };
    let pretty = first
        .rsplit_once(" (")
        .map_or(first, |(name, _)| name)
        .to_string();
    Distribution {
        name: uforge_name(id).map(str::to_string),
        id: Some(id.into()),
        version,
        pretty_name: (!pretty.is_empty()).then_some(pretty),
        ..Distribution::default()
    }
}

/// UForge's distribution names (its XSD enum), and livescan's for the rest.
fn uforge_name(id: &str) -> Option<&'static str> {
    Some(match id {
        "rhel" | "redhat" | "redhatenterpriseserver" => "RedHat Enterprise Linux",
        "centos" => "CentOS",
        "ol" | "oracle" => "Oracle Linux",
        "scientific" | "scientificsl" => "Scientific Linux",
        "rocky" => "Rocky Linux",
        "almalinux" => "AlmaLinux",
        "amzn" => "Amazon Linux",
        "fedora" => "Fedora Core",
        "sles" | "sles_sap" => "SUSE Linux Enterprise Server",
        "sled" => "SUSE Linux Enterprise Desktop",
        "opensuse" | "opensuse-leap" | "opensuse-tumbleweed" => "OpenSUSE",
        "debian" => "Debian",
        "ubuntu" => "Ubuntu",
        "alpine" => "Alpine Linux",
        "arch" | "archlinux" => "Arch Linux",
        _ => return None,
    })
}

fn lineage_of(id: &str) -> Option<&'static str> {
    Some(match id {
        "rhel"
        | "redhat"
        | "redhatenterpriseserver"
        | "centos"
        | "ol"
        | "oracle"
        | "scientific"
        | "scientificsl"
        | "rocky"
        | "almalinux"
        | "amzn" => "rhel",
        "fedora" => "fedora",
        "sles"
        | "sles_sap"
        | "sled"
        | "suse"
        | "opensuse"
        | "opensuse-leap"
        | "opensuse-tumbleweed" => "suse",
        "debian" | "ubuntu" => "debian",
        "alpine" => "alpine",
        "arch" | "archlinux" => "arch",
        _ => return None,
    })
}

fn pkg_type_of(lineage: &str) -> Option<&'static str> {
    Some(match lineage {
        "rhel" | "fedora" | "suse" => "rpm",
        "debian" => "deb",
        "alpine" => "apk",
        "arch" => "pacman",
        _ => return None,
    })
}

/// The architecture the root's own programs are built for, from an ELF header: the target
/// image needs the userland's architecture (an i686 userland can run on an x86_64 kernel).
fn root_arch(root: &RootFs) -> Option<String> {
    use std::io::Read;
    for prog in [
        "/bin/sh",
        "/usr/bin/env",
        "/bin/busybox",
        "/usr/bin/ls",
        "/bin/ls",
    ] {
        let Ok(f) = std::fs::File::open(read::resolve(root, prog)) else {
            continue;
        };
        let mut head = [0u8; 20];
        if f.take(20).read_exact(&mut head).is_ok() {
            if let Some(a) = elf_arch(&head) {
                return Some(a.to_string());
            }
        }
    }
    None
}

/// `e_machine` (and class/byte order where they matter) of an ELF header, as `uname -m`
/// spells the architecture.
pub fn elf_arch(head: &[u8; 20]) -> Option<&'static str> {
    if &head[..4] != b"\x7fELF" {
        return None;
    }
    let (class64, little) = (head[4] == 2, head[5] == 1);
    let machine = if little {
        u16::from_le_bytes([head[18], head[19]])
    } else {
        u16::from_be_bytes([head[18], head[19]])
    };
    Some(match (machine, class64, little) {
        (62, _, _) => "x86_64",
        (3, _, _) => "i686",
        (183, _, _) => "aarch64",
        (40, _, _) => "armv7l",
        (21, _, true) => "ppc64le",
        (21, _, false) => "ppc64",
        (20, _, _) => "ppc",
        (22, true, _) => "s390x",
        (22, false, _) => "s390",
        (243, true, _) => "riscv64",
        (258, _, _) => "loongarch64",
        _ => return None,
    })
}

/// With no readable program, the running kernel's architecture, only for the running host.
fn live_arch(root: &RootFs, live: &LiveSources) -> Option<String> {
    if let Some(t) = live.read_proc_text("sys/kernel/arch") {
        let t = t.trim();
        if !t.is_empty() {
            return Some(t.to_string());
        }
    }
    root.is_host_root()
        .then(|| nix::sys::utsname::uname().ok())
        .flatten()
        .map(|u| u.machine().to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebuilds_are_themselves() {
        let d = parse_redhat_release("Scientific Linux release 6.10 (Carbon)").unwrap();
        assert_eq!(d.name.as_deref(), Some("Scientific Linux"));
        assert_eq!(d.version.as_deref(), Some("6.10"));
        let d = parse_redhat_release(
            "Enterprise Linux Enterprise Linux Server release 5.11 (Carthage)",
        )
        .unwrap();
        assert_eq!(d.name.as_deref(), Some("Oracle Linux"));
        let d = parse_redhat_release("Red Hat Enterprise Linux Server release 6.10 (Santiago)")
            .unwrap();
        assert_eq!(d.id.as_deref(), Some("rhel"));
        let d = parse_redhat_release("Virtuozzo Linux release 7.9").unwrap();
        assert_eq!(d.name.as_deref(), Some("Virtuozzo Linux"));
        assert_eq!(d.lineage.as_deref(), Some("rhel"));
        assert!(parse_redhat_release("garbage").is_none());
    }

    #[test]
    fn suse_release() {
        let d = parse_suse_release(
            "SUSE Linux Enterprise Server 11 (x86_64)\nVERSION = 11\nPATCHLEVEL = 4\n",
        );
        assert_eq!(d.version.as_deref(), Some("11.4"));
        assert_eq!(
            d.pretty_name.as_deref(),
            Some("SUSE Linux Enterprise Server 11")
        );
        let d =
            parse_suse_release("openSUSE 13.2 (x86_64)\nVERSION = 13.2\nCODENAME = Harlequin\n");
        assert_eq!(d.name.as_deref(), Some("OpenSUSE"));
        assert_eq!(d.version.as_deref(), Some("13.2"));
    }

    #[test]
    fn elf_header_of_this_host() {
        use std::io::Read;
        let mut head = [0u8; 20];
        std::fs::File::open("/bin/sh")
            .unwrap()
            .read_exact(&mut head)
            .unwrap();
        let uname = nix::sys::utsname::uname().unwrap();
        assert_eq!(
            elf_arch(&head),
            Some(uname.machine().to_str().unwrap()),
            "the ELF header of /bin/sh names this machine's architecture"
        );
        assert_eq!(elf_arch(&[0u8; 20]), None);
    }
}
