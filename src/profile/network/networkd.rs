//! systemd-networkd: `*.network` and `*.netdev` in `/etc/systemd/network`,
//! `/run/systemd/network`, `/usr/local/lib/systemd/network`, `/usr/lib/systemd/network`
//! (and `/lib/…` before merged /usr).
//!
//! A file name in an earlier directory hides the same name in a later one (a link to
//! `/dev/null` or an empty file masks it); the `.network` files are then taken in the
//! lexical order of their names and each link gets the *first* one whose `[Match]` fits —
//! [`Networkd::networks`] keeps that order for the merge.

use std::collections::{BTreeMap, HashSet};

use super::addr::{self, address_from, parse_ip};
use super::files::Reader;
use super::ini::{self, boolean, Section};
use super::{ConfigFormat, IfaceConfig, IpFamily, Ipv4Method, Ipv6Method, MatchRule, NicKind};

const DIRS: [&str; 5] = [
    "/etc/systemd/network",
    "/run/systemd/network",
    "/usr/local/lib/systemd/network",
    "/usr/lib/systemd/network",
    "/lib/systemd/network",
];

#[derive(Debug, Default)]
pub struct Networkd {
    /// `.network` stanzas in networkd's order (first match wins per link).
    pub networks: Vec<IfaceConfig>,
    /// `.netdev` virtual devices (they define a link; their `.network` configures it).
    pub netdevs: Vec<IfaceConfig>,
}

pub fn collect(reader: &mut Reader) -> Networkd {
    let mut chosen: BTreeMap<String, String> = BTreeMap::new();
    let mut seen_dirs = HashSet::new();
    for dir in DIRS {
        // /lib is /usr/lib on merged-/usr systems: read it once.
        if !seen_dirs.insert(reader.resolve(dir)) {
            continue;
        }
        for name in reader.list(dir) {
            if name.ends_with(".network") || name.ends_with(".netdev") {
                chosen.entry(name).or_insert_with(|| dir.to_string());
            }
        }
    }
    let mut out = Networkd::default();
    let mut vlan_parents: BTreeMap<String, String> = BTreeMap::new();
    for (name, dir) in chosen {
        let path = format!("{dir}/{name}");
        if reader.is_masked(&path) {
            continue;
        }
        let Some(text) = reader.read(&path, ConfigFormat::Networkd) else {
            continue;
        };
        let sections = ini::parse(&text);
        if name.ends_with(".network") {
            // `VLAN=` in a link's .network makes that link the VLAN's parent.
            let link = network(&path, &name, &sections);
            if let Some(parent) = &link.interface {
                for v in words(all(&sections, "Network", "VLAN")) {
                    vlan_parents.entry(v).or_insert_with(|| parent.clone());
                }
            }
            out.networks.push(link);
        } else if let Some(dev) = netdev(&path, &sections) {
            out.netdevs.push(dev);
        }
    }
    for dev in out.netdevs.iter_mut() {
        if dev.kind == Some(NicKind::Vlan) && dev.vlan_parent.is_none() {
            let name = dev.interface.as_deref().unwrap_or("");
            dev.vlan_parent = vlan_parents.get(name).cloned();
        }
    }
    out
}

fn all<'s>(sections: &'s [Section], name: &str, key: &str) -> Vec<&'s str> {
    sections
        .iter()
        .filter(|s| s.name == name)
        .flat_map(|s| s.all(key))
        .collect()
}

fn last<'s>(sections: &'s [Section], name: &str, key: &str) -> Option<&'s str> {
    sections
        .iter()
        .rev()
        .filter(|s| s.name == name)
        .find_map(|s| s.get(key))
        .filter(|v| !v.is_empty())
}

fn words(values: Vec<&str>) -> Vec<String> {
    values
        .into_iter()
        .flat_map(str::split_whitespace)
        .map(str::to_string)
        .collect()
}

pub(super) fn network(path: &str, file: &str, sections: &[Section]) -> IfaceConfig {
    let mut c = IfaceConfig::new(path, ConfigFormat::Networkd);
    c.id = Some(file.to_string());
    let rule = MatchRule {
        names: words(all(sections, "Match", "Name")),
        macs: words(all(sections, "Match", "MACAddress"))
            .iter()
            .filter_map(|m| addr::parse_mac(m))
            .collect(),
        drivers: words(all(sections, "Match", "Driver")),
        types: words(all(sections, "Match", "Type")),
        other: sections
            .iter()
            .filter(|s| s.name == "Match")
            .flat_map(|s| s.entries.iter())
            .filter(|(k, _)| !["Name", "MACAddress", "Driver", "Type"].contains(&k.as_str()))
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
    };
    let literal = rule.names.len() == 1
        && !rule.names[0].contains(['*', '?', '[', '!'])
        && rule.macs.is_empty()
        && rule.drivers.is_empty()
        && rule.types.is_empty()
        && rule.other.is_empty();
    if literal {
        c.interface = Some(rule.names[0].clone());
    } else {
        c.match_rule = Some(rule);
    }
    c.mac = last(sections, "Link", "MACAddress").and_then(addr::parse_mac);
    c.mtu = last(sections, "Link", "MTUBytes").and_then(|m| m.parse().ok());
    let unmanaged = last(sections, "Link", "Unmanaged").and_then(boolean) == Some(true);
    let policy = last(sections, "Link", "ActivationPolicy");
    c.auto_connect = Some(!unmanaged && !matches!(policy, Some("manual" | "always-down" | "down")));

    let mut addrs = words(all(sections, "Network", "Address"));
    addrs.extend(words(all(sections, "Address", "Address")));
    c.addresses = addrs.iter().filter_map(|a| address_from(a)).collect();
    for g in words(all(sections, "Network", "Gateway")) {
        if let Some(ip) = parse_ip(&g) {
            match ip.is_ipv4() {
                true => c.gateway4 = c.gateway4.take().or(Some(ip.to_string())),
                false => c.gateway6 = c.gateway6.take().or(Some(ip.to_string())),
            }
        }
    }
    let dev = c.interface.clone();
    for s in sections.iter().filter(|s| s.name == "Route") {
        let dest = s.get("Destination").unwrap_or("default");
        let dest = if dest == "0.0.0.0/0" || dest == "::/0" {
            "default"
        } else {
            dest
        };
        let metric = s.get("Metric").and_then(|m| m.parse().ok());
        if let Some(r) = addr::route(dest, None, s.get("Gateway"), dev.as_deref(), metric, path) {
            if r.is_default() {
                match r.family {
                    IpFamily::Ipv4 => c.gateway4 = c.gateway4.take().or(r.gateway.clone()),
                    IpFamily::Ipv6 => c.gateway6 = c.gateway6.take().or(r.gateway.clone()),
                }
            }
            c.routes.push(r);
        }
    }
    c.dns = words(all(sections, "Network", "DNS"))
        .iter()
        .filter_map(|d| parse_ip(d.split('#').next().unwrap_or("")))
        .map(|d| d.to_string())
        .collect();
    c.dns_search = words(all(sections, "Network", "Domains"))
        .into_iter()
        .map(|d| d.trim_start_matches('~').to_string())
        .filter(|d| !d.is_empty())
        .collect();
    c.master = last(sections, "Network", "Bond")
        .or(last(sections, "Network", "Bridge"))
        .map(str::to_string);

    let dhcp = last(sections, "Network", "DHCP")
        .unwrap_or("no")
        .to_ascii_lowercase();
    c.method_raw.push(format!("DHCP={dhcp}"));
    let dhcp_both = boolean(&dhcp) == Some(true) || dhcp == "both";
    let ra = last(sections, "Network", "IPv6AcceptRA").and_then(boolean);
    if let Some(ra) = ra {
        c.method_raw.push(format!("IPv6AcceptRA={ra}"));
    }
    let has = |f: IpFamily| c.addresses.iter().any(|a| a.family == f);
    c.ipv4_method = Some(if dhcp_both || dhcp == "ipv4" || dhcp == "v4" {
        Ipv4Method::Automatic
    } else if has(IpFamily::Ipv4) && c.master.is_none() {
        Ipv4Method::Manual
    } else {
        Ipv4Method::Disabled
    });
    c.ipv6_method = if dhcp_both || dhcp == "ipv6" || dhcp == "v6" || ra == Some(true) {
        Some(Ipv6Method::Automatic)
    } else if has(IpFamily::Ipv6) {
        Some(Ipv6Method::Manual)
    } else if ra == Some(false) {
        Some(Ipv6Method::Ignore)
    } else {
        None
    };
    c
}

pub(super) fn netdev(path: &str, sections: &[Section]) -> Option<IfaceConfig> {
    let name = last(sections, "NetDev", "Name")?;
    let mut c = IfaceConfig::new(path, ConfigFormat::Networkd);
    c.interface = Some(name.to_string());
    c.id = path.rsplit('/').next().map(str::to_string);
    c.kind = Some(match last(sections, "NetDev", "Kind").unwrap_or("") {
        "bond" => NicKind::Bond,
        "bridge" => NicKind::Bridge,
        "vlan" => NicKind::Vlan,
        "veth" => NicKind::Veth,
        "tun" | "tap" | "wireguard" | "gre" | "gretap" | "ipip" | "sit" | "vxlan" | "geneve" => {
            NicKind::Tunnel
        }
        _ => NicKind::Virtual,
    });
    c.mac = last(sections, "NetDev", "MACAddress").and_then(addr::parse_mac);
    c.mtu = last(sections, "NetDev", "MTUBytes").and_then(|m| m.parse().ok());
    c.vlan_id = last(sections, "VLAN", "Id").and_then(|i| i.parse().ok());
    Some(c)
}
