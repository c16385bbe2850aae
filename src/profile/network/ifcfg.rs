//! RHEL/Fedora (`/etc/sysconfig/network-scripts/ifcfg-*`, `route-*`, `route6-*`,
//! `/etc/sysconfig/network`) and SUSE (`/etc/sysconfig/network/ifcfg-*`, `ifroute-*`,
//! `routes`) interface files: shell variable assignments, never executed.

use super::addr::{self, address_from, parse_cidr, parse_ip, parse_prefix};
use super::files::{is_backup_name, Reader};
use super::ini::boolean;
use super::{ConfigFormat, IfaceConfig, IpFamily, Ipv4Method, Ipv6Method, NicKind, Route};

const RHEL_DIR: &str = "/etc/sysconfig/network-scripts";
const SUSE_DIR: &str = "/etc/sysconfig/network";

/// Interface stanzas of both layouts; global routes (SUSE `routes`, RHEL `GATEWAY` in
/// `/etc/sysconfig/network`) go to `global_routes`.
pub fn collect(reader: &mut Reader, global_routes: &mut Vec<Route>) -> Vec<IfaceConfig> {
    let mut out = Vec::new();
    for (dir, format) in [
        (RHEL_DIR, ConfigFormat::IfcfgRhel),
        (SUSE_DIR, ConfigFormat::IfcfgSuse),
    ] {
        for name in reader.list(dir) {
            let Some(suffix) = name.strip_prefix("ifcfg-") else {
                continue;
            };
            // initscripts skip backups and `ifcfg-eth0-range*` address ranges.
            if is_backup_name(&name) || suffix.contains("-range") || suffix.is_empty() {
                continue;
            }
            let path = format!("{dir}/{name}");
            let Some(text) = reader.read(&path, format) else {
                continue;
            };
            let mut config = parse_ifcfg(&path, suffix, &text, format);
            let iface = config.interface.clone().unwrap_or_default();
            let route_files: &[&str] = match format {
                ConfigFormat::IfcfgSuse => &["ifroute-"],
                _ => &["route-", "route6-"],
            };
            for prefix in route_files {
                let rpath = format!("{dir}/{prefix}{suffix}");
                if let Some(text) = reader.read(&rpath, format) {
                    config.routes.extend(match format {
                        ConfigFormat::IfcfgSuse => parse_suse_routes(&rpath, Some(&iface), &text),
                        _ => parse_rhel_routes(&rpath, &iface, &text),
                    });
                }
            }
            out.push(config);
        }
    }
    let path = format!("{SUSE_DIR}/routes");
    if let Some(text) = reader.read(&path, ConfigFormat::IfcfgSuse) {
        global_routes.extend(parse_suse_routes(&path, None, &text));
    }
    // RHEL's /etc/sysconfig/network is the same path as SUSE's directory: only a file.
    if let Some(text) = reader.read(SUSE_DIR, ConfigFormat::IfcfgRhel) {
        let vars = parse_vars(&text);
        let dev = get(&vars, "GATEWAYDEV");
        if let Some(gw) = get(&vars, "GATEWAY") {
            global_routes.extend(addr::route("default", None, Some(gw), dev, None, SUSE_DIR));
        }
        if let Some(gw) = get(&vars, "IPV6_DEFAULTGW") {
            let (gw, zone) = gw.split_once('%').unwrap_or((gw, ""));
            let dev = get(&vars, "IPV6_DEFAULTDEV").or((!zone.is_empty()).then_some(zone));
            if let Some(ip) = parse_ip(gw) {
                let any = std::net::Ipv6Addr::UNSPECIFIED.into();
                global_routes.push(addr::route_of(any, Some(0), Some(ip), dev, None, SUSE_DIR));
            }
        }
    }
    out
}

/// `KEY=value` lines with shell quoting (`"…"` with backslash escapes, `'…'` literal,
/// unquoted up to a blank), comments, `export`. Later assignments override.
pub fn parse_vars(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
        if line.starts_with('#') {
            continue;
        }
        let Some((key, rest)) = line.split_once('=') else {
            continue;
        };
        let shell_name = key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && key.bytes().next().is_some_and(|b| !b.is_ascii_digit());
        if !shell_name {
            continue;
        }
        let value = shell_word(rest);
        out.retain(|(k, _)| k != key);
        out.push((key.to_string(), value));
    }
    out
}

/// The first shell word of `rest` (adjacent quoted parts joined, as the shell does).
fn shell_word(rest: &str) -> String {
    let mut out = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => {
                            if let Some(n) = chars.next() {
                                out.push(n);
                            }
                        }
                        _ => out.push(c),
                    }
                }
            }
            '\'' => {
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    out.push(c);
                }
            }
            '\\' => {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            c if c.is_whitespace() || c == '#' || c == ';' => break,
            c => out.push(c),
        }
    }
    out
}

fn get<'v>(vars: &'v [(String, String)], key: &str) -> Option<&'v str> {
    vars.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

fn yes(vars: &[(String, String)], key: &str) -> Option<bool> {
    get(vars, key).and_then(boolean)
}

pub fn parse_ifcfg(path: &str, suffix: &str, text: &str, format: ConfigFormat) -> IfaceConfig {
    let vars = parse_vars(text);
    let suse = format == ConfigFormat::IfcfgSuse;
    let mut c = IfaceConfig::new(path, format);
    let name = get(&vars, "DEVICE").unwrap_or(suffix).to_string();
    c.id = get(&vars, "NAME").map(str::to_string);
    c.mac = get(&vars, "HWADDR")
        .or(get(&vars, "MACADDR"))
        .or(get(&vars, "LLADDR"))
        .and_then(addr::parse_mac);
    c.mtu = get(&vars, "MTU").and_then(|m| m.parse().ok());
    c.kind = kind_of(&vars, &name);

    c.auto_connect = if suse {
        get(&vars, "STARTMODE")
            .map(|m| !matches!(m.to_ascii_lowercase().as_str(), "manual" | "off"))
    } else {
        yes(&vars, "ONBOOT")
    };

    c.addresses = addresses(&vars);
    let has4 = c.addresses.iter().any(|a| a.family == IpFamily::Ipv4);
    let has6 = c.addresses.iter().any(|a| a.family == IpFamily::Ipv6);
    let proto = get(&vars, "BOOTPROTO").unwrap_or("").to_ascii_lowercase();
    if !proto.is_empty() {
        c.method_raw.push(format!("BOOTPROTO={proto}"));
    }
    // RHEL's `BRIDGE=br0` names a port's bridge; SUSE's `BRIDGE='yes'` makes a bridge.
    let bridge = get(&vars, "BRIDGE").filter(|v| boolean(v).is_none());
    let enslaved =
        get(&vars, "MASTER").is_some() || get(&vars, "TEAM_MASTER").is_some() || bridge.is_some();
    c.ipv4_method = Some(match proto.as_str() {
        "dhcp" | "bootp" | "dhcp4" | "dhcp+autoip" | "autoip" | "ibft" => Ipv4Method::Automatic,
        "dhcp6" if suse => Ipv4Method::Disabled,
        _ if has4 && !enslaved => Ipv4Method::Manual,
        _ => Ipv4Method::Disabled,
    });
    c.ipv6_method = if suse {
        match proto.as_str() {
            "dhcp" | "dhcp6" => Some(Ipv6Method::Automatic),
            _ if has6 => Some(Ipv6Method::Manual),
            _ => None,
        }
    } else {
        rhel_ipv6(&vars, has6)
    };

    c.gateway4 = get(&vars, "GATEWAY")
        .and_then(parse_ip)
        .map(|g| g.to_string());
    c.gateway6 = get(&vars, "IPV6_DEFAULTGW")
        .and_then(parse_ip)
        .map(|g| g.to_string());
    let mut dns: Vec<(u32, String)> = vars
        .iter()
        .filter_map(|(k, v)| {
            let n = k.strip_prefix("DNS")?.parse::<u32>().ok()?;
            Some((n, parse_ip(v)?.to_string()))
        })
        .collect();
    dns.sort();
    c.dns = dns.into_iter().map(|(_, v)| v).collect();
    c.dns_search = get(&vars, "DOMAIN")
        .map(|d| d.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();

    c.master = get(&vars, "MASTER")
        .or(get(&vars, "TEAM_MASTER"))
        .or(bridge)
        .map(str::to_string);
    // SUSE lists the ports in the bond or bridge itself.
    for (k, v) in &vars {
        if k.starts_with("BONDING_SLAVE") && !v.is_empty() {
            c.members.push(v.clone());
        }
    }
    if let Some(ports) = get(&vars, "BRIDGE_PORTS") {
        c.members
            .extend(ports.split_whitespace().map(str::to_string));
    }
    if c.kind == Some(NicKind::Vlan) {
        let (parent, id) = name.rsplit_once('.').unwrap_or(("", ""));
        c.vlan_parent = get(&vars, "PHYSDEV")
            .or(get(&vars, "ETHERDEVICE"))
            .or((!parent.is_empty()).then_some(parent))
            .map(str::to_string);
        c.vlan_id = get(&vars, "VLAN_ID")
            .or(Some(id))
            .and_then(|i| i.parse().ok());
    }
    c.interface = Some(name);
    c.fold_alias();
    c
}

fn kind_of(vars: &[(String, String)], name: &str) -> Option<NicKind> {
    let t = get(vars, "TYPE").map(|t| t.to_ascii_lowercase());
    Some(match t.as_deref() {
        Some("ethernet") => NicKind::Ethernet,
        Some("bond") => NicKind::Bond,
        Some("team") => NicKind::Team,
        Some("bridge") => NicKind::Bridge,
        Some("vlan") => NicKind::Vlan,
        Some("wireless") => NicKind::Wireless,
        Some("infiniband") => NicKind::Infiniband,
        Some("tap") | Some("tun") | Some("ipip") | Some("gre") => NicKind::Tunnel,
        _ if name == "lo" => NicKind::Loopback,
        _ if get(vars, "BONDING_OPTS").is_some() || yes(vars, "BONDING_MASTER") == Some(true) => {
            NicKind::Bond
        }
        _ if yes(vars, "VLAN") == Some(true) || get(vars, "ETHERDEVICE").is_some() => NicKind::Vlan,
        _ if yes(vars, "BRIDGE") == Some(true) => NicKind::Bridge,
        _ => return None,
    })
}

/// RHEL: `IPV6INIT` off (its default) ignores IPv6; on, DHCPv6 or autoconf are automatic,
/// static addresses without autoconf are manual.
fn rhel_ipv6(vars: &[(String, String)], has6: bool) -> Option<Ipv6Method> {
    if yes(vars, "IPV6INIT") != Some(true) {
        return Some(Ipv6Method::Ignore);
    }
    if yes(vars, "DHCPV6C") == Some(true) {
        return Some(Ipv6Method::Automatic);
    }
    match yes(vars, "IPV6_AUTOCONF") {
        Some(true) => Some(Ipv6Method::Automatic),
        Some(false) if has6 => Some(Ipv6Method::Manual),
        Some(false) => Some(Ipv6Method::Ignore),
        None if has6 => Some(Ipv6Method::Manual),
        None => Some(Ipv6Method::Automatic),
    }
}

/// `IPADDR`, `IPADDR0`…, SUSE `IPADDR_<label>` (IPv4 or IPv6, `addr/len` allowed) with
/// their `PREFIX`/`PREFIXLEN`/`NETMASK` of the same suffix; RHEL `IPV6ADDR` and
/// `IPV6ADDR_SECONDARIES`. In suffix order: none first, then numeric, then labels.
fn addresses(vars: &[(String, String)]) -> Vec<super::IpAddress> {
    let mut keyed: Vec<(u8, u64, &str, &str)> = Vec::new();
    for (k, v) in vars {
        let Some(suffix) = k.strip_prefix("IPADDR") else {
            continue;
        };
        if v.is_empty() || suffix.starts_with("_SECONDAR") {
            continue;
        }
        let rank = match suffix.trim_start_matches('_').parse::<u64>() {
            _ if suffix.is_empty() => (0, 0),
            Ok(n) => (1, n),
            Err(_) => (2, 0),
        };
        keyed.push((rank.0, rank.1, suffix, v));
    }
    keyed.sort();
    let mut out = Vec::new();
    for (_, _, suffix, v) in keyed {
        let Some((ip, mut len)) = parse_cidr(v) else {
            continue;
        };
        for key in ["PREFIX", "PREFIXLEN", "NETMASK"] {
            if len.is_none() {
                len = get(vars, &format!("{key}{suffix}")).and_then(|p| parse_prefix(&ip, p));
            }
        }
        out.push(addr::ip_address(ip, len));
    }
    let v6 = get(vars, "IPV6ADDR").into_iter().chain(
        get(vars, "IPV6ADDR_SECONDARIES")
            .map(|s| s.split_whitespace().collect::<Vec<_>>())
            .unwrap_or_default(),
    );
    out.extend(v6.filter_map(address_from));
    out
}

/// RHEL `route-<if>`: either `ADDRESS0=`/`NETMASK0=`/`GATEWAY0=`/`METRIC0=` or one
/// `ip route` argument list per line; `route6-<if>` is always the latter.
pub fn parse_rhel_routes(path: &str, iface: &str, text: &str) -> Vec<Route> {
    let vars = parse_vars(text);
    let mut out = Vec::new();
    if vars.iter().any(|(k, _)| k.starts_with("ADDRESS")) {
        for n in 0..256u32 {
            let Some(dest) = get(&vars, &format!("ADDRESS{n}")) else {
                continue;
            };
            let mask = get(&vars, &format!("NETMASK{n}"));
            let gw = get(&vars, &format!("GATEWAY{n}"));
            let metric = get(&vars, &format!("METRIC{n}")).and_then(|m| m.parse().ok());
            out.extend(addr::route(dest, mask, gw, Some(iface), metric, path));
        }
        return out;
    }
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.is_empty() {
            continue;
        }
        out.extend(addr::parse_ip_route(&words, Some(iface), path));
    }
    out
}

/// SUSE `routes` and `ifroute-<if>`: `DEST GATEWAY NETMASK INTERFACE [TYPE] [OPTIONS]`,
/// `-` for an empty column, DEST `default` or `net[/len]`, NETMASK dotted or a length.
pub fn parse_suse_routes(path: &str, iface: Option<&str>, text: &str) -> Vec<Route> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.is_empty() {
            continue;
        }
        let col = |i: usize| cols.get(i).copied().filter(|c| *c != "-");
        let dev = col(3).or(iface);
        let metric = cols
            .windows(2)
            .find(|w| w[0] == "metric")
            .and_then(|w| w[1].parse().ok());
        let dest = if cols[0] == "0.0.0.0" && col(2).is_some_and(|m| m == "0.0.0.0" || m == "0") {
            "default"
        } else {
            cols[0]
        };
        out.extend(addr::route(dest, col(2), col(1), dev, metric, path));
    }
    out
}
