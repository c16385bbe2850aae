//! The install profile over prepared roots, one per distribution family: each root is built
//! here from the files those releases really ship (os-release, release files, sysconfig,
//! vconsole.conf, passwd/shadow …), its systemd units are enabled and masked with the real
//! `systemctl --root` and listed back with `systemctl --root list-unit-files` as the oracle;
//! on this host users are checked against `getent passwd` and the distribution against
//! its own os-release.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use livescan::profile::{self, LiveSources, Profile, ProfileOptions};
use livescan::rootfs::RootFs;

struct Root {
    dir: tempfile::TempDir,
}

impl Root {
    fn new() -> Root {
        Root {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn host(&self, p: &str) -> PathBuf {
        self.path().join(p.trim_start_matches('/'))
    }

    fn file(&self, p: &str, content: impl AsRef<[u8]>) -> &Self {
        let h = self.host(p);
        fs::create_dir_all(h.parent().unwrap()).unwrap();
        fs::write(h, content).unwrap();
        self
    }

    fn dir(&self, p: &str) -> &Self {
        fs::create_dir_all(self.host(p)).unwrap();
        self
    }

    fn link(&self, p: &str, target: &str) -> &Self {
        let h = self.host(p);
        fs::create_dir_all(h.parent().unwrap()).unwrap();
        symlink(target, h).unwrap();
        self
    }

    /// A real ELF program (this host's `true`), so the architecture comes from a header.
    fn program(&self, p: &str) -> &Self {
        self.file(p, fs::read("/bin/true").unwrap())
    }

    /// `/bin`, `/sbin`, `/lib` as links into `/usr` (RHEL ≥ 7, Debian ≥ 12, Ubuntu ≥ 20.04, Arch).
    fn merged_usr(&self) -> &Self {
        for d in ["bin", "sbin", "lib", "lib64"] {
            self.dir(&format!("/usr/{d}"));
            self.link(&format!("/{d}"), &format!("usr/{d}"));
        }
        self
    }

    /// A unit file as packages ship them; `install` is its `[Install]` section body.
    fn unit(&self, dir: &str, name: &str, install: &str) -> &Self {
        let mut text = format!(
            "[Unit]\nDescription={name}\nAfter=network.target\n\n[Service]\nType=simple\nExecStart=/usr/sbin/{}\n",
            name.split('.').next().unwrap()
        );
        if !install.is_empty() {
            text.push_str(&format!("\n[Install]\n{install}\n"));
        }
        self.file(&format!("{dir}/{name}"), text)
    }

    /// The real `systemctl --root` (enable, mask, …): the links are systemd's own.
    fn systemctl(&self, args: &[&str]) -> &Self {
        // Debian's systemctl would chroot into the root to run update-rc.d for init scripts.
        let out = Command::new("systemctl")
            .env("SYSTEMCTL_SKIP_SYSV", "1")
            .arg(format!("--root={}", self.path().display()))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "systemctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self
    }

    fn profile(&self) -> Profile {
        self.profile_with(LiveSources::default(), false)
    }

    fn profile_with(&self, live: LiveSources, hashes: bool) -> Profile {
        let root = RootFs::new(self.path());
        profile::collect(
            &root,
            &live,
            &[],
            &ProfileOptions {
                include_password_hashes: hashes,
            },
        )
    }
}

fn have_systemctl(test: &str) -> bool {
    common::have_tools(test, &["systemctl"])
}

/// Our systemd unit states equal `systemctl --root=DIR list-unit-files` for the unit types
/// the profile lists; instances we add (`getty@tty1.service`) are the only extras.
fn assert_matches_systemctl(root: &Path, p: &Profile) {
    let out = Command::new("systemctl")
        .arg(format!("--root={}", root.display()))
        .args(["list-unit-files", "--no-legend", "--no-pager"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let theirs: BTreeMap<String, String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some((w.next()?.to_string(), w.next()?.to_string()))
        })
        .filter(|(n, _)| {
            [".service", ".socket", ".timer", ".path"]
                .iter()
                .any(|t| n.ends_with(t))
        })
        .collect();
    assert!(
        !theirs.is_empty(),
        "systemctl listed no units in {}",
        root.display()
    );
    let ours: BTreeMap<String, String> = p
        .services
        .services
        .iter()
        .filter(|s| s.manager == "systemd")
        .map(|s| (s.name.clone(), s.state.clone()))
        .collect();
    for (name, state) in &theirs {
        assert_eq!(
            ours.get(name),
            Some(state),
            "{name}: systemctl says {state}"
        );
    }
    for (name, state) in &ours {
        if !theirs.contains_key(name) {
            let instance = name
                .split_once('@')
                .is_some_and(|(_, r)| !r.starts_with('.'));
            assert!(
                instance && state == "enabled",
                "{name} ({state}) unknown to systemctl"
            );
        }
    }
}

fn service<'a>(p: &'a Profile, name: &str) -> &'a profile::services::Service {
    p.services
        .get(name)
        .unwrap_or_else(|| panic!("no service {name} in {:#?}", p.services))
}

fn user<'a>(p: &'a Profile, name: &str) -> &'a profile::users::User {
    p.users.iter().find(|u| u.name == name).unwrap()
}

fn host_arch() -> String {
    nix::sys::utsname::uname()
        .unwrap()
        .machine()
        .to_string_lossy()
        .into_owned()
}

// --- RHEL family -------------------------------------------------------------------------

/// The files of a RHEL/CentOS 6 host that matter: no os-release, SysV init under
/// /etc/rc.d with chkconfig's links, sysconfig files, a copied /etc/localtime.
fn rhel6(release_line: &str) -> Root {
    let r = Root::new();
    r.program("/bin/sh")
        .program("/sbin/init")
        .file("/etc/redhat-release", format!("{release_line}\n"))
        .file("/etc/localtime", b"TZif2\0\0\0\0")
        .file("/etc/sysconfig/clock", "ZONE=\"America/New_York\"\n")
        .file(
            "/etc/sysconfig/keyboard",
            "KEYTABLE=\"us\"\nMODEL=\"pc105+inet\"\nLAYOUT=\"us\"\nKEYBOARDTYPE=\"pc\"\n",
        )
        .file(
            "/etc/sysconfig/i18n",
            "LANG=\"en_US.UTF-8\"\nSYSFONT=\"latarcyrheb-sun16\"\n",
        )
        .file(
            "/etc/sysconfig/network",
            "NETWORKING=yes\nHOSTNAME=rhel6.example.com\n",
        )
        .file(
            "/etc/selinux/config",
            "\n# This file controls the state of SELinux on the system.\n# SELINUX= can take one of these three values:\n#     enforcing - SELinux security policy is enforced.\n#     permissive - SELinux prints warnings instead of enforcing.\n#     disabled - No SELinux policy is loaded.\nSELINUX=enforcing\n# SELINUXTYPE= can take one of these two values:\n#     targeted - Targeted processes are protected,\n#     mls - Multi Level Security protection.\nSELINUXTYPE=targeted \n",
        )
        .file(
            "/etc/login.defs",
            "MAIL_DIR\t/var/spool/mail\nPASS_MAX_DAYS\t99999\n\n# Min/max values for automatic uid selection in useradd\n#\nUID_MIN\t\t\t  500\nUID_MAX\t\t\t60000\n\n#\n# Min/max values for automatic gid selection in groupadd\n#\nGID_MIN\t\t\t  500\nGID_MAX\t\t\t60000\n",
        )
        .file("/etc/inittab", "# Default runlevel. The runlevels used are:\n#   3 - Full multiuser mode\n#\nid:3:initdefault:\n")
        .file(
            "/etc/passwd",
            "root:x:0:0:root:/root:/bin/bash\nbin:x:1:1:bin:/bin:/sbin/nologin\nsshd:x:74:74:Privilege-separated SSH:/var/empty/sshd:/sbin/nologin\nops:x:500:500:Ops & Co:/home/ops:/bin/bash\n",
        )
        .file(
            "/etc/shadow",
            "root:$6$rhel6salt$Jj5fX1Jx0M3o0YkqgN3K7s7tZ8yq0u5mP0a1oQJrQ0:17000:0:99999:7:::\nbin:*:15980:0:99999:7:::\nsshd:!!:17000::::::\nops:!!:17000:0:99999:7:::\n",
        )
        .file("/etc/group", "root:x:0:\nbin:x:1:bin,daemon\nwheel:x:10:ops\nsshd:x:74:\nops:x:500:\n")
        .file("/etc/gshadow", "root:::\nbin:::bin,daemon\nwheel:::ops\nsshd:!::\nops:!!::\n")
        .link("/etc/init.d", "rc.d/init.d");
    for s in [
        "functions",
        "sshd",
        "iptables",
        "ip6tables",
        "crond",
        "netconsole",
        "halt",
    ] {
        r.file(
            &format!("/etc/rc.d/init.d/{s}"),
            "#!/bin/sh\n# chkconfig: 2345 55 25\n",
        );
    }
    // What `chkconfig` leaves: S links in the runlevels a service is on, K links elsewhere.
    let on = [("sshd", 55, 25), ("iptables", 8, 92), ("crond", 90, 60)];
    for lvl in 0..=6 {
        r.dir(&format!("/etc/rc.d/rc{lvl}.d"));
        r.link(&format!("/etc/rc{lvl}.d"), &format!("rc.d/rc{lvl}.d"));
        for (s, start, kill) in on {
            let name = if (2..=5).contains(&lvl) {
                format!("S{start:02}{s}")
            } else {
                format!("K{kill:02}{s}")
            };
            r.link(
                &format!("/etc/rc.d/rc{lvl}.d/{name}"),
                &format!("../init.d/{s}"),
            );
        }
        r.link(
            &format!("/etc/rc.d/rc{lvl}.d/K50netconsole"),
            "../init.d/netconsole",
        );
        r.link(
            &format!("/etc/rc.d/rc{lvl}.d/K92ip6tables"),
            "../init.d/ip6tables",
        );
    }
    r.file("/boot/vmlinuz-2.6.32-754.el6.x86_64", b"kernel")
        .file("/lib/modules/2.6.32-754.el6.x86_64/modules.dep", "")
        .dir("/lib/modules/2.6.32-754.el6.x86_64/kernel")
        // A removed kernel leaves only weak-updates behind: not installed.
        .dir("/lib/modules/2.6.32-696.el6.x86_64/weak-updates");
    r
}

#[test]
fn rhel6_sysv_and_sysconfig() {
    let r = rhel6("Red Hat Enterprise Linux Server release 6.10 (Santiago)");
    let p = r.profile();
    let d = &p.distribution;
    assert_eq!(d.name.as_deref(), Some("RedHat Enterprise Linux"));
    assert_eq!(d.version.as_deref(), Some("6.10"));
    assert_eq!(d.id.as_deref(), Some("rhel"));
    assert_eq!(d.lineage.as_deref(), Some("rhel"));
    assert_eq!(d.pkg_type.as_deref(), Some("rpm"));
    assert_eq!(d.family, "linux");
    assert_eq!(d.source.as_deref(), Some("/etc/redhat-release"));
    assert_eq!(d.arch.as_deref(), Some(host_arch().as_str()));
    assert_eq!(p.hostname.as_deref(), Some("rhel6.example.com"));
    assert_eq!(p.timezone.name.as_deref(), Some("America/New_York"));
    assert_eq!(p.timezone.source.as_deref(), Some("/etc/sysconfig/clock"));
    assert_eq!(p.keyboard.keymap.as_deref(), Some("us"));
    assert_eq!(p.keyboard.xkb_model.as_deref(), Some("pc105+inet"));
    assert_eq!(p.locale.lang.as_deref(), Some("en_US.UTF-8"));
    assert_eq!(p.locale.source.as_deref(), Some("/etc/sysconfig/i18n"));
    assert_eq!(p.selinux.mode.as_deref(), Some("enforcing"));
    assert_eq!(p.selinux.policy.as_deref(), Some("targeted"));
    assert_eq!(p.selinux.live_mode, None, "no live facts without --sys");

    assert_eq!(p.services.manager.as_deref(), Some("sysvinit"));
    assert_eq!(p.services.default_target.as_deref(), Some("runlevel 3"));
    let sshd = service(&p, "sshd");
    assert_eq!(
        (sshd.state.as_str(), sshd.manager.as_str()),
        ("enabled", "sysv")
    );
    assert_eq!(sshd.runlevels, ["2", "3", "4", "5"]);
    assert_eq!(sshd.file.as_deref(), Some("/etc/rc.d/init.d/sshd"));
    assert_eq!(service(&p, "netconsole").state, "disabled");
    assert!(
        p.services.get("functions").is_none(),
        "a helper is no service"
    );
    assert_eq!(p.firewall.enabled, Some(true));
    let fw: Vec<(&str, bool)> = p
        .firewall
        .firewalls
        .iter()
        .map(|f| (f.name.as_str(), f.enabled))
        .collect();
    assert_eq!(fw, [("iptables", true), ("ip6tables", false)]);

    // UID_MIN 500 on RHEL 6: uid 500 is a regular user.
    let ops = user(&p, "ops");
    assert!(!ops.system_user);
    assert_eq!(ops.gecos, b"Ops & Co");
    assert_eq!(ops.primary_group.as_deref(), Some("ops"));
    assert_eq!(ops.secondary_groups, ["wheel"]);
    assert!(
        !ops.password_set && ops.password_locked,
        "`!!` is no password"
    );
    let root = user(&p, "root");
    assert!(root.system_user && root.password_set && !root.password_locked);
    assert_eq!(root.password_source.as_deref(), Some("/etc/shadow"));
    assert_eq!(root.password_hash, None, "no hashes unless asked");
    let bin = p.groups.iter().find(|g| g.name == "bin").unwrap();
    assert_eq!(bin.members, ["bin", "daemon"]);

    let k: Vec<(&str, Option<&str>)> = p
        .kernel
        .installed
        .iter()
        .map(|k| (k.release.as_str(), k.image.as_deref()))
        .collect();
    assert_eq!(
        k,
        [(
            "2.6.32-754.el6.x86_64",
            Some("/boot/vmlinuz-2.6.32-754.el6.x86_64")
        )]
    );
    assert_eq!(p.kernel.running_release, None);
    assert!(p.kernel.parameters.is_empty());
    assert!(!p.live);
    assert_eq!(p.hardware.memory_bytes, None);
}

/// UForge's changelog: "Oracle Linux treated as RHEL", "Scientific Linux cannot be scanned".
/// Oracle Linux 6 keeps a /etc/redhat-release that claims to be RHEL.
#[test]
fn rhel6_rebuilds_are_themselves() {
    let r = rhel6("Red Hat Enterprise Linux Server release 6.10 (Santiago)");
    r.file("/etc/oracle-release", "Oracle Linux Server release 6.10\n");
    let d = r.profile().distribution;
    assert_eq!(d.name.as_deref(), Some("Oracle Linux"));
    assert_eq!(d.id.as_deref(), Some("ol"));
    assert_eq!(d.version.as_deref(), Some("6.10"));
    assert_eq!(d.lineage.as_deref(), Some("rhel"));

    for (line, name, version) in [
        (
            "Scientific Linux release 6.10 (Carbon)",
            "Scientific Linux",
            "6.10",
        ),
        ("CentOS release 6.10 (Final)", "CentOS", "6.10"),
    ] {
        let d = rhel6(line).profile().distribution;
        assert_eq!(d.name.as_deref(), Some(name), "{line}");
        assert_eq!(d.version.as_deref(), Some(version));
        assert_eq!(d.lineage.as_deref(), Some("rhel"));
    }
}

/// os-release of RHEL rebuilds (as they ship it): each named as itself, RHEL lineage.
#[test]
fn rhel_rebuilds_by_os_release() {
    for (os_release, name, version) in [
        ("NAME=\"Oracle Linux Server\"\nVERSION=\"8.9\"\nID=\"ol\"\nID_LIKE=\"fedora\"\nVARIANT=\"Server\"\nVARIANT_ID=\"server\"\nVERSION_ID=\"8.9\"\nPLATFORM_ID=\"platform:el8\"\nPRETTY_NAME=\"Oracle Linux Server 8.9\"\n", "Oracle Linux", "8.9"),
        ("NAME=\"Scientific Linux\"\nVERSION=\"7.9 (Nitrogen)\"\nID=\"scientific\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"7.9\"\nPRETTY_NAME=\"Scientific Linux 7.9 (Nitrogen)\"\n", "Scientific Linux", "7.9"),
        ("NAME=\"Rocky Linux\"\nVERSION=\"9.3 (Blue Onyx)\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.3\"\nPLATFORM_ID=\"platform:el9\"\nPRETTY_NAME=\"Rocky Linux 9.3 (Blue Onyx)\"\n", "Rocky Linux", "9.3"),
        ("NAME=\"AlmaLinux\"\nVERSION=\"9.3 (Shamrock Pampas Cat)\"\nID=\"almalinux\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.3\"\nPLATFORM_ID=\"platform:el9\"\nPRETTY_NAME=\"AlmaLinux 9.3 (Shamrock Pampas Cat)\"\n", "AlmaLinux", "9.3"),
        ("NAME=\"Amazon Linux\"\nVERSION=\"2\"\nID=\"amzn\"\nID_LIKE=\"centos rhel fedora\"\nVERSION_ID=\"2\"\nPRETTY_NAME=\"Amazon Linux 2\"\nANSI_COLOR=\"0;33\"\n", "Amazon Linux", "2"),
        ("NAME=\"CentOS Linux\"\nVERSION=\"7 (Core)\"\nID=\"centos\"\nID_LIKE=\"rhel fedora\"\nVERSION_ID=\"7\"\nPRETTY_NAME=\"CentOS Linux 7 (Core)\"\n", "CentOS", "7"),
    ] {
        let r = Root::new();
        r.file("/etc/os-release", os_release)
            // They all keep a redhat-release too; os-release wins.
            .file("/etc/redhat-release", "Red Hat Enterprise Linux release 9.3 (Plow)\n");
        let d = r.profile().distribution;
        assert_eq!(d.name.as_deref(), Some(name));
        assert_eq!(d.version.as_deref(), Some(version));
        assert_eq!(d.lineage.as_deref(), Some("rhel"), "{name}");
        assert_eq!(d.source.as_deref(), Some("/etc/os-release"));
    }
}

/// RHEL/CentOS 7: systemd, vconsole.conf (UForge missed the keyboard on CentOS 7), grub's
/// GRUB_CMDLINE_LINUX (and kernel parameters), firewalld enabled with its alias.
#[test]
fn rhel7_systemd_and_vconsole() {
    if !have_systemctl("rhel7_systemd_and_vconsole") {
        return;
    }
    let r = Root::new();
    r.merged_usr()
        .program("/usr/bin/sh")
        .program("/usr/lib/systemd/systemd")
        .link("/usr/sbin/init", "../lib/systemd/systemd")
        .file("/etc/os-release", "NAME=\"Red Hat Enterprise Linux Server\"\nVERSION=\"7.9 (Maipo)\"\nID=\"rhel\"\nID_LIKE=\"fedora\"\nVARIANT=\"Server\"\nVARIANT_ID=\"server\"\nVERSION_ID=\"7.9\"\nPRETTY_NAME=\"Red Hat Enterprise Linux Server 7.9 (Maipo)\"\nANSI_COLOR=\"0;31\"\nCPE_NAME=\"cpe:/o:redhat:enterprise_linux:7.9:GA:server\"\nHOME_URL=\"https://www.redhat.com/\"\nBUG_REPORT_URL=\"https://bugzilla.redhat.com/\"\n")
        .file("/etc/redhat-release", "Red Hat Enterprise Linux Server release 7.9 (Maipo)\n")
        .link("/etc/localtime", "../usr/share/zoneinfo/Europe/Paris")
        .file("/etc/vconsole.conf", "KEYMAP=\"fr\"\nFONT=\"latarcyrheb-sun16\"\n")
        .file("/etc/X11/xorg.conf.d/00-keyboard.conf", "# Read and parsed by systemd-localed. It's probably wise not to edit this file\n# manually too freely.\nSection \"InputClass\"\n        Identifier \"system-keyboard\"\n        MatchIsKeyboard \"on\"\n        Option \"XkbLayout\" \"fr\"\n        Option \"XkbVariant\" \"oss\"\nEndSection\n")
        .file("/etc/locale.conf", "LANG=\"fr_FR.UTF-8\"\n")
        .file("/etc/hostname", "rhel7.example.com\n")
        .file("/etc/default/grub", "GRUB_TIMEOUT=5\nGRUB_DISTRIBUTOR=\"$(sed 's, release .*$,,g' /etc/system-release)\"\nGRUB_DEFAULT=saved\nGRUB_DISABLE_SUBMENU=true\nGRUB_TERMINAL_OUTPUT=\"console\"\nGRUB_CMDLINE_LINUX=\"crashkernel=auto rd.lvm.lv=rhel/root rd.lvm.lv=rhel/swap rhgb quiet\"\nGRUB_DISABLE_RECOVERY=\"true\"\n")
        .file("/etc/selinux/config", "SELINUX=permissive\nSELINUXTYPE=targeted\n")
        .unit("/usr/lib/systemd/system", "sshd.service", "WantedBy=multi-user.target")
        .unit("/usr/lib/systemd/system", "firewalld.service", "WantedBy=multi-user.target\nAlias=dbus-org.fedoraproject.FirewallD1.service")
        .unit("/usr/lib/systemd/system", "iptables.service", "WantedBy=basic.target")
        .unit("/usr/lib/systemd/system", "kdump.service", "WantedBy=multi-user.target")
        .unit("/usr/lib/systemd/system", "tuned.service", "WantedBy=multi-user.target")
        .unit("/usr/lib/systemd/system", "systemd-journald.service", "")
        .unit("/usr/lib/systemd/system", "getty@.service", "WantedBy=getty.target\nDefaultInstance=tty1")
        .unit("/usr/lib/systemd/system", "rpcbind.service", "Also=rpcbind.socket")
        .file("/usr/lib/systemd/system/rpcbind.socket", "[Unit]\nDescription=RPCbind Server Activation Socket\n\n[Socket]\nListenStream=/var/run/rpcbind.sock\n\n[Install]\nWantedBy=sockets.target\n")
        .file("/usr/lib/systemd/system/multi-user.target", "[Unit]\nDescription=Multi-User System\n")
        .file("/boot/vmlinuz-3.10.0-1160.el7.x86_64", b"k")
        .file("/usr/lib/modules/3.10.0-1160.el7.x86_64/modules.dep", "")
        .file("/boot/vmlinuz-3.10.0-1127.el7.x86_64", b"k")
        .file("/usr/lib/modules/3.10.0-1127.el7.x86_64/modules.dep", "")
        .file("/boot/vmlinuz-0-rescue-4b0e2a8f3b1c4d8e9f00112233445566", b"k")
        .file("/boot/.vmlinuz-3.10.0-1160.el7.x86_64.hmac", "x");
    r.systemctl(&[
        "enable",
        "sshd.service",
        "firewalld.service",
        "tuned.service",
        "getty@tty1.service",
        "rpcbind.socket",
    ])
    .systemctl(&["mask", "kdump.service"])
    .systemctl(&["set-default", "multi-user.target"]);
    let p = r.profile();
    assert_eq!(
        p.distribution.name.as_deref(),
        Some("RedHat Enterprise Linux")
    );
    assert_eq!(p.distribution.version.as_deref(), Some("7.9"));
    assert_eq!(p.distribution.arch.as_deref(), Some(host_arch().as_str()));
    assert_eq!(p.keyboard.keymap.as_deref(), Some("fr"));
    assert_eq!(p.keyboard.xkb_layout.as_deref(), Some("fr"));
    assert_eq!(p.keyboard.xkb_variant.as_deref(), Some("oss"));
    assert_eq!(
        p.keyboard.sources,
        [
            "/etc/vconsole.conf",
            "/etc/X11/xorg.conf.d/00-keyboard.conf"
        ]
    );
    assert_eq!(p.timezone.name.as_deref(), Some("Europe/Paris"));
    assert_eq!(p.timezone.source.as_deref(), Some("/etc/localtime"));
    assert_eq!(p.locale.lang.as_deref(), Some("fr_FR.UTF-8"));
    assert_eq!(p.hostname.as_deref(), Some("rhel7.example.com"));
    assert_eq!(p.selinux.mode.as_deref(), Some("permissive"));
    assert_eq!(
        p.kernel.parameters,
        [
            "crashkernel=auto",
            "rd.lvm.lv=rhel/root",
            "rd.lvm.lv=rhel/swap",
            "rhgb",
            "quiet"
        ]
    );
    assert_eq!(
        p.kernel.parameters_source.as_deref(),
        Some("/etc/default/grub")
    );
    let releases: Vec<&str> = p
        .kernel
        .installed
        .iter()
        .map(|k| k.release.as_str())
        .collect();
    assert_eq!(
        releases,
        ["3.10.0-1127.el7.x86_64", "3.10.0-1160.el7.x86_64"],
        "rescue and .hmac are no kernels"
    );

    assert_eq!(p.services.manager.as_deref(), Some("systemd"));
    assert_eq!(
        p.services.default_target.as_deref(),
        Some("multi-user.target")
    );
    assert_eq!(service(&p, "sshd.service").state, "enabled");
    assert_eq!(service(&p, "kdump.service").state, "masked");
    assert_eq!(service(&p, "iptables.service").state, "disabled");
    assert_eq!(service(&p, "systemd-journald.service").state, "static");
    assert_eq!(service(&p, "rpcbind.service").state, "indirect");
    assert_eq!(service(&p, "getty@tty1.service").state, "enabled");
    assert_eq!(
        service(&p, "getty@tty1.service").file.as_deref(),
        Some("/usr/lib/systemd/system/getty@.service")
    );
    assert_eq!(
        service(&p, "dbus-org.fedoraproject.FirewallD1.service").state,
        "alias"
    );
    assert_matches_systemctl(r.path(), &p);
    assert_eq!(p.firewall.enabled, Some(true));
    let fw: Vec<(&str, bool)> = p
        .firewall
        .firewalls
        .iter()
        .map(|f| (f.name.as_str(), f.enabled))
        .collect();
    assert_eq!(fw, [("firewalld", true), ("iptables", false)]);
}

/// RHEL 9: os-release is a link into /usr/lib, BLS kernels with vmlinuz in the modules
/// directory, shadow states, and live facts from captured /proc and /sys trees.
fn rhel9() -> Root {
    let r = Root::new();
    r.merged_usr()
        .program("/usr/bin/sh")
        .program("/usr/lib/systemd/systemd")
        .link("/usr/sbin/init", "../lib/systemd/systemd")
        .file("/usr/lib/os-release", "NAME=\"Red Hat Enterprise Linux\"\nVERSION=\"9.3 (Plow)\"\nID=\"rhel\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"9.3\"\nPLATFORM_ID=\"platform:el9\"\nPRETTY_NAME=\"Red Hat Enterprise Linux 9.3 (Plow)\"\nANSI_COLOR=\"0;31\"\nLOGO=\"fedora-logo-icon\"\nCPE_NAME=\"cpe:/o:redhat:enterprise_linux:9::baseos\"\nHOME_URL=\"https://www.redhat.com/\"\nDOCUMENTATION_URL=\"https://access.redhat.com/documentation/en-us/red_hat_enterprise_linux/9\"\nBUG_REPORT_URL=\"https://bugzilla.redhat.com/\"\n\nREDHAT_BUGZILLA_PRODUCT=\"Red Hat Enterprise Linux 9\"\nREDHAT_BUGZILLA_PRODUCT_VERSION=9.3\nREDHAT_SUPPORT_PRODUCT=\"Red Hat Enterprise Linux\"\nREDHAT_SUPPORT_PRODUCT_VERSION=\"9.3\"\n")
        .link("/etc/os-release", "../usr/lib/os-release")
        .link("/etc/localtime", "../usr/share/zoneinfo/UTC")
        .file("/etc/vconsole.conf", "KEYMAP=us\n")
        .file("/etc/locale.conf", "LANG=en_US.UTF-8\n")
        .file("/etc/hostname", "rhel9.example.com\n")
        .file("/etc/kernel/cmdline", "root=/dev/mapper/rhel-root ro crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M resume=/dev/mapper/rhel-swap rd.lvm.lv=rhel/root rd.lvm.lv=rhel/swap\n")
        .file("/etc/selinux/config", "SELINUX=enforcing\nSELINUXTYPE=targeted\n")
        .file("/usr/lib/modules/5.14.0-362.8.1.el9_3.x86_64/vmlinuz", b"k")
        .file("/usr/lib/modules/5.14.0-362.8.1.el9_3.x86_64/modules.dep", "")
        .file("/boot/vmlinuz-5.14.0-362.8.1.el9_3.x86_64", b"k")
        .file("/usr/lib/modules/5.14.0-284.11.1.el9_2.x86_64/vmlinuz", b"k")
        .file("/usr/lib/modules/5.14.0-284.11.1.el9_2.x86_64/modules.dep", "")
        .file("/etc/login.defs", "UID_MIN                  1000\nUID_MAX                 60000\nSYS_UID_MIN               201\nSYS_UID_MAX               999\nGID_MIN                  1000\nGID_MAX                 60000\n")
        .file("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:Kernel Overflow User:/:/sbin/nologin\nalice:x:1000:1000:Alice Liddell:/home/alice:/bin/bash\nbob:x:1001:1001::/home/bob:/bin/bash\neve:x:1002:1002::/home/eve:/bin/sh\nghost:x:1003:1003::/home/ghost:/bin/sh\n")
        .file("/etc/shadow", "root:$6$r9salt$4bqQw2Hn1Z7cz0ZqK8V1D2Xy3eYx5Z0rB1mN2kL3jH4gF5dS6aQ7wE8rT9yU0iO1pA2sD3fG4hJ5kL6zX7cV8bN:19700:0:99999:7:::\nnobody:*:19469:0:99999:7:::\nalice:$y$j9T$S4lTzOxw$QtS5mUg8gXo5FZ8Oq0lTmM6cWoqS4o5i1l0yKX3vXy1:19700:0:99999:7:::\nbob:!$6$bobsalt$Yx9f2:19700:0:99999:7:::\neve::19700:0:99999:7:::\n")
        .file("/etc/group", "root:x:0:\nwheel:x:10:alice\nnobody:x:65534:\nalice:x:1000:\nbob:x:1001:\neve:x:1002:\n")
        .file("/etc/gshadow", "root:::\nwheel:::alice,bob\nnobody:::\nalice:!::\nbob:!::\neve:!::\n")
        .unit("/usr/lib/systemd/system", "sshd.service", "WantedBy=multi-user.target")
        .unit("/usr/lib/systemd/system", "nftables.service", "WantedBy=multi-user.target")
        // RHEL's sudoers (abridged) and what cloud-init writes for its default user.
        .file("/etc/sudoers", "## Sudoers allows particular users to run various commands as\n## the root user, without needing the root password.\n##\nDefaults   !visiblepw\nDefaults    always_set_home\nDefaults    env_reset\nDefaults    secure_path = /sbin:/bin:/usr/sbin:/usr/bin\n\n## Allow root to run any commands anywhere\nroot\tALL=(ALL) \tALL\n\n## Allows people in group wheel to run all commands\n%wheel\tALL=(ALL)\tALL\n\n## Same thing without a password\n# %wheel\tALL=(ALL)\tNOPASSWD: ALL\n\n## Allows members of the users group to shutdown this system\n# %users  localhost=/sbin/shutdown -h now\neve ALL=/sbin/shutdown -h now\n\n## Read drop-in files from /etc/sudoers.d (the # here does not mean a comment)\n#includedir /etc/sudoers.d\n")
        .file("/etc/sudoers.d/90-cloud-init-users", "# Created by cloud-init v. 23.1.1 on Mon, 01 Jan 2024 00:00:00 +0000\n\n# User rules for bob\nbob ALL=(ALL) NOPASSWD:ALL\n")
        .file("/etc/sudoers.d/ghost.rpmsave", "ghost ALL=(ALL) NOPASSWD:ALL\n");
    r
}

#[test]
fn rhel9_accounts_and_kernels() {
    let r = rhel9();
    let p = r.profile();
    assert_eq!(
        p.distribution.name.as_deref(),
        Some("RedHat Enterprise Linux")
    );
    assert_eq!(p.distribution.version.as_deref(), Some("9.3"));
    assert_eq!(p.timezone.name.as_deref(), Some("UTC"));
    assert_eq!(
        p.kernel.parameters_source.as_deref(),
        Some("/etc/kernel/cmdline")
    );
    assert_eq!(p.kernel.dropped_parameters, ["root=/dev/mapper/rhel-root"]);
    assert!(p
        .kernel
        .parameters
        .contains(&"resume=/dev/mapper/rhel-swap".to_string()));
    let k: Vec<(&str, Option<&str>, bool)> = p
        .kernel
        .installed
        .iter()
        .map(|k| (k.release.as_str(), k.image.as_deref(), k.running))
        .collect();
    assert_eq!(
        k,
        [
            (
                "5.14.0-284.11.1.el9_2.x86_64",
                Some("/usr/lib/modules/5.14.0-284.11.1.el9_2.x86_64/vmlinuz"),
                false
            ),
            (
                "5.14.0-362.8.1.el9_3.x86_64",
                Some("/usr/lib/modules/5.14.0-362.8.1.el9_3.x86_64/vmlinuz"),
                false
            ),
        ]
    );
    let nobody = user(&p, "nobody");
    assert!(nobody.system_user, "65534 is above UID_MAX");
    assert!(!user(&p, "alice").system_user);
    assert_eq!(user(&p, "alice").gecos, b"Alice Liddell");
    assert_eq!(user(&p, "alice").secondary_groups, ["wheel"]);
    assert_eq!(
        user(&p, "bob").secondary_groups,
        ["wheel"],
        "gshadow members count"
    );
    let state = |n: &str| {
        let u = user(&p, n);
        (
            u.password_set,
            u.password_locked,
            u.password_empty,
            u.password_source.as_deref(),
        )
    };
    assert_eq!(
        state("alice"),
        (true, false, false, Some("/etc/shadow")),
        "yescrypt hash"
    );
    assert_eq!(
        state("bob"),
        (true, true, false, Some("/etc/shadow")),
        "locked hash"
    );
    assert_eq!(
        state("eve"),
        (false, false, true, Some("/etc/shadow")),
        "empty"
    );
    assert_eq!(
        state("ghost"),
        (false, false, false, None),
        "no shadow line: unknown"
    );
    assert!(p.users.iter().all(|u| u.password_hash.is_none()));
    assert!(!p.password_hashes_included);
    let json = serde_json::to_string(&p).unwrap();
    assert!(
        !json.contains("$6$"),
        "no hash in the report without the flag"
    );
    let wheel = p.groups.iter().find(|g| g.name == "wheel").unwrap();
    assert_eq!(wheel.members, ["alice", "bob"]);
    // sudo: root and %wheel with a password, bob without (sudoers.d), eve only one command,
    // ghost's rule is in a file sudo skips (a `.` in the name).
    let sudo: Vec<(&str, u8)> = p.users.iter().map(|u| (u.name.as_str(), u.sudo)).collect();
    assert_eq!(
        sudo,
        [
            ("root", 1),
            ("nobody", 0),
            ("alice", 1),
            ("bob", 2),
            ("eve", 0),
            ("ghost", 0)
        ]
    );
    assert!(wheel.system_group);

    // With --include-password-hashes the fields are there, exactly as shadow has them.
    let p = r.profile_with(LiveSources::default(), true);
    assert!(p.password_hashes_included);
    assert_eq!(
        user(&p, "bob").password_hash.as_ref().map(|h| h.0.as_str()),
        Some("!$6$bobsalt$Yx9f2")
    );
    assert_eq!(user(&p, "ghost").password_hash, None);
    let alice = user(&p, "alice").clone();
    assert!(
        !format!("{alice:?}").contains("$y$"),
        "Debug never prints a hash"
    );
    let json = serde_json::to_value(&alice).unwrap();
    assert!(json["password_hash"]
        .as_str()
        .unwrap()
        .starts_with("$y$j9T$"));
}

/// Live facts: with --root and no --proc they are unknown; from captured trees they are
/// read from the trees (never from the scanning host).
#[test]
fn rhel9_live_facts_from_captured_trees() {
    let r = rhel9();
    let p = r.profile();
    assert!(!p.live);
    assert_eq!(p.kernel.running_release, None);
    assert_eq!(p.kernel.cmdline, None);
    assert_eq!(p.hardware, Default::default());
    assert_eq!(p.selinux.live_mode, None);

    let cap = tempfile::tempdir().unwrap();
    let proc_dir = cap.path().join("proc");
    let sys_dir = cap.path().join("sys");
    fs::create_dir_all(proc_dir.join("sys/kernel")).unwrap();
    fs::create_dir_all(sys_dir.join("devices/system/cpu")).unwrap();
    fs::create_dir_all(sys_dir.join("fs/selinux")).unwrap();
    fs::write(
        proc_dir.join("cmdline"),
        "BOOT_IMAGE=(hd0,msdos1)/vmlinuz-5.14.0-362.8.1.el9_3.x86_64 root=/dev/mapper/rhel-root ro crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M resume=/dev/mapper/rhel-swap rd.lvm.lv=rhel/root rd.lvm.lv=rhel/swap rhgb quiet\n",
    )
    .unwrap();
    fs::write(
        proc_dir.join("sys/kernel/osrelease"),
        "5.14.0-362.8.1.el9_3.x86_64\n",
    )
    .unwrap();
    fs::write(proc_dir.join("sys/kernel/hostname"), "live-name\n").unwrap();
    fs::write(
        proc_dir.join("meminfo"),
        "MemTotal:        3861460 kB\nMemFree:          172536 kB\nMemAvailable:    2950020 kB\nSwapTotal:       4128764 kB\nSwapFree:        4128764 kB\n",
    )
    .unwrap();
    let cpu = |n: u32| {
        format!("processor\t: {n}\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 85\nmodel name\t: Intel(R) Xeon(R) Gold 6248R CPU @ 3.00GHz\n\n")
    };
    fs::write(
        proc_dir.join("cpuinfo"),
        (0..4).map(cpu).collect::<String>(),
    )
    .unwrap();
    fs::write(sys_dir.join("devices/system/cpu/online"), "0-3\n").unwrap();
    fs::write(sys_dir.join("fs/selinux/enforce"), "1").unwrap();
    let root = RootFs::new(r.path());
    let live = LiveSources::for_root(&root, Some(proc_dir.clone()), Some(sys_dir.clone()));
    let p = r.profile_with(live, false);
    assert!(p.live);
    assert_eq!(
        p.kernel.running_release.as_deref(),
        Some("5.14.0-362.8.1.el9_3.x86_64")
    );
    assert_eq!(p.kernel.parameters_source.as_deref(), Some("/proc/cmdline"));
    assert_eq!(
        p.kernel.dropped_parameters,
        [
            "BOOT_IMAGE=(hd0,msdos1)/vmlinuz-5.14.0-362.8.1.el9_3.x86_64",
            "root=/dev/mapper/rhel-root"
        ]
    );
    assert_eq!(p.kernel.parameters[0], "ro");
    assert_eq!(
        p.kernel.parameters.last().map(String::as_str),
        Some("quiet")
    );
    let running: Vec<&str> = p
        .kernel
        .installed
        .iter()
        .filter(|k| k.running)
        .map(|k| k.release.as_str())
        .collect();
    assert_eq!(running, ["5.14.0-362.8.1.el9_3.x86_64"]);
    assert_eq!(p.hardware.memory_bytes, Some(3861460 * 1024));
    assert_eq!(p.hardware.swap_bytes, Some(4128764 * 1024));
    assert_eq!(p.hardware.cpus, Some(4));
    assert_eq!(
        p.hardware.cpu_model.as_deref(),
        Some("Intel(R) Xeon(R) Gold 6248R CPU @ 3.00GHz")
    );
    assert_eq!(p.selinux.live_mode.as_deref(), Some("enforcing"));
    assert_eq!(
        p.hostname.as_deref(),
        Some("rhel9.example.com"),
        "the root's file wins"
    );

    // A sysfs without selinuxfs: SELinux off in the running kernel, whatever the config says.
    fs::remove_dir_all(sys_dir.join("fs/selinux")).unwrap();
    let live = LiveSources::for_root(&root, Some(proc_dir), Some(sys_dir));
    let p = r.profile_with(live, false);
    assert_eq!(p.selinux.live_mode.as_deref(), Some("disabled"));
    assert_eq!(p.selinux.mode.as_deref(), Some("enforcing"));
}

// --- SUSE --------------------------------------------------------------------------------

#[test]
fn sles12_sysconfig_fallbacks() {
    if !have_systemctl("sles12_sysconfig_fallbacks") {
        return;
    }
    let r = Root::new();
    r.program("/bin/sh")
        .program("/usr/lib/systemd/systemd")
        .link("/sbin/init", "/usr/lib/systemd/systemd")
        .file("/etc/os-release", "NAME=\"SLES\"\nVERSION=\"12-SP5\"\nVERSION_ID=\"12.5\"\nPRETTY_NAME=\"SUSE Linux Enterprise Server 12 SP5\"\nID=\"sles\"\nANSI_COLOR=\"0;32\"\nCPE_NAME=\"cpe:/o:suse:sles:12:sp5\"\n")
        .file("/etc/SuSE-release", "SUSE Linux Enterprise Server 12 (x86_64)\nVERSION = 12\nPATCHLEVEL = 5\n# This file is deprecated and will be removed in a future service pack or release.\n# Please check /etc/os-release for details about this release.\n")
        .file("/etc/localtime", b"TZif2\0\0")
        .file("/etc/sysconfig/clock", "## Path:\t\tSystem/Environment/Clock\n## Description:\tInformation about your timezone and time\n## Type:\t\tstring(-u,--utc,--localtime)\n## ServiceRestart:\tboot.clock\n#\nHWCLOCK=\"-u\"\n## Type:\t\tstring(Europe/Berlin,Europe/London,Europe/Paris)\nTIMEZONE=\"Europe/Berlin\"\nDEFAULT_TIMEZONE=\"US/Eastern\"\n")
        .file("/etc/sysconfig/keyboard", "## Path:\t\tHardware/Keyboard\n## Description:\tKeyboard settings\n## Type:\t\tstring\n## Default:\t\t\"\"\n#\nKEYTABLE=\"de-latin1-nodeadkeys.map.gz\"\nKBD_RATE=\"\"\n")
        .file("/etc/sysconfig/language", "## Path:\tSystem/Environment/Language\n## Description:\n## Type:\tstring\nRC_LANG=\"de_DE.UTF-8\"\nROOT_USES_LANG=\"ctype\"\nINSTALLED_LANGUAGES=\"\"\n")
        .file("/etc/HOSTNAME", "sles12.example.com\n")
        .file("/etc/default/grub", "GRUB_DISTRIBUTOR=\"SLES12\"\nGRUB_DEFAULT=saved\nGRUB_CMDLINE_LINUX_DEFAULT=\"resume=/dev/sda2 splash=silent quiet showopts crashkernel=175M,high\"\nGRUB_CMDLINE_LINUX=\"\"\n")
        .file("/boot/vmlinuz-4.12.14-122.37-default", b"k")
        .file("/lib/modules/4.12.14-122.37-default/modules.dep", "")
        .unit("/usr/lib/systemd/system", "SuSEfirewall2.service", "WantedBy=multi-user.target")
        .unit("/usr/lib/systemd/system", "sshd.service", "WantedBy=multi-user.target")
        .unit("/usr/lib/systemd/system", "wicked.service", "WantedBy=multi-user.target\nAlias=network.service");
    r.systemctl(&[
        "enable",
        "SuSEfirewall2.service",
        "sshd.service",
        "wicked.service",
    ]);
    let p = r.profile();
    let d = &p.distribution;
    assert_eq!(d.name.as_deref(), Some("SUSE Linux Enterprise Server"));
    assert_eq!(d.version.as_deref(), Some("12.5"));
    assert_eq!(d.lineage.as_deref(), Some("suse"));
    assert_eq!(d.pkg_type.as_deref(), Some("rpm"));
    assert_eq!(p.timezone.name.as_deref(), Some("Europe/Berlin"));
    assert_eq!(p.timezone.source.as_deref(), Some("/etc/sysconfig/clock"));
    assert_eq!(p.keyboard.keymap.as_deref(), Some("de-latin1-nodeadkeys"));
    assert_eq!(p.locale.lang.as_deref(), Some("de_DE.UTF-8"));
    assert_eq!(p.locale.source.as_deref(), Some("/etc/sysconfig/language"));
    assert_eq!(p.hostname.as_deref(), Some("sles12.example.com"));
    assert_eq!(
        p.kernel.parameters,
        [
            "resume=/dev/sda2",
            "splash=silent",
            "quiet",
            "showopts",
            "crashkernel=175M,high"
        ]
    );
    assert_eq!(
        p.kernel.installed[0].image.as_deref(),
        Some("/boot/vmlinuz-4.12.14-122.37-default")
    );
    assert!(p.kernel.installed[0].modules);
    assert_eq!(
        service(&p, "network.service").state,
        "alias",
        "an alias made by enable"
    );
    assert_eq!(service(&p, "wicked.service").state, "enabled");
    assert_eq!(p.firewall.firewalls.len(), 1);
    assert_eq!(p.firewall.firewalls[0].name, "SuSEfirewall2");
    assert_eq!(p.firewall.enabled, Some(true));
    assert_matches_systemctl(r.path(), &p);
}

/// SLES 15: os-release with ID_LIKE, login.defs in /usr/etc, firewalld present but off.
#[test]
fn sles15_usr_etc_login_defs() {
    let r = Root::new();
    r.program("/bin/sh")
        .program("/usr/lib/systemd/systemd")
        .link("/sbin/init", "/usr/lib/systemd/systemd")
        .file("/usr/lib/os-release", "NAME=\"SLES\"\nVERSION=\"15-SP5\"\nVERSION_ID=\"15.5\"\nPRETTY_NAME=\"SUSE Linux Enterprise Server 15 SP5\"\nID=\"sles\"\nID_LIKE=\"suse\"\nANSI_COLOR=\"0;32\"\nCPE_NAME=\"cpe:/o:suse:sles:15:sp5\"\nDOCUMENTATION_URL=\"https://documentation.suse.com/\"\n")
        .link("/etc/os-release", "../usr/lib/os-release")
        .link("/etc/localtime", "/usr/share/zoneinfo/Europe/Prague")
        .file("/etc/vconsole.conf", "KEYMAP=cz\n")
        .file("/etc/locale.conf", "LANG=cs_CZ.UTF-8\nLC_MESSAGES=en_US.UTF-8\n")
        .file("/usr/etc/login.defs", "UID_MIN                  1000\nUID_MAX                 60000\nSYS_UID_MIN               100\nSYS_UID_MAX               499\nGID_MIN                  1000\nGID_MAX                 60000\n")
        .file("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\nmessagebus:x:499:499:User for D-Bus:/run/dbus:/usr/sbin/nologin\ngeeko:x:1000:100:Geeko Chameleon:/home/geeko:/bin/bash\n")
        .file("/etc/group", "root:x:0:\nusers:x:100:\nmessagebus:x:499:\nwheel:x:497:geeko\n")
        .unit("/usr/lib/systemd/system", "firewalld.service", "WantedBy=multi-user.target")
        .unit("/usr/lib/systemd/system", "sshd.service", "WantedBy=multi-user.target")
        .link("/etc/systemd/system/multi-user.target.wants/sshd.service", "/usr/lib/systemd/system/sshd.service");
    let p = r.profile();
    assert_eq!(
        p.distribution.name.as_deref(),
        Some("SUSE Linux Enterprise Server")
    );
    assert_eq!(p.distribution.version.as_deref(), Some("15.5"));
    assert_eq!(p.distribution.lineage.as_deref(), Some("suse"));
    assert_eq!(p.timezone.name.as_deref(), Some("Europe/Prague"));
    assert_eq!(p.keyboard.keymap.as_deref(), Some("cz"));
    assert_eq!(p.locale.lang.as_deref(), Some("cs_CZ.UTF-8"));
    assert_eq!(
        p.locale.settings.get("LC_MESSAGES").map(String::as_str),
        Some("en_US.UTF-8")
    );
    let geeko = user(&p, "geeko");
    assert!(!geeko.system_user);
    assert_eq!(geeko.primary_group.as_deref(), Some("users"));
    assert_eq!(geeko.secondary_groups, ["wheel"]);
    assert!(user(&p, "messagebus").system_user);
    assert_eq!(service(&p, "firewalld.service").state, "disabled");
    assert_eq!(service(&p, "sshd.service").state, "enabled");
    assert_eq!(p.firewall.enabled, Some(false));
    assert_eq!(p.firewall.firewalls[0].name, "firewalld");
}

// --- Debian family -----------------------------------------------------------------------

/// Debian's unit layout: /lib/systemd/system, ssh.service with `Alias=sshd.service`, ufw
/// enabled by its package with the switch in /etc/ufw/ufw.conf.
fn debian_like(r: &Root, ufw_enabled: bool) {
    r.program("/lib/systemd/systemd")
        .unit("/lib/systemd/system", "ssh.service", "WantedBy=multi-user.target\nAlias=sshd.service")
        .unit("/lib/systemd/system", "ufw.service", "WantedBy=multi-user.target")
        .unit("/lib/systemd/system", "nftables.service", "WantedBy=sysinit.target")
        .unit("/lib/systemd/system", "cron.service", "WantedBy=multi-user.target")
        // What the maintainer scripts do: hwclock's init script is masked for systemd.
        .link("/lib/systemd/system/hwclock.service", "/dev/null")
        .file("/etc/init.d/hwclock.sh", "#!/bin/sh\n### BEGIN INIT INFO\n# Provides:          hwclock\n### END INIT INFO\n")
        .file("/etc/init.d/ssh", "#!/bin/sh\n")
        .file("/etc/init.d/cron", "#!/bin/sh\n")
        .file("/etc/init.d/legacy-daemon", "#!/bin/sh\n")
        .link("/etc/rc2.d/S01ssh", "../init.d/ssh")
        .link("/etc/rc2.d/S01legacy-daemon", "../init.d/legacy-daemon")
        .link("/etc/rcS.d/S01hwclock.sh", "../init.d/hwclock.sh")
        .file(
            "/etc/ufw/ufw.conf",
            format!("# /etc/ufw/ufw.conf\n#\n\n# Set to yes to start on boot. If setting this remotely, be sure to add a rule\n# to allow your remote connection before starting ufw. Eg: 'ufw allow 22/tcp'\nENABLED={}\n\n# Please use the 'ufw' command to set the loglevel. Eg: 'ufw logging medium'.\n# See 'man ufw' for details.\nLOGLEVEL=low\n", if ufw_enabled { "yes" } else { "no" }),
        );
}

#[test]
fn debian9_ufw_and_non_ascii_gecos() {
    if !have_systemctl("debian9_ufw_and_non_ascii_gecos") {
        return;
    }
    let r = Root::new();
    r.program("/bin/dash")
        .link("/bin/sh", "dash")
        .link("/sbin/init", "/lib/systemd/systemd")
        .file("/etc/os-release", "PRETTY_NAME=\"Debian GNU/Linux 9 (stretch)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"9\"\nVERSION=\"9 (stretch)\"\nVERSION_CODENAME=stretch\nID=debian\nHOME_URL=\"https://www.debian.org/\"\nSUPPORT_URL=\"https://www.debian.org/support\"\nBUG_REPORT_URL=\"https://bugs.debian.org/\"\n")
        .file("/etc/debian_version", "9.13\n")
        .link("/etc/localtime", "/usr/share/zoneinfo/Europe/Paris")
        .file("/etc/timezone", "Europe/Paris\n")
        .file("/etc/default/keyboard", "# KEYBOARD CONFIGURATION FILE\n\n# Consult the keyboard(5) manual page.\n\nXKBMODEL=\"pc105\"\nXKBLAYOUT=\"fr\"\nXKBVARIANT=\"latin9\"\nXKBOPTIONS=\"\"\n\nBACKSPACE=\"guess\"\n")
        .file("/etc/default/locale", "#  File generated by update-locale\nLANG=\"fr_FR.UTF-8\"\n")
        .file("/etc/hostname", "stretch\n")
        .file("/etc/default/grub", "# If you change this file, run 'update-grub' afterwards to update\n# /boot/grub/grub.cfg.\n\nGRUB_DEFAULT=0\nGRUB_TIMEOUT=5\nGRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"net.ifnames=0\"\n")
        .file("/boot/vmlinuz-4.9.0-13-amd64", b"k")
        .file("/lib/modules/4.9.0-13-amd64/modules.dep", "")
        .file("/etc/login.defs", "UID_MIN\t\t\t 1000\nUID_MAX\t\t\t60000\nGID_MIN\t\t\t 1000\nGID_MAX\t\t\t60000\n")
        .file("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\njurgen:x:1000:1000:Jürgen Müller,,,:/home/jurgen:/bin/bash\n")
        .file("/etc/shadow", "root:$6$deb9salt$abc:18000:0:99999:7:::\nwww-data:*:18000:0:99999:7:::\njurgen:$6$j$def:18000:0:99999:7:::\n")
        .file("/etc/group", "root:x:0:\nsudo:x:27:jurgen\nwww-data:x:33:\njurgen:x:1000:\n")
        .file("/etc/gshadow", "root:*::\nsudo:*::jurgen\nwww-data:*::\njurgen:!::\n");
    debian_like(&r, true);
    r.systemctl(&["enable", "ssh.service", "ufw.service", "cron.service"]);
    let p = r.profile();
    assert_eq!(p.distribution.name.as_deref(), Some("Debian"));
    assert_eq!(p.distribution.version.as_deref(), Some("9"));
    assert_eq!(p.distribution.pkg_type.as_deref(), Some("deb"));
    assert_eq!(
        p.distribution.arch.as_deref(),
        Some(host_arch().as_str()),
        "through /bin/sh -> dash"
    );
    assert_eq!(p.timezone.name.as_deref(), Some("Europe/Paris"));
    assert_eq!(p.keyboard.xkb_layout.as_deref(), Some("fr"));
    assert_eq!(p.keyboard.xkb_variant.as_deref(), Some("latin9"));
    assert_eq!(p.keyboard.xkb_options, None);
    assert_eq!(
        p.keyboard.keymap.as_deref(),
        Some("fr"),
        "console follows the XKB layout"
    );
    assert_eq!(p.locale.lang.as_deref(), Some("fr_FR.UTF-8"));
    assert_eq!(p.kernel.parameters, ["net.ifnames=0", "quiet"]);
    let j = user(&p, "jurgen");
    assert_eq!(j.gecos, "Jürgen Müller,,,".as_bytes());
    let json = serde_json::to_value(j).unwrap();
    assert_eq!(json["gecos"], "Jürgen Müller,,,");
    assert_eq!(j.secondary_groups, ["sudo"]);
    assert!(user(&p, "www-data").password_locked);

    assert_eq!(service(&p, "ssh.service").state, "enabled");
    assert_eq!(service(&p, "sshd.service").state, "alias");
    assert_eq!(service(&p, "hwclock.service").state, "masked");
    assert!(
        p.services.get("hwclock.sh.service").is_none(),
        "masked unit hides the script"
    );
    let legacy = service(&p, "legacy-daemon.service");
    assert_eq!(
        (legacy.manager.as_str(), legacy.state.as_str()),
        ("sysv", "enabled")
    );
    assert!(
        p.services.get("ssh").is_none()
            && p.services.get("ssh.service").unwrap().manager == "systemd"
    );
    assert_matches_systemctl(r.path(), &p);
    // UForge's changelog: "status of services like ufw not detected".
    let ufw = p
        .firewall
        .firewalls
        .iter()
        .find(|f| f.name == "ufw")
        .unwrap();
    assert!(ufw.enabled, "{ufw:?}");
    assert!(ufw.source.contains("ENABLED=yes"));
    assert_eq!(p.firewall.enabled, Some(true));
}

#[test]
fn debian12_merged_usr_ufw_off_latin1_gecos() {
    if !have_systemctl("debian12_merged_usr_ufw_off_latin1_gecos") {
        return;
    }
    let r = Root::new();
    r.merged_usr()
        .program("/usr/bin/dash")
        .link("/usr/bin/sh", "dash")
        .link("/usr/sbin/init", "/lib/systemd/systemd")
        .file("/usr/lib/os-release", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\nHOME_URL=\"https://www.debian.org/\"\nSUPPORT_URL=\"https://www.debian.org/support\"\nBUG_REPORT_URL=\"https://bugs.debian.org/\"\n")
        .link("/etc/os-release", "../usr/lib/os-release")
        .file("/etc/debian_version", "12.4\n")
        .link("/etc/localtime", "/usr/share/zoneinfo/Europe/Berlin")
        .file("/etc/timezone", "Europe/Berlin\n")
        .file("/etc/default/keyboard", "XKBMODEL=\"pc105\"\nXKBLAYOUT=\"de\"\nXKBVARIANT=\"\"\nXKBOPTIONS=\"\"\n\nBACKSPACE=\"guess\"\n")
        .file("/etc/default/locale", "LANG=de_DE.UTF-8\n")
        .file("/etc/passwd", b"root:x:0:0:root:/root:/bin/bash\nfrancois:x:1000:1000:Fran\xe7ois:/home/francois:/bin/bash\n".as_slice())
        .file("/etc/group", "root:x:0:\nfrancois:x:1000:\n")
        .file("/boot/vmlinuz-6.1.0-17-amd64", b"k")
        .file("/usr/lib/modules/6.1.0-17-amd64/modules.dep", "")
        .file("/boot/vmlinuz-6.1.0-13-amd64", b"k")
        .file("/usr/lib/modules/6.1.0-13-amd64/modules.dep", "");
    debian_like(&r, false);
    r.systemctl(&["enable", "ssh.service", "ufw.service"]);
    let p = r.profile();
    assert_eq!(p.distribution.name.as_deref(), Some("Debian"));
    assert_eq!(p.distribution.version.as_deref(), Some("12"));
    assert_eq!(p.distribution.source.as_deref(), Some("/etc/os-release"));
    assert_eq!(p.timezone.name.as_deref(), Some("Europe/Berlin"));
    assert_eq!(p.keyboard.keymap.as_deref(), Some("de"));
    assert_eq!(p.locale.lang.as_deref(), Some("de_DE.UTF-8"));
    let releases: Vec<&str> = p
        .kernel
        .installed
        .iter()
        .map(|k| k.release.as_str())
        .collect();
    assert_eq!(releases, ["6.1.0-13-amd64", "6.1.0-17-amd64"]);
    assert_eq!(
        p.kernel.installed[0].image.as_deref(),
        Some("/boot/vmlinuz-6.1.0-13-amd64")
    );
    // Latin-1 GECOS: kept byte for byte, in the report's escape for non-UTF-8.
    let f = user(&p, "francois");
    assert_eq!(f.gecos, b"Fran\xe7ois");
    let json = serde_json::to_value(f).unwrap();
    assert_eq!(json["gecos"]["base64"], "RnJhbudvaXM=");
    assert_matches_systemctl(r.path(), &p);
    let ufw = p
        .firewall
        .firewalls
        .iter()
        .find(|f| f.name == "ufw")
        .unwrap();
    assert!(!ufw.enabled, "ENABLED=no although ufw.service is enabled");
    assert_eq!(service(&p, "ufw.service").state, "enabled");
    assert_eq!(p.firewall.enabled, Some(false));
}

#[test]
fn ubuntu1804_and_2204() {
    let bionic = Root::new();
    bionic
        .program("/bin/dash")
        .link("/bin/sh", "dash")
        .link("/sbin/init", "/lib/systemd/systemd")
        .file("/etc/os-release", "NAME=\"Ubuntu\"\nVERSION=\"18.04.6 LTS (Bionic Beaver)\"\nID=ubuntu\nID_LIKE=debian\nPRETTY_NAME=\"Ubuntu 18.04.6 LTS\"\nVERSION_ID=\"18.04\"\nHOME_URL=\"https://www.ubuntu.com/\"\nSUPPORT_URL=\"https://help.ubuntu.com/\"\nBUG_REPORT_URL=\"https://bugs.launchpad.net/ubuntu/\"\nPRIVACY_POLICY_URL=\"https://www.ubuntu.com/legal/terms-and-policies/privacy-policy\"\nVERSION_CODENAME=bionic\nUBUNTU_CODENAME=bionic\n")
        .file("/etc/lsb-release", "DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=18.04\nDISTRIB_CODENAME=bionic\nDISTRIB_DESCRIPTION=\"Ubuntu 18.04.6 LTS\"\n")
        .file("/etc/debian_version", "buster/sid\n")
        .link("/etc/localtime", "/usr/share/zoneinfo/Etc/UTC")
        .file("/etc/default/grub", "GRUB_DEFAULT=0\nGRUB_TIMEOUT_STYLE=hidden\nGRUB_TIMEOUT=0\nGRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet splash\"\nGRUB_CMDLINE_LINUX=\"\"\n")
        .file("/boot/vmlinuz-4.15.0-213-generic", b"k")
        .file("/lib/modules/4.15.0-213-generic/modules.dep", "")
        .file("/lib/modules/4.15.0-213-generic/kernel/.keep", "");
    debian_like(&bionic, true);
    let p = bionic.profile();
    assert_eq!(p.distribution.name.as_deref(), Some("Ubuntu"));
    assert_eq!(p.distribution.version.as_deref(), Some("18.04"));
    assert_eq!(p.distribution.lineage.as_deref(), Some("debian"));
    assert_eq!(p.timezone.name.as_deref(), Some("Etc/UTC"));
    assert_eq!(p.kernel.parameters, ["quiet", "splash"]);
    assert_eq!(
        service(&p, "ufw.service").state,
        "disabled",
        "not enabled in this root"
    );
    assert_eq!(
        p.firewall.enabled,
        Some(false),
        "ENABLED=yes but the unit is not enabled"
    );

    // Without os-release an old Ubuntu is found by lsb-release, not as Debian "buster/sid".
    fs::remove_file(bionic.host("/etc/os-release")).unwrap();
    let d = bionic.profile().distribution;
    assert_eq!(d.name.as_deref(), Some("Ubuntu"));
    assert_eq!(d.version.as_deref(), Some("18.04"));
    assert_eq!(d.source.as_deref(), Some("/etc/lsb-release"));

    let jammy = Root::new();
    jammy
        .merged_usr()
        .program("/usr/bin/dash")
        .link("/usr/bin/sh", "dash")
        .link("/usr/sbin/init", "/lib/systemd/systemd")
        .file("/usr/lib/os-release", "PRETTY_NAME=\"Ubuntu 22.04.3 LTS\"\nNAME=\"Ubuntu\"\nVERSION_ID=\"22.04\"\nVERSION=\"22.04.3 LTS (Jammy Jellyfish)\"\nVERSION_CODENAME=jammy\nID=ubuntu\nID_LIKE=debian\nHOME_URL=\"https://www.ubuntu.com/\"\nSUPPORT_URL=\"https://help.ubuntu.com/\"\nBUG_REPORT_URL=\"https://bugs.launchpad.net/ubuntu/\"\nPRIVACY_POLICY_URL=\"https://www.ubuntu.com/legal/terms-and-policies/privacy-policy\"\nUBUNTU_CODENAME=jammy\n")
        .link("/etc/os-release", "../usr/lib/os-release")
        .file("/etc/default/locale", "LANG=C.UTF-8\n")
        .file("/etc/default/keyboard", "XKBMODEL=\"pc105\"\nXKBLAYOUT=\"us\"\nXKBVARIANT=\"\"\nXKBOPTIONS=\"\"\n\nBACKSPACE=\"guess\"\n")
        .file("/boot/vmlinuz-5.15.0-91-generic", b"k")
        .file("/usr/lib/modules/5.15.0-91-generic/modules.dep", "");
    debian_like(&jammy, true);
    if have_systemctl("ubuntu1804_and_2204") {
        jammy.systemctl(&["enable", "ufw.service", "ssh.service"]);
        let p = jammy.profile();
        assert_matches_systemctl(jammy.path(), &p);
        assert_eq!(p.firewall.enabled, Some(true));
    }
    let p = jammy.profile();
    assert_eq!(p.distribution.version.as_deref(), Some("22.04"));
    assert_eq!(p.locale.lang.as_deref(), Some("C.UTF-8"));
    assert_eq!(p.keyboard.keymap.as_deref(), Some("us"));
    assert_eq!(p.kernel.installed.len(), 1);
}

// --- Alpine, Arch ------------------------------------------------------------------------

#[test]
fn alpine_openrc() {
    let r = Root::new();
    r.program("/bin/busybox")
        // Absolute links: resolved inside the root, never on the scanning host.
        .link("/bin/sh", "/bin/busybox")
        .link("/sbin/init", "/bin/busybox")
        .file("/etc/os-release", "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME=\"Alpine Linux v3.19\"\nHOME_URL=\"https://alpinelinux.org/\"\nBUG_REPORT_URL=\"https://gitlab.alpinelinux.org/alpine/aports/-/issues\"\n")
        .file("/etc/alpine-release", "3.19.1\n")
        .file("/etc/zoneinfo/Europe/Paris", b"TZif2")
        .link("/etc/localtime", "/etc/zoneinfo/Europe/Paris")
        .file("/etc/conf.d/loadkmap", "KEYMAP=/etc/keymap/fr.bmap.gz\n")
        .file("/etc/hostname", "alpine\n")
        .file("/boot/vmlinuz-lts", b"k")
        .file("/lib/modules/6.6.14-0-lts/modules.dep", "")
        .file("/etc/passwd", "root:x:0:0:root:/root:/bin/ash\nbin:x:1:1:bin:/bin:/sbin/nologin\nsshd:x:22:22:sshd:/dev/null:/sbin/nologin\nadmin:x:1000:1000:Linux User,,,:/home/admin:/bin/ash\n")
        .file("/etc/shadow", "root:*::0:::::\nbin:!::0:::::\nsshd:!::0:::::\nadmin:$6$alp$xyz:19700:0:99999:7:::\n")
        .file("/etc/group", "root:x:0:root\nbin:x:1:root,bin,daemon\nwheel:x:10:root,admin\nsshd:x:22:\nadmin:x:1000:\n")
        .dir("/etc/runlevels/shutdown")
        .dir("/etc/runlevels/nonetwork");
    for s in [
        "sshd",
        "crond",
        "networking",
        "iptables",
        "hostname",
        "bootmisc",
        "devfs",
        "killprocs",
        "functions.sh",
    ] {
        r.file(&format!("/etc/init.d/{s}"), "#!/sbin/openrc-run\n");
    }
    for (lvl, s) in [
        ("default", "sshd"),
        ("default", "crond"),
        ("boot", "networking"),
        ("boot", "hostname"),
        ("boot", "bootmisc"),
        ("sysinit", "devfs"),
        ("shutdown", "killprocs"),
    ] {
        r.link(
            &format!("/etc/runlevels/{lvl}/{s}"),
            &format!("/etc/init.d/{s}"),
        );
    }
    let p = r.profile();
    assert_eq!(p.distribution.name.as_deref(), Some("Alpine Linux"));
    assert_eq!(p.distribution.version.as_deref(), Some("3.19.1"));
    assert_eq!(p.distribution.pkg_type.as_deref(), Some("apk"));
    assert_eq!(p.distribution.arch.as_deref(), Some(host_arch().as_str()));
    assert_eq!(p.timezone.name.as_deref(), Some("Europe/Paris"));
    assert_eq!(p.keyboard.keymap.as_deref(), Some("fr"));
    assert_eq!(p.hostname.as_deref(), Some("alpine"));
    assert_eq!(p.services.manager.as_deref(), Some("openrc"));
    let sshd = service(&p, "sshd");
    assert_eq!(
        (sshd.state.as_str(), sshd.runlevels.as_slice()),
        ("enabled", ["default".to_string()].as_slice())
    );
    assert_eq!(service(&p, "networking").runlevels, ["boot"]);
    assert_eq!(service(&p, "iptables").state, "disabled");
    assert!(p.services.get("functions.sh").is_none());
    assert_eq!(p.firewall.enabled, Some(false));
    let k = &p.kernel.installed;
    assert_eq!(k.len(), 1, "{k:?}");
    assert_eq!(k[0].release, "6.6.14-0-lts");
    assert_eq!(k[0].image.as_deref(), Some("/boot/vmlinuz-lts"));
    assert!(
        !user(&p, "admin").system_user,
        "no login.defs: UID_MIN 1000"
    );
    assert_eq!(user(&p, "admin").secondary_groups, ["wheel"]);
    assert!(user(&p, "root").password_locked);
}

#[test]
fn arch_rolling() {
    let r = Root::new();
    // Arch's layout: everything in /usr/bin and /usr/lib, /sbin and /usr/sbin link to bin.
    r.dir("/usr/bin")
        .dir("/usr/lib")
        .link("/bin", "usr/bin")
        .link("/sbin", "usr/bin")
        .link("/usr/sbin", "bin")
        .link("/lib", "usr/lib")
        .link("/lib64", "usr/lib")
        .program("/usr/bin/bash")
        .link("/usr/bin/sh", "bash")
        .program("/usr/lib/systemd/systemd")
        .link("/usr/bin/init", "../lib/systemd/systemd")
        .file("/usr/lib/os-release", "NAME=\"Arch Linux\"\nPRETTY_NAME=\"Arch Linux\"\nID=arch\nBUILD_ID=rolling\nANSI_COLOR=\"38;2;23;147;209\"\nHOME_URL=\"https://archlinux.org/\"\nDOCUMENTATION_URL=\"https://wiki.archlinux.org/\"\nSUPPORT_URL=\"https://bbs.archlinux.org/\"\nBUG_REPORT_URL=\"https://gitlab.archlinux.org/groups/archlinux/-/issues\"\nPRIVACY_POLICY_URL=\"https://terms.archlinux.org/docs/privacy-policy/\"\nLOGO=archlinux-logo\n")
        .link("/etc/os-release", "../usr/lib/os-release")
        .file("/etc/arch-release", "")
        .link("/etc/localtime", "/usr/share/zoneinfo/America/Los_Angeles")
        .file("/etc/vconsole.conf", "KEYMAP=us\n")
        .file("/etc/locale.conf", "LANG=en_US.UTF-8\n")
        .file("/etc/hostname", "archlinux\n")
        .file("/boot/vmlinuz-linux", b"k")
        .file("/usr/lib/modules/6.7.4-arch1-1/vmlinuz", b"k")
        .file("/usr/lib/modules/6.7.4-arch1-1/pkgbase", "linux\n")
        .file("/usr/lib/modules/6.7.4-arch1-1/modules.dep", "")
        .file("/boot/vmlinuz-linux-lts", b"k")
        .file("/usr/lib/modules/6.6.16-1-lts/vmlinuz", b"k")
        .file("/usr/lib/modules/6.6.16-1-lts/pkgbase", "linux-lts\n")
        .unit("/usr/lib/systemd/system", "sshd.service", "WantedBy=multi-user.target")
        .unit("/usr/lib/systemd/system", "nftables.service", "WantedBy=multi-user.target")
        .unit("/usr/lib/systemd/system", "iptables.service", "WantedBy=multi-user.target")
        .link("/etc/systemd/system/multi-user.target.wants/nftables.service", "/usr/lib/systemd/system/nftables.service");
    let p = r.profile();
    assert_eq!(p.distribution.name.as_deref(), Some("Arch Linux"));
    assert_eq!(p.distribution.version, None, "rolling release");
    assert_eq!(p.distribution.pkg_type.as_deref(), Some("pacman"));
    assert_eq!(p.timezone.name.as_deref(), Some("America/Los_Angeles"));
    let k: Vec<(&str, Option<&str>)> = p
        .kernel
        .installed
        .iter()
        .map(|k| (k.release.as_str(), k.image.as_deref()))
        .collect();
    assert_eq!(
        k,
        [
            (
                "6.6.16-1-lts",
                Some("/usr/lib/modules/6.6.16-1-lts/vmlinuz")
            ),
            (
                "6.7.4-arch1-1",
                Some("/usr/lib/modules/6.7.4-arch1-1/vmlinuz")
            ),
        ],
        "/boot/vmlinuz-<pkgbase> is the same kernel"
    );
    assert_eq!(p.services.manager.as_deref(), Some("systemd"));
    assert_eq!(service(&p, "nftables.service").state, "enabled");
    let fw: Vec<(&str, bool)> = p
        .firewall
        .firewalls
        .iter()
        .map(|f| (f.name.as_str(), f.enabled))
        .collect();
    assert_eq!(fw, [("iptables", false), ("nftables", true)]);
}

/// name, uid, gid, gecos, home, shell.
type PasswdLine = (String, u32, u32, Vec<u8>, Vec<u8>, Vec<u8>);

// --- This host ---------------------------------------------------------------------------

/// Users equal `getent passwd` (the CI host has only local accounts), the distribution its
/// own os-release, the unit states `systemctl --root=/ list-unit-files`.
#[test]
fn this_host() {
    let root = RootFs::new("/");
    let live = LiveSources::for_root(&root, None, None);
    let p = profile::collect(&root, &live, &[], &ProfileOptions::default());
    assert!(p.live);

    let getent = Command::new("getent").arg("passwd").output().unwrap();
    assert!(getent.status.success());
    let theirs: Vec<PasswdLine> = getent
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&[u8]> = l.split(|&b| b == b':').collect();
            let n = |i: usize| std::str::from_utf8(f[i]).unwrap().parse::<u32>().unwrap();
            (
                String::from_utf8_lossy(f[0]).into_owned(),
                n(2),
                n(3),
                f[4].to_vec(),
                f[5].to_vec(),
                f[6].to_vec(),
            )
        })
        .collect();
    let ours: Vec<PasswdLine> = p
        .users
        .iter()
        .map(|u| {
            (
                u.name.clone(),
                u.uid,
                u.gid,
                u.gecos.clone(),
                u.home.clone(),
                u.shell.clone(),
            )
        })
        .collect();
    assert_eq!(ours, theirs, "users equal getent passwd");
    let getent = Command::new("getent").arg("group").output().unwrap();
    let group_names: Vec<String> = String::from_utf8_lossy(&getent.stdout)
        .lines()
        .map(|l| l.split(':').next().unwrap().to_string())
        .collect();
    let ours: Vec<String> = p.groups.iter().map(|g| g.name.clone()).collect();
    assert_eq!(ours, group_names, "groups equal getent group");

    let os = fs::read_to_string("/etc/os-release").unwrap();
    let get = |k: &str| {
        os.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(|v| v.trim_matches('"').to_string())
    };
    assert_eq!(p.distribution.id, get("ID"));
    assert_eq!(p.distribution.version, get("VERSION_ID"));
    if get("ID").as_deref() == Some("debian") {
        assert_eq!(p.distribution.name.as_deref(), Some("Debian"));
    }
    assert_eq!(p.distribution.arch.as_deref(), Some(host_arch().as_str()));
    let release = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert_eq!(p.kernel.running_release.as_deref(), Some(release.trim()));
    assert!(p.hardware.cpus.unwrap() >= 1);
    assert!(p.hardware.memory_bytes.unwrap() > 0);
    if p.services.manager.as_deref() == Some("systemd") && have_systemctl("this_host services") {
        assert_matches_systemctl(Path::new("/"), &p);
    }
}

/// The command line: `--root` without `--proc` gives unknown live facts, `--proc`/`--sys`
/// give the captured ones; hashes reach the report only with `--include-password-hashes`
/// and never the summary.
#[test]
fn cli_live_facts_and_hashes() {
    let r = rhel9();
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("empty.toml"), b"").unwrap();
    fs::write(
        tmp.path().join("mountinfo"),
        "27 1 254:0 / / rw - ext4 /dev/vda rw\n",
    )
    .unwrap();
    let proc_dir = tmp.path().join("proc");
    fs::create_dir_all(proc_dir.join("sys/kernel")).unwrap();
    fs::write(proc_dir.join("cmdline"), "BOOT_IMAGE=/vmlinuz ro quiet\n").unwrap();
    fs::write(
        proc_dir.join("sys/kernel/osrelease"),
        "5.14.0-362.8.1.el9_3.x86_64\n",
    )
    .unwrap();
    fs::write(proc_dir.join("meminfo"), "MemTotal:        2048000 kB\n").unwrap();
    let run = |extra: &[&str]| {
        let report = tmp.path().join("report.json");
        let _ = fs::remove_file(&report);
        let out = common::livescan()
            .arg("--config")
            .arg(tmp.path().join("empty.toml"))
            .arg("scan")
            .arg("--root")
            .arg(r.path())
            .args(["-e", "/", "--report"])
            .arg(&report)
            .arg("--lock-file")
            .arg(tmp.path().join("lock"))
            .arg("--mountinfo")
            .arg(tmp.path().join("mountinfo"))
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = fs::read_to_string(&report).unwrap();
        let summary = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (
            serde_json::from_str::<serde_json::Value>(&text).unwrap(),
            text,
            summary,
        )
    };
    let (report, text, summary) = run(&[]);
    let p = &report["profile"];
    assert_eq!(p["live"], false);
    assert!(p["kernel"]["running_release"].is_null());
    assert!(p["hardware"]["memory_bytes"].is_null());
    assert_eq!(p["distribution"]["name"], "RedHat Enterprise Linux");
    assert_eq!(p["users"].as_array().unwrap().len(), 6);
    assert!(!text.contains("r9salt"), "no hash without the flag");
    assert!(summary.contains("RedHat Enterprise Linux 9.3"), "{summary}");
    assert!(summary.contains("6 users (4 regular)"), "{summary}");

    let proc_arg = proc_dir.to_str().unwrap();
    let (report, text, summary) = run(&["--proc", proc_arg, "--include-password-hashes"]);
    let p = &report["profile"];
    assert_eq!(p["live"], true);
    assert_eq!(
        p["kernel"]["running_release"],
        "5.14.0-362.8.1.el9_3.x86_64"
    );
    assert_eq!(
        p["kernel"]["parameters"],
        serde_json::json!(["ro", "quiet"])
    );
    assert_eq!(p["hardware"]["memory_bytes"], 2048000u64 * 1024);
    assert_eq!(p["password_hashes_included"], true);
    assert!(
        text.contains("$6$r9salt$"),
        "the flag puts hashes in the report"
    );
    assert!(
        !summary.contains("r9salt") && !summary.contains("$y$"),
        "never in the summary"
    );
    assert!(
        summary.contains("kernel 5.14.0-362.8.1.el9_3.x86_64"),
        "{summary}"
    );
}
