//! Real rpm roots: packages built with `rpmbuild` from spec files written here, installed
//! with `rpm --root`, tampered with, then `livescan scan --root` compared line by line with
//! `rpm --root R -Va` (Debian 12's rpm 4.18 as the oracle). Skips when rpm is missing.

mod common;

use std::collections::BTreeSet;
use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{decode_path, Root, Scan};

fn rpm_tools(test: &str) -> bool {
    if !common::euid_is_root() {
        eprintln!("SKIP {test}: rpm --root needs root (chown, caps)");
        return false;
    }
    common::have_tools(test, &["rpm", "rpmbuild"])
}

fn run(cmd: &mut Command, what: &str) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A spec file's `%install` lines and `%files` lines.
struct Spec {
    name: &'static str,
    install: Vec<String>,
    files: Vec<String>,
    defines: Vec<(&'static str, &'static str)>,
}

impl Spec {
    fn new(name: &'static str) -> Spec {
        Spec {
            name,
            install: Vec::new(),
            files: Vec::new(),
            defines: Vec::new(),
        }
    }
    /// A regular file with content, listed with `attrs` (`%config`, `%doc`, …) before it.
    fn file(mut self, attrs: &str, path: &str, content: &str) -> Spec {
        let dir = Path::new(path).parent().unwrap().display().to_string();
        self.install.push(format!("mkdir -p %{{buildroot}}{dir}"));
        self.install.push(format!(
            "printf '%s' '{}' > %{{buildroot}}{path}",
            content.replace('\'', "")
        ));
        self.files.push(format!("{attrs} {path}"));
        self
    }
    fn exe(mut self, attrs: &str, path: &str, content: &str) -> Spec {
        self = self.file(attrs, path, content);
        self.install
            .push(format!("chmod 0755 %{{buildroot}}{path}"));
        self
    }
    fn symlink(mut self, path: &str, target: &str) -> Spec {
        self.install
            .push(format!("ln -s {target} %{{buildroot}}{path}"));
        self.files.push(path.to_string());
        self
    }
    fn ghost(mut self, attrs: &str, path: &str) -> Spec {
        let dir = Path::new(path).parent().unwrap().display().to_string();
        self.install.push(format!("mkdir -p %{{buildroot}}{dir}"));
        self.install.push(format!("touch %{{buildroot}}{path}"));
        self.files.push(format!("%ghost {attrs} {path}"));
        self
    }
    fn line(mut self, files_line: &str) -> Spec {
        self.files.push(files_line.to_string());
        self
    }
    fn define(mut self, k: &'static str, v: &'static str) -> Spec {
        self.defines.push((k, v));
        self
    }

    /// `rpmbuild -bb`, returning the .rpm path.
    fn build(&self, top: &Path) -> PathBuf {
        let specs = top.join("SPECS");
        fs::create_dir_all(&specs).unwrap();
        let spec = format!(
            "Name: {name}\nVersion: 1.0\nRelease: 1\nSummary: livescan test package\nLicense: MIT\nBuildArch: noarch\n\n\
             %description\nlivescan test package.\n\n%install\n{install}\n\n%files\n{files}\n",
            name = self.name,
            install = self.install.join("\n"),
            files = self.files.join("\n"),
        );
        let spec_path = specs.join(format!("{}.spec", self.name));
        fs::write(&spec_path, spec).unwrap();
        let mut cmd = Command::new("rpmbuild");
        cmd.arg("--define")
            .arg(format!("_topdir {}", top.display()))
            .args(["--define", "_build_id_links none"]);
        for (k, v) in &self.defines {
            cmd.arg("--define").arg(format!("{k} {v}"));
        }
        run(cmd.arg("-bb").arg(&spec_path), "rpmbuild");
        top.join(format!("RPMS/noarch/{}-1.0-1.noarch.rpm", self.name))
    }
}

struct RpmRoot {
    root: Root,
    top: PathBuf,
}

impl RpmRoot {
    fn new() -> RpmRoot {
        let root = Root::new();
        fs::remove_dir_all(root.p("/var/lib/dpkg")).unwrap();
        fs::create_dir_all(root.p("/etc")).unwrap();
        // rpm resolves %attr owners by name in the root's own passwd/group.
        fs::write(
            root.p("/etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nsvc:x:4242:4242::/nonexistent:/bin/false\n",
        )
        .unwrap();
        fs::write(root.p("/etc/group"), "root:x:0:\nsvc:x:4242:\n").unwrap();
        let top = root.tmp().join("rpmbuild");
        run(
            Command::new("rpm").arg("--root").arg(&root.path).args([
                "--dbpath",
                "/var/lib/rpm",
                "--initdb",
            ]),
            "rpm --initdb",
        );
        RpmRoot { root, top }
    }

    fn rpm(&self) -> Command {
        let mut c = Command::new("rpm");
        c.arg("--root")
            .arg(&self.root.path)
            .args(["--dbpath", "/var/lib/rpm"]);
        c
    }

    fn install(&self, extra: &[&str], specs: &[&Spec]) {
        let rpms: Vec<PathBuf> = specs.iter().map(|s| s.build(&self.top)).collect();
        run(
            self.rpm()
                .args(["--nodeps", "--force-debian", "-i"])
                .args(extra)
                .args(&rpms),
            "rpm -i",
        );
    }

    /// `rpm -Va` as (path, flags with `.`, marker letter or ' ').
    fn verify(&self) -> BTreeSet<(Vec<u8>, String, char)> {
        let out = self.rpm().args(["-Va", "--nodeps"]).output().unwrap();
        // rpm -V exits 1 when something differs; only a crash is a failure here.
        assert!(out.status.code().is_some(), "rpm -Va crashed");
        parse_rpm_verify(&out.stdout)
    }
}

fn parse_rpm_verify(stdout: &[u8]) -> BTreeSet<(Vec<u8>, String, char)> {
    let mut set = BTreeSet::new();
    for line in stdout.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let (flags, rest) = if let Some(r) = line.strip_prefix(b"missing") {
            ("missing".to_string(), r)
        } else {
            assert!(
                line.len() > 10,
                "rpm -V line {:?}",
                String::from_utf8_lossy(line)
            );
            (String::from_utf8_lossy(&line[..9]).into_owned(), &line[9..])
        };
        let rest = rest.trim_ascii_start();
        let (marker, path) = match rest {
            [m, b' ', p @ ..] if b"cdglr".contains(m) && p.starts_with(b"/") => (*m as char, p),
            p => (' ', p),
        };
        set.insert((path.to_vec(), flags, marker));
    }
    set
}

/// The report's modified and deleted entries in rpm -V's terms (`?` = not applicable,
/// which rpm prints as `.`).
fn ours(s: &Scan) -> BTreeSet<(Vec<u8>, String, char)> {
    s.files()
        .iter()
        .filter(|f| f["change"] != "added")
        .map(|f| {
            let marker = match f["marker"].as_str() {
                Some("config") => 'c',
                Some("doc") => 'd',
                Some("ghost") => 'g',
                Some("license") => 'l',
                Some("readme") => 'r',
                _ => ' ',
            };
            (
                decode_path(&f["path"]),
                f["verify"].as_str().unwrap().replace('?', "."),
                marker,
            )
        })
        .collect()
}

fn show(set: &BTreeSet<(Vec<u8>, String, char)>) -> String {
    set.iter()
        .map(|(p, f, m)| format!("  {f} {m} {}\n", String::from_utf8_lossy(p)))
        .collect()
}

fn assert_same_as_rpm(r: &RpmRoot, s: &Scan, what: &str) -> BTreeSet<(Vec<u8>, String, char)> {
    let theirs = r.verify();
    let mine = ours(s);
    assert_eq!(
        mine,
        theirs,
        "{what}: livescan\n{}rpm -Va\n{}",
        show(&mine),
        show(&theirs)
    );
    theirs
}

fn remove_xattr(path: &Path, name: &str) {
    let p = CString::new(path.as_os_str().as_bytes()).unwrap();
    let n = CString::new(name).unwrap();
    // SAFETY: valid NUL-terminated strings.
    let rc = unsafe { libc::lremovexattr(p.as_ptr(), n.as_ptr()) };
    assert_eq!(rc, 0, "removexattr {name} {}", path.display());
}

fn touch_old(path: &Path) {
    let f = fs::File::options().write(true).open(path).unwrap();
    f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000))
        .unwrap();
}

fn main_package() -> Spec {
    Spec::new("rpmtest")
        .file("%config(noreplace)", "/etc/rpmtest/app.conf", "key=value\n")
        .file("%config", "/etc/rpmtest/plain.conf", "other=1\n")
        .file("%config(missingok)", "/etc/rpmtest/optional.conf", "opt\n")
        .exe("", "/usr/bin/rpmtest", "#!/bin/sh\necho hi\n")
        .symlink("/usr/bin/rpmtest-link", "rpmtest")
        .exe("%caps(cap_net_raw=ep)", "/usr/bin/capfile", "pingish\n")
        .file("%doc", "/usr/share/doc/rpmtest/README", "readme\n")
        .file(
            "%verify(not md5 size mtime)",
            "/usr/lib/rpmtest/volatile",
            "volatile\n",
        )
        .file("%attr(0640,svc,svc)", "/usr/lib/rpmtest/svc-owned", "svc\n")
        .file("", "/usr/share/rpmtest/shared.txt", "shared\n")
        .ghost("%attr(0640,root,root)", "/var/lib/rpmtest/state.db")
        .line("%dir /etc/rpmtest")
        .line("%dir /usr/lib/rpmtest")
        .line("%dir /var/lib/rpmtest")
}

/// Built with MD5 file digests (no FILEDIGESTALGO tag), as RHEL 5 era packages are.
fn md5_package() -> Spec {
    Spec::new("rpmtest-md5")
        .file("", "/usr/lib/rpmtest-md5/data", "md5 data\n")
        .define("_binary_filedigest_algorithm", "1")
}

/// Owns a path that `rpmtest` owns too.
fn sharing_package() -> Spec {
    Spec::new("rpmtest-share").file("", "/usr/share/rpmtest/shared.txt", "shared\n")
}

#[test]
fn clean_install_has_no_changes() {
    if !rpm_tools("clean_install_has_no_changes") {
        return;
    }
    let r = RpmRoot::new();
    r.install(&[], &[&main_package(), &md5_package(), &sharing_package()]);
    let s = r.root.scan_ok(&[]);
    let dbs = s.json["databases"].as_array().unwrap();
    assert_eq!(dbs.len(), 1, "{dbs:?}");
    assert_eq!(dbs[0]["format"], "rpm-sqlite", "{dbs:?}");
    let pkgs: BTreeSet<String> = s.json["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "{}-{}-{}.{}",
                p["name"].as_str().unwrap(),
                p["version"].as_str().unwrap(),
                p["release"].as_str().unwrap(),
                p["arch"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        pkgs,
        BTreeSet::from([
            "rpmtest-1.0-1.noarch".to_string(),
            "rpmtest-md5-1.0-1.noarch".to_string(),
            "rpmtest-share-1.0-1.noarch".to_string()
        ])
    );
    assert!(assert_same_as_rpm(&r, &s, "clean").is_empty());
    assert_eq!(s.total("modified"), 0);
    assert_eq!(s.total("deleted"), 0);
    // Added: what we wrote (passwd, group), rpm's database, and the directories no package
    // owns (these packages list only some of theirs with %dir; there is no filesystem package).
    let added: BTreeSet<String> = s
        .files()
        .iter()
        .filter(|f| f["change"] == "added")
        .map(|f| String::from_utf8_lossy(&decode_path(&f["path"])).into_owned())
        .collect();
    let expected: BTreeSet<String> = [
        "/etc",
        "/etc/group",
        "/etc/passwd",
        "/usr",
        "/usr/bin",
        "/usr/lib",
        "/usr/lib/rpmtest-md5",
        "/usr/share",
        "/usr/share/doc",
        "/usr/share/doc/rpmtest",
        "/usr/share/rpmtest",
        "/var",
        "/var/lib",
        "/var/lib/rpm",
        "/var/lib/rpm/.rpm.lock",
        "/var/lib/rpm/rpmdb.sqlite",
        "/var/lib/rpm/rpmdb.sqlite-shm",
        "/var/lib/rpm/rpmdb.sqlite-wal",
    ]
    .into_iter()
    .map(str::to_string)
    .collect();
    assert_eq!(added, expected);
    let db = s.entry("/var/lib/rpm/rpmdb.sqlite");
    assert_eq!(db["category"], "package-db", "{db}");
}

#[test]
fn tampering_matches_rpm_verify() {
    if !rpm_tools("tampering_matches_rpm_verify") {
        return;
    }
    let r = RpmRoot::new();
    r.install(&[], &[&main_package(), &md5_package(), &sharing_package()]);
    let p = |s: &str| r.root.p(s);
    // S.5....T. c: content and size.
    fs::write(p("/etc/rpmtest/app.conf"), "key=other value\n").unwrap();
    touch_old(&p("/etc/rpmtest/app.conf"));
    // missing c
    fs::remove_file(p("/etc/rpmtest/plain.conf")).unwrap();
    // missingok: not reported.
    fs::remove_file(p("/etc/rpmtest/optional.conf")).unwrap();
    // .M.......
    fs::set_permissions(p("/usr/bin/rpmtest"), fs::Permissions::from_mode(0o700)).unwrap();
    // ....L....
    fs::remove_file(p("/usr/bin/rpmtest-link")).unwrap();
    symlink("elsewhere", p("/usr/bin/rpmtest-link")).unwrap();
    // .......T. d
    touch_old(&p("/usr/share/doc/rpmtest/README"));
    // %verify(not md5 size mtime): a rewrite is not a change.
    fs::write(p("/usr/lib/rpmtest/volatile"), "rewritten, longer\n").unwrap();
    // .....UG..
    std::os::unix::fs::chown(p("/usr/lib/rpmtest/svc-owned"), Some(0), Some(0)).unwrap();
    // ........P: capability removed.
    remove_xattr(&p("/usr/bin/capfile"), "security.capability");
    // ..5....T. on an MD5 package: same size, other content.
    fs::write(p("/usr/lib/rpmtest-md5/data"), "md5 DATA\n").unwrap();
    touch_old(&p("/usr/lib/rpmtest-md5/data")); // build, install and edit can share a second
                                                // Two owners: the mtime is not compared (rpm -V rule).
    touch_old(&p("/usr/share/rpmtest/shared.txt"));
    // A ghost that now exists with another mode: .M....... g (type bits not compared).
    fs::write(p("/var/lib/rpmtest/state.db"), "runtime state").unwrap();
    fs::set_permissions(
        p("/var/lib/rpmtest/state.db"),
        fs::Permissions::from_mode(0o600),
    )
    .unwrap();

    let s = r.root.scan_ok(&[]);
    let rpm = assert_same_as_rpm(&r, &s, "tampered");
    // The oracle saw what we meant to do (guards against a silently weaker oracle).
    let flags = |path: &str| {
        rpm.iter()
            .find(|(p, _, _)| p == path.as_bytes())
            .map(|(_, f, m)| format!("{f} {m}"))
            .unwrap_or_default()
    };
    assert_eq!(flags("/etc/rpmtest/app.conf"), "S.5....T. c");
    assert_eq!(flags("/etc/rpmtest/plain.conf"), "missing c");
    assert_eq!(flags("/usr/bin/rpmtest"), ".M.......  ");
    assert_eq!(flags("/usr/bin/rpmtest-link"), "....L....  ");
    assert_eq!(flags("/usr/share/doc/rpmtest/README"), ".......T. d");
    assert_eq!(flags("/usr/lib/rpmtest/svc-owned"), ".....UG..  ");
    assert_eq!(flags("/usr/bin/capfile"), "........P  ");
    assert_eq!(flags("/usr/lib/rpmtest-md5/data"), "..5....T.  ");
    assert_eq!(flags("/var/lib/rpmtest/state.db"), ".M....... g");
    assert_eq!(rpm.len(), 9, "{}", show(&rpm));
    assert_eq!(s.total("deleted"), 1);
    // The MD5 package's file was hashed with MD5, the others with SHA-256: the size-equal
    // content change was only visible by hashing.
    assert!(s.total("hashed_files") >= 2);
}

#[test]
fn excluded_docs_are_not_installed_not_deleted() {
    if !rpm_tools("excluded_docs_are_not_installed_not_deleted") {
        return;
    }
    let r = RpmRoot::new();
    r.install(&["--excludedocs"], &[&main_package()]);
    assert!(!r.root.p("/usr/share/doc/rpmtest/README").exists());
    let s = r.root.scan_ok(&[]);
    assert!(assert_same_as_rpm(&r, &s, "excludedocs").is_empty());
    assert_eq!(s.total("deleted"), 0);
    let not_installed = &s.json["totals"]["not_installed"];
    assert!(
        not_installed
            .as_object()
            .unwrap()
            .keys()
            .any(|k| k.contains("excludedocs")),
        "{not_installed}"
    );
}

/// An admin moved a packaged directory to another disk and left a symlink: rpm -V follows
/// it (the target is root's), so nothing is modified — and the files below are still found.
#[test]
fn directory_moved_behind_a_symlink_is_followed() {
    if !rpm_tools("directory_moved_behind_a_symlink_is_followed") {
        return;
    }
    let r = RpmRoot::new();
    r.install(&[], &[&main_package()]);
    fs::create_dir_all(r.root.p("/srv")).unwrap();
    fs::rename(r.root.p("/usr/lib/rpmtest"), r.root.p("/srv/rpmtest-moved")).unwrap();
    // Absolute, as admins write it: must resolve inside the root.
    symlink("/srv/rpmtest-moved", r.root.p("/usr/lib/rpmtest")).unwrap();
    let s = r.root.scan_ok(&[]);
    assert!(assert_same_as_rpm(&r, &s, "moved dir").is_empty());
    assert_eq!(s.total("deleted"), 0);
    assert!(!s.has("/usr/lib/rpmtest"));

    // The target now belongs to someone else: still followed (the link is root's), and
    // the directory's owner is what differs.
    std::os::unix::fs::lchown(r.root.p("/srv/rpmtest-moved"), Some(4242), None).unwrap();
    let s = r.root.scan_ok(&[]);
    let rpm = assert_same_as_rpm(&r, &s, "foreign-owned target");
    assert!(
        rpm.contains(&(b"/usr/lib/rpmtest".to_vec(), ".....U...".into(), ' ')),
        "{}",
        show(&rpm)
    );

    // A link planted by another user, to a root directory: not followed, the link itself
    // is compared (a symlink where a directory belongs).
    std::os::unix::fs::lchown(r.root.p("/srv/rpmtest-moved"), Some(0), None).unwrap();
    std::os::unix::fs::lchown(r.root.p("/usr/lib/rpmtest"), Some(4242), None).unwrap();
    let s = r.root.scan_ok(&[]);
    let rpm = assert_same_as_rpm(&r, &s, "foreign-owned link");
    assert!(
        rpm.iter().any(|(p, _, _)| p == b"/usr/lib/rpmtest"),
        "{}",
        show(&rpm)
    );
}

/// A package names an owner the root does not have: rpm installs the file as root, and
/// rpm -V (4.18) then accepts root as that owner. Owned by anyone else, it is reported.
#[test]
fn owner_unknown_to_the_root_stands_for_root() {
    if !rpm_tools("owner_unknown_to_the_root_stands_for_root") {
        return;
    }
    let r = RpmRoot::new();
    let spec = Spec::new("rpmtest-nobody").file(
        "%attr(0644,nosuchuser,nosuchgroup)",
        "/usr/lib/rpmtest-nobody/f",
        "x\n",
    );
    r.install(&[], &[&spec]);
    let s = r.root.scan_ok(&[]);
    assert!(assert_same_as_rpm(&r, &s, "unknown owner").is_empty());
    std::os::unix::fs::chown(
        r.root.p("/usr/lib/rpmtest-nobody/f"),
        Some(4242),
        Some(4242),
    )
    .unwrap();
    let s = r.root.scan_ok(&[]);
    let rpm = assert_same_as_rpm(&r, &s, "unknown owner, file chowned");
    assert!(
        rpm.contains(&(
            b"/usr/lib/rpmtest-nobody/f".to_vec(),
            ".....UG..".into(),
            ' '
        )),
        "{}",
        show(&rpm)
    );
}
