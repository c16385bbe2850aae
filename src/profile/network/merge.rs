//! Live links and configuration stanzas joined into one ordered list of NICs.
//!
//! Which stanza is effective when several formats configure one interface: netplan (it
//! writes the others' files), then NetworkManager keyfiles, systemd-networkd, ifcfg,
//! `/etc/network/interfaces`. Each setting (IPv4 with its addresses and gateway, IPv6
//! likewise, autoconnect) comes from the first stanza in that order that has it; all
//! stanzas stay listed under the NIC, effective first.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use glob::Pattern;

use super::addr::{contains, parse_ip};
use super::networkd::Networkd;
use super::sysfs::Link;
use super::{ConfigFormat, IfaceConfig, IpAddress, IpFamily, MatchRule, Nic, NicKind, Route};

pub struct Inputs<'a> {
    pub configs: Vec<IfaceConfig>,
    pub networkd: Networkd,
    pub live_links: Option<Vec<Link>>,
    pub live_addresses: Option<BTreeMap<String, Vec<IpAddress>>>,
    pub live_routes: &'a [Route],
    pub global_routes: &'a [Route],
}

pub struct Merged {
    pub nics: Vec<Nic>,
    pub unmatched: Vec<IfaceConfig>,
}

/// Precedence of formats (lower first).
fn rank(format: ConfigFormat) -> u8 {
    match format {
        ConfigFormat::Netplan => 0,
        ConfigFormat::NmKeyfile => 1,
        ConfigFormat::Networkd => 2,
        ConfigFormat::IfcfgRhel | ConfigFormat::IfcfgSuse => 3,
        ConfigFormat::Interfaces => 4,
        _ => 5,
    }
}

struct Builder {
    name: String,
    link: Option<Link>,
    configs: Vec<IfaceConfig>,
}

pub fn merge(mut inputs: Inputs) -> Merged {
    let mut nics: Vec<Builder> = Vec::new();
    let mut unmatched = Vec::new();
    fn slot<'b>(nics: &'b mut Vec<Builder>, name: &str) -> &'b mut Builder {
        let i = match nics.iter().position(|n| n.name == name) {
            Some(i) => i,
            None => {
                nics.push(Builder {
                    name: name.to_string(),
                    link: None,
                    configs: Vec::new(),
                });
                nics.len() - 1
            }
        };
        &mut nics[i]
    }
    let live = inputs.live_links.is_some();
    for link in inputs.live_links.take().into_iter().flatten() {
        let name = link.name.clone();
        slot(&mut nics, &name).link = Some(link);
    }

    let Networkd { networks, netdevs } = std::mem::take(&mut inputs.networkd);
    let mut with_rule = Vec::new();
    for c in std::mem::take(&mut inputs.configs)
        .into_iter()
        .chain(netdevs)
    {
        match (&c.interface, &c.match_rule) {
            (Some(name), _) => {
                let name = name.clone();
                slot(&mut nics, &name).configs.push(c);
            }
            (None, Some(_)) => with_rule.push(c),
            (None, None) => unmatched.push(c),
        }
    }
    // networkd's own literal names define links too (`[Match] Name=enp1s0`).
    for n in &networks {
        if let Some(name) = &n.interface {
            slot(&mut nics, name);
        }
    }
    for c in with_rule {
        let rule = c.match_rule.clone().unwrap_or_default();
        let hits: Vec<usize> = (0..nics.len())
            .filter(|&i| rule_matches(&rule, &nics[i]))
            .collect();
        if hits.is_empty() {
            unmatched.push(c);
        } else {
            for i in hits {
                nics[i].configs.push(c.clone());
            }
        }
    }
    // networkd: the first .network that matches a link is the one it gets.
    let mut used = vec![false; networks.len()];
    for b in nics.iter_mut() {
        let hit = networks
            .iter()
            .position(|n| match (&n.interface, &n.match_rule) {
                (Some(name), _) => *name == b.name,
                (None, Some(rule)) => rule_matches(rule, b),
                (None, None) => false,
            });
        if let Some(i) = hit {
            b.configs.push(networks[i].clone());
        }
        // A later file that fits but lost to an earlier one is shadowed, not unmatched.
        for (i, n) in networks.iter().enumerate() {
            if n.match_rule.as_ref().is_some_and(|r| rule_matches(r, b))
                || n.interface.as_deref() == Some(b.name.as_str())
            {
                used[i] = true;
            }
        }
    }
    for (n, used) in networks.into_iter().zip(used) {
        // Stanzas that fit no known interface; vendor defaults (/usr/lib) that fit nothing
        // are not the host's configuration.
        if !used && !n.path.starts_with("/usr/lib/") && !n.path.starts_with("/lib/") {
            unmatched.push(n);
        }
    }

    // Ports named by their bond or bridge (SUSE BONDING_SLAVE*, netplan `interfaces:`).
    let mut masters: BTreeMap<String, String> = BTreeMap::new();
    for b in &nics {
        for c in &b.configs {
            for m in &c.members {
                masters.entry(m.clone()).or_insert_with(|| b.name.clone());
            }
        }
    }

    let mut out: Vec<Nic> = nics
        .into_iter()
        .map(|b| build(b, live, &inputs, &masters))
        .collect();
    // Among several default routes the kernel prefers the lowest metric (IPv4 first, as
    // UForge's first NIC is configured for IPv4).
    let mut metric: BTreeMap<&str, (u8, u32)> = BTreeMap::new();
    for r in inputs.live_routes.iter().filter(|r| r.is_default()) {
        if let Some(dev) = r.interface.as_deref() {
            let key = (u8::from(r.family == IpFamily::Ipv6), r.metric.unwrap_or(0));
            let e = metric.entry(dev).or_insert(key);
            *e = (*e).min(key);
        }
    }
    out.sort_by(|a, b| {
        let m = |n: &Nic| metric.get(n.name.as_str()).copied().unwrap_or((2, 0));
        order(a, b, m(a), m(b))
    });
    for (i, n) in out.iter_mut().enumerate() {
        n.order = i as u32;
    }
    Merged {
        nics: out,
        unmatched,
    }
}

fn build(mut b: Builder, live: bool, inputs: &Inputs, masters: &BTreeMap<String, String>) -> Nic {
    b.configs.sort_by_key(|c| rank(c.format));
    let configs = b.configs;
    let first = |f: &dyn Fn(&IfaceConfig) -> bool| configs.iter().find(|c| f(c));
    let cfg4 = first(&|c| c.ipv4_method.is_some());
    let cfg6 = first(&|c| c.ipv6_method.is_some());
    let mut ip_addresses = Vec::new();
    for (cfg, fam) in [(cfg4, IpFamily::Ipv4), (cfg6, IpFamily::Ipv6)] {
        let Some(cfg) = cfg else { continue };
        let gw = match fam {
            IpFamily::Ipv4 => cfg.gateway4.clone(),
            IpFamily::Ipv6 => cfg.gateway6.clone(),
        };
        // The effective stanza's addresses, then those of alias stanzas of its format
        // (`ifcfg-eth0:1`, `iface eth0:1`), which set no method of their own.
        let aliases = configs.iter().filter(|c| {
            c.format == cfg.format && c.ipv4_method.is_none() && c.ipv6_method.is_none()
        });
        for a in std::iter::once(cfg)
            .chain(aliases)
            .flat_map(|c| c.addresses.iter())
            .filter(|a| a.family == fam)
        {
            let mut a = a.clone();
            a.gateway = gw.clone();
            ip_addresses.push(a);
        }
    }
    let link = b.link;
    let name = b.name;
    // A global default gateway (SUSE `routes`, RHEL GATEWAY=) belongs to the NIC whose
    // static subnet holds it, or that the route names.
    let mut global_default = false;
    for r in inputs.global_routes.iter().filter(|r| r.is_default()) {
        let gw = r.gateway.as_deref().and_then(parse_ip);
        let holds = |a: &IpAddress| match (gw, parse_ip(&a.address), a.prefix_len) {
            (Some(g), Some(ip), Some(len)) => contains(&ip, len, &g),
            _ => false,
        };
        let named = r.interface.as_deref() == Some(name.as_str());
        let fam = r.family;
        if named || ip_addresses.iter().any(|a| a.family == fam && holds(a)) {
            global_default = true;
            for a in ip_addresses.iter_mut().filter(|a| a.family == fam) {
                if a.gateway.is_none() && (named || holds(a)) {
                    a.gateway = r.gateway.clone();
                }
            }
        }
    }
    let default_route = if live && !inputs.live_routes.is_empty() {
        inputs
            .live_routes
            .iter()
            .any(|r| r.is_default() && r.interface.as_deref() == Some(name.as_str()))
    } else {
        global_default
            || cfg4.is_some_and(|c| c.gateway4.is_some())
            || cfg6.is_some_and(|c| c.gateway6.is_some())
    };
    let live_addresses = inputs
        .live_addresses
        .as_ref()
        .map(|m| m.get(&name).cloned().unwrap_or_default());
    let kind = link
        .as_ref()
        .map(|l| l.kind)
        .or_else(|| configs.iter().find_map(|c| c.kind))
        .unwrap_or_else(|| kind_from_name(&name));
    Nic {
        kind,
        physical: link.as_ref().map(|l| l.physical),
        mac: link
            .as_ref()
            .and_then(|l| l.mac.clone())
            .or_else(|| configs.iter().find_map(|c| c.mac.clone())),
        driver: link.as_ref().and_then(|l| l.driver.clone()),
        operstate: link.as_ref().and_then(|l| l.operstate.clone()),
        mtu: link
            .as_ref()
            .and_then(|l| l.mtu)
            .or_else(|| configs.iter().find_map(|c| c.mtu)),
        ifindex: link.as_ref().and_then(|l| l.ifindex),
        default_route,
        auto_connect: configs.iter().find_map(|c| c.auto_connect),
        ipv4_method: cfg4.and_then(|c| c.ipv4_method),
        ipv6_method: cfg6.and_then(|c| c.ipv6_method),
        ip_addresses,
        live_addresses,
        master: link
            .as_ref()
            .and_then(|l| l.master.clone())
            .or_else(|| configs.iter().find_map(|c| c.master.clone()))
            .or_else(|| masters.get(&name).cloned()),
        order: 0,
        name,
        configs,
    }
}

/// What a name says when nothing else does (a root without live facts).
fn kind_from_name(name: &str) -> NicKind {
    let starts = |p: &[&str]| p.iter().any(|p| name.starts_with(p));
    if name == "lo" {
        NicKind::Loopback
    } else if starts(&["bond"]) {
        NicKind::Bond
    } else if starts(&["team"]) {
        NicKind::Team
    } else if starts(&["br", "virbr", "docker", "cni", "lxcbr", "lxdbr"]) {
        NicKind::Bridge
    } else if starts(&["veth"]) {
        NicKind::Veth
    } else if starts(&["tun", "tap", "wg", "gre", "ipip", "sit", "vxlan"]) {
        NicKind::Tunnel
    } else if starts(&["wl", "wlan", "ath", "ra"]) {
        NicKind::Wireless
    } else if name.contains('.') {
        NicKind::Vlan
    } else if starts(&["eth", "en", "em", "p", "ib"]) {
        NicKind::Ethernet
    } else {
        NicKind::Unknown
    }
}

fn rule_matches(rule: &MatchRule, b: &Builder) -> bool {
    if !rule.other.is_empty() {
        return false;
    }
    let name_ok = {
        let (neg, pos): (Vec<&String>, Vec<&String>) =
            rule.names.iter().partition(|p| p.starts_with('!'));
        let hit = |p: &str| Pattern::new(p).map(|p| p.matches(&b.name)).unwrap_or(false);
        (pos.is_empty() || pos.iter().any(|p| hit(p)))
            && !neg.iter().any(|p| hit(p.trim_start_matches('!')))
    };
    let mac = b
        .link
        .as_ref()
        .and_then(|l| l.mac.clone())
        .or_else(|| b.configs.iter().find_map(|c| c.mac.clone()));
    let mac_ok = rule.macs.is_empty() || mac.is_some_and(|m| rule.macs.contains(&m));
    let driver = b.link.as_ref().and_then(|l| l.driver.as_deref());
    let driver_ok = rule.drivers.is_empty()
        || driver.is_some_and(|d| {
            rule.drivers
                .iter()
                .any(|p| Pattern::new(p).map(|p| p.matches(d)).unwrap_or(false))
        });
    let kind = b
        .link
        .as_ref()
        .map(|l| l.kind)
        .or_else(|| b.configs.iter().find_map(|c| c.kind))
        .unwrap_or_else(|| kind_from_name(&b.name));
    let type_ok = rule.types.is_empty()
        || rule.types.iter().any(|t| {
            matches!(
                (t.as_str(), kind),
                ("ether", NicKind::Ethernet)
                    | ("wlan", NicKind::Wireless)
                    | ("loopback", NicKind::Loopback)
                    | ("bond", NicKind::Bond)
                    | ("bridge", NicKind::Bridge)
                    | ("vlan", NicKind::Vlan)
                    | ("infiniband", NicKind::Infiniband)
            )
        });
    name_ok && mac_ok && driver_ok && type_ok
}

/// Class of a NIC in the order: hardware first, loopback last.
fn class(n: &Nic) -> u8 {
    match n.kind {
        NicKind::Ethernet | NicKind::Wireless | NicKind::Infiniband | NicKind::Unknown => {
            if n.physical == Some(false) {
                3
            } else {
                0
            }
        }
        NicKind::Bond | NicKind::Team => 1,
        NicKind::Bridge | NicKind::Vlan => 2,
        NicKind::Tunnel | NicKind::Veth | NicKind::Virtual => 3,
        NicKind::Loopback => 4,
    }
}

/// The documented order: default-route NICs (lowest route metric first), class, kernel
/// index, then natural name order (`eth2` before `eth10`).
fn order(a: &Nic, b: &Nic, metric_a: (u8, u32), metric_b: (u8, u32)) -> Ordering {
    let key = |n: &Nic, metric| {
        let default = n.default_route && n.kind != NicKind::Loopback;
        (
            !default,
            default.then_some(metric),
            class(n),
            n.ifindex.unwrap_or(u32::MAX),
        )
    };
    key(a, metric_a)
        .cmp(&key(b, metric_b))
        .then_with(|| natural(&a.name, &b.name))
}

fn natural(a: &str, b: &str) -> Ordering {
    fn chunks(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    let (ca, cb) = (chunks(a), chunks(b));
    for (x, y) in ca.iter().zip(cb.iter()) {
        let o = match (x, y) {
            ((true, x), (true, y)) => {
                let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
                x.len().cmp(&y.len()).then_with(|| x.cmp(y))
            }
            ((_, x), (_, y)) => x.cmp(y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    ca.len().cmp(&cb.len()).then_with(|| a.cmp(b))
}
