//! Which services start at boot, read from the root's files the way the init system reads
//! them — never by calling `systemctl` or `chkconfig` (with `--root` they would answer for
//! the scanning host, and on a live host they may not run at all).
//!
//! - systemd: unit files in `/etc/systemd/system`, `/usr/local/lib/systemd/system`,
//!   `/usr/lib/systemd/system`, `/lib/systemd/system` (first wins); a unit is `masked` when
//!   its file is a link to `/dev/null`, `enabled` when a `*.wants/`, `*.requires/` or
//!   `*.upholds/` directory under `/etc/systemd/system` links it (or an alias links to it),
//!   else `disabled` when its `[Install]` section could enable it, `indirect` when it only
//!   names `Also=`, `static` otherwise; a link under another name is an `alias`. A template
//!   (`getty@.service`) is enabled when an instance is, and enabled instances are listed
//!   too. SysV scripts without a native unit are listed as
//!   systemd's sysv-generator runs them.
//! - SysV init (RHEL ≤ 6, old Debian): `S??name` links in `/etc/rc[0-6S].d` or
//!   `/etc/rc.d/rc[0-6].d` (what `chkconfig` and `update-rc.d` write).
//! - OpenRC (Alpine): links in `/etc/runlevels/<runlevel>/`.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::read;
use crate::rootfs::RootFs;

#[derive(Debug, Clone, Serialize, Default)]
pub struct Services {
    /// The root's init system: `systemd`, `sysvinit`, `openrc`; `null` when none is found.
    pub manager: Option<String>,
    /// systemd's `default.target` link (`multi-user.target`), or inittab's default runlevel.
    pub default_target: Option<String>,
    pub services: Vec<Service>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Service {
    /// `sshd.service` (systemd), `sshd` (SysV, OpenRC).
    pub name: String,
    /// Who starts it: `systemd`, `sysv`, `openrc` (UForge's `serviceManager`).
    pub manager: String,
    /// `enabled`, `disabled`, `masked`, `static`, `indirect`, `alias` (another name of the
    /// unit `file` names) — systemctl's words (UForge's `serviceStatus`).
    pub state: String,
    /// SysV and OpenRC: the runlevels it starts in.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub runlevels: Vec<String>,
    /// The unit file or init script (path in the root); `null` for a dangling enable link.
    pub file: Option<String>,
}

impl Services {
    pub fn get(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name)
    }
    pub fn enabled(&self) -> impl Iterator<Item = &Service> {
        self.services.iter().filter(|s| s.state == "enabled")
    }
}

const SYSTEMD_DIRS: &[&str] = &[
    "/etc/systemd/system",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
];
/// The unit types a user enables; targets, mounts, slices … are the system's own plumbing.
const UNIT_TYPES: &[&str] = &[".service", ".socket", ".timer", ".path"];

pub fn collect(root: &RootFs) -> Services {
    let manager = detect_manager(root);
    let mut out = Services {
        manager: manager.map(str::to_string),
        ..Services::default()
    };
    match manager {
        Some("systemd") => {
            out.default_target = read::link_target(root, "/etc/systemd/system/default.target")
                .and_then(|t| t.rsplit('/').next().map(str::to_string));
            out.services = systemd_units(root);
            let native: BTreeSet<String> = out.services.iter().map(|s| s.name.clone()).collect();
            // systemd-sysv-generator: an init script with no unit of its own name
            // (`hwclock.sh` would be `hwclock.service`).
            out.services
                .extend(sysv(root).into_iter().filter_map(|mut s| {
                    let unit = format!("{}.service", s.name.strip_suffix(".sh").unwrap_or(&s.name));
                    if native.contains(&unit) {
                        return None;
                    }
                    s.name = unit;
                    Some(s)
                }));
        }
        Some("openrc") => out.services = openrc(root),
        Some(_) => {
            out.default_target = inittab_default(root);
            out.services = sysv(root);
        }
        None => {}
    }
    out.services.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// What `/sbin/init` is; a root without one (a container image) is judged by what it holds.
fn detect_manager(root: &RootFs) -> Option<&'static str> {
    let init_name = read::canonical(root, "/sbin/init");
    if read::exists(root, "/sbin/init") {
        if init_name.contains("systemd") {
            return Some("systemd");
        }
        if init_name.contains("openrc") || read::exists(root, "/etc/runlevels") {
            return Some("openrc");
        }
        return Some("sysvinit");
    }
    if read::exists(root, "/lib/systemd/systemd") || read::exists(root, "/usr/lib/systemd/systemd")
    {
        return Some("systemd");
    }
    if read::exists(root, "/etc/runlevels") {
        return Some("openrc");
    }
    if !runlevel_dirs(root).is_empty() {
        return Some("sysvinit");
    }
    None
}

/// The distinct systemd unit directories of the root (merged /usr lists one twice).
fn unit_dirs(root: &RootFs) -> Vec<&'static str> {
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for d in SYSTEMD_DIRS {
        let r = read::resolve(root, d);
        if r.is_dir() && !seen.contains(&r) {
            seen.push(r);
            out.push(*d);
        }
    }
    out
}

fn systemd_units(root: &RootFs) -> Vec<Service> {
    let dirs = unit_dirs(root);
    // name → (file, masked); the first directory that has it wins.
    let mut files: BTreeMap<String, (String, bool)> = BTreeMap::new();
    let mut enabled_by_alias: BTreeSet<String> = BTreeSet::new();
    let mut aliases: BTreeMap<String, String> = BTreeMap::new();
    for dir in &dirs {
        for name in read::dir_names(root, dir) {
            if !UNIT_TYPES.iter().any(|t| name.ends_with(t))
                || files.contains_key(&name)
                || aliases.contains_key(&name)
            {
                continue;
            }
            let path = format!("{dir}/{name}");
            let target = read::link_target(root, &path);
            if target.as_deref() == Some("/dev/null") {
                files.insert(name, (path, true));
                continue;
            }
            // A link under another name is an alias (`display-manager.service -> gdm.service`,
            // `udev.service -> systemd-udevd.service`); one in /etc was made by enabling its
            // target.
            if let Some(t) = &target {
                let base = t.rsplit('/').next().unwrap_or(t);
                if base != name {
                    if *dir == "/etc/systemd/system" {
                        enabled_by_alias.insert(base.to_string());
                    }
                    aliases.insert(name, t.clone());
                    continue;
                }
            }
            files.insert(name, (path, false));
        }
    }
    // Every link in /etc/systemd/system/*.wants (…) names an enabled unit or instance.
    let mut enabled: BTreeSet<String> = enabled_by_alias;
    for d in read::dir_names(root, "/etc/systemd/system") {
        if [".wants", ".requires", ".upholds"]
            .iter()
            .any(|s| d.ends_with(s))
        {
            enabled.extend(read::dir_names(root, &format!("/etc/systemd/system/{d}")));
        }
    }
    // A template is enabled when one of its instances is (`getty@tty1.service`).
    let enabled_templates: BTreeSet<String> =
        enabled.iter().filter_map(|n| template_of(n)).collect();
    let mut out = Vec::new();
    for (name, (path, masked)) in &files {
        let state = if *masked {
            "masked"
        } else if enabled.contains(name) || enabled_templates.contains(name) {
            "enabled"
        } else {
            install_state(root, path)
        };
        out.push(Service {
            name: name.clone(),
            manager: "systemd".into(),
            state: state.into(),
            runlevels: Vec::new(),
            file: (!masked).then(|| path.clone()),
        });
    }
    for (name, target) in aliases {
        out.push(Service {
            name,
            manager: "systemd".into(),
            state: "alias".into(),
            runlevels: Vec::new(),
            file: Some(target),
        });
    }
    // Enabled instances (`getty@tty1.service` of `getty@.service`), and links to nothing.
    for name in enabled {
        if files.contains_key(&name) || !UNIT_TYPES.iter().any(|t| name.ends_with(t)) {
            continue;
        }
        let template = template_of(&name).and_then(|t| files.get(&t).map(|(p, _)| p.clone()));
        out.push(Service {
            name,
            manager: "systemd".into(),
            state: "enabled".into(),
            runlevels: Vec::new(),
            file: template,
        });
    }
    out
}

/// `getty@tty1.service` → `getty@.service`.
fn template_of(name: &str) -> Option<String> {
    let (base, rest) = name.split_once('@')?;
    let (instance, ext) = rest.rsplit_once('.')?;
    (!instance.is_empty()).then(|| format!("{base}@.{ext}"))
}

/// `disabled` when `[Install]` has a way to enable the unit, `indirect` when it only names
/// other units (`Also=`), `static` when it has none.
fn install_state(root: &RootFs, path: &str) -> &'static str {
    let Some(text) = read::read_config(root, path) else {
        return "static";
    };
    let mut in_install = false;
    let mut also = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_install = line == "[Install]";
            continue;
        }
        if !in_install {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        if v.trim().is_empty() {
            continue;
        }
        match k.trim() {
            "WantedBy" | "RequiredBy" | "UpheldBy" | "Alias" => return "disabled",
            "Also" => also = true,
            _ => {}
        }
    }
    if also {
        "indirect"
    } else {
        "static"
    }
}

/// Runlevel directories of the root, `(runlevel, dir)`, without the duplicates that RHEL's
/// `/etc/rcN.d -> rc.d/rcN.d` links make.
fn runlevel_dirs(root: &RootFs) -> Vec<(String, String)> {
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for lvl in ["0", "1", "2", "3", "4", "5", "6", "S"] {
        for d in [format!("/etc/rc.d/rc{lvl}.d"), format!("/etc/rc{lvl}.d")] {
            let r = read::resolve(root, &d);
            if r.is_dir() && !seen.contains(&r) {
                seen.push(r);
                out.push((lvl.to_string(), d));
            }
        }
    }
    out
}

/// Files in init.d that are not services.
fn is_helper_script(name: &str) -> bool {
    matches!(
        name,
        "README"
            | "skeleton"
            | "functions"
            | "rc"
            | "rcS"
            | "rc.local"
            | "halt"
            | "killall"
            | "single"
            | "reboot"
            | "sendsigs"
            | "umountfs"
            | "umountroot"
    ) || name.starts_with('.')
        || name.contains(".dpkg-")
        || name.ends_with(".rpmnew")
        || name.ends_with(".rpmsave")
        || name.ends_with(".sh") && name.starts_with("rc")
}

fn sysv(root: &RootFs) -> Vec<Service> {
    let script_dir = ["/etc/rc.d/init.d", "/etc/init.d"]
        .into_iter()
        .find(|d| read::resolve(root, d).is_dir());
    let mut starts: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut known: BTreeSet<String> = BTreeSet::new();
    for (lvl, dir) in runlevel_dirs(root) {
        for link in read::dir_names(root, &dir) {
            let b = link.as_bytes();
            if b.len() < 4
                || !(b[0] == b'S' || b[0] == b'K')
                || !b[1..3].iter().all(u8::is_ascii_digit)
            {
                continue;
            }
            let name = link[3..].to_string();
            known.insert(name.clone());
            if b[0] == b'S' {
                starts.entry(name).or_default().insert(lvl.clone());
            }
        }
    }
    let scripts: Vec<String> = script_dir
        .map(|d| read::dir_names(root, d))
        .unwrap_or_default()
        .into_iter()
        .filter(|n| !is_helper_script(n))
        .collect();
    let mut names: BTreeSet<String> = scripts.iter().cloned().collect();
    names.extend(known);
    names
        .into_iter()
        .map(|name| {
            let runlevels: Vec<String> = starts
                .get(&name)
                .map(|s| {
                    s.iter()
                        .filter(|l| *l != "0" && *l != "6")
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            Service {
                file: scripts
                    .contains(&name)
                    .then(|| format!("{}/{name}", script_dir.unwrap_or("/etc/init.d"))),
                state: if runlevels.is_empty() {
                    "disabled"
                } else {
                    "enabled"
                }
                .into(),
                runlevels,
                manager: "sysv".into(),
                name,
            }
        })
        .collect()
}

/// `id:3:initdefault:` in `/etc/inittab`.
fn inittab_default(root: &RootFs) -> Option<String> {
    let text = read::read_config(root, "/etc/inittab")?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.trim().split(':').collect();
        (f.len() >= 3 && f[2] == "initdefault" && !f[0].starts_with('#'))
            .then(|| format!("runlevel {}", f[1]))
    })
}

fn openrc(root: &RootFs) -> Vec<Service> {
    let mut levels: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for lvl in read::dir_names(root, "/etc/runlevels") {
        for name in read::dir_names(root, &format!("/etc/runlevels/{lvl}")) {
            levels.entry(name).or_default().push(lvl.clone());
        }
    }
    let mut names: BTreeSet<String> = read::dir_names(root, "/etc/init.d")
        .into_iter()
        .filter(|n| !is_helper_script(n) && !n.starts_with("functions"))
        .collect();
    names.extend(levels.keys().cloned());
    names
        .into_iter()
        .map(|name| {
            let runlevels = levels.get(&name).cloned().unwrap_or_default();
            let file = format!("/etc/init.d/{name}");
            Service {
                file: read::exists(root, &file).then_some(file),
                state: if runlevels.is_empty() {
                    "disabled"
                } else {
                    "enabled"
                }
                .into(),
                runlevels,
                manager: "openrc".into(),
                name,
            }
        })
        .collect()
}
