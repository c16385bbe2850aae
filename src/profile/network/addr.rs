//! Addresses as the configuration formats write them: `10.0.0.5/24`, a dotted netmask or a
//! prefix length, MACs in any case. Everything is validated through `std::net`, so what
//! the report says is an address is one.

use std::net::{IpAddr, Ipv4Addr};

use super::{IpAddress, IpFamily, Route};

pub fn family(ip: &IpAddr) -> IpFamily {
    match ip {
        IpAddr::V4(_) => IpFamily::Ipv4,
        IpAddr::V6(_) => IpFamily::Ipv6,
    }
}

/// An address, dropping an IPv6 zone (`fe80::1%eth0`).
pub fn parse_ip(text: &str) -> Option<IpAddr> {
    let text = text.trim().trim_matches(|c| c == '"' || c == '\'');
    let text = text.split('%').next().unwrap_or(text);
    let text = text.trim_start_matches('[').trim_end_matches(']');
    text.parse().ok()
}

/// `addr[/len]`; the length is checked against the family.
pub fn parse_cidr(text: &str) -> Option<(IpAddr, Option<u8>)> {
    let text = text.trim();
    let (ip, len) = match text.split_once('/') {
        Some((ip, len)) => (ip, Some(len)),
        None => (text, None),
    };
    let ip = parse_ip(ip)?;
    let len = match len {
        None => None,
        Some(len) => Some(parse_prefix(&ip, len)?),
    };
    Some((ip, len))
}

/// A prefix length, or (IPv4) a dotted netmask, for an address of `ip`'s family.
pub fn parse_prefix(ip: &IpAddr, text: &str) -> Option<u8> {
    let text = text.trim();
    if let Ok(len) = text.parse::<u8>() {
        let max = if ip.is_ipv4() { 32 } else { 128 };
        return (len <= max).then_some(len);
    }
    match (ip, text.parse::<Ipv4Addr>()) {
        (IpAddr::V4(_), Ok(mask)) => netmask_len(mask),
        _ => None,
    }
}

/// Prefix length of a contiguous netmask (`255.255.255.0` → 24).
pub fn netmask_len(mask: Ipv4Addr) -> Option<u8> {
    let bits = u32::from(mask);
    let len = bits.leading_ones();
    (bits.checked_shl(len).unwrap_or(0) == 0).then_some(len as u8)
}

pub fn netmask_of(len: u8) -> Ipv4Addr {
    let bits = if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len.min(32)))
    };
    Ipv4Addr::from(bits)
}

pub fn ip_address(ip: IpAddr, prefix_len: Option<u8>) -> IpAddress {
    IpAddress {
        family: family(&ip),
        address: ip.to_string(),
        prefix_len,
        netmask: match ip {
            IpAddr::V4(_) => prefix_len.map(|l| netmask_of(l).to_string()),
            IpAddr::V6(_) => None,
        },
        gateway: None,
        permanent: None,
    }
}

/// `addr/len` text into an [`IpAddress`]; `None` when it is not an address.
pub fn address_from(text: &str) -> Option<IpAddress> {
    let (ip, len) = parse_cidr(text)?;
    Some(ip_address(ip, len))
}

/// Whether `ip` lies in `net/len`.
pub fn contains(net: &IpAddr, len: u8, ip: &IpAddr) -> bool {
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let mask = u32::from(netmask_of(len));
            u32::from(*n) & mask == u32::from(*a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let len = u32::from(len.min(128));
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            u128::from(*n) & mask == u128::from(*a) & mask
        }
        _ => false,
    }
}

/// A MAC address normalised to lower-case colon form; `None` if it is not 6 (or 20, for
/// InfiniBand) hex octets.
pub fn parse_mac(text: &str) -> Option<String> {
    let text = text.trim().trim_matches(|c| c == '"' || c == '\'');
    let octets: Vec<&str> = text.split([':', '-']).collect();
    if !(octets.len() == 6 || octets.len() == 20) {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    for (i, o) in octets.iter().enumerate() {
        if o.len() != 2 || !o.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        if i > 0 {
            out.push(':');
        }
        out.push_str(&o.to_ascii_lowercase());
    }
    Some(out)
}

/// A route from a destination (`default`, `0.0.0.0/0`, `net/len`, `net` plus netmask).
pub fn route(
    destination: &str,
    netmask: Option<&str>,
    gateway: Option<&str>,
    interface: Option<&str>,
    metric: Option<u32>,
    source: &str,
) -> Option<Route> {
    let gateway = gateway.and_then(parse_ip);
    let (dest, len) = if destination == "default" {
        let fam = gateway.map(|g| family(&g)).unwrap_or(IpFamily::Ipv4);
        let any: IpAddr = match fam {
            IpFamily::Ipv4 => Ipv4Addr::UNSPECIFIED.into(),
            IpFamily::Ipv6 => std::net::Ipv6Addr::UNSPECIFIED.into(),
        };
        (any, Some(0))
    } else {
        let (ip, len) = parse_cidr(destination)?;
        let len = match (len, netmask) {
            (Some(l), _) => Some(l),
            (None, Some(m)) => parse_prefix(&ip, m),
            (None, None) => Some(if ip.is_ipv4() { 32 } else { 128 }),
        };
        (ip, len)
    };
    if let Some(g) = gateway {
        if family(&g) != family(&dest) {
            return None;
        }
    }
    Some(route_of(dest, len, gateway, interface, metric, source))
}

pub fn route_of(
    dest: IpAddr,
    len: Option<u8>,
    gateway: Option<IpAddr>,
    interface: Option<&str>,
    metric: Option<u32>,
    source: &str,
) -> Route {
    let is_default = len == Some(0) && dest.is_unspecified();
    Route {
        family: family(&dest),
        destination: if is_default {
            "default".to_string()
        } else {
            dest.to_string()
        },
        prefix_len: len,
        netmask: match dest {
            IpAddr::V4(_) => len.map(|l| netmask_of(l).to_string()),
            IpAddr::V6(_) => None,
        },
        gateway: gateway
            .filter(|g| !g.is_unspecified())
            .map(|g| g.to_string()),
        interface: interface.filter(|i| !i.is_empty()).map(str::to_string),
        metric,
        source: source.to_string(),
    }
}

/// The `ip route` syntax that RHEL's `route-<if>`/`route6-<if>`, ifupdown `up` lines and
/// SUSE accept: `[default|DEST[/LEN]] [via GW] [dev IF] [metric N] …`.
pub fn parse_ip_route(words: &[&str], default_dev: Option<&str>, source: &str) -> Option<Route> {
    let mut words = words.iter().copied().peekable();
    let mut dest = None;
    let (mut via, mut dev, mut metric) = (None, default_dev, None);
    while let Some(w) = words.next() {
        match w {
            "via" => via = words.next(),
            "dev" => dev = words.next(),
            "metric" | "preference" => metric = words.next().and_then(|m| m.parse().ok()),
            // Keywords with one argument that say nothing we record.
            "src" | "table" | "proto" | "scope" | "mtu" | "realm" | "advmss" | "initcwnd"
            | "from" | "tos" | "type" => {
                words.next();
            }
            "onlink" => {}
            "-4" | "-6" | "unicast" => {}
            _ if dest.is_none() => dest = Some(w),
            _ => {}
        }
    }
    route(dest?, None, via, dev, metric, source)
}
