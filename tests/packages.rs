//! The .deb and .rpm that packaging/build.sh puts in dist/: install, upgrade (config kept)
//! and removal — the .deb with `dpkg -i`/`-r`/`-P` on THIS host, the .rpm with
//! `rpm --root R --noscripts` in a scratch root — and the scriptlets run on their own with a
//! fake `systemctl` on PATH, after shellcheck when it is installed.
//!
//! Installing on the host changes it, so these run only with LIVESCAN_PACKAGE_TESTS=1 (CI:
//! .ci/run, after packaging/build.sh), as root; otherwise they skip with a message.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn enabled(test: &str) -> bool {
    if std::env::var_os("LIVESCAN_PACKAGE_TESTS").is_none_or(|v| v != "1") {
        eprintln!(
            "SKIP {test}: set LIVESCAN_PACKAGE_TESTS=1 (installs packages on this host; CI does)"
        );
        return false;
    }
    assert!(
        common::euid_is_root(),
        "{test}: LIVESCAN_PACKAGE_TESTS=1 needs root"
    );
    true
}

fn dist(ext: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("dist");
    let found: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e} (run packaging/build.sh)", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    assert_eq!(found.len(), 1, "one .{ext} in dist/: {found:?}");
    found.into_iter().next().unwrap()
}

fn ok(cmd: &mut Command) -> Output {
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn dpkg(args: &[&str]) -> Output {
    ok(Command::new("dpkg")
        .args(["--force-confdef", "--force-confold"])
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

/// The same package as version `V-2`: unpacked with dpkg-deb, control edited, repacked.
fn bumped_deb(deb: &Path, dir: &Path) -> PathBuf {
    let tree = dir.join("tree");
    ok(Command::new("dpkg-deb").arg("-R").arg(deb).arg(&tree));
    let control = tree.join("DEBIAN/control");
    let text = fs::read_to_string(&control).unwrap();
    let text: String = text
        .lines()
        .map(|l| match l.strip_prefix("Version: ") {
            Some(v) => format!("Version: {}-2\n", v.split('-').next().unwrap()),
            None => format!("{l}\n"),
        })
        .collect();
    fs::write(&control, text).unwrap();
    let out = dir.join("livescan-upgrade.deb");
    ok(Command::new("dpkg-deb")
        .args(["--root-owner-group", "-b"])
        .arg(&tree)
        .arg(&out));
    out
}

#[test]
fn deb_installs_upgrades_keeping_the_config_and_removes_cleanly() {
    if !enabled("deb_installs_upgrades") {
        return;
    }
    let deb = dist("deb");
    let tmp = tempfile::tempdir().unwrap();
    let conf = Path::new("/etc/livescan/livescan.toml");
    // A previous livescan (install.sh, an earlier run) must not be in the way.
    let _ = Command::new("dpkg").args(["-P", "livescan"]).output();
    let had_conf = conf.exists().then(|| fs::read(conf).unwrap());
    if had_conf.is_some() {
        fs::remove_file(conf).unwrap();
    }

    dpkg(&["-i", deb.to_str().unwrap()]);
    let v = ok(Command::new("/usr/bin/livescan").arg("--version"));
    assert!(
        String::from_utf8_lossy(&v.stdout).contains("commit"),
        "{v:?}"
    );
    for f in [
        "/etc/livescan/livescan.toml",
        "/lib/systemd/system/livescan.service",
        "/lib/systemd/system/livescan.timer",
        "/usr/share/man/man1/livescan.1.gz",
        "/usr/share/man/man1/livescan-upload.1.gz",
        "/usr/share/bash-completion/completions/livescan",
    ] {
        assert!(Path::new(f).exists(), "{f} not installed");
    }
    let conffiles = ok(Command::new("dpkg-query").args(["-W", "-f", "${Conffiles}", "livescan"]));
    assert!(String::from_utf8_lossy(&conffiles.stdout).contains("/etc/livescan/livescan.toml"));
    let mode = |p: &str| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("/etc/livescan/credentials"), 0o700);
    assert_eq!(mode("/var/lib/livescan/exports"), 0o700);
    // The installed default is valid, and so is the installed unit (man page included).
    ok(Command::new("/usr/bin/livescan").args(["config", "check"]));
    if common::have_tools("deb: systemd-analyze", &["systemd-analyze"]) {
        ok(Command::new("systemd-analyze").args([
            "verify",
            "/lib/systemd/system/livescan.service",
            "/lib/systemd/system/livescan.timer",
        ]));
    }

    // Upgrade with a changed config: the admin's version survives.
    fs::write(conf, "[scan]\nexclude = [\"/srv/scratch\"]\n").unwrap();
    let up = bumped_deb(&deb, tmp.path());
    dpkg(&["-i", up.to_str().unwrap()]);
    assert_eq!(
        fs::read_to_string(conf).unwrap(),
        "[scan]\nexclude = [\"/srv/scratch\"]\n"
    );
    let st = ok(Command::new("dpkg-query").args(["-W", "-f", "${Version}", "livescan"]));
    assert!(
        String::from_utf8_lossy(&st.stdout).ends_with("-2"),
        "{st:?}"
    );

    // Remove: the program goes, the conffile stays; purge: it goes too.
    dpkg(&["-r", "livescan"]);
    assert!(!Path::new("/usr/bin/livescan").exists());
    assert!(!Path::new("/lib/systemd/system/livescan.service").exists());
    assert!(conf.exists(), "dpkg -r keeps conffiles");
    dpkg(&["-P", "livescan"]);
    assert!(!conf.exists(), "dpkg -P removes the config");
    assert!(!Path::new("/etc/livescan/credentials").exists());
    if let Some(c) = had_conf {
        fs::create_dir_all("/etc/livescan").unwrap();
        fs::write(conf, c).unwrap();
    }
}

fn rpm(root: &Path, args: &[&str]) -> Output {
    ok(Command::new("rpm")
        .arg("--root")
        .arg(root)
        .arg("--dbpath")
        .arg("/var/lib/rpm")
        .args(args))
}

#[test]
fn rpm_installs_into_a_scratch_root_upgrades_keeping_the_config_and_erases() {
    if !enabled("rpm_installs") || !common::have_tools("rpm_installs", &["rpm", "rpm2cpio"]) {
        return;
    }
    let pkg = dist("rpm");
    // gzip payload: rpm < 4.14 (CentOS 7) cannot read zstd.
    let comp = ok(Command::new("rpm")
        .args(["-qp", "--qf", "%{PAYLOADCOMPRESSOR}"])
        .arg(&pkg));
    assert_eq!(String::from_utf8_lossy(&comp.stdout), "gzip");
    let cfgflag = ok(Command::new("rpm").args(["-qp", "--configfiles"]).arg(&pkg));
    assert!(String::from_utf8_lossy(&cfgflag.stdout).contains("/etc/livescan/livescan.toml"));
    let fileflags = ok(Command::new("rpm")
        .args(["-qp", "--qf", "[%{FILENAMES} %{FILEFLAGS:fflags}\n]"])
        .arg(&pkg));
    let fileflags = String::from_utf8_lossy(&fileflags.stdout);
    assert!(
        fileflags
            .lines()
            .any(|l| l.starts_with("/etc/livescan/livescan.toml ")
                && l.contains('c')
                && l.contains('n')),
        "%config(noreplace): {fileflags}"
    );
    let reqs = ok(Command::new("rpm").args(["-qp", "--requires"]).arg(&pkg));
    assert!(
        !String::from_utf8_lossy(&reqs.stdout).contains("libc.so"),
        "a static binary needs no libc"
    );

    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path().join("R");
    fs::create_dir_all(&r).unwrap();
    rpm(&r, &["--initdb"]);
    rpm(
        &r,
        &["--noscripts", "--nodeps", "-i", pkg.to_str().unwrap()],
    );
    for f in [
        "usr/bin/livescan",
        "etc/livescan/livescan.toml",
        "usr/lib/systemd/system/livescan.service",
        "usr/share/man/man1/livescan.1.gz",
    ] {
        assert!(r.join(f).exists(), "{f} not installed");
    }
    let v = rpm(&r, &["-V", "--nodeps", "livescan"]);
    assert!(
        v.stdout.is_empty(),
        "rpm -V after install: {}",
        String::from_utf8_lossy(&v.stdout)
    );

    // Upgrade to release 2 (made here with cargo generate-rpm when it is installed).
    let conf = r.join("etc/livescan/livescan.toml");
    fs::write(&conf, "[scan]\njobs = 2\n").unwrap();
    let up = tmp.path().join("up.rpm");
    let made = Command::new("cargo")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "generate-rpm",
            "--target",
            "x86_64-unknown-linux-musl",
            "--payload-compress",
            "gzip",
            "-s",
            "release = \"2\"",
            "-o",
        ])
        .arg(&up)
        .output();
    if made.as_ref().is_ok_and(|o| o.status.success()) {
        rpm(&r, &["--noscripts", "--nodeps", "-U", up.to_str().unwrap()]);
        let q = rpm(&r, &["-q", "--qf", "%{RELEASE}", "livescan"]);
        assert_eq!(String::from_utf8_lossy(&q.stdout), "2");
        assert_eq!(
            fs::read_to_string(&conf).unwrap(),
            "[scan]\njobs = 2\n",
            "%config(noreplace) kept"
        );
    } else {
        eprintln!("SKIP rpm upgrade: cargo generate-rpm unavailable");
    }
    rpm(&r, &["--noscripts", "--nodeps", "-e", "livescan"]);
    assert!(!r.join("usr/bin/livescan").exists());
    assert!(
        r.join("etc/livescan/livescan.toml.rpmsave").exists(),
        "a changed config is saved on erase"
    );
}

/// Each scriptlet with $1 as rpm/dpkg pass it, paths moved under a temp dir, and a fake
/// systemctl that logs its arguments. /run/systemd/system decides "booted with systemd".
fn run_script(text: &str, arg: &str, base: &Path, booted: bool) -> String {
    let bin = base.join("bin");
    fs::create_dir_all(&bin).unwrap();
    let log = base.join("systemctl.log");
    let _ = fs::remove_file(&log);
    fs::write(
        bin.join("systemctl"),
        format!("#!/bin/sh\necho \"$*\" >> {}\n", log.display()),
    )
    .unwrap();
    fs::set_permissions(bin.join("systemctl"), fs::Permissions::from_mode(0o755)).unwrap();
    let run_dir = base.join("run/systemd/system");
    if booted {
        fs::create_dir_all(&run_dir).unwrap();
    } else {
        let _ = fs::remove_dir_all(&run_dir);
    }
    let b = base.display().to_string();
    let moved = text
        .replace("/run/systemd/system", &format!("{b}/run/systemd/system"))
        .replace("/etc/livescan", &format!("{b}/etc/livescan"))
        .replace("/var/lib/livescan", &format!("{b}/var/lib/livescan"));
    let script = base.join("script");
    fs::write(&script, moved).unwrap();
    let o = Command::new("sh")
        .arg("-e")
        .arg(&script)
        .arg(arg)
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    fs::read_to_string(&log).unwrap_or_default()
}

#[test]
fn rpm_scriptlets_do_what_systemd_macros_do() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/rpm");
    let read = |n: &str| fs::read_to_string(dir.join(n)).unwrap();
    if common::have_tools("scriptlets: shellcheck", &["shellcheck"]) {
        for f in [
            "post_install.sh",
            "pre_uninstall.sh",
            "post_uninstall.sh",
            "../deb/postinst",
            "../deb/postrm",
        ] {
            ok(Command::new("shellcheck")
                .args(["-s", "sh"])
                .arg(dir.join(f)));
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path();
    // %post on install: directories (0700), a daemon-reload, nothing enabled.
    let log = run_script(&read("post_install.sh"), "1", base, true);
    assert_eq!(log, "daemon-reload\n");
    for d in ["etc/livescan/credentials", "var/lib/livescan/exports"] {
        assert_eq!(
            fs::metadata(base.join(d)).unwrap().permissions().mode() & 0o777,
            0o700,
            "{d}"
        );
    }
    // Not booted with systemd (a container, a chroot): no systemctl call at all.
    assert_eq!(run_script(&read("post_install.sh"), "1", base, false), "");
    // %preun: erase stops and disables; upgrade leaves the units alone.
    assert_eq!(
        run_script(&read("pre_uninstall.sh"), "0", base, true),
        "--no-reload disable --now livescan.timer livescan.service\n"
    );
    assert_eq!(run_script(&read("pre_uninstall.sh"), "1", base, true), "");
    assert_eq!(
        run_script(&read("post_uninstall.sh"), "0", base, true),
        "daemon-reload\n"
    );

    // The .rpm carries exactly these scriptlets (when it has been built).
    let rpm_file = Path::new(env!("CARGO_MANIFEST_DIR")).join("dist");
    if let Some(pkg) = fs::read_dir(&rpm_file).ok().and_then(|mut d| {
        d.find_map(|e| {
            e.ok()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "rpm"))
        })
    }) {
        if common::have_tools("scriptlets in the rpm", &["rpm"]) {
            let s = ok(Command::new("rpm")
                .args(["-qp", "--qf", "%{POSTIN}"])
                .arg(&pkg));
            assert_eq!(
                String::from_utf8_lossy(&s.stdout).trim(),
                read("post_install.sh").trim()
            );
            let s = ok(Command::new("rpm")
                .args(["-qp", "--qf", "%{PREUN}"])
                .arg(&pkg));
            assert_eq!(
                String::from_utf8_lossy(&s.stdout).trim(),
                read("pre_uninstall.sh").trim()
            );
        }
    }
}
