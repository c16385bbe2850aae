//! Classification on a real temporary tree against hand-built database contents (the dpkg
//! reader has its own tests; real dpkg roots are tested in `tests/dpkg_root.rs`).

use std::fs;
use std::os::unix::fs::symlink;

use md5::{Digest as _, Md5};

use super::*;
use crate::pkgdb::{DigestAlgo, ExpectedAttrs, Package};
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
        expected: ExpectedAttrs::default().into(),
    }
}

fn run(root: &RootFs, db: DbContents, excludes: &Excludes) -> Classification {
    run_with(root, db, excludes, None)
}

fn run_with(
    root: &RootFs,
    db: DbContents,
    excludes: &Excludes,
    prelink: Option<&prelink::Prelink>,
) -> Classification {
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
        prelink,
        scan_start: 0,
    };
    let dbs = [db];
    let index = PathIndex::build(root, &dbs);
    classify(&ctx, walked.entries, &walked.errors, &dbs, index, || None)
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
                Presence::NotInstalled(crate::pkgdb::NotInstalled::DpkgPathExclude),
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
    let files: Vec<Classified> = c.files.iter().collect();
    let conf = &files[1];
    assert!(conf.config);
    assert_eq!(conf.verify.unwrap().render(), "??5??????");
    assert_eq!(files[5].verify.unwrap().render(), "?M???????");
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

/// A prelinked binary (a copy of /bin/true with a `.gnu.prelink_undo` section added by
/// objcopy) recorded with the original's size and SHA-256. Debian has no prelink, so the
/// undo command is a script that prints a given file, standing in for `prelink -y`.
#[test]
fn prelinked_files_are_checked_on_the_undone_content() {
    use sha2::Digest as _;
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path().join("root");
    fs::create_dir_all(r.join("usr/bin")).unwrap();
    let original = fs::read("/bin/true").unwrap();
    let orig_path = tmp.path().join("original");
    fs::write(&orig_path, &original).unwrap();
    let undo = tmp.path().join("undo.bin");
    fs::write(&undo, b"prelink undo data").unwrap();
    let ok = std::process::Command::new("objcopy")
        .arg(format!(
            "--add-section=.gnu.prelink_undo={}",
            undo.display()
        ))
        .arg(&orig_path)
        .arg(r.join("usr/bin/tool"))
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("SKIP: objcopy not available");
        return;
    }
    let mut rec = file(
        "/usr/bin/tool",
        Digest::new(DigestAlgo::Sha256, &sha2::Sha256::digest(&original)),
        Presence::Required,
    );
    rec.expected = ExpectedAttrs {
        size: Some(original.len() as u64),
        ..ExpectedAttrs::default()
    }
    .into();
    let db = || DbContents {
        packages: vec![],
        files: vec![
            file("/usr", None, Presence::Required),
            file("/usr/bin", None, Presence::Required),
            rec.clone(),
        ],
        warnings: vec![],
    };
    let root = RootFs::new(&r);
    let script = |name: &str, body: &str| {
        let p = tmp.path().join(name);
        fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        Some(p)
    };
    let tool = |c: &Classification| c.files.iter().find(|f| f.path == b"/usr/bin/tool");

    // Without prelink support: an ordinary size/content change.
    let c = run_with(&root, db(), &Excludes::default(), None);
    let t = tool(&c).unwrap();
    assert_eq!(t.verify.unwrap().render(), "S?5??????");
    assert_eq!(t.reason, "differs from the package database");

    // prelink present but not runnable (a mounted image): reported, flagged unverifiable.
    let pl = prelink::Prelink { undo_cmd: None };
    let c = run_with(&root, db(), &Excludes::default(), Some(&pl));
    let t = tool(&c).unwrap();
    assert_eq!(t.change, Change::Modified);
    assert_eq!(t.reason, PRELINK_UNVERIFIABLE);
    assert_eq!(t.verify.unwrap().render(), "?????????");

    // Undo restores the original: unchanged.
    let pl = prelink::Prelink {
        undo_cmd: script("undo-ok", &format!("exec cat '{}'", orig_path.display())),
    };
    let c = run_with(&root, db(), &Excludes::default(), Some(&pl));
    assert!(tool(&c).is_none(), "{:?}", tool(&c));
    assert_eq!(c.totals.prelinked_unchanged, 1);
    assert_eq!(c.totals.modified, 0);

    // Undo gives other content, or refuses: modified.
    for body in ["echo something else", "exit 1"] {
        let pl = prelink::Prelink {
            undo_cmd: script("undo-bad", body),
        };
        let c = run_with(&root, db(), &Excludes::default(), Some(&pl));
        let t = tool(&c).unwrap();
        assert_eq!(t.change, Change::Modified, "{body}");
        assert_eq!(t.reason, PRELINK_DIFFERS, "{body}");
        assert_eq!(c.totals.prelinked_unchanged, 0);
    }
}

#[test]
fn owned_index_groups_records_by_canonical_path_in_database_order() {
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    fs::create_dir_all(r.join("usr/lib")).unwrap();
    symlink("usr/lib", r.join("lib")).unwrap();
    let root = RootFs::new(r.to_path_buf());
    let with_owner = |path: &str, pkg: u32| PackagedFile {
        owner: Owner::Package(pkg),
        ..file(path, None, Presence::Required)
    };
    let db = |files| DbContents {
        packages: vec![],
        files,
        warnings: vec![],
    };
    let dbs = [
        // `/lib/x` is `/usr/lib/x` once the directory symlink is resolved.
        db(vec![with_owner("/usr/lib/x", 3), with_owner("/b", 1)]),
        db(vec![with_owner("/lib/x", 7), with_owner("/a", 2)]),
    ];
    let index = OwnedIndex::build(&root, &dbs);
    assert_eq!(index.paths, 3);
    let owners = |p: &[u8]| {
        index
            .get(p)
            .map(|recs| owners_of(&recs))
            .unwrap_or_default()
    };
    assert_eq!(
        owners(b"/usr/lib/x"),
        vec![
            OwnerRef {
                db: 0,
                owner: Owner::Package(3)
            },
            OwnerRef {
                db: 1,
                owner: Owner::Package(7)
            }
        ]
    );
    assert!(
        index.get(b"/lib/x").is_none(),
        "only canonical paths are keys"
    );
    assert!(index.get(b"/c").is_none());
    assert!(index.get(b"/").is_none());
    let groups: Vec<(usize, Vec<u8>, usize)> = index
        .groups()
        .map(|(at, p, g)| (at, p.to_vec(), g.len()))
        .collect();
    assert_eq!(
        groups,
        vec![
            (0, b"/a".to_vec(), 1),
            (1, b"/b".to_vec(), 1),
            (2, b"/usr/lib/x".to_vec(), 2)
        ]
    );
    for (at, path, group) in index.groups() {
        assert_eq!(index.path_at(at), path);
        assert_eq!(index.group_at(at).len(), group.len());
    }
    assert!(index.group_at(4).is_empty() && index.path_at(4).is_empty());
    let mut seen = Seen::new(&index);
    seen.insert(2);
    assert!(seen.contains(2) && !seen.contains(0) && !seen.contains(3) && !seen.contains(99));
}

/// The per-entry records held from the walk to the report: a field added to them costs a
/// million times over on a large host (the 1 M-file bench holds every one of them at once).
#[test]
fn per_entry_records_stay_small() {
    assert!(std::mem::size_of::<Verdict>() <= 12, "Verdict grew");
    assert!(
        std::mem::size_of::<WalkedEntry>() <= 120,
        "WalkedEntry grew: {}",
        std::mem::size_of::<WalkedEntry>()
    );
    // Held for every owned entry from pass 1 to pass 3, and for every cacheable file.
    assert!(std::mem::size_of::<OwnedEntry>() <= 96, "OwnedEntry grew");
    // One per hashed inode, held from hashing to the end of pass 3.
    assert!(std::mem::size_of::<HashSlot>() <= 24, "HashSlot grew");
    // A chunk of pass 3's outcomes is held at once (32 k of them); most are unchanged.
    assert!(std::mem::size_of::<Outcome>() <= 96, "Outcome grew");
    assert!(
        std::mem::size_of::<(verify_cache::Key, verify_cache::Cached)>() <= 72,
        "cache entries grew"
    );
}

#[test]
fn packaged_file_records_stay_small() {
    // 120 bytes with the not-installed reason as a `&'static str`.
    assert!(std::mem::size_of::<PackagedFile>() <= 96);
}

#[test]
fn a_walk_of_several_pass_one_chunks_keeps_every_path_once_in_order() {
    // More entries than pass 1 takes at a time (32 Ki), so that it consumes the walk in
    // several chunks from the end and puts them back in order; owned, modified, deleted
    // and added paths interleave in every directory.
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    let mut files = vec![];
    let (mut owned, mut modified, mut added) = (0u64, vec![], 0u64);
    for d in 0..40 {
        let dir = format!("d{d:02}");
        fs::create_dir(r.join(&dir)).unwrap();
        files.push(file(&format!("/{dir}"), None, Presence::Required));
        files.push(file(
            &format!("/{dir}/gone"),
            Some(md5(b"x")),
            Presence::Required,
        ));
        for f in 0..1000 {
            let name = format!("/{dir}/f{f:04}");
            fs::write(r.join(&name[1..]), b"x").unwrap();
            if f % 7 == 0 {
                owned += 1;
                let recorded = if f % 5 == 0 { b"y" } else { b"x" };
                if f % 5 == 0 {
                    modified.push(name.clone());
                }
                files.push(file(&name, Some(md5(recorded)), Presence::Required));
            } else {
                added += 1;
            }
        }
    }
    let db = DbContents {
        packages: vec![],
        files,
        warnings: vec![],
    };
    let c = run(&RootFs::new(r), db, &Excludes::default());
    let all = changes(&c);
    let paths: Vec<&[u8]> = all.iter().map(|(p, _)| p.as_bytes()).collect();
    assert!(
        paths
            .windows(2)
            .all(|w| path_order::cmp(w[0], w[1]).is_lt()),
        "reported paths are sorted, each once"
    );
    let of = |change| all.iter().filter(|(_, c)| *c == change).count() as u64;
    // The root itself is not reported; the 40 directories are owned.
    assert_eq!(of(Change::Added), added);
    assert_eq!(c.totals.added, added);
    assert_eq!(c.totals.added_bytes, added);
    assert_eq!(of(Change::Deleted), 40);
    let got_modified: Vec<&String> = all
        .iter()
        .filter(|(_, c)| *c == Change::Modified)
        .map(|(p, _)| p)
        .collect();
    modified.sort();
    assert_eq!(got_modified, modified.iter().collect::<Vec<_>>());
    assert_eq!(c.totals.hashed_files, owned);
    assert_eq!(
        c.totals.unchanged,
        owned - modified.len() as u64 + 40 + 1,
        "owned files, the directories and the root"
    );
    assert_eq!(c.totals.walked_entries, 40 * 1000 + 40 + 1);
    assert_eq!(c.files.added.len() as u64, added);
}
