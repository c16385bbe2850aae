//! SELinux mode and firewall state.

use serde::Serialize;

use super::read;
use super::services::Services;
use super::LiveSources;
use crate::rootfs::RootFs;

#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct Selinux {
    /// `SELINUX=` of `/etc/selinux/config` (`enforcing`, `permissive`, `disabled`): the mode
    /// the system boots with, and the one a target image gets (UForge's `seLinuxMode`).
    /// `null` when the root has no SELinux configuration.
    pub mode: Option<String>,
    /// `SELINUXTYPE=` (`targeted`, `mls`).
    pub policy: Option<String>,
    /// The running mode (`/sys/fs/selinux/enforce`): `enforcing`, `permissive`, or
    /// `disabled` when selinuxfs is not mounted; live only.
    pub live_mode: Option<String>,
}

pub fn selinux(root: &RootFs, live: &LiveSources) -> Selinux {
    let config = read::read_assignments(root, "/etc/selinux/config");
    let get = |k: &str| {
        config
            .as_ref()
            .and_then(|c| c.get(k))
            .map(|v| v.to_ascii_lowercase())
            .filter(|v| !v.is_empty())
    };
    let live_mode = live
        .sys("fs")
        .and_then(|fs| match live.read_sys_text("fs/selinux/enforce") {
            Some(v) if v.trim() == "1" => Some("enforcing".to_string()),
            Some(v) if v.trim() == "0" => Some("permissive".to_string()),
            Some(_) => None,
            // A sysfs without a mounted selinuxfs: SELinux is off in the running kernel.
            None if fs.is_dir() => Some("disabled".to_string()),
            None => None,
        });
    Selinux {
        mode: get("SELINUX"),
        policy: get("SELINUXTYPE"),
        live_mode,
    }
}

#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct Firewall {
    /// Whether a firewall starts at boot (UForge's `firewallEnabled`); `null` when the
    /// root's services could not be read.
    pub enabled: Option<bool>,
    /// Every firewall the root has, enabled or not.
    pub firewalls: Vec<FirewallService>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FirewallService {
    /// `firewalld`, `ufw`, `iptables`, `ip6tables`, `nftables`, `netfilter-persistent`,
    /// `SuSEfirewall2`, `shorewall`.
    pub name: String,
    pub enabled: bool,
    /// What decided it: the service's state, and for ufw `/etc/ufw/ufw.conf`.
    pub source: String,
}

const FIREWALLS: &[&str] = &[
    "firewalld",
    "ufw",
    "iptables",
    "ip6tables",
    "nftables",
    "netfilter-persistent",
    "SuSEfirewall2",
    "shorewall",
];

pub fn firewall(root: &RootFs, services: &Services) -> Firewall {
    let mut out = Firewall::default();
    for name in FIREWALLS {
        let svc = services
            .get(&format!("{name}.service"))
            .or_else(|| services.get(name));
        let svc_state = svc.map(|s| (s.state.as_str(), s.name.as_str(), s.manager.as_str()));
        if *name == "ufw" {
            // ufw's unit is enabled by the package; ENABLED= in ufw.conf is the switch.
            if let Some(conf) = read::read_assignments(root, "/etc/ufw/ufw.conf") {
                let on = conf
                    .get("ENABLED")
                    .is_some_and(|v| v.eq_ignore_ascii_case("yes"));
                let service_off = matches!(svc_state, Some(("masked" | "disabled", _, _)));
                out.firewalls.push(FirewallService {
                    name: "ufw".into(),
                    enabled: on && !service_off,
                    source: match svc_state {
                        Some((state, n, m)) => {
                            format!(
                                "/etc/ufw/ufw.conf ENABLED={}; {m} {n} {state}",
                                conf.get("ENABLED").map_or("", |v| v)
                            )
                        }
                        None => format!(
                            "/etc/ufw/ufw.conf ENABLED={}",
                            conf.get("ENABLED").map_or("", |v| v)
                        ),
                    },
                });
                continue;
            }
        }
        if let Some((state, n, m)) = svc_state {
            out.firewalls.push(FirewallService {
                name: name.to_string(),
                enabled: state == "enabled",
                source: format!("{m} {n} {state}"),
            });
        }
    }
    out.enabled = if out.firewalls.iter().any(|f| f.enabled) {
        Some(true)
    } else if services.manager.is_some() {
        Some(false)
    } else {
        None
    };
    out
}
