//! Live addresses and routes from `/proc/net` (no netlink: a captured tree must do too).
//!
//! IPv6 addresses come from `if_inet6`. IPv4 addresses have no per-interface file: they
//! are the `/32 host LOCAL` leaves of `fib_trie`, given to the interface whose connected
//! route (`/proc/net/route`, no gateway) holds them — the kernel adds that route for every
//! address, and its mask is the address's prefix. Routes: `route` (the main table) and
//! `ipv6_route` (all tables; local, multicast, unreachable and cached entries dropped, as
//! `ip -6 route` shows them).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::addr::{self, contains};
use super::{IpAddress, LiveSources, Route};
use std::io::Read;

/// Lines looked at in one `/proc/net` file (a router with a full table has ~1 M routes;
/// a host being migrated has a handful).
const MAX_LINES: usize = 100_000;

const RTF_UP: u32 = 0x0001;
const RTF_REJECT: u32 = 0x0200;
const RTF_CACHE: u32 = 0x0100_0000;
const RTF_LOCAL: u32 = 0x8000_0000;
const IFA_F_PERMANENT: u32 = 0x80;

#[derive(Debug, Default)]
pub struct LiveNet {
    /// Interface name → addresses (IPv4 first, each family in kernel order).
    pub addresses: Option<BTreeMap<String, Vec<IpAddress>>>,
    pub routes: Vec<Route>,
}

pub fn collect(live: &LiveSources, notes: &mut Vec<String>) -> LiveNet {
    let mut read = |rel: &str| {
        let p = live.proc(rel)?;
        read_head(&p, notes)
    };
    let (Some(route), fib, inet6, route6) = (
        read("net/route"),
        read("net/fib_trie"),
        read("net/if_inet6"),
        read("net/ipv6_route"),
    ) else {
        return LiveNet::default();
    };
    let v4_routes = parse_route(&route);
    let mut addresses: BTreeMap<String, Vec<IpAddress>> = BTreeMap::new();
    for (ip, iface, len) in attribute_v4(&parse_fib_trie(fib.as_deref().unwrap_or("")), &v4_routes)
    {
        addresses
            .entry(iface)
            .or_default()
            .push(addr::ip_address(IpAddr::V4(ip), Some(len)));
    }
    for (iface, a) in parse_if_inet6(inet6.as_deref().unwrap_or("")) {
        addresses.entry(iface).or_default().push(a);
    }
    let mut routes = v4_routes;
    routes.extend(parse_ipv6_route(route6.as_deref().unwrap_or("")));
    LiveNet {
        addresses: Some(addresses),
        routes,
    }
}

/// Bytes of one `/proc/net` file read at most (a full Internet table in `fib_trie` is
/// hundreds of MiB; a host being migrated has kilobytes).
const MAX_PROC_BYTES: u64 = 16 << 20;

/// The file, or its first [`MAX_PROC_BYTES`] up to a line end (noted): the routes and
/// addresses read are then a prefix of the table, not nothing.
fn read_head(path: &std::path::Path, notes: &mut Vec<String>) -> Option<String> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            notes.push(format!("{}: {e}", path.display()));
            return None;
        }
    };
    let mut bytes = Vec::new();
    if let Err(e) = file.take(MAX_PROC_BYTES).read_to_end(&mut bytes) {
        notes.push(format!("{}: {e}", path.display()));
        return None;
    }
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    let lines = text.lines().count();
    if bytes.len() as u64 == MAX_PROC_BYTES || lines > MAX_LINES {
        notes.push(format!(
            "{}: longer than {MAX_PROC_BYTES} bytes or {MAX_LINES} lines, only the start read",
            path.display()
        ));
        if let Some(end) = text.rfind('\n') {
            text.truncate(end + 1);
        }
    }
    Some(text)
}

fn hex_v4(h: &str) -> Option<Ipv4Addr> {
    // The kernel prints the network-order word as a native integer: byte-swapped on
    // little-endian hosts, as is on big-endian ones (s390x).
    let n = u32::from_str_radix(h, 16).ok()?;
    Some(Ipv4Addr::from(u32::from_be(n)))
}

fn hex_v6(h: &str) -> Option<Ipv6Addr> {
    (h.len() == 32)
        .then(|| u128::from_str_radix(h, 16).ok())
        .flatten()
        .map(Ipv6Addr::from)
}

/// `/proc/net/route`: `Iface Destination Gateway Flags RefCnt Use Metric Mask MTU Window IRTT`.
pub fn parse_route(text: &str) -> Vec<Route> {
    let mut out = Vec::new();
    for line in text.lines().skip(1).take(MAX_LINES) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 {
            continue;
        }
        let (Some(dest), Some(gw), Ok(flags), Ok(metric), Some(mask)) = (
            hex_v4(f[1]),
            hex_v4(f[2]),
            u32::from_str_radix(f[3], 16),
            f[6].parse::<u32>(),
            hex_v4(f[7]),
        ) else {
            continue;
        };
        if flags & RTF_UP == 0 {
            continue;
        }
        let len = addr::netmask_len(mask);
        let iface = (flags & RTF_REJECT == 0).then_some(f[0]);
        out.push(addr::route_of(
            dest.into(),
            len,
            Some(gw.into()),
            iface,
            Some(metric),
            "/proc/net/route",
        ));
    }
    out
}

/// `/proc/net/ipv6_route`: `dest destlen src srclen nexthop metric refcnt use flags iface`,
/// hex throughout.
pub fn parse_ipv6_route(text: &str) -> Vec<Route> {
    let mut out = Vec::new();
    for line in text.lines().take(MAX_LINES) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 10 {
            continue;
        }
        let (Some(dest), Ok(len), Some(via), Ok(metric), Ok(flags)) = (
            hex_v6(f[0]),
            u8::from_str_radix(f[1], 16),
            hex_v6(f[4]),
            u32::from_str_radix(f[5], 16),
            u32::from_str_radix(f[8], 16),
        ) else {
            continue;
        };
        let multicast = dest.segments()[0] & 0xff00 == 0xff00;
        if flags & (RTF_LOCAL | RTF_REJECT | RTF_CACHE) != 0 || flags & RTF_UP == 0 || multicast {
            continue;
        }
        if len > 128 {
            continue;
        }
        out.push(addr::route_of(
            dest.into(),
            Some(len),
            Some(via.into()),
            Some(f[9]),
            Some(metric),
            "/proc/net/ipv6_route",
        ));
    }
    out
}

/// `/proc/net/if_inet6`: `addr ifindex prefixlen scope flags name`.
pub fn parse_if_inet6(text: &str) -> Vec<(String, IpAddress)> {
    let mut out = Vec::new();
    for line in text.lines().take(MAX_LINES) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 6 {
            continue;
        }
        let (Some(ip), Ok(len), Ok(flags)) = (
            hex_v6(f[0]),
            u8::from_str_radix(f[2], 16),
            u32::from_str_radix(f[4], 16),
        ) else {
            continue;
        };
        if len > 128 {
            continue;
        }
        let mut a = addr::ip_address(IpAddr::V6(ip), Some(len));
        a.permanent = Some(flags & IFA_F_PERMANENT != 0);
        out.push((f[5].to_string(), a));
    }
    out
}

/// The local addresses of `fib_trie` (`|-- A.B.C.D` followed by `/32 host LOCAL`), in
/// first-seen order, each once (the Main and Local tables both list them on new kernels).
pub fn parse_fib_trie(text: &str) -> Vec<Ipv4Addr> {
    let mut out = Vec::new();
    let mut leaf: Option<Ipv4Addr> = None;
    for line in text.lines().take(MAX_LINES) {
        let t = line.trim();
        if let Some(a) = t.strip_prefix("|-- ") {
            leaf = a.trim().parse().ok();
        } else if t.starts_with('/') {
            let words: Vec<&str> = t.split_whitespace().collect();
            if words.first() == Some(&"/32") && words.last() == Some(&"LOCAL") {
                if let Some(a) = leaf {
                    if !out.contains(&a) {
                        out.push(a);
                    }
                }
            }
        } else if !t.starts_with("+--") {
            leaf = None;
        }
    }
    out
}

/// Each local address's interface and prefix: the longest connected route holding it;
/// 127/8 is loopback's. Addresses no route holds (a /32 without prefix route) are left out.
pub fn attribute_v4(locals: &[Ipv4Addr], routes: &[Route]) -> Vec<(Ipv4Addr, String, u8)> {
    let mut out = Vec::new();
    for ip in locals {
        if ip.is_loopback() {
            out.push((*ip, "lo".to_string(), 8));
            continue;
        }
        let best = routes
            .iter()
            .filter(|r| r.gateway.is_none() && r.interface.is_some() && !r.is_default())
            .filter_map(|r| {
                let net: IpAddr = r.destination.parse().ok()?;
                let len = r.prefix_len?;
                contains(&net, len, &IpAddr::V4(*ip)).then_some((len, r))
            })
            .max_by_key(|(len, _)| *len);
        if let Some((len, r)) = best {
            out.push((*ip, r.interface.clone().unwrap_or_default(), len));
        }
    }
    out
}
