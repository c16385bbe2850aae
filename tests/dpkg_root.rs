//! Real dpkg roots, built and changed with the real tools (`dpkg-deb`, `dpkg --root`,
//! `dpkg-divert`, `dpkg-statoverride`), scanned by the real `livescan` binary. Every test
//! asserts the exact set of reported (path, change) pairs, and where dpkg has an opinion,
//! cross-checks it with `dpkg --verify` on the same root.
//!
//! Skipped, with a message, when the dpkg tools are missing.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{added, assert_changes, pairs, Deb, Root, Scan};

fn chmod(p: &std::path::Path, mode: u32) {
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

/// Owns the top directories, as base-files does, so that only the dpkg database is left
/// unowned in a clean root.
fn base() -> Deb {
    Deb::new("base-dirs")
        .dir("/etc")
        .dir("/usr/bin")
        .dir("/usr/lib")
        .dir("/usr/share/doc")
        .dir("/var/lib")
}

/// debhelper-style md5sums (conffiles excluded; their hash is in the status file).
fn pa() -> Deb {
    Deb::new("pa")
        .conffile("/etc/pa/pa.conf", "setting = 1\n")
        .exe("/usr/bin/pa", "#!/bin/sh\necho pa\n")
        .symlink("/usr/bin/pa-link", "pa")
        .file("/usr/lib/pa/data.bin", "data\n")
        .dir("/usr/lib/pa/empty")
        .file("/usr/share/doc/pa/README", "read me\n")
}

/// No md5sums in the .deb: dpkg computes them at unpack, conffiles included.
fn pb() -> Deb {
    Deb::new("pb")
        .without_md5sums()
        .conffile("/etc/pb.conf", "pb = yes\n")
        .exe("/usr/bin/pb", "#!/bin/sh\necho pb\n")
        .file("/usr/share/pb/file with spaces.txt", "spaced\n")
}

fn standard_root() -> Root {
    let r = Root::new();
    r.install(&[&base(), &pa(), &pb()]);
    r
}

fn db_added(r: &Root) -> Changes {
    added(&r.dpkg_db_entries())
}

fn strs(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

/// (path, change) pairs, as the report and `dpkg --verify` give them.
type Changes = BTreeSet<(Vec<u8>, String)>;

/// `dpkg --verify` on the root, as (canonical path, change) pairs plus the conffile marks.
fn dpkg_verify_changes(r: &Root) -> (Changes, BTreeMap<Vec<u8>, bool>) {
    let lines = r.dpkg_verify();
    let mut set = BTreeSet::new();
    let mut conf = BTreeMap::new();
    for l in lines {
        let path = r.canonical(&l.path);
        let change = if l.result == "missing" {
            "deleted"
        } else {
            "modified"
        };
        conf.insert(path.clone(), l.conffile);
        set.insert((path, change.to_string()));
    }
    (set, conf)
}

fn modified_and_deleted(s: &Scan) -> Changes {
    s.changes()
        .into_iter()
        .filter(|(_, c)| c != "added")
        .collect()
}

/// Distinct paths of every `.list`, `/.` as `/` (no directory symlinks in these roots).
fn listed_paths(r: &Root) -> BTreeSet<Vec<u8>> {
    let mut set = BTreeSet::new();
    for e in fs::read_dir(r.p("/var/lib/dpkg/info")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "list") {
            for line in fs::read(&p).unwrap().split(|&b| b == b'\n') {
                if line == b"/." {
                    set.insert(b"/".to_vec());
                } else if !line.is_empty() {
                    set.insert(line.to_vec());
                }
            }
        }
    }
    set
}

#[test]
fn clean_install_reports_only_the_dpkg_database_as_added() {
    if !common::dpkg_tools("clean_install_reports_only_the_dpkg_database_as_added") {
        return;
    }
    let r = standard_root();
    assert_eq!(r.dpkg_verify(), vec![], "fixture: dpkg --verify is clean");
    let s = r.scan_ok(&[]);

    let db = r.dpkg_db_entries();
    assert!(db.contains(b"/var/lib/dpkg/status".as_slice()));
    assert_changes(&s.changes(), &added(&db), "clean install");
    for f in s.files() {
        assert_eq!(f["category"], "package-db", "{f}");
        assert_eq!(f["pack"], false, "{f}");
    }

    let all = r.all_entries();
    assert_eq!(s.total("walked_entries"), all.len() as u64);
    assert_eq!(s.total("added"), db.len() as u64);
    assert_eq!(s.total("modified"), 0);
    assert_eq!(s.total("deleted"), 0);
    assert_eq!(s.total("not_checked"), 0);
    assert!(s.total("unchanged") > 0);
    assert_eq!(s.total("unchanged"), (all.len() - db.len()) as u64);
    assert_eq!(s.total("packaged_paths"), listed_paths(&r).len() as u64);
    // Every installed regular file has a digest (md5sums or the conffile hash), and is
    // read once.
    let regular = (pa().regular_files() + pb().regular_files()) as u64;
    assert_eq!(s.total("hashed_files"), regular);

    let installed = |n: &str| {
        (
            n.to_string(),
            "1.0".to_string(),
            "1".to_string(),
            "all".to_string(),
            "installed".to_string(),
        )
    };
    assert_eq!(
        s.packages(),
        [installed("base-dirs"), installed("pa"), installed("pb")].into()
    );
    let dbs = s.json["databases"].as_array().unwrap();
    assert_eq!(dbs.len(), 1, "{dbs:?}");
    assert_eq!(dbs[0]["format"], "dpkg");
    assert_eq!(dbs[0]["location"], "/var/lib/dpkg");
    assert_eq!(dbs[0]["packages"], 3);
    assert_eq!(s.json["schema"], "livescan-report");
    assert_eq!(s.json["schema_version"], 1);
    assert_eq!(s.json["errors"].as_array().unwrap().len(), 0);
}

#[test]
fn mutations_after_install_match_dpkg_verify() {
    if !common::dpkg_tools("mutations_after_install_match_dpkg_verify") {
        return;
    }
    let r = standard_root();
    // Content edits: a conffile and a non-conffile.
    fs::write(r.p("/etc/pa/pa.conf"), "setting = 2\n").unwrap();
    fs::write(r.p("/usr/bin/pa"), "#!/bin/sh\necho changed\n").unwrap();
    // dpkg records no mode: a chmod without statoverride is not a change.
    chmod(&r.p("/usr/lib/pa/data.bin"), 0o600);
    // Deletions: a plain file, a conffile (of the package whose md5sums dpkg made), an
    // empty directory the package owns.
    fs::remove_file(r.p("/usr/share/doc/pa/README")).unwrap();
    fs::remove_file(r.p("/etc/pb.conf")).unwrap();
    fs::remove_dir(r.p("/usr/lib/pa/empty")).unwrap();
    // A regular file replaced by a (dangling, relative) symlink.
    let spaced = "/usr/share/pb/file with spaces.txt";
    fs::remove_file(r.p(spaced)).unwrap();
    symlink("elsewhere", r.p(spaced)).unwrap();
    // Hostile names, unowned.
    let long: Vec<u8> = [b"/etc/pa/".as_slice(), &[b'x'; 200]].concat();
    let hostile: Vec<Vec<u8>> = vec![
        b"/etc/pa/new\nline".to_vec(),
        b"/etc/pa/a>b".to_vec(),
        b"/etc/pa/quo\"te'".to_vec(),
        b"/etc/pa/caf\xe9".to_vec(),
        long.clone(),
        b"/etc/pa/ lead and trail ".to_vec(),
        b"/etc/pa/back\\slash\ttab".to_vec(),
    ];
    for h in &hostile {
        fs::write(r.p(h), b"local data\n").unwrap();
    }

    let s = r.scan_ok(&[]);
    let mut expected = db_added(&r);
    expected.extend(added(&hostile));
    expected.extend(pairs(&[
        ("/etc/pa/pa.conf", "modified"),
        ("/usr/bin/pa", "modified"),
        (spaced, "modified"),
        ("/usr/share/doc/pa/README", "deleted"),
        ("/etc/pb.conf", "deleted"),
        ("/usr/lib/pa/empty", "deleted"),
    ]));
    assert_changes(&s.changes(), &expected, "after mutations");

    let conf = s.entry("/etc/pa/pa.conf");
    assert_eq!(conf["verify"], "??5??????", "{conf}");
    assert_eq!(conf["config"], true, "{conf}");
    assert_eq!(conf["type"], "regular", "{conf}");
    assert_eq!(conf["size"], 12, "{conf}");
    assert_eq!(strs(&conf["packages"]), ["pa"]);

    let bin = s.entry("/usr/bin/pa");
    assert_eq!(bin["verify"], "??5??????", "{bin}");
    assert_ne!(bin["config"], true, "{bin}");
    assert_eq!(bin["mode"], "0755", "{bin}");
    assert_eq!(strs(&bin["packages"]), ["pa"]);

    let link = s.entry(spaced);
    assert_eq!(link["type"], "symlink", "{link}");
    assert_eq!(link["link_target"], "elsewhere", "{link}");
    let v: Vec<char> = link["verify"].as_str().unwrap().chars().collect();
    assert_eq!(v.len(), 9, "{link}");
    assert_eq!(v[1], 'M', "type change is M in position 2: {link}");
    assert_eq!(strs(&link["packages"]), ["pb"]);

    let readme = s.entry("/usr/share/doc/pa/README");
    assert_eq!(readme["verify"], "missing", "{readme}");
    assert_eq!(strs(&readme["packages"]), ["pa"]);
    assert_ne!(readme["config"], true, "{readme}");
    let pbconf = s.entry("/etc/pb.conf");
    assert_eq!(pbconf["verify"], "missing", "{pbconf}");
    assert_eq!(pbconf["config"], true, "{pbconf}");
    assert_eq!(strs(&pbconf["packages"]), ["pb"]);
    assert_eq!(s.entry("/usr/lib/pa/empty")["verify"], "missing");

    for h in &hostile {
        let e = s.entry(h);
        assert_eq!(e["type"], "regular", "{e}");
        assert_eq!(e["size"], 11, "{e}");
    }
    // The non-UTF-8 name is the only {"base64": …} path, and decodes to the exact bytes.
    let objects: Vec<&serde_json::Value> =
        s.files().iter().filter(|f| f["path"].is_object()).collect();
    assert_eq!(objects.len(), 1, "{objects:?}");
    assert_eq!(
        common::decode_path(&objects[0]["path"]),
        b"/etc/pa/caf\xe9".to_vec()
    );
    let text = String::from_utf8(s.stdout.clone()).expect("the report is UTF-8 text");
    assert!(text.contains(r#""path":{"base64":"L2V0Yy9wYS9jYWbp"}"#));
    // The newline is escaped: every files[] element stays on one line.
    assert!(text.contains(r#""path":"/etc/pa/new\nline""#));

    // The same root through dpkg's own eyes.
    let (dpkg_set, dpkg_conf) = dpkg_verify_changes(&r);
    assert_changes(&modified_and_deleted(&s), &dpkg_set, "vs dpkg --verify");
    for (path, is_conf) in dpkg_conf {
        assert_eq!(
            s.entry(&path)["config"] == true,
            is_conf,
            "config flag of {}",
            String::from_utf8_lossy(&path)
        );
    }
    assert_eq!(s.total("modified"), 3);
    assert_eq!(s.total("deleted"), 3);
}

#[test]
fn diverted_files_are_checked_where_they_live() {
    if !common::dpkg_tools("diverted_files_are_checked_where_they_live") {
        return;
    }
    let r = Root::new();
    let a = Deb::new("tool-a")
        .exe("/usr/bin/tool", "A tool\n")
        .exe("/usr/bin/other", "A other\n");
    r.install(&[&base(), &a]);
    // A local diversion (as an admin makes one) moves A's file aside …
    r.admin_tool(
        "dpkg-divert",
        &[
            "--local",
            "--rename",
            "--divert",
            "/usr/bin/tool.distrib",
            "--add",
            "/usr/bin/tool",
        ],
    );
    assert_eq!(fs::read(r.p("/usr/bin/tool.distrib")).unwrap(), b"A tool\n");
    // … and the admin's own file takes its place.
    fs::write(r.p("/usr/bin/tool"), "local tool\n").unwrap();
    // A package diversion, as tool-b's preinst would make it (chrootless maintainer
    // scripts would run on the host, so the CLI is used with --root instead).
    r.admin_tool(
        "dpkg-divert",
        &[
            "--package",
            "tool-b",
            "--rename",
            "--divert",
            "/usr/bin/other.distrib",
            "--add",
            "/usr/bin/other",
        ],
    );
    let b = Deb::new("tool-b").exe("/usr/bin/other", "B other\n");
    r.install(&[&b]);
    assert_eq!(fs::read(r.p("/usr/bin/other")).unwrap(), b"B other\n");
    assert_eq!(
        fs::read(r.p("/usr/bin/other.distrib")).unwrap(),
        b"A other\n"
    );
    assert_eq!(r.dpkg_verify(), vec![], "fixture: dpkg --verify is clean");

    let s = r.scan_ok(&[]);
    let mut expected = db_added(&r);
    expected.extend(pairs(&[("/usr/bin/tool", "added")]));
    assert_changes(&s.changes(), &expected, "diversions, untouched");
    assert!(r
        .dpkg_db_entries()
        .contains(b"/var/lib/dpkg/diversions".as_slice()));

    // Now change the diverted files: the report names them where they live, with their
    // owners.
    fs::write(r.p("/usr/bin/tool.distrib"), "A tool, edited\n").unwrap();
    fs::write(r.p("/usr/bin/other"), "B other, edited\n").unwrap();
    let s = r.scan_ok(&[]);
    let mut expected = db_added(&r);
    expected.extend(pairs(&[
        ("/usr/bin/tool", "added"),
        ("/usr/bin/tool.distrib", "modified"),
        ("/usr/bin/other", "modified"),
    ]));
    assert_changes(&s.changes(), &expected, "diversions, edited");
    assert_eq!(
        strs(&s.entry("/usr/bin/tool.distrib")["packages"]),
        ["tool-a"]
    );
    assert_eq!(strs(&s.entry("/usr/bin/other")["packages"]), ["tool-b"]);
    // dpkg --verify sees B's edit but not the edit of A's diverted file: it looks the
    // digest up under the diverted name, where none is recorded (parse_filehash and
    // namenodetouse in src/main/verify.c), so it only checks that tool.distrib exists.
    let (dpkg_set, _) = dpkg_verify_changes(&r);
    assert_changes(
        &dpkg_set,
        &pairs(&[("/usr/bin/other", "modified")]),
        "dpkg --verify (blind to diverted content)",
    );
}

#[test]
fn removed_package_leftover_conffiles_are_neither_added_nor_deleted() {
    if !common::dpkg_tools("removed_package_leftover_conffiles_are_neither_added_nor_deleted") {
        return;
    }
    let r = Root::new();
    let pc = Deb::new("pc")
        .conffile("/etc/pc/pc.conf", "pc = 1\n")
        .exe("/usr/bin/pc", "pc\n");
    r.install(&[&base(), &pc]);
    r.dpkg(&["-r", "pc"]);
    assert!(r.p("/etc/pc/pc.conf").exists(), "dpkg -r keeps conffiles");
    assert!(!r.p("/usr/bin/pc").exists(), "dpkg -r removes the rest");

    let s = r.scan_ok(&[]);
    assert_changes(&s.changes(), &db_added(&r), "rc package, conffile kept");
    let states: BTreeMap<String, String> = s
        .packages()
        .into_iter()
        .map(|(n, _, _, _, st)| (n, st))
        .collect();
    assert_eq!(
        states,
        [
            ("base-dirs".to_string(), "installed".to_string()),
            ("pc".to_string(), "config-files".to_string())
        ]
        .into()
    );

    // Leftovers are optional: deleting one is not a change.
    fs::remove_file(r.p("/etc/pc/pc.conf")).unwrap();
    let s = r.scan_ok(&[]);
    assert_changes(&s.changes(), &db_added(&r), "rc package, conffile deleted");
    assert_eq!(s.total("deleted"), 0);
    let not_installed: u64 = s.json["totals"]["not_installed"]
        .as_object()
        .expect("totals.not_installed")
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert!(
        not_installed >= 1,
        "the leftover is counted as absent by design: {}",
        s.json["totals"]
    );
    // dpkg --verify does flag it (it verifies rc packages too); livescan deliberately not.
    assert!(r
        .dpkg_verify()
        .iter()
        .any(|l| l.path == b"/etc/pc/pc.conf" && l.result == "missing"));
}

#[test]
fn statoverride_mode_and_owner_are_checked() {
    if !common::dpkg_tools("statoverride_mode_and_owner_are_checked") {
        return;
    }
    if !common::euid_is_root() {
        eprintln!("SKIP statoverride_mode_and_owner_are_checked: needs root (chown)");
        return;
    }
    let r = Root::new();
    r.install(&[&base(), &pa()]);
    // The root's own account files: statoverride names are resolved in the root.
    fs::write(r.p("/etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    fs::write(r.p("/etc/group"), "root:x:0:\n").unwrap();
    r.admin_tool(
        "dpkg-statoverride",
        &["--update", "--add", "root", "root", "0700", "/usr/bin/pa"],
    );
    assert_eq!(
        fs::metadata(r.p("/usr/bin/pa"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777,
        0o700,
        "dpkg-statoverride --update applied the mode"
    );
    // Recorded, not applied: the directory keeps 0755 while 0750 is recorded.
    r.admin_tool(
        "dpkg-statoverride",
        &["--add", "root", "root", "0750", "/usr/lib/pa"],
    );

    let base_set = || {
        let mut e = db_added(&r);
        e.extend(pairs(&[("/etc/passwd", "added"), ("/etc/group", "added")]));
        e
    };
    let s = r.scan_ok(&[]);
    let mut expected = base_set();
    expected.extend(pairs(&[("/usr/lib/pa", "modified")]));
    assert_changes(&s.changes(), &expected, "statoverride as recorded");
    assert_eq!(s.entry("/usr/lib/pa")["verify"], "?M???..??");

    chmod(&r.p("/usr/bin/pa"), 0o755);
    let s = r.scan_ok(&[]);
    let mut expected = base_set();
    expected.extend(pairs(&[
        ("/usr/lib/pa", "modified"),
        ("/usr/bin/pa", "modified"),
    ]));
    assert_changes(&s.changes(), &expected, "after chmod 0755");
    let e = s.entry("/usr/bin/pa");
    assert_eq!(e["verify"], "?M.??..??", "{e}");
    assert_eq!(e["mode"], "0755", "{e}");
    assert_eq!(strs(&e["packages"]), ["pa"]);

    chmod(&r.p("/usr/bin/pa"), 0o700);
    std::os::unix::fs::lchown(r.p("/usr/bin/pa"), Some(1234), Some(1234)).unwrap();
    chmod(&r.p("/usr/bin/pa"), 0o700);
    let s = r.scan_ok(&[]);
    let e = s.entry("/usr/bin/pa");
    assert_eq!(e["verify"], "?..??UG??", "{e}");
    assert_eq!(e["uid"], 1234, "{e}");
    // dpkg --verify does not look at statoverride at all.
    assert_eq!(r.dpkg_verify(), vec![]);
}

#[test]
fn merged_usr_paths_are_matched_canonically() {
    if !common::dpkg_tools("merged_usr_paths_are_matched_canonically") {
        return;
    }
    let r = Root::new();
    fs::create_dir_all(r.p("/usr/bin")).unwrap();
    fs::create_dir_all(r.p("/usr/lib")).unwrap();
    symlink("usr/bin", r.p("/bin")).unwrap();
    symlink("usr/lib", r.p("/lib")).unwrap();
    let mu = Deb::new("mu")
        .exe("/bin/foo", "foo\n")
        .file("/lib/mu/lib.so", "lib\n")
        .exe("/usr/bin/bar", "bar\n");
    r.install(&[&base(), &mu]);
    assert!(
        fs::symlink_metadata(r.p("/bin")).unwrap().is_symlink(),
        "dpkg kept /bin as a symlink"
    );
    assert_eq!(fs::read(r.p("/usr/bin/foo")).unwrap(), b"foo\n");
    let list = fs::read_to_string(r.p("/var/lib/dpkg/info/mu.list")).unwrap();
    assert!(list.lines().any(|l| l == "/bin/foo"), "{list}");

    let s = r.scan_ok(&[]);
    assert_changes(&s.changes(), &db_added(&r), "merged /usr, clean");

    fs::write(r.p("/usr/bin/foo"), "foo, edited\n").unwrap();
    fs::remove_file(r.p("/usr/lib/mu/lib.so")).unwrap();
    let s = r.scan_ok(&[]);
    let mut expected = db_added(&r);
    expected.extend(pairs(&[
        ("/usr/bin/foo", "modified"),
        ("/usr/lib/mu/lib.so", "deleted"),
    ]));
    assert_changes(&s.changes(), &expected, "merged /usr, changed");
    assert_eq!(strs(&s.entry("/usr/bin/foo")["packages"]), ["mu"]);
    // dpkg names them /bin/foo and /lib/mu/lib.so; canonically they are the same.
    let (dpkg_set, _) = dpkg_verify_changes(&r);
    assert_changes(&modified_and_deleted(&s), &dpkg_set, "vs dpkg --verify");
}

#[test]
fn excludes_hide_files_and_never_make_them_deleted() {
    if !common::dpkg_tools("excludes_hide_files_and_never_make_them_deleted") {
        return;
    }
    let r = standard_root();
    fs::remove_file(r.p("/usr/share/doc/pa/README")).unwrap();
    fs::write(r.p("/usr/share/doc/local-note.txt"), "mine\n").unwrap();

    // Control: without the exclude both are reported.
    let s = r.scan_ok(&[]);
    let mut full = db_added(&r);
    full.extend(pairs(&[
        ("/usr/share/doc/pa/README", "deleted"),
        ("/usr/share/doc/local-note.txt", "added"),
    ]));
    assert_changes(&s.changes(), &full, "no exclude");

    let s = r.scan_ok(&["-e", "/usr/share/doc"]);
    assert_changes(&s.changes(), &db_added(&r), "-e /usr/share/doc");
    assert_eq!(s.total("deleted"), 0);
    // README, /usr/share/doc/pa, its parent … are recorded below the exclude.
    assert!(s.total("not_checked") >= 2, "{}", s.json["totals"]);
    assert_eq!(
        s.json["scan"]["excludes"],
        serde_json::json!(["/usr/share/doc"])
    );

    // Whole components only: /usr/share/do excludes nothing here.
    let s = r.scan_ok(&["-e", "/usr/share/do"]);
    assert_changes(&s.changes(), &full, "-e /usr/share/do");

    // `-e /`: packages, no files.
    let s = r.scan_ok(&["-e", "/"]);
    assert_eq!(s.files().len(), 0, "{}", common::show_set(&s.changes()));
    assert_eq!(s.packages().len(), 3);
    assert_eq!(s.total("walked_entries"), 0);
    assert_eq!(s.total("deleted"), 0);
}

#[test]
fn dpkg_path_exclude_skips_are_not_deleted() {
    if !common::dpkg_tools("dpkg_path_exclude_skips_are_not_deleted") {
        return;
    }
    let r = Root::new();
    let filters = "path-exclude=/usr/share/doc/*\npath-include=/usr/share/doc/*/copyright\n";
    fs::create_dir_all(r.p("/etc/dpkg/dpkg.cfg.d")).unwrap();
    fs::write(r.p("/etc/dpkg/dpkg.cfg.d/excludes"), filters).unwrap();
    let pd = Deb::new("pd")
        .exe("/usr/bin/pd", "pd\n")
        .file("/usr/share/doc/pd/README", "readme\n")
        .file("/usr/share/doc/pd/changelog", "log\n")
        .file("/usr/share/doc/pd/copyright", "(c)\n");
    // dpkg --root reads the *host's* dpkg.cfg.d, not the root's, so the same filters go on
    // the command line, as they would have applied on the scanned system itself.
    r.install_with(
        &[
            "--path-exclude=/usr/share/doc/*",
            "--path-include=/usr/share/doc/*/copyright",
        ],
        &[&base(), &pd],
    );
    assert!(!r.p("/usr/share/doc/pd/README").exists(), "dpkg skipped it");
    assert!(r.p("/usr/share/doc/pd/copyright").exists(), "dpkg kept it");
    // dpkg --verify knows nothing of filters: it calls them missing.
    let missing: BTreeSet<Vec<u8>> = r
        .dpkg_verify()
        .into_iter()
        .filter(|l| l.result == "missing")
        .map(|l| l.path)
        .collect();
    assert_eq!(
        missing,
        [
            b"/usr/share/doc/pd/README".to_vec(),
            b"/usr/share/doc/pd/changelog".to_vec()
        ]
        .into()
    );

    let s = r.scan_ok(&[]);
    let mut expected = db_added(&r);
    expected.extend(pairs(&[
        ("/etc/dpkg", "added"),
        ("/etc/dpkg/dpkg.cfg.d", "added"),
        ("/etc/dpkg/dpkg.cfg.d/excludes", "added"),
    ]));
    assert_changes(&s.changes(), &expected, "path-exclude");
    let not_installed = s.json["totals"]["not_installed"]
        .as_object()
        .expect("totals.not_installed");
    let by_filter: u64 = not_installed
        .iter()
        .filter(|(k, _)| k.contains("path-exclude"))
        .map(|(_, v)| v.as_u64().unwrap())
        .sum();
    assert_eq!(by_filter, 2, "{}", s.json["totals"]);
}

// ---- exit codes -------------------------------------------------------------------------

#[test]
fn exit_code_usage_and_fatal() {
    let r = Root::new();
    let s = r.scan(&["-e", "relative/path"]);
    assert_eq!(s.code, 2, "relative exclude; stderr: {}", s.stderr);
    fs::write(r.tmp().join("bad.toml"), "[scan]\nexlude = [\"/x\"]\n").unwrap();
    let out = common::livescan()
        .arg("--config")
        .arg(r.tmp().join("bad.toml"))
        .args(["scan", "--report", "-", "-e", "/"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "unknown config key");
    assert!(String::from_utf8_lossy(&out.stderr).contains("exlude"));
    let out = common::livescan()
        .arg("--config")
        .arg(r.tmp().join("livescan.toml"))
        .arg("scan")
        .arg("--root")
        .arg(r.tmp().join("no-such-root"))
        .args(["--report", "-", "--lock-file"])
        .arg(r.tmp().join("livescan.lock"))
        .arg("--mountinfo")
        .arg(r.tmp().join("mountinfo"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "missing root");
}

#[test]
fn exit_code_partial_when_a_directory_is_unreadable() {
    if !common::dpkg_tools("exit_code_partial_when_a_directory_is_unreadable") {
        return;
    }
    // As root every directory is readable (CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH), so run
    // the scan with those two capabilities dropped from its bounding set: still uid 0,
    // but permission bits apply. Without setpriv (or without CAP_SETPCAP) this is skipped.
    let root = common::euid_is_root();
    if root && !common::have_tools("exit_code_partial_…", &["setpriv"]) {
        return;
    }
    let r = standard_root();
    fs::create_dir_all(r.p("/srv/private")).unwrap();
    fs::write(r.p("/srv/private/secret.txt"), "x").unwrap();
    chmod(&r.p("/srv/private"), 0o000);
    chmod(&r.p("/usr/share/doc/pa"), 0o000);
    let mut cmd = if root {
        let mut c = std::process::Command::new("setpriv");
        c.arg("--bounding-set=-dac_override,-dac_read_search")
            .arg("--")
            .arg(r.scan_command(&[]).get_program());
        c.args(r.scan_command(&[]).get_args());
        c
    } else {
        r.scan_command(&[])
    };
    let out = cmd.output().unwrap();
    chmod(&r.p("/srv/private"), 0o755);
    chmod(&r.p("/usr/share/doc/pa"), 0o755);
    if root && out.stdout.is_empty() && String::from_utf8_lossy(&out.stderr).contains("setpriv") {
        eprintln!(
            "SKIP exit_code_partial_when_a_directory_is_unreadable: setpriv cannot drop capabilities here: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    let s = Scan::from_output(out);
    assert_eq!(s.code, 3, "partial; stderr: {}", s.stderr);
    let errors: BTreeSet<(Vec<u8>, String)> = s.json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                common::decode_path(&e["path"]),
                e["operation"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        pairs(&[
            ("/srv/private", "readdir"),
            ("/usr/share/doc/pa", "readdir")
        ])
    );
    // The unreadable directories themselves were lstat'ed fine: /srv/private is added,
    // /usr/share/doc/pa owned; what is recorded below the unreadable one is not checked,
    // never deleted.
    let mut expected = db_added(&r);
    expected.extend(pairs(&[("/srv", "added"), ("/srv/private", "added")]));
    assert_changes(&s.changes(), &expected, "unreadable directories");
    assert_eq!(s.total("deleted"), 0);
    assert!(s.total("not_checked") >= 1, "{}", s.json["totals"]);
}

#[test]
fn exit_code_output_incomplete_on_a_full_disk() {
    let r = Root::new();
    let full = match fs::OpenOptions::new().write(true).open("/dev/full") {
        Ok(f) => f,
        Err(e) => {
            return eprintln!("SKIP exit_code_output_incomplete_on_a_full_disk: /dev/full: {e}")
        }
    };
    let out = r
        .scan_command(&[])
        .stdout(Stdio::from(full))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(6),
        "report to a full disk; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn exit_code_already_running() {
    let r = Root::new();
    let lock = r.tmp().join("livescan.lock");
    let held = livescan::lock::acquire_instance_lock(&lock).expect("take the instance lock");
    let s = r.scan(&[]);
    assert_eq!(s.code, 5, "second instance; stderr: {}", s.stderr);
    assert_eq!(
        s.json,
        serde_json::Value::Null,
        "no report from a refused run"
    );
    drop(held);
}

/// Hold dpkg's database lock the way dpkg does: an fcntl write lock on the whole file.
struct FcntlLock(#[allow(dead_code)] fs::File);

fn fcntl_write_lock(path: &std::path::Path) -> FcntlLock {
    use std::os::fd::AsRawFd;
    let f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .unwrap();
    // SAFETY: a zeroed flock is valid; F_SETLK reads it.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = libc::F_WRLCK as libc::c_short;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    // SAFETY: valid fd, pointer to a live flock.
    let rc = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_SETLK, &fl) };
    assert_eq!(rc, 0, "F_SETLK: {}", std::io::Error::last_os_error());
    FcntlLock(f)
}

#[test]
fn exit_code_db_locked_and_waiting_for_the_lock() {
    if !common::dpkg_tools("exit_code_db_locked_and_waiting_for_the_lock") {
        return;
    }
    let r = standard_root();
    let held = fcntl_write_lock(&r.p("/var/lib/dpkg/lock"));
    let t = Instant::now();
    let s = r.scan(&["--lock-wait", "1"]);
    assert_eq!(s.code, 4, "dpkg lock held; stderr: {}", s.stderr);
    assert!(
        t.elapsed() >= Duration::from_secs(1),
        "waited {:?}",
        t.elapsed()
    );
    assert_eq!(
        s.json,
        serde_json::Value::Null,
        "no report from a refused run"
    );

    // Released while livescan waits: the scan goes ahead.
    let child = r
        .scan_command(&["--lock-wait", "20"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    drop(held);
    // Exit 0, not 4: it went ahead before its 20 s ran out (no wall-clock assert needed).
    let s = Scan::from_output(child.wait_with_output().unwrap());
    assert_eq!(s.code, 0, "stderr: {}", s.stderr);
    assert_changes(&s.changes(), &db_added(&r), "after the wait");

    // apt's lock-frontend counts too.
    let _front = fcntl_write_lock(&r.p("/var/lib/dpkg/lock-frontend"));
    let s = r.scan(&["--lock-wait", "0"]);
    assert_eq!(s.code, 4, "lock-frontend held; stderr: {}", s.stderr);
}

/// The nice value and I/O class of one thread (Linux keeps both per thread).
fn thread_priorities(pid: u32, tid: &str) -> Option<(i64, i64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces): state is field 3, nice 19.
    let nice = stat
        .rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(16)?
        .parse()
        .ok()?;
    const IOPRIO_WHO_PROCESS: libc::c_long = 1;
    let tid: libc::c_long = tid.parse().ok()?;
    // SAFETY: ioprio_get takes two integers and reads nothing from our memory.
    let prio = unsafe { libc::syscall(libc::SYS_ioprio_get, IOPRIO_WHO_PROCESS, tid) };
    (prio >= 0).then_some((nice, prio >> 13))
}

#[test]
fn nice_and_idle_io_reach_every_worker_thread() {
    if !common::dpkg_tools("nice_and_idle_io_reach_every_worker_thread") {
        return;
    }
    let r = standard_root();
    // Held, so the scan waits with its thread pool built: every thread can be inspected.
    let held = fcntl_write_lock(&r.p("/var/lib/dpkg/lock"));
    let child = r
        .scan_command(&[
            "--lock-wait",
            "60",
            "--jobs",
            "3",
            "--nice",
            "19",
            "--ionice-idle",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(30);
    let tids = loop {
        let tids: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        // The main thread and the three workers.
        if tids.len() >= 4 || Instant::now() > deadline {
            break tids;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let prios: Vec<_> = tids
        .iter()
        .map(|t| (t, thread_priorities(pid, t)))
        .collect();
    drop(held);
    let s = Scan::from_output(child.wait_with_output().unwrap());
    assert!(tids.len() >= 4, "threads of the waiting scan: {tids:?}");
    for (tid, p) in &prios {
        // IOPRIO_CLASS_IDLE = 3
        assert_eq!(*p, Some((19, 3)), "thread {tid}: (nice, I/O class)");
    }
    assert_eq!(s.code, 0, "stderr: {}", s.stderr);
}
