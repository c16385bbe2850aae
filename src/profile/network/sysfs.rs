//! Live links from `/sys/class/net/<if>/`: MAC, driver, operstate, MTU, ifindex, and
//! what kind of device it is. A `device` link means hardware (or a hypervisor's virtio
//! device) backs it; loopback, bridges, veth, tun and the like have none.

use std::path::Path;

use super::addr;
use super::files::{read_bounded, MAX_DIR_ENTRIES};
use super::{LiveSources, NicKind};

/// One link as sysfs shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub name: String,
    pub ifindex: Option<u32>,
    pub mac: Option<String>,
    pub driver: Option<String>,
    pub operstate: Option<String>,
    pub mtu: Option<u32>,
    pub physical: bool,
    pub kind: NicKind,
    pub master: Option<String>,
}

pub fn collect(live: &LiveSources, notes: &mut Vec<String>) -> Option<Vec<Link>> {
    let dir = live.sys("class/net")?;
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) => {
            notes.push(format!("{}: {e}", dir.display()));
            return None;
        }
    };
    let mut links = Vec::new();
    for entry in entries.flatten() {
        if links.len() >= MAX_DIR_ENTRIES {
            notes.push(format!(
                "{}: more than {MAX_DIR_ENTRIES} links",
                dir.display()
            ));
            break;
        }
        let path = entry.path();
        // `bonding_masters` is a file beside the links.
        if !path.is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        links.push(link(&path, name));
    }
    links.sort_by(|a, b| (a.ifindex, &a.name).cmp(&(b.ifindex, &b.name)));
    Some(links)
}

/// One attribute. sysfs answers errors (EINVAL from a down link's attributes) that say
/// nothing about the scan, so they are not noted: the fact is just unknown.
fn text(dir: &Path, file: &str) -> Option<String> {
    let p = dir.join(file);
    let t = read_bounded(&p, &mut Vec::new(), "")?;
    let t = t.trim().to_string();
    (!t.is_empty()).then_some(t)
}

fn link_name(path: &Path) -> Option<String> {
    let target = std::fs::read_link(path).ok()?;
    Some(target.file_name()?.to_string_lossy().into_owned())
}

fn link(dir: &Path, name: String) -> Link {
    let ifindex = text(dir, "ifindex").and_then(|t| t.parse().ok());
    let mtu = text(dir, "mtu").and_then(|t| t.parse().ok());
    let arp_type: Option<u32> = text(dir, "type").and_then(|t| t.parse().ok());
    let mac = text(dir, "address").and_then(|m| addr::parse_mac(&m));
    let operstate = text(dir, "operstate");
    let device = dir.join("device");
    let physical = device.symlink_metadata().is_ok();
    let driver = link_name(&device.join("driver"));
    let master = link_name(&dir.join("master"));
    let devtype = text(dir, "uevent")
        .and_then(|u| {
            u.lines()
                .find_map(|l| l.strip_prefix("DEVTYPE=").map(str::to_string))
        })
        .unwrap_or_default();
    let has = |f: &str| dir.join(f).symlink_metadata().is_ok();
    let kind = match (arp_type, devtype.as_str()) {
        (Some(772), _) => NicKind::Loopback,
        (_, "bond") => NicKind::Bond,
        (_, "team") => NicKind::Team,
        (_, "bridge") => NicKind::Bridge,
        (_, "vlan") => NicKind::Vlan,
        (_, "wlan") | (_, "wwan") => NicKind::Wireless,
        _ if has("bonding") => NicKind::Bond,
        _ if has("bridge") => NicKind::Bridge,
        _ if has("wireless") || has("phy80211") => NicKind::Wireless,
        _ if has("tun_flags") => NicKind::Tunnel,
        (Some(32), _) => NicKind::Infiniband,
        (Some(1), _) if physical => NicKind::Ethernet,
        // `none` (65534), GRE, sit, ip6tnl, WireGuard: all tunnels of some sort.
        (Some(65534 | 768 | 769 | 776 | 778 | 823), _) => NicKind::Tunnel,
        _ if name.starts_with("veth") => NicKind::Veth,
        _ if physical => NicKind::Ethernet,
        _ => NicKind::Virtual,
    };
    Link {
        name,
        ifindex,
        mac: mac.filter(|m| kind != NicKind::Loopback || m != "00:00:00:00:00:00"),
        driver,
        operstate,
        mtu,
        physical,
        kind,
        master,
    }
}
