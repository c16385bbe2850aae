//! The verify cache on real dpkg roots (dpkg-deb + dpkg --root), scanned by the real
//! binary: a rescan of an unchanged root reads nothing, a file rewritten with its size and
//! mtime put back (`touch -d`) is still found modified (its ctime moved), and a damaged or
//! foreign cache file is never trusted.
//!
//! The cache leaves out files changed less than 2 s before a scan (timestamp granularity),
//! so these tests wait 3 s after installing before the first scan.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::process::Command;
use std::time::Duration;

use common::{Deb, Root, Scan};

const FILES: [(&str, &str); 3] = [
    ("/usr/lib/pc/a.txt", "alpha alpha\n"),
    ("/usr/lib/pc/b.txt", "bravo\n"),
    ("/usr/share/pc/c.txt", "charlie charlie charlie\n"),
];

fn root() -> Root {
    let r = Root::new();
    let mut deb = Deb::new("pc");
    for (p, c) in FILES {
        deb = deb.file(p, c);
    }
    r.install(&[&deb]);
    std::thread::sleep(Duration::from_secs(3));
    r
}

fn cache_file(r: &Root) -> std::path::PathBuf {
    r.tmp().join("cache/verify-cache")
}

fn hashed_and_cached(s: &Scan) -> (u64, u64) {
    (s.total("hashed_files"), s.total("cached_files"))
}

#[test]
fn rescan_reads_nothing_and_never_misses_a_rewritten_file() {
    if !common::dpkg_tools("rescan_reads_nothing_and_never_misses_a_rewritten_file") {
        return;
    }
    let r = root();
    let n = FILES.len() as u64;
    let first = r.scan_ok(&[]);
    assert_eq!(
        hashed_and_cached(&first),
        (n, 0),
        "first scan hashes everything"
    );
    assert_eq!(first.json["verify_cache"]["saved"], n);
    assert!(cache_file(&r).is_file());

    let second = r.scan_ok(&[]);
    assert_eq!(
        hashed_and_cached(&second),
        (0, n),
        "unchanged: all from the cache"
    );
    assert_eq!(second.json["verify_cache"]["loaded"], n);
    assert_eq!(second.total("modified"), 0);

    // Same size, new content, mtime restored to the nanosecond: only the ctime tells.
    let a = r.p(FILES[0].0);
    let before = fs::symlink_metadata(&a).unwrap();
    fs::write(&a, "ALPHA ALPHA\n").unwrap();
    let stamp = format!("@{}.{:09}", before.mtime(), before.mtime_nsec());
    let st = Command::new("touch")
        .arg("-d")
        .arg(&stamp)
        .arg(&a)
        .status()
        .unwrap();
    assert!(st.success(), "touch -d {stamp}");
    let after = fs::symlink_metadata(&a).unwrap();
    assert_eq!(
        (after.size(), after.mtime(), after.mtime_nsec(), after.ino()),
        (
            before.size(),
            before.mtime(),
            before.mtime_nsec(),
            before.ino()
        ),
        "fixture: only the content and the ctime differ"
    );
    assert_ne!(
        (after.ctime(), after.ctime_nsec()),
        (before.ctime(), before.ctime_nsec())
    );

    let third = r.scan_ok(&[]);
    assert_eq!(
        hashed_and_cached(&third),
        (1, n - 1),
        "only the rewritten file is read"
    );
    let e = third.entry(FILES[0].0);
    assert_eq!(e["change"], "modified", "{e}");
    assert_eq!(e["verify"], "??5??????", "{e}");
    assert_eq!(third.total("modified"), 1);

    // --no-cache hashes everything and leaves the cache as it was.
    let cached = fs::read(cache_file(&r)).unwrap();
    let plain = r.scan_ok(&["--no-cache"]);
    assert_eq!(hashed_and_cached(&plain), (n, 0));
    assert_eq!(plain.entry(FILES[0].0)["change"], "modified");
    assert_eq!(fs::read(cache_file(&r)).unwrap(), cached);
}

#[test]
fn damaged_or_foreign_cache_is_ignored_and_rebuilt() {
    if !common::dpkg_tools("damaged_or_foreign_cache_is_ignored_and_rebuilt") {
        return;
    }
    let r = root();
    let n = FILES.len() as u64;
    r.scan_ok(&[]);
    let file = cache_file(&r);
    let good = fs::read(&file).unwrap();

    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x01;
    let truncated = good[..good.len() - 10].to_vec();
    for (what, bytes) in [("a flipped bit", flipped), ("a truncated file", truncated)] {
        fs::write(&file, bytes).unwrap();
        let s = r.scan_ok(&[]);
        assert!(
            s.stderr.contains("verify cache") && s.stderr.contains("ignored"),
            "{what}: warning expected, stderr:\n{}",
            s.stderr
        );
        assert_eq!(hashed_and_cached(&s), (n, 0), "{what}: nothing trusted");
        assert!(
            s.json["verify_cache"]["rebuilt_because"].is_string(),
            "{what}"
        );
        assert_eq!(s.total("modified"), 0, "{what}");
        let again = r.scan_ok(&[]);
        assert_eq!(hashed_and_cached(&again), (0, n), "{what}: rebuilt");
    }

    // The same cache directory for another root: rebuilt for it, quietly.
    let other = root();
    std::os::unix::fs::symlink(r.tmp().join("cache"), other.tmp().join("cache")).unwrap();
    let s = other.scan(&[]);
    assert_eq!(s.code, 0, "{}", s.stderr);
    assert_eq!(hashed_and_cached(&s), (n, 0));
    let why = s.json["verify_cache"]["rebuilt_because"].as_str().unwrap();
    assert!(why.contains("another root"), "{why}");
    assert!(!s.stderr.contains("ignored"), "{}", s.stderr);
}
