//! The host name: `/etc/hostname`, else the older places (`/etc/HOSTNAME` on SUSE,
//! `HOSTNAME=` in RHEL 6's `/etc/sysconfig/network`), else the running kernel's.

use super::files::Reader;
use super::ifcfg::parse_vars;
use super::{ConfigFormat, LiveSources, Sourced};

/// A host name is at most 253 characters (64 per label for the kernel's own).
const MAX_LEN: usize = 253;

pub fn collect(reader: &mut Reader, live: &LiveSources) -> Option<Sourced> {
    for path in ["/etc/hostname", "/etc/HOSTNAME"] {
        if let Some(text) = reader.read(path, ConfigFormat::Hostname) {
            // hostname(5): the first line that is not a comment.
            let first = text
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty() && !l.starts_with('#'));
            if let Some(name) = first.and_then(valid) {
                return Some(Sourced {
                    value: name,
                    source: path.to_string(),
                });
            }
        }
    }
    let path = "/etc/sysconfig/network";
    if let Some(text) = reader.read_quiet(path) {
        let vars = parse_vars(&text);
        if let Some((_, v)) = vars.iter().find(|(k, _)| k == "HOSTNAME") {
            if let Some(name) = valid(v) {
                return Some(Sourced {
                    value: name,
                    source: path.to_string(),
                });
            }
        }
    }
    let p = live.proc("sys/kernel/hostname")?;
    let text = super::files::read_bounded(&p, &mut reader.notes, &p.display().to_string())?;
    valid(text.trim()).map(|value| Sourced {
        value,
        source: p.display().to_string(),
    })
}

fn valid(name: &str) -> Option<String> {
    let name = name.trim();
    (!name.is_empty()
        && name.len() <= MAX_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_'))
    .then(|| name.to_string())
}
