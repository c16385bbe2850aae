//! Classification on a real temporary tree against hand-built database contents (the dpkg
//! reader has its own tests; real dpkg roots are tested in `tests/dpkg_root.rs`).

use std::fs;
use std::os::unix::fs::symlink;

use md5::{Digest as _, Md5};

use super::*;
use crate::pkgdb::{ExpectedAttrs, Package};
use crate::walk::{self, WalkOptions};

fn md5(data: &[u8]) -> Digest {
    Digest::md5(Md5::digest(data).into())
}

fn file(path: &str, digest: Option<Digest>, presence: Presence) -> PackagedFile {
    PackagedFile {
        path: path.as_bytes().to_vec(),
        owner: Owner::Package(0),
        digest,
        conffile: path.starts_with("/etc/"),
        marker: None,
        presence,
        expected: ExpectedAttrs::default(),
    }
}

fn run(root: &RootFs, db: DbContents, excludes: &Excludes) -> Classification {
    let skip = Excludes::default();
    let walked = walk::walk(&WalkOptions {
        root,
        excludes,
        skip_mounts: &skip,
    });
    let acc = Accounts::default();
    let ctx = Context {
        root,
        accounts: &acc,
        excludes,
        skipped_mounts: &skip,
        swap_files: &[],
    };
    classify(&ctx, &walked.entries, &walked.errors, &[db])
}

fn changes(c: &Classification) -> Vec<(String, Change)> {
    c.files
        .iter()
        .map(|f| (String::from_utf8_lossy(&f.path).into_owned(), f.change))
        .collect()
}

#[test]
fn added_modified_deleted_and_not_installed() {
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    fs::create_dir_all(r.join("usr/bin")).unwrap();
    fs::create_dir_all(r.join("etc/app")).unwrap();
    fs::create_dir_all(r.join("usr/share/doc")).unwrap();
    fs::write(r.join("usr/bin/same"), b"same").unwrap();
    fs::write(r.join("usr/bin/changed"), b"new content").unwrap();
    fs::write(r.join("etc/app/app.conf"), b"edited").unwrap();
    fs::write(r.join("usr/bin/extra"), b"mine").unwrap();
    fs::create_dir(r.join("usr/bin/wasfile")).unwrap();
    symlink("usr/bin", r.join("bin")).unwrap();
    let db = DbContents {
        packages: vec![Package {
            name: "app".into(),
            epoch: None,
            version: "1".into(),
            release: None,
            arch: "all".into(),
            state: "installed".into(),
        }],
        files: vec![
            file("/usr", None, Presence::Required),
            file("/usr/bin", None, Presence::Required),
            file("/etc", None, Presence::Required),
            file("/etc/app", None, Presence::Required),
            file("/usr/share", None, Presence::Required),
            file("/usr/share/doc", None, Presence::Required),
            // Recorded through the merged-/usr symlink.
            file("/bin/same", Some(md5(b"same")), Presence::Required),
            file(
                "/usr/bin/changed",
                Some(md5(b"old content")),
                Presence::Required,
            ),
            file(
                "/etc/app/app.conf",
                Some(md5(b"shipped")),
                Presence::Required,
            ),
            file("/usr/bin/wasfile", Some(md5(b"x")), Presence::Required),
            file("/usr/bin/gone", Some(md5(b"x")), Presence::Required),
            file(
                "/usr/share/doc/README",
                Some(md5(b"x")),
                Presence::NotInstalled("dpkg path-exclude"),
            ),
            file("/etc/app/old.conf", Some(md5(b"x")), Presence::Optional),
        ],
        warnings: vec![],
    };
    let root = RootFs::new(r);
    let c = run(&root, db, &Excludes::default());
    assert_eq!(
        changes(&c),
        vec![
            ("/bin".to_string(), Change::Added),
            ("/etc/app/app.conf".to_string(), Change::Modified),
            ("/usr/bin/changed".to_string(), Change::Modified),
            ("/usr/bin/extra".to_string(), Change::Added),
            ("/usr/bin/gone".to_string(), Change::Deleted),
            ("/usr/bin/wasfile".to_string(), Change::Modified),
        ]
    );
    let conf = &c.files[1];
    assert!(conf.config);
    assert_eq!(conf.verify.unwrap().render(), "??5??????");
    assert_eq!(c.files[5].verify.unwrap().render(), "?M???????");
    assert_eq!(c.totals.not_installed.get("dpkg path-exclude"), Some(&1));
    assert_eq!(c.totals.deleted, 1);
    // `same`, the 6 recorded directories, and `/` (never reported as added).
    assert_eq!(c.totals.unchanged, 8);
    assert_eq!(c.totals.hashed_files, 3);
}

#[test]
fn hardlinks_are_hashed_once_and_excludes_are_not_deleted() {
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    fs::create_dir_all(r.join("opt")).unwrap();
    fs::write(r.join("opt/a"), b"payload").unwrap();
    fs::hard_link(r.join("opt/a"), r.join("opt/b")).unwrap();
    let db = DbContents {
        packages: vec![],
        files: vec![
            file("/opt/a", Some(md5(b"payload")), Presence::Required),
            file("/opt/b", Some(md5(b"payload")), Presence::Required),
            file("/srv/gone", Some(md5(b"x")), Presence::Required),
        ],
        warnings: vec![],
    };
    let root = RootFs::new(r);
    let c = run(&root, db, &Excludes::new(["/srv"]));
    assert_eq!(c.totals.hashed_files, 1);
    assert_eq!(c.totals.deleted, 0);
    assert_eq!(c.totals.not_checked, 1);
    assert_eq!(changes(&c), vec![("/opt".to_string(), Change::Added)]);
}

#[test]
fn exclude_root_reports_packages_only() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("f"), b"x").unwrap();
    let db = DbContents {
        packages: vec![],
        files: vec![file("/missing", None, Presence::Required)],
        warnings: vec![],
    };
    let c = run(&RootFs::new(tmp.path()), db, &Excludes::new(["/"]));
    assert!(c.files.is_empty());
    assert_eq!(c.totals.walked_entries, 0);
    assert_eq!(c.totals.not_checked, 1);
}
