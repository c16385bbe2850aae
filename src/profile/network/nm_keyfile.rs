//! NetworkManager keyfiles: `system-connections/*.nmconnection` (and older extension-less
//! keyfiles) in `/etc`, `/run` and `/usr/lib` — `[connection]`, `[ethernet]`, `[ipv4]`,
//! `[ipv6]`, `[vlan]`, `[bond]`.

use super::addr::{self, address_from, parse_ip};
use super::files::{is_backup_name, Reader};
use super::ini::{self, boolean, Section};
use super::{ConfigFormat, IfaceConfig, IpFamily, Ipv4Method, Ipv6Method, MatchRule, NicKind};

const DIRS: [&str; 3] = [
    "/etc/NetworkManager/system-connections",
    "/run/NetworkManager/system-connections",
    "/usr/lib/NetworkManager/system-connections",
];

pub fn collect(reader: &mut Reader) -> Vec<IfaceConfig> {
    let mut out = Vec::new();
    for dir in DIRS {
        for name in reader.list(dir) {
            // NetworkManager skips these, and certificates kept beside the profiles.
            if is_backup_name(&name)
                || [".pem", ".der", ".key", ".crt", ".p12"]
                    .iter()
                    .any(|s| name.ends_with(s))
            {
                continue;
            }
            let path = format!("{dir}/{name}");
            if let Some(text) = reader.read(&path, ConfigFormat::NmKeyfile) {
                out.push(parse(&path, &text));
            }
        }
    }
    out
}

fn get<'s>(s: Option<&'s Section>, k: &str) -> Option<&'s str> {
    s.and_then(|s| s.get(k)).filter(|v| !v.is_empty())
}

fn section<'s>(sections: &'s [Section], names: &[&str]) -> Option<&'s Section> {
    sections
        .iter()
        .rev()
        .find(|s| names.contains(&s.name.as_str()))
}

pub fn parse(path: &str, text: &str) -> IfaceConfig {
    let sections = ini::parse(text);
    let mut c = IfaceConfig::new(path, ConfigFormat::NmKeyfile);
    let conn = section(&sections, &["connection"]);
    c.id = get(conn, "id").map(str::to_string);
    c.interface = get(conn, "interface-name").map(str::to_string);
    c.auto_connect = Some(get(conn, "autoconnect").and_then(boolean).unwrap_or(true));
    let ty = get(conn, "type").unwrap_or("");
    c.kind = match ty {
        "ethernet" | "802-3-ethernet" => Some(NicKind::Ethernet),
        "wifi" | "802-11-wireless" | "gsm" | "cdma" => Some(NicKind::Wireless),
        "infiniband" => Some(NicKind::Infiniband),
        "bond" => Some(NicKind::Bond),
        "team" => Some(NicKind::Team),
        "bridge" => Some(NicKind::Bridge),
        "vlan" => Some(NicKind::Vlan),
        "loopback" => Some(NicKind::Loopback),
        "tun" | "wireguard" | "ip-tunnel" | "vpn" => Some(NicKind::Tunnel),
        "dummy" | "macvlan" | "veth" => Some(NicKind::Virtual),
        _ => None,
    };
    c.master = get(conn, "controller")
        .or(get(conn, "master"))
        .map(str::to_string);
    let hw = section(
        &sections,
        &[
            "ethernet",
            "802-3-ethernet",
            "wifi",
            "802-11-wireless",
            "infiniband",
        ],
    );
    c.mac = get(hw, "mac-address").and_then(addr::parse_mac);
    c.mtu = get(hw, "mtu").and_then(|m| m.parse().ok());
    if c.interface.is_none() {
        if let Some(mac) = &c.mac {
            c.match_rule = Some(MatchRule {
                macs: vec![mac.clone()],
                ..MatchRule::default()
            });
        }
    }
    let vlan = section(&sections, &["vlan"]);
    c.vlan_parent = get(vlan, "parent").map(str::to_string);
    c.vlan_id = get(vlan, "id").and_then(|i| i.parse().ok());

    for (family, names) in [(IpFamily::Ipv4, "ipv4"), (IpFamily::Ipv6, "ipv6")] {
        let Some(s) = section(&sections, &[names]) else {
            continue;
        };
        let method = s.get("method").unwrap_or("auto");
        c.method_raw.push(format!("{names}.method={method}"));
        ip_section(&mut c, s, family);
        let has = c.addresses.iter().any(|a| a.family == family);
        match family {
            IpFamily::Ipv4 => {
                c.ipv4_method = Some(match method {
                    "auto" | "link-local" => Ipv4Method::Automatic,
                    "manual" | "shared" => Ipv4Method::Manual,
                    "disabled" => Ipv4Method::Disabled,
                    _ if has => Ipv4Method::Manual,
                    _ => Ipv4Method::Disabled,
                })
            }
            IpFamily::Ipv6 => {
                c.ipv6_method = Some(match method {
                    "auto" | "dhcp" | "link-local" => Ipv6Method::Automatic,
                    "manual" | "shared" => Ipv6Method::Manual,
                    _ => Ipv6Method::Ignore,
                })
            }
        }
    }
    // A port of a bond or bridge carries no IP of its own, whatever [ipv4] says.
    if c.master.is_some() && c.ipv4_method.is_none() {
        c.ipv4_method = Some(Ipv4Method::Disabled);
    }
    c
}

/// `address1=10.0.0.5/24,10.0.0.1` (gateway after the comma), the old
/// `addresses1=10.0.0.5;24;10.0.0.1;`, `gateway=`, `dns=a;b;`, `dns-search=`,
/// `route1=10.1.0.0/16,10.0.0.254,100`.
fn ip_section(c: &mut IfaceConfig, s: &Section, family: IpFamily) {
    let mut numbered: Vec<(u32, &str, &str)> = s
        .entries
        .iter()
        .filter_map(|(k, v)| {
            let (kind, n) = if let Some(n) = k.strip_prefix("address") {
                ("address", n.trim_start_matches("es"))
            } else if let Some(n) = k.strip_prefix("route") {
                ("route", n.trim_start_matches('s'))
            } else {
                return None;
            };
            let n = if n.is_empty() { 0 } else { n.parse().ok()? };
            Some((n, kind, v.as_str()))
        })
        .collect();
    numbered.sort_by_key(|(n, kind, _)| (*kind, *n));
    let mut gateway = None;
    for (_, kind, v) in numbered {
        if kind == "address" {
            for one in v.split(';').filter(|p| p.contains(['.', ':'])).take(1) {
                let (a, gw) = one.split_once(',').unwrap_or((one, ""));
                if let Some(a) = address_from(a) {
                    c.addresses.push(a);
                }
                gateway = gateway.or(parse_ip(gw));
            }
            // Old list form: `ip;prefix;gateway;`.
            let parts: Vec<&str> = v.split(';').collect();
            if parts.len() >= 2 && !parts[0].contains('/') && !parts[0].contains(',') {
                if let (Some(last), Some(ip)) = (c.addresses.last_mut(), parse_ip(parts[0])) {
                    if last.address == ip.to_string() && last.prefix_len.is_none() {
                        *last = addr::ip_address(ip, addr::parse_prefix(&ip, parts[1]));
                    }
                }
                gateway = gateway.or(parts.get(2).and_then(|g| parse_ip(g)));
            }
            // NetworkManager assumes /24 (IPv4) or /64 (IPv6) for an address without one.
            if let Some(last) = c.addresses.last_mut() {
                if last.prefix_len.is_none() {
                    if let Some(ip) = parse_ip(&last.address) {
                        *last = addr::ip_address(ip, Some(if ip.is_ipv4() { 24 } else { 64 }));
                    }
                }
            }
        } else {
            // `dest/len,gw,metric`, or the old `dest/len;gw;metric;`.
            let parts: Vec<&str> = v.split([',', ';']).map(str::trim).collect();
            let metric = parts.get(2).and_then(|m| m.parse().ok());
            let gw = parts.get(1).copied().filter(|g| !g.is_empty());
            let dev = c.interface.clone();
            c.routes.extend(addr::route(
                parts[0],
                None,
                gw,
                dev.as_deref(),
                metric,
                &c.path,
            ));
        }
    }
    let gateway = s.get("gateway").and_then(parse_ip).or(gateway);
    let gateway = gateway
        .filter(|g| addr::family(g) == family)
        .map(|g| g.to_string());
    match family {
        IpFamily::Ipv4 => c.gateway4 = gateway,
        IpFamily::Ipv6 => c.gateway6 = gateway,
    }
    let list = |k: &str| -> Vec<String> {
        s.get(k)
            .map(|v| {
                v.split([';', ',', ' '])
                    .filter(|x| !x.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    c.dns.extend(
        list("dns")
            .iter()
            .filter_map(|d| parse_ip(d))
            .map(|d| d.to_string()),
    );
    for d in list("dns-search") {
        if !c.dns_search.contains(&d) {
            c.dns_search.push(d);
        }
    }
}
