//! The rpm reader on every rpm fixture of `../shared` (facts from its SOURCES.md), and, for
//! the backends Debian's rpm can read (sqlite, BDB via bdb_ro), a file-by-file comparison
//! with `rpm -qa --qf` as the oracle.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use super::header::{tag, Header};
use super::package::{digest_algo, nevra, raw_files};
use super::*;
use crate::pkgdb::{DigestAlgo, Marker, Owner, PackagedFile, Presence, UserRef};
use crate::shared_fixtures::pkgdb_fixture;

/// A root holding a copy of one fixture at `dir/name` (fixtures are read-only, and rpm or
/// sqlite may write next to them).
fn root_with(fixture: &str, dir: &str, name: &str) -> Option<(tempfile::TempDir, RootFs)> {
    let src = pkgdb_fixture(fixture)?;
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join(dir.trim_start_matches('/'));
    std::fs::create_dir_all(&d).unwrap();
    std::fs::copy(src, d.join(name)).unwrap();
    let root = RootFs::new(tmp.path());
    Some((tmp, root))
}

fn read_root(root: &RootFs) -> (DbFormat, DbContents) {
    let db = RpmDb::detect(root).expect("rpm database detected");
    let t = Instant::now();
    let c = db.read(root).expect("database reads");
    eprintln!(
        "{:?}: {} packages, {} files in {:?}",
        db.format(),
        c.packages.len(),
        c.files.len(),
        t.elapsed()
    );
    (db.format(), c)
}

fn files_of<'a>(c: &'a DbContents, name: &str) -> Vec<&'a PackagedFile> {
    let idx = c.packages.iter().position(|p| p.name == name).unwrap() as u32;
    c.files
        .iter()
        .filter(|f| f.owner == Owner::Package(idx))
        .collect()
}

fn file<'a>(c: &'a DbContents, path: &str) -> &'a PackagedFile {
    c.files
        .iter()
        .find(|f| f.path == path.as_bytes())
        .unwrap_or_else(|| panic!("{path} recorded"))
}

fn nevras(c: &DbContents) -> Vec<String> {
    let mut v: Vec<String> = c.packages.iter().map(nevra).collect();
    v.sort();
    v
}

#[test]
fn sqlite_mariner_129_packages() {
    let Some((_t, root)) = root_with(
        "rpm-sqlite/cbl-mariner-2.0/rpmdb.sqlite",
        "/var/lib/rpm",
        "rpmdb.sqlite",
    ) else {
        return;
    };
    let (format, c) = read_root(&root);
    assert_eq!(format, DbFormat::RpmSqlite);
    assert_eq!(c.packages.len(), 129);
    let n = nevras(&c);
    assert!(n.contains(&"mariner-release-2.0-4.cm2.noarch".to_string()));
    let epochs: Vec<&str> = c
        .packages
        .iter()
        .filter(|p| p.epoch == Some(1))
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(epochs.len(), 3);
    assert!(epochs.iter().all(|n| n.starts_with("ca-certificates-")));
    assert_eq!(files_of(&c, "mariner-release").len(), 6);
    assert_eq!(files_of(&c, "filesystem").len(), 118);
    assert_eq!(files_of(&c, "curl").len(), 6);
    let curl = file(&c, "/usr/bin/curl");
    assert_eq!(curl.expected.mode, Some(0x81ed));
    assert_eq!(curl.expected.size, Some(267672));
    let d = curl.digest.as_ref().unwrap();
    assert_eq!(d.algo, DigestAlgo::Sha256);
    assert!(d.hex().starts_with("7ef6b3fd"));
    assert_eq!(curl.expected.user, Some(UserRef::Name("root".into())));
    assert!(c
        .files
        .iter()
        .filter_map(|f| f.digest.as_ref())
        .all(|d| d.algo == DigestAlgo::Sha256));
}

#[test]
fn sqlite_fedora_tzdata() {
    let Some((_t, root)) = root_with(
        "rpm-sqlite/fedora36-tzdata/rpmdb.sqlite",
        "/usr/lib/sysimage/rpm",
        "rpmdb.sqlite",
    ) else {
        return;
    };
    let (_, c) = read_root(&root);
    assert_eq!(nevras(&c), vec!["tzdata-2022a-2.fc36.noarch"]);
    assert_eq!(c.files.len(), 1861);
}

#[test]
fn generated_fixture_flags_ghost_caps_and_verify_masks() {
    let Some((_t, root)) = root_with(
        "rpm-sqlite/generated-scanfixture/rpmdb.sqlite",
        "/var/lib/rpm",
        "rpmdb.sqlite",
    ) else {
        return;
    };
    let (_, c) = read_root(&root);
    assert_eq!(nevras(&c), vec!["scanfixture-2:1.0-1.noarch"]);
    assert_eq!(c.files.len(), 13);
    let cap = file(&c, "/usr/bin/capfile");
    assert_eq!(cap.expected.caps.as_deref(), Some("cap_net_raw=ep"));
    let plain = file(&c, "/usr/bin/scanfixture");
    assert_eq!(plain.expected.caps.as_deref(), Some(""), "no caps = none");
    let noreplace = file(&c, "/etc/scanfixture/app.conf");
    assert!(noreplace.conffile);
    assert_eq!(noreplace.marker, Some(Marker::Config));
    let ghost = file(&c, "/var/lib/scanfixture/state.db");
    assert_eq!(ghost.marker, Some(Marker::Ghost));
    assert_eq!(ghost.presence, Presence::Optional);
    assert_eq!(ghost.digest, None);
    assert_eq!(ghost.expected.size, None);
    assert_eq!(ghost.expected.mtime, None);
    assert_eq!(
        ghost.expected.mode,
        Some(0o640),
        "type bits dropped for ghosts"
    );
    let volatile = file(&c, "/usr/lib/scanfixture/volatile");
    assert_eq!(volatile.digest, None, "%verify(not md5)");
    assert_eq!(volatile.expected.size, None);
    assert_eq!(volatile.expected.mtime, None);
    assert!(volatile.expected.mode.is_some());
    let readme = file(&c, "/usr/share/doc/scanfixture/README");
    assert_eq!(readme.marker, Some(Marker::Doc));
    let link = file(&c, "/usr/bin/scanfixture-link");
    assert_eq!(
        link.expected.link_target.as_deref(),
        Some(&b"scanfixture"[..])
    );
    assert_eq!(link.digest, None);
    assert_eq!(
        file(&c, "/usr/lib/scanfixture").expected.mode,
        Some(libc::S_IFDIR | 0o750)
    );
    assert_eq!(
        file(&c, "/usr/lib/scanfixture/hl1").digest,
        file(&c, "/usr/lib/scanfixture/hl2").digest
    );
}

#[test]
fn ndb_sle15_35_packages() {
    let Some((_t, root)) = root_with(
        "rpm-ndb/sle15-bci/Packages.db",
        "/usr/lib/sysimage/rpm",
        "Packages.db",
    ) else {
        return;
    };
    let (format, c) = read_root(&root);
    assert_eq!(format, DbFormat::RpmNdb);
    assert_eq!(c.packages.len(), 35);
    assert!(c.packages.iter().all(|p| p.epoch.is_none()));
    assert!(nevras(&c).contains(&"system-user-root-20190513-3.3.1.noarch".to_string()));
    assert_eq!(files_of(&c, "system-user-root").len(), 1);
    assert_eq!(files_of(&c, "filesystem").len(), 788);
    assert_eq!(files_of(&c, "bash").len(), 90);
    assert_eq!(files_of(&c, "rpm-ndb").len(), 378);
    assert_eq!(
        file(&c, "/bin/bash").expected.link_target.as_deref(),
        Some(&b"/usr/bin/bash"[..])
    );
    let not_installed = c
        .files
        .iter()
        .filter(|f| matches!(f.presence, Presence::NotInstalled(_)))
        .count();
    assert_eq!(
        not_installed, 78,
        "FILESTATES=2: docs excluded in the container"
    );
}

#[test]
fn bdb_fixtures() {
    let cases: [(&str, &[&str], usize); 3] = [
        (
            "rpm-bdb/rhel8-libuuid/Packages",
            &["libuuid-2.32.1-42.el8_8.x86_64"],
            7,
        ),
        (
            "rpm-bdb/ubi7-tzdata/Packages",
            &["tzdata-2022a-1.el8.noarch"],
            1858,
        ),
        ("rpm-bdb/centos8-dive/Packages", &["dive-0.9.2-1.x86_64"], 1),
    ];
    for (fixture, want, files) in cases {
        let Some((_t, root)) = root_with(fixture, "/var/lib/rpm", "Packages") else {
            return;
        };
        let (format, c) = read_root(&root);
        assert_eq!(format, DbFormat::RpmBdb);
        assert_eq!(nevras(&c), want, "{fixture}");
        assert_eq!(c.files.len(), files, "{fixture}");
    }
    let Some((_t, root)) = root_with("rpm-bdb/rhel8-libuuid/Packages", "/var/lib/rpm", "Packages")
    else {
        return;
    };
    let (_, c) = read_root(&root);
    let so = file(&c, "/usr/lib64/libuuid.so.1.3.0");
    assert_eq!(so.expected.size, Some(33496));
    assert!(so.digest.as_ref().unwrap().hex().starts_with("3c8f59a0"));
    let Some((_t, root)) = root_with("rpm-bdb/centos8-dive/Packages", "/var/lib/rpm", "Packages")
    else {
        return;
    };
    let (_, c) = read_root(&root);
    assert_eq!(c.files[0].path, b"/usr/local/bin/dive");
}

/// The 129 Mariner headers loaded into a multi-bucket BDB read exactly like the sqlite original.
#[test]
fn derived_bdb_equals_sqlite() {
    let (Some((_a, bdb)), Some((_b, sql))) = (
        root_with(
            "rpm-bdb/derived-mariner2-le/Packages",
            "/var/lib/rpm",
            "Packages",
        ),
        root_with(
            "rpm-sqlite/cbl-mariner-2.0/rpmdb.sqlite",
            "/var/lib/rpm",
            "rpmdb.sqlite",
        ),
    ) else {
        return;
    };
    let (_, b) = read_root(&bdb);
    let (_, s) = read_root(&sql);
    assert_eq!(nevras(&b), nevras(&s));
    let listing = |c: &DbContents| {
        let mut v: Vec<String> = c
            .files
            .iter()
            .map(|f| {
                let Owner::Package(i) = f.owner else {
                    unreachable!()
                };
                let mut f = f.clone();
                f.owner = Owner::Package(0);
                format!("{} {:?}", nevra(&c.packages[i as usize]), f)
            })
            .collect();
        v.sort();
        v
    };
    let (lb, ls) = (listing(&b), listing(&s));
    assert_eq!(lb.len(), ls.len());
    let first = lb.iter().zip(&ls).find(|(x, y)| x != y);
    assert!(first.is_none(), "first difference: {first:?}");
}

#[test]
fn no_rpm_database_means_none() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("var/lib/rpm")).unwrap();
    std::fs::write(
        tmp.path().join("var/lib/rpm/Packages"),
        b"not a database at all",
    )
    .unwrap();
    assert!(RpmDb::detect(&RootFs::new(tmp.path())).is_none());
}

#[test]
fn stale_backend_is_reported_not_read() {
    let Some((tmp, root)) = root_with(
        "rpm-sqlite/fedora36-tzdata/rpmdb.sqlite",
        "/var/lib/rpm",
        "rpmdb.sqlite",
    ) else {
        return;
    };
    let dive = pkgdb_fixture("rpm-bdb/centos8-dive/Packages").unwrap();
    std::fs::copy(dive, tmp.path().join("var/lib/rpm/Packages")).unwrap();
    let db = RpmDb::detect(&root).unwrap();
    assert_eq!(db.format(), DbFormat::RpmSqlite);
    let c = db.read(&root).unwrap();
    assert_eq!(nevras(&c), vec!["tzdata-2022a-2.fc36.noarch"]);
    assert!(c
        .warnings
        .iter()
        .any(|w| w.contains("another rpm database")));
}

#[test]
fn var_lib_rpm_symlink_is_one_database() {
    let Some((tmp, root)) = root_with(
        "rpm-sqlite/fedora36-tzdata/rpmdb.sqlite",
        "/usr/lib/sysimage/rpm",
        "rpmdb.sqlite",
    ) else {
        return;
    };
    std::fs::create_dir_all(tmp.path().join("var/lib")).unwrap();
    // Absolute, as Fedora ships it: must resolve inside the root, not on the host.
    std::os::unix::fs::symlink("/usr/lib/sysimage/rpm", tmp.path().join("var/lib/rpm")).unwrap();
    let c = RpmDb::detect(&root).unwrap().read(&root).unwrap();
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn corrupt_database_is_an_error_naming_the_file() {
    let Some((tmp, root)) = root_with("rpm-bdb/rhel8-libuuid/Packages", "/var/lib/rpm", "Packages")
    else {
        return;
    };
    let p = tmp.path().join("var/lib/rpm/Packages");
    let mut bytes = std::fs::read(&p).unwrap();
    bytes.truncate(4096 * 3 + 100);
    std::fs::write(&p, &bytes).unwrap();
    let err = RpmDb::detect(&root).unwrap().read(&root).unwrap_err();
    assert!(err.to_string().contains("var/lib/rpm/Packages"), "{err}");
}

// --- rpm as the oracle -------------------------------------------------------------------

const QF: &str = "[%{=NAME}-%{=VERSION}-%{=RELEASE}.%{=ARCH}\\t%{FILENAMES}\\t%{FILEDIGESTS}\\t%{FILEMODES}\\t%{FILESIZES}\\t%{FILEMTIMES}\\t%{FILEUSERNAME}\\t%{FILEGROUPNAME}\\t%{FILELINKTOS}\\t%{FILEFLAGS}\\t%{FILEVERIFYFLAGS}\\t%{FILESTATES}\\t%{FILECAPS}\\t%{FILERDEVS}\\n]";

fn rpm_listing(dbdir: &Path, bdb: bool) -> Option<Vec<String>> {
    let mut cmd = Command::new("rpm");
    cmd.arg("--dbpath").arg(dbdir);
    if bdb {
        cmd.args(["--define", "_db_backend bdb_ro"]);
    }
    let out = match cmd.args(["-qa", "--qf", QF]).output() {
        Ok(o) if o.status.success() => o,
        Ok(o) => panic!("rpm failed: {}", String::from_utf8_lossy(&o.stderr)),
        Err(_) => {
            eprintln!("SKIP: rpm is not installed (apt-get install rpm)");
            return None;
        }
    };
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    Some(v)
}

fn our_listing(file: &Path, format: DbFormat) -> Vec<String> {
    let records = match format {
        DbFormat::RpmSqlite => sqlite::read(file).unwrap().records,
        _ => bdb::read_records(&std::fs::read(file).unwrap()).unwrap(),
    };
    let s = |b: Option<&[u8]>| String::from_utf8_lossy(b.unwrap_or_default()).into_owned();
    let n = |v: Option<u64>| v.map_or_else(String::new, |v| v.to_string());
    let mut out = Vec::new();
    for (_, blob) in &records {
        let h = Header::parse(blob).unwrap();
        let pkg = format!(
            "{}-{}-{}.{}",
            s(h.string(tag::NAME)),
            s(h.string(tag::VERSION)),
            s(h.string(tag::RELEASE)),
            s(h.string(tag::ARCH))
        );
        let _ = digest_algo(&h, &mut Vec::new());
        for f in raw_files(&h).unwrap() {
            out.push(format!(
                "{pkg}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                String::from_utf8_lossy(&f.path),
                s(f.digest),
                n(f.mode),
                n(f.size),
                n(f.mtime),
                s(f.user),
                s(f.group),
                s(f.link_target),
                f.flags,
                f.verify_flags,
                f.state
                    .map_or_else(|| "(none)".to_string(), |v| v.to_string()),
                f.caps.map_or_else(|| "(none)".to_string(), |c| s(Some(c))),
                n(f.rdev),
            ));
        }
    }
    out.sort();
    out
}

/// Every file, every attribute, against Debian's rpm 4.18 reading a copy of the database.
#[test]
fn every_file_matches_rpm_query() {
    let cases = [
        (
            "rpm-sqlite/cbl-mariner-2.0/rpmdb.sqlite",
            DbFormat::RpmSqlite,
        ),
        (
            "rpm-sqlite/fedora36-tzdata/rpmdb.sqlite",
            DbFormat::RpmSqlite,
        ),
        (
            "rpm-sqlite/generated-scanfixture/rpmdb.sqlite",
            DbFormat::RpmSqlite,
        ),
        ("rpm-bdb/rhel8-libuuid/Packages", DbFormat::RpmBdb),
        ("rpm-bdb/ubi7-tzdata/Packages", DbFormat::RpmBdb),
        ("rpm-bdb/centos8-dive/Packages", DbFormat::RpmBdb),
        ("rpm-bdb/derived-mariner2-le/Packages", DbFormat::RpmBdb),
    ];
    let mut compared = 0;
    for (fixture, format) in cases {
        let Some(src) = pkgdb_fixture(fixture) else {
            return;
        };
        let tmp = tempfile::tempdir().unwrap();
        let name = src.file_name().unwrap();
        let copy: PathBuf = tmp.path().join(name);
        std::fs::copy(&src, &copy).unwrap();
        let Some(theirs) = rpm_listing(tmp.path(), format == DbFormat::RpmBdb) else {
            return;
        };
        // A fresh copy: rpm may have touched the first one.
        std::fs::copy(&src, &copy).unwrap();
        let ours = our_listing(&copy, format);
        let diff: BTreeMap<usize, (&String, &String)> = ours
            .iter()
            .zip(&theirs)
            .enumerate()
            .filter(|(_, (a, b))| a != b)
            .take(5)
            .collect();
        assert!(diff.is_empty(), "{fixture}: first differences {diff:#?}");
        assert_eq!(ours.len(), theirs.len(), "{fixture}");
        compared += ours.len();
    }
    eprintln!("{compared} files identical to rpm -qa --qf");
    assert!(compared > 4000);
}
