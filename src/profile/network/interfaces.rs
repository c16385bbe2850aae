//! Debian and Alpine `/etc/network/interfaces` (ifupdown, ifupdown-ng, busybox), with the
//! files it pulls in through `source PATTERN` and `source-directory DIR` — UForge missed
//! those ("Sourced network interfaces are not detected").

use std::collections::HashSet;

use glob::{MatchOptions, Pattern};

use super::addr::{self, address_from, parse_ip, parse_prefix};
use super::files::Reader;
use super::{ConfigFormat, IfaceConfig, IpFamily, Ipv4Method, Ipv6Method, NicKind};

const MAIN: &str = "/etc/network/interfaces";
/// Nesting of `source` lines followed (ifupdown has no limit; loops are caught anyway).
const MAX_DEPTH: usize = 8;
/// Files one pattern may expand to.
const MAX_MATCHES: usize = 512;

/// One logical stanza of one file.
#[derive(Debug)]
pub(super) enum Item {
    /// `auto`, `allow-auto`, `allow-hotplug`, `allow-*`: interfaces brought up.
    Auto(Vec<String>),
    Iface {
        name: String,
        family: String,
        method: String,
        options: Vec<(String, String)>,
    },
    Source(String),
    SourceDirectory(String),
    /// `mapping`, `rename`, `no-auto-down`, `no-scripts`, `template`: stanzas whose
    /// options must not land on the previous iface.
    Other,
}

pub fn collect(reader: &mut Reader) -> Vec<IfaceConfig> {
    let mut walk = Walk {
        seen: HashSet::new(),
        stanzas: Vec::new(),
        auto: HashSet::new(),
    };
    walk.file(reader, MAIN, None, 0);
    walk.stanzas
        .into_iter()
        .map(|(path, item)| {
            let mut c = stanza_config(&path, item);
            if let Some(name) = &c.interface {
                c.auto_connect = Some(walk.auto.contains(name));
            }
            c
        })
        .collect()
}

struct Walk {
    seen: HashSet<String>,
    stanzas: Vec<(String, Item)>,
    auto: HashSet<String>,
}

impl Walk {
    fn file(&mut self, reader: &mut Reader, path: &str, from: Option<&str>, depth: usize) {
        let canonical = reader.resolve(path);
        if !self.seen.insert(canonical) {
            reader.notes.push(format!(
                "{path}: sourced again (already read: an include loop or two patterns), skipped"
            ));
            return;
        }
        let Some(text) = reader.read_included(path, ConfigFormat::Interfaces, from) else {
            return;
        };
        let dir = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        let dir = if dir.is_empty() { "/" } else { dir };
        for item in parse(&text) {
            match item {
                Item::Auto(names) => self.auto.extend(names),
                Item::Source(pattern) | Item::SourceDirectory(pattern) if depth >= MAX_DEPTH => {
                    reader.notes.push(format!(
                        "{path}: `source {pattern}` nested more than {MAX_DEPTH} deep, skipped"
                    ));
                }
                Item::Source(pattern) => {
                    for p in expand(reader, &absolute(dir, &pattern)) {
                        self.file(reader, &p, Some(path), depth + 1);
                    }
                }
                Item::SourceDirectory(d) => {
                    let d = absolute(dir, &d);
                    // ifupdown's run-parts rule: only names of [A-Za-z0-9_-].
                    for name in reader.list(&d) {
                        if name
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                        {
                            let p = format!("{}/{name}", d.trim_end_matches('/'));
                            self.file(reader, &p, Some(path), depth + 1);
                        }
                    }
                }
                iface @ Item::Iface { .. } => self.stanzas.push((path.to_string(), iface)),
                Item::Other => {}
            }
        }
    }
}

/// ifupdown resolves a relative `source` against the directory of the file naming it.
fn absolute(dir: &str, p: &str) -> String {
    if p.starts_with('/') {
        p.to_string()
    } else {
        format!("{}/{p}", dir.trim_end_matches('/'))
    }
}

/// Shell-glob expansion inside the root, one component at a time, sorted like glob(3);
/// hidden files only where the pattern says so.
fn expand(reader: &mut Reader, pattern: &str) -> Vec<String> {
    let opts = MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    };
    let mut found = vec![String::new()];
    let comps: Vec<&str> = pattern.split('/').filter(|c| !c.is_empty()).collect();
    for comp in comps {
        let mut next = Vec::new();
        let is_glob = comp.contains(['*', '?', '[']);
        for base in &found {
            if !is_glob {
                next.push(format!("{base}/{comp}"));
                continue;
            }
            let Ok(pat) = Pattern::new(comp) else {
                reader.notes.push(format!("source {pattern}: bad pattern"));
                return Vec::new();
            };
            let dir = if base.is_empty() { "/" } else { base.as_str() };
            for name in reader.list(dir) {
                if pat.matches_with(&name, opts) && next.len() < MAX_MATCHES {
                    next.push(format!("{base}/{name}"));
                }
            }
        }
        found = next;
    }
    found.retain(|p| !p.is_empty());
    found
}

/// Logical lines (comments dropped, `\` continuations joined) into stanzas.
pub(super) fn parse(text: &str) -> Vec<Item> {
    let mut items = Vec::new();
    for line in super::ini::logical_lines(text, &['#']) {
        let mut words = line.split_whitespace();
        let Some(first) = words.next() else { continue };
        let rest: Vec<&str> = words.collect();
        match first {
            "auto" => items.push(Item::Auto(rest.iter().map(|s| s.to_string()).collect())),
            w if w.starts_with("allow-") => {
                items.push(Item::Auto(rest.iter().map(|s| s.to_string()).collect()))
            }
            "iface" => items.push(Item::Iface {
                name: rest.first().unwrap_or(&"").to_string(),
                family: rest.get(1).unwrap_or(&"").to_string(),
                method: rest.get(2).unwrap_or(&"").to_string(),
                options: Vec::new(),
            }),
            "source" => {
                items.extend(rest.iter().map(|p| Item::Source(p.to_string())));
            }
            "source-directory" => {
                items.extend(rest.iter().map(|p| Item::SourceDirectory(p.to_string())));
            }
            "mapping" | "rename" | "no-auto-down" | "no-scripts" | "template" => {
                items.push(Item::Other)
            }
            key => {
                if let Some(Item::Iface { options, .. }) = items.last_mut() {
                    options.push((key.to_string(), rest.join(" ")));
                }
            }
        }
    }
    items
}

pub(super) fn stanza_config(path: &str, item: Item) -> IfaceConfig {
    let mut c = IfaceConfig::new(path, ConfigFormat::Interfaces);
    let Item::Iface {
        name,
        mut family,
        mut method,
        options,
    } = item
    else {
        return c;
    };
    // ifupdown-ng: `iface eth0` with `use dhcp` (or no family: addresses decide).
    if options.iter().any(|(k, v)| k == "use" && v == "dhcp") {
        method = "dhcp".into();
    }
    if family.is_empty() {
        family = "inet".into();
    }
    c.method_raw
        .push(format!("{family} {method}").trim().to_string());
    for (k, v) in &options {
        let first = v.split_whitespace().next().unwrap_or("");
        match k.as_str() {
            "address" => {
                if let Some(a) = address_from(first) {
                    c.addresses.push(a);
                }
            }
            "netmask" => {
                if let Some(a) = c.addresses.last_mut() {
                    if let Some(ip) = parse_ip(&a.address) {
                        if a.prefix_len.is_none() {
                            *a = addr::ip_address(ip, parse_prefix(&ip, first));
                        }
                    }
                }
            }
            "gateway" => {
                if let Some(g) = parse_ip(first) {
                    match g.is_ipv4() {
                        true => c.gateway4 = Some(g.to_string()),
                        false => c.gateway6 = Some(g.to_string()),
                    }
                }
            }
            "dns-nameservers" | "dns-nameserver" => c.dns.extend(
                v.split_whitespace()
                    .filter_map(parse_ip)
                    .map(|i| i.to_string()),
            ),
            "dns-search" | "dns-domain" => c
                .dns_search
                .extend(v.split_whitespace().map(str::to_string)),
            "hwaddress" => {
                let mac = v.split_whitespace().last().unwrap_or("");
                c.mac = addr::parse_mac(mac);
            }
            "mtu" => c.mtu = first.parse().ok(),
            "bond-slaves" | "bond_slaves" | "slaves" | "bond-members" => {
                if first != "none" {
                    c.members.extend(v.split_whitespace().map(str::to_string));
                }
                c.kind = Some(NicKind::Bond);
            }
            "bond-master" | "bond_master" => c.master = Some(first.to_string()),
            "bridge_ports" | "bridge-ports" => {
                if first != "none" {
                    c.members.extend(v.split_whitespace().map(str::to_string));
                }
                c.kind = Some(NicKind::Bridge);
            }
            "vlan-raw-device" | "vlan_raw_device" => {
                c.vlan_parent = Some(first.to_string());
                c.kind = Some(NicKind::Vlan);
            }
            "vlan-id" => c.vlan_id = first.parse().ok(),
            "up" | "post-up" => c.routes.extend(up_route(v, &name, path)),
            _ => {}
        }
    }
    let has = |f: IpFamily| c.addresses.iter().any(|a| a.family == f);
    match family.as_str() {
        "inet" => {
            c.ipv4_method = Some(match method.as_str() {
                "dhcp" | "bootp" => Ipv4Method::Automatic,
                "static" | "loopback" | "ppp" | "tunnel" => Ipv4Method::Manual,
                _ if has(IpFamily::Ipv4) => Ipv4Method::Manual,
                _ => Ipv4Method::Disabled,
            })
        }
        "inet6" => {
            c.ipv6_method = Some(match method.as_str() {
                "auto" | "dhcp" => Ipv6Method::Automatic,
                "static" | "v4tunnel" | "6to4" | "loopback" => Ipv6Method::Manual,
                _ if has(IpFamily::Ipv6) => Ipv6Method::Manual,
                _ => Ipv6Method::Ignore,
            })
        }
        _ => {}
    }
    if method == "loopback" || name == "lo" {
        c.kind = Some(NicKind::Loopback);
    }
    if c.kind.is_none() && c.vlan_parent.is_none() {
        if let Some((parent, id)) = name.rsplit_once('.') {
            if let Ok(id) = id.parse() {
                c.kind = Some(NicKind::Vlan);
                c.vlan_parent = Some(parent.to_string());
                c.vlan_id = Some(id);
            }
        }
    }
    c.interface = Some(name).filter(|n| !n.is_empty());
    c.fold_alias();
    c
}

/// A route added by an `up` command: `ip [-4|-6] route add …` (any path to `ip`), or
/// net-tools' `route add [-net|-host] DEST [netmask MASK] [gw GW] [metric N] [dev IF]`.
fn up_route(cmd: &str, iface: &str, path: &str) -> Option<super::Route> {
    let words: Vec<&str> = cmd.split_whitespace().collect();
    let tool = *words.first()?;
    if tool == "ip" || tool.ends_with("/ip") {
        let p = words
            .windows(2)
            .position(|w| w[0] == "route" && w[1] == "add")?;
        return addr::parse_ip_route(&words[p + 2..], Some(iface), path);
    }
    if !(tool == "route" || tool.ends_with("/route")) || words.get(1) != Some(&"add") {
        return None;
    }
    let mut rest = words[2..].iter().copied();
    let (mut dest, mut mask, mut gw, mut dev, mut metric) = (None, None, None, Some(iface), None);
    while let Some(w) = rest.next() {
        match w {
            "-net" | "-host" | "-A" | "inet" | "inet6" => {}
            "netmask" => mask = rest.next(),
            "gw" => gw = rest.next(),
            "dev" => dev = rest.next(),
            "metric" => metric = rest.next().and_then(|m| m.parse().ok()),
            _ if dest.is_none() => dest = Some(w),
            // `route add -net 10.0.0.0/8 eth0`: a trailing bare word is the device.
            _ => dev = Some(w),
        }
    }
    addr::route(dest?, mask, gw, dev, metric, path)
}
