//! The short human summary printed at the end of a scan: counts, bytes, where the added
//! data is, what was skipped, and where the full report went. Bounded in length whatever
//! the host holds: at most [`TOP_DIRS`] directories and the first few errors.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::classify::{Change, Reported, Totals};
use crate::path_bytes::display;
use crate::profile::Profile;
use crate::walk::mounts::SkippedMount;
use crate::walk::{FileKind, WalkError};

pub const TOP_DIRS: usize = 8;
const SHOWN_ERRORS: usize = 5;
/// Directories are grouped at this depth (`/var/lib/docker`, `/home/alice`).
const GROUP_DEPTH: usize = 3;

pub struct SummaryInput<'a> {
    pub root: &'a str,
    pub distro: Option<&'a str>,
    /// The install profile; summarised in two lines (no secrets: counts and names only).
    pub profile: Option<&'a Profile>,
    pub packages: &'a [(String, usize)],
    pub files: &'a Reported,
    pub totals: &'a Totals,
    pub skipped_mounts: &'a [SkippedMount],
    pub errors: &'a [WalkError],
    pub excluded: u64,
    pub seconds: f64,
    pub report_to: &'a str,
}

pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Thousands separators, for counts people read.
pub fn count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn group_of(path: &[u8]) -> &[u8] {
    let mut seen = 0;
    for (i, &b) in path.iter().enumerate() {
        if b == b'/' && i > 0 {
            seen += 1;
            if seen == GROUP_DEPTH {
                return &path[..i];
            }
        }
    }
    // A file directly in a shallow directory: group it under its parent.
    match path.iter().rposition(|&b| b == b'/') {
        Some(0) | None => b"/",
        Some(p) => &path[..p],
    }
}

pub fn render(s: &SummaryInput) -> String {
    let t = s.totals;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "livescan {}: scanned {}{} in {:.1} s",
        env!("CARGO_PKG_VERSION"),
        s.root,
        s.distro.map(|d| format!(" ({d})")).unwrap_or_default(),
        s.seconds
    );
    if let Some(p) = s.profile {
        render_profile(&mut out, p);
    }
    let pk: Vec<String> = s
        .packages
        .iter()
        .map(|(f, n)| format!("{} {f}", count(*n as u64)))
        .collect();
    let _ = writeln!(
        out,
        "  packages   {}",
        if pk.is_empty() {
            "none found".into()
        } else {
            pk.join(", ")
        }
    );
    let _ = writeln!(
        out,
        "  walked     {} entries, {}",
        count(t.walked_entries),
        human_bytes(t.walked_bytes)
    );
    let _ = write!(
        out,
        "  verified   {} packaged paths unchanged; {} files hashed ({})",
        count(t.unchanged),
        count(t.hashed_files),
        human_bytes(t.hashed_bytes)
    );
    let _ = if t.cached_files > 0 {
        writeln!(
            out,
            ", {} unchanged since the last scan ({}, verify cache)",
            count(t.cached_files),
            human_bytes(t.cached_bytes)
        )
    } else {
        writeln!(out)
    };
    let conf = s
        .files
        .records
        .iter()
        .filter(|f| f.change == Change::Modified && f.config)
        .count();
    let _ = writeln!(
        out,
        "  modified   {} ({} config files), {}",
        count(t.modified),
        count(conf as u64),
        human_bytes(t.modified_bytes)
    );
    let _ = writeln!(out, "  deleted    {}", count(t.deleted));
    let not_inst: u64 = t.not_installed.values().sum();
    if not_inst > 0 {
        let why: Vec<String> = t
            .not_installed
            .iter()
            .map(|(r, n)| format!("{} {r}", count(*n)))
            .collect();
        let _ = writeln!(out, "  not installed by design: {}", why.join(", "));
    }
    let _ = writeln!(
        out,
        "  added      {} entries, {}",
        count(t.added),
        human_bytes(t.added_bytes)
    );
    for (cat, ct) in &t.added_by_category {
        let _ = writeln!(
            out,
            "    {:<18} {:>10} {:>11}{}",
            cat.name(),
            count(ct.files),
            human_bytes(ct.bytes),
            if ct.packed_by_default {
                ""
            } else {
                "  (not packed unless named)"
            }
        );
    }
    // Where the added data is.
    let mut groups: HashMap<Vec<u8>, (u64, u64)> = HashMap::new();
    for f in s.files.iter().filter(|f| f.change == Change::Added) {
        let size = f
            .meta
            .filter(|m| m.kind == FileKind::Regular)
            .map_or(0, |m| m.size);
        let key = group_of(&f.path);
        match groups.get_mut(key) {
            Some(g) => *g = (g.0 + 1, g.1 + size),
            None => {
                groups.insert(key.to_vec(), (1, size));
            }
        }
    }
    if !groups.is_empty() {
        let mut top: Vec<_> = groups.into_iter().collect();
        top.sort_by(|a, b| {
            b.1 .1
                .cmp(&a.1 .1)
                .then(b.1 .0.cmp(&a.1 .0))
                .then(a.0.cmp(&b.0))
        });
        let _ = writeln!(out, "  top directories of added data:");
        for (dir, (n, bytes)) in top.iter().take(TOP_DIRS) {
            let _ = writeln!(
                out,
                "    {:>11} {:>10} entries  {}",
                human_bytes(*bytes),
                count(*n),
                display(dir)
            );
        }
        if top.len() > TOP_DIRS {
            let _ = writeln!(
                out,
                "    … and {} more directories",
                count((top.len() - TOP_DIRS) as u64)
            );
        }
    }
    if !s.skipped_mounts.is_empty() {
        let list: Vec<String> = s
            .skipped_mounts
            .iter()
            .map(|m| format!("{} ({})", display(&m.mount_point), m.fstype))
            .collect();
        let _ = writeln!(out, "  skipped mounts: {}", list.join(", "));
    }
    if s.excluded > 0 || t.not_checked > 0 {
        let _ = writeln!(
            out,
            "  excluded   {} entries by --exclude; {} packaged paths not checked (excluded, skipped mount or unreadable)",
            count(s.excluded),
            count(t.not_checked)
        );
    }
    if !s.errors.is_empty() {
        let _ = writeln!(
            out,
            "  errors     {} (unreadable or changed while read):",
            count(s.errors.len() as u64)
        );
        for e in s.errors.iter().take(SHOWN_ERRORS) {
            let _ = writeln!(
                out,
                "    {}: {}: {}",
                display(&e.path),
                e.operation,
                e.error
            );
        }
        if s.errors.len() > SHOWN_ERRORS {
            let _ = writeln!(out, "    … see the report for the rest");
        }
    }
    let _ = writeln!(out, "  report     {}", s.report_to);
    out
}

/// Two lines: the system (distribution, kernel, CPUs, memory, timezone, keyboard, SELinux,
/// firewall), then its accounts and services. Unknown facts are left out, not guessed.
fn render_profile(out: &mut String, p: &Profile) {
    let d = &p.distribution;
    let mut system = vec![[d.name.as_deref(), d.version.as_deref(), d.arch.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ")];
    if let Some(k) = &p.kernel.running_release {
        system.push(format!("kernel {k}"));
    } else if !p.kernel.installed.is_empty() {
        system.push(format!("{} kernels installed", p.kernel.installed.len()));
    }
    if let Some(c) = p.hardware.cpus {
        system.push(format!("{c} CPUs"));
    }
    if let Some(m) = p.hardware.memory_bytes {
        system.push(format!("{} RAM", human_bytes(m)));
    }
    if let Some(tz) = &p.timezone.name {
        system.push(format!("timezone {tz}"));
    }
    if let Some(k) = &p.keyboard.keymap {
        system.push(format!("keymap {k}"));
    }
    if let Some(m) = p.selinux.live_mode.as_ref().or(p.selinux.mode.as_ref()) {
        system.push(format!("SELinux {m}"));
    }
    match p.firewall.enabled {
        Some(true) => {
            let on: Vec<&str> = p
                .firewall
                .firewalls
                .iter()
                .filter(|f| f.enabled)
                .map(|f| f.name.as_str())
                .collect();
            system.push(format!("firewall {}", on.join("+")));
        }
        Some(false) => system.push("no firewall enabled".into()),
        None => {}
    }
    let system: Vec<String> = system.into_iter().filter(|s| !s.is_empty()).collect();
    if !system.is_empty() {
        let _ = writeln!(out, "  system     {}", system.join(", "));
    }
    let regular = p.users.iter().filter(|u| !u.system_user).count();
    let enabled = p.services.enabled().count();
    let _ = writeln!(
        out,
        "  accounts   {} users ({} regular), {} groups; services: {} of {} enabled{}",
        count(p.users.len() as u64),
        count(regular as u64),
        count(p.groups.len() as u64),
        count(enabled as u64),
        count(p.services.services.len() as u64),
        p.services
            .manager
            .as_deref()
            .map(|m| format!(" ({m})"))
            .unwrap_or_default()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The profile lines: counts and names, never a password hash.
    #[test]
    fn profile_lines_hold_no_secrets() {
        use crate::profile::users::{PasswordHash, User};
        let mut p = Profile::default();
        p.distribution.name = Some("Debian".into());
        p.distribution.version = Some("12".into());
        p.distribution.arch = Some("x86_64".into());
        p.hardware.cpus = Some(4);
        p.hardware.memory_bytes = Some(8 << 30);
        p.selinux.mode = Some("disabled".into());
        p.firewall.enabled = Some(false);
        let user = |name: &str, uid: u32| User {
            name: name.into(),
            uid,
            gid: uid,
            primary_group: None,
            secondary_groups: Vec::new(),
            gecos: Vec::new(),
            home: Vec::new(),
            shell: Vec::new(),
            system_user: uid < 1000,
            password_set: true,
            password_locked: false,
            password_empty: false,
            password_source: Some("/etc/shadow".into()),
            password_hash: Some(PasswordHash("$6$topsecret$hash".into())),
            sudo: 0,
        };
        p.users = vec![user("root", 0), user("alice", 1000)];
        p.password_hashes_included = true;
        let mut out = String::new();
        render_profile(&mut out, &p);
        assert_eq!(
            out,
            "  system     Debian 12 x86_64, 4 CPUs, 8.0 GiB RAM, SELinux disabled, no firewall enabled\n  \
             accounts   2 users (1 regular), 0 groups; services: 0 of 0 enabled\n"
        );
        assert!(!out.contains("topsecret"));
    }

    #[test]
    fn formats() {
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(count(12), "12");
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(
            group_of(b"/root/.pyenv/versions/x"),
            b"/root/.pyenv/versions"
        );
        assert_eq!(group_of(b"/etc/foo"), b"/etc");
        assert_eq!(group_of(b"/swapfile"), b"/");
    }
}
