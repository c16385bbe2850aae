//! netplan (`/etc/netplan`, `/run/netplan`, `/lib/netplan` `*.yaml`): `network:` with
//! `ethernets`, `bonds`, `bridges`, `vlans`, `wifis`, …
//!
//! netplan reads the files of all three directories in the lexical order of their names, a
//! name in `/run` hiding the same name in `/etc`, which hides `/lib`; later files override
//! earlier ones. The stanzas are returned last file first, so the merge (which takes each
//! setting from the first stanza that has it) sees the overriding file first.

use std::collections::BTreeMap;

use super::addr::{self, address_from, parse_ip};
use super::files::Reader;
use super::yaml::{self, Node};
use super::{ConfigFormat, IfaceConfig, IpFamily, Ipv4Method, Ipv6Method, MatchRule, NicKind};

const DIRS: [&str; 3] = ["/run/netplan", "/etc/netplan", "/lib/netplan"];

const SECTIONS: [(&str, NicKind); 10] = [
    ("ethernets", NicKind::Ethernet),
    ("wifis", NicKind::Wireless),
    ("modems", NicKind::Wireless),
    ("virtual-ethernets", NicKind::Veth),
    ("bonds", NicKind::Bond),
    ("bridges", NicKind::Bridge),
    ("vlans", NicKind::Vlan),
    ("tunnels", NicKind::Tunnel),
    ("vrfs", NicKind::Virtual),
    ("dummy-devices", NicKind::Virtual),
];

pub fn collect(reader: &mut Reader) -> Vec<IfaceConfig> {
    // Name → the directory that wins for it.
    let mut chosen: BTreeMap<String, &str> = BTreeMap::new();
    for dir in DIRS {
        for name in reader.list(dir) {
            if name.ends_with(".yaml") {
                chosen.entry(name).or_insert(dir);
            }
        }
    }
    let mut out = Vec::new();
    for (name, dir) in chosen {
        let path = format!("{dir}/{name}");
        let Some(text) = reader.read(&path, ConfigFormat::Netplan) else {
            continue;
        };
        match yaml::parse(&text) {
            Ok(doc) => {
                let mut stanzas = parse_doc(&path, &doc);
                stanzas.reverse();
                out.push(stanzas);
            }
            Err(e) => reader.notes.push(format!("{path}: not valid YAML: {e}")),
        }
    }
    out.into_iter().rev().flatten().collect()
}

/// Stanzas of one file, in file order.
pub fn parse_doc(path: &str, doc: &Node) -> Vec<IfaceConfig> {
    let Some(network) = doc.get("network") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (section, kind) in SECTIONS {
        let Some(devices) = network.get(section) else {
            continue;
        };
        for (id, dev) in devices.entries() {
            out.push(device(path, id, dev, kind));
        }
    }
    out
}

fn strings(node: Option<&Node>) -> Vec<String> {
    match node {
        Some(Node::Seq(items)) => items
            .iter()
            .filter_map(|n| n.str())
            .map(str::to_string)
            .collect(),
        Some(Node::Scalar(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

fn device(path: &str, id: &str, dev: &Node, kind: NicKind) -> IfaceConfig {
    let mut c = IfaceConfig::new(path, ConfigFormat::Netplan);
    c.id = Some(id.to_string());
    // netplan configures loopback under `ethernets: lo:`.
    c.kind = Some(if id == "lo" { NicKind::Loopback } else { kind });
    let set_name = dev.get("set-name").and_then(Node::str);
    match dev.get("match") {
        Some(m) if set_name.is_none() => {
            c.match_rule = Some(MatchRule {
                names: strings(m.get("name")),
                macs: strings(m.get("macaddress"))
                    .iter()
                    .filter_map(|s| addr::parse_mac(s))
                    .collect(),
                drivers: strings(m.get("driver")),
                ..MatchRule::default()
            })
        }
        Some(m) => {
            c.interface = set_name.map(str::to_string);
            c.mac = strings(m.get("macaddress"))
                .first()
                .and_then(|s| addr::parse_mac(s));
        }
        None => c.interface = Some(id.to_string()),
    }
    if let Some(mac) = dev.get("macaddress").and_then(Node::str) {
        c.mac = addr::parse_mac(mac).or(c.mac.take());
    }
    c.mtu = dev
        .get("mtu")
        .and_then(Node::str)
        .and_then(|m| m.parse().ok());
    c.auto_connect = Some(!matches!(
        dev.get("activation-mode").and_then(Node::str),
        Some("manual") | Some("off")
    ));

    for a in dev.get("addresses").map(Node::items).unwrap_or(&[]) {
        // `- 10.0.0.5/24` or `- 10.0.0.5/24: {label: …, lifetime: …}`.
        let text = match a {
            Node::Scalar(s) => Some(s.as_str()),
            Node::Map(e) => e.first().map(|(k, _)| k.as_str()),
            _ => None,
        };
        if let Some(a) = text.and_then(address_from) {
            c.addresses.push(a);
        }
    }
    c.gateway4 = dev
        .get("gateway4")
        .and_then(Node::str)
        .and_then(parse_ip)
        .map(|g| g.to_string());
    c.gateway6 = dev
        .get("gateway6")
        .and_then(Node::str)
        .and_then(parse_ip)
        .map(|g| g.to_string());
    let dev_name = c.interface.clone().unwrap_or_else(|| id.to_string());
    for r in dev.get("routes").map(Node::items).unwrap_or(&[]) {
        let to = r.get("to").and_then(Node::str).unwrap_or("");
        let to = match to {
            "0.0.0.0/0" | "::/0" => "default",
            t => t,
        };
        let via = r.get("via").and_then(Node::str);
        let metric = r
            .get("metric")
            .and_then(Node::str)
            .and_then(|m| m.parse().ok());
        if let Some(route) = addr::route(to, None, via, Some(&dev_name), metric, path) {
            // netplan ≥ 0.103's replacement for gateway4/6.
            if route.is_default() {
                let gw = route.gateway.clone();
                match route.family {
                    IpFamily::Ipv4 => c.gateway4 = c.gateway4.take().or(gw),
                    IpFamily::Ipv6 => c.gateway6 = c.gateway6.take().or(gw),
                }
            }
            c.routes.push(route);
        }
    }
    if let Some(ns) = dev.get("nameservers") {
        c.dns = strings(ns.get("addresses"))
            .iter()
            .filter_map(|a| parse_ip(a))
            .map(|a| a.to_string())
            .collect();
        c.dns_search = strings(ns.get("search"));
    }
    c.members = strings(dev.get("interfaces"));
    if kind == NicKind::Vlan {
        c.vlan_parent = dev.get("link").and_then(Node::str).map(str::to_string);
        c.vlan_id = dev
            .get("id")
            .and_then(Node::str)
            .and_then(|i| i.parse().ok());
    }

    let dhcp4 = dev.get("dhcp4").and_then(Node::bool);
    let dhcp6 = dev.get("dhcp6").and_then(Node::bool);
    let ra = dev.get("accept-ra").and_then(Node::bool);
    for (k, v) in [("dhcp4", dhcp4), ("dhcp6", dhcp6), ("accept-ra", ra)] {
        if let Some(v) = v {
            c.method_raw.push(format!("{k}: {v}"));
        }
    }
    let has = |f: IpFamily| c.addresses.iter().any(|a| a.family == f);
    c.ipv4_method = Some(if dhcp4 == Some(true) {
        Ipv4Method::Automatic
    } else if has(IpFamily::Ipv4) {
        Ipv4Method::Manual
    } else {
        Ipv4Method::Disabled
    });
    c.ipv6_method = if dhcp6 == Some(true) || ra == Some(true) {
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
