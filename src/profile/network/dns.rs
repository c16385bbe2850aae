//! Name resolution: `/etc/resolv.conf`, and systemd-resolved when resolv.conf is its stub
//! (`nameserver 127.0.0.53`, or a link into `/run/systemd/resolve/`): then the servers are
//! those of `resolved.conf` and its drop-ins, plus the upstream list resolved wrote to
//! `/run/systemd/resolve/resolv.conf` when the scanned system is running.

use super::addr::parse_ip;
use super::files::Reader;
use super::ini;
use super::{ConfigFormat, Dns, LiveSources, Resolver, Sourced};

const RESOLV: &str = "/etc/resolv.conf";
const STUB: &str = "127.0.0.53";
/// Servers and search domains kept (glibc uses 3 and 6; resolved has no limit).
const MAX_ENTRIES: usize = 64;

pub fn collect(reader: &mut Reader, live: &LiveSources) -> Dns {
    let mut dns = Dns::default();
    let target = reader.resolve(RESOLV);
    if let Some(text) = reader.read(RESOLV, ConfigFormat::ResolvConf) {
        dns.resolver = Some(Resolver::ResolvConf);
        parse_resolv(&text, RESOLV, &mut dns);
    }
    let stub = target.starts_with("/run/systemd/resolve/")
        || dns.nameservers.iter().any(|n| n.value == STUB);
    if !stub {
        return dns;
    }
    dns.resolver = Some(Resolver::SystemdResolved);
    dns.nameservers.retain(|n| n.value != STUB);
    for path in resolved_conf_files(reader) {
        let Some(text) = reader.read(&path, ConfigFormat::SystemdResolved) else {
            continue;
        };
        for s in ini::parse(&text).iter().filter(|s| s.name == "Resolve") {
            for (k, v) in &s.entries {
                match k.as_str() {
                    "DNS" | "FallbackDNS" => push_servers(&mut dns, v, &path),
                    "Domains" => {
                        for d in v.split_whitespace() {
                            push_search(&mut dns, d.trim_start_matches('~'));
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    // The upstream servers resolved learned (DHCP, per-link): only on the running system,
    // where /run is real; a mounted image's /run is empty or stale.
    if live.is_available() {
        let upstream = "/run/systemd/resolve/resolv.conf";
        if let Some(text) = reader.read(upstream, ConfigFormat::SystemdResolved) {
            parse_resolv(&text, upstream, &mut dns);
        }
    }
    dns
}

fn resolved_conf_files(reader: &mut Reader) -> Vec<String> {
    let mut files = vec!["/etc/systemd/resolved.conf".to_string()];
    // Drop-ins: by file name across directories, the first directory's copy wins.
    let mut names = std::collections::BTreeMap::new();
    for dir in [
        "/etc/systemd/resolved.conf.d",
        "/run/systemd/resolved.conf.d",
        "/usr/lib/systemd/resolved.conf.d",
    ] {
        for n in reader.list(dir) {
            if n.ends_with(".conf") {
                names.entry(n.clone()).or_insert(format!("{dir}/{n}"));
            }
        }
    }
    files.extend(names.into_values());
    files
}

fn push_servers(dns: &mut Dns, value: &str, source: &str) {
    for s in value.split_whitespace() {
        // resolved allows `addr#server-name` and `addr%iface`; `parse_ip` drops the zone.
        let Some(ip) = parse_ip(s.split('#').next().unwrap_or("")) else {
            continue;
        };
        let value = ip.to_string();
        if dns.nameservers.len() < MAX_ENTRIES && !dns.nameservers.iter().any(|n| n.value == value)
        {
            dns.nameservers.push(Sourced {
                value,
                source: source.to_string(),
            });
        }
    }
}

fn push_search(dns: &mut Dns, d: &str) {
    if !d.is_empty()
        && d != "."
        && dns.search.len() < MAX_ENTRIES
        && !dns.search.iter().any(|s| s == d)
    {
        dns.search.push(d.to_string());
    }
}

/// resolv.conf(5): `nameserver`, `search`/`domain` (the last of them wins), `options`.
pub(super) fn parse_resolv(text: &str, source: &str, dns: &mut Dns) {
    let mut search: Option<Vec<String>> = None;
    for line in text.lines() {
        let line = line.split(['#', ';']).next().unwrap_or("");
        let mut w = line.split_whitespace();
        match w.next() {
            Some("nameserver") => {
                if let Some(s) = w.next() {
                    push_servers(dns, s, source);
                }
            }
            Some("search") | Some("domain") => search = Some(w.map(str::to_string).collect()),
            Some("options") => {
                for o in w {
                    if dns.options.len() < MAX_ENTRIES && !dns.options.iter().any(|x| x == o) {
                        dns.options.push(o.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    for d in search.unwrap_or_default() {
        push_search(dns, &d);
    }
}
