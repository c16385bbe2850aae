//! Cross-check on the machine running the tests: a scan of `/` against `dpkg --verify`.
//!
//! Runs only with `LIVESCAN_HOST_TESTS=1` (CI's `.ci/run` sets it), as root, on a dpkg
//! host; it takes about as long as `dpkg --verify` itself (7–35 s here).
//!
//! Both run at the same time, and the host keeps living meanwhile (CI writes logs, caches,
//! temp files). A difference between the two is therefore excused only when it is
//! explained, path by path:
//! - the path (or, when it is gone, its nearest existing ancestor) changed status after
//!   the runs started (`ctime` ≥ start): the two tools may honestly have seen different
//!   files;
//! - livescan reported the path in `errors` (unreadable, changed while read);
//! - livescan by design did not check it: below a skipped mount or an exclude;
//! - livescan by design calls its absence no change: files skipped by the host's dpkg
//!   `path-exclude` filters, leftovers of removed (rc) packages, obsolete conffiles;
//! - what dpkg --verify cannot see: statoverride modes/owners, and the content of diverted
//!   files (it looks their digest up under the diverted name, where none is recorded).
//!
//! Everything else fails, after printing at most 20 differences.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::Deserialize;

#[derive(Deserialize)]
#[serde(untagged)]
enum JsonPath {
    Text(String),
    Raw { base64: String },
}

impl JsonPath {
    fn bytes(&self) -> Vec<u8> {
        use base64::Engine as _;
        match self {
            JsonPath::Text(s) => s.as_bytes().to_vec(),
            JsonPath::Raw { base64 } => base64::engine::general_purpose::STANDARD
                .decode(base64)
                .expect("base64 path"),
        }
    }
}

#[derive(Deserialize)]
struct Report {
    scan: ScanSection,
    totals: Totals,
    packages: Vec<PackageEntry>,
    mounts: Mounts,
    files: Vec<FileEntry>,
    errors: Vec<ErrorEntry>,
}

#[derive(Deserialize)]
struct ScanSection {
    excludes: Vec<String>,
}

#[derive(Deserialize)]
struct Totals {
    walked_entries: u64,
    unchanged: u64,
    hashed_files: u64,
}

#[derive(Deserialize)]
struct PackageEntry {
    state: String,
}

#[derive(Deserialize)]
struct Mounts {
    skipped: Vec<SkippedMount>,
}

#[derive(Deserialize)]
struct SkippedMount {
    mount_point: JsonPath,
}

#[derive(Deserialize)]
struct FileEntry {
    path: JsonPath,
    change: String,
    #[serde(default)]
    verify: Option<String>,
}

#[derive(Deserialize)]
struct ErrorEntry {
    path: JsonPath,
}

fn covers(prefixes: &[Vec<u8>], path: &[u8]) -> bool {
    prefixes.iter().any(|m| {
        m.as_slice() == b"/"
            || path == m.as_slice()
            || (path.starts_with(m) && path.get(m.len()) == Some(&b'/'))
    })
}

fn os(p: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(p))
}

/// The directory part resolved (`/bin/x` → `/usr/bin/x` on merged-/usr), the last
/// component kept. A missing directory: its nearest existing ancestor is resolved.
fn canonical(path: &[u8]) -> Vec<u8> {
    let p = os(path);
    let Some(name) = p.file_name() else {
        return path.to_vec();
    };
    let mut tail: Vec<&OsStr> = vec![name];
    let mut dir = p.parent().unwrap_or(Path::new("/"));
    loop {
        if let Ok(c) = fs::canonicalize(dir) {
            let mut out = c;
            for t in tail.iter().rev() {
                out.push(t);
            }
            return out.as_os_str().as_bytes().to_vec();
        }
        match (dir.file_name(), dir.parent()) {
            (Some(n), Some(parent)) => {
                tail.push(n);
                dir = parent;
            }
            _ => return path.to_vec(),
        }
    }
}

/// `ctime` of the path, or of its nearest existing ancestor, in seconds.
fn status_change_time(path: &[u8]) -> Option<i64> {
    let mut p = Some(os(path));
    while let Some(q) = p {
        if let Ok(m) = fs::symlink_metadata(q) {
            return Some(m.ctime());
        }
        p = q.parent();
    }
    None
}

/// dpkg --verify appends ` (<strerror>)` to `missing` lines when lstat failed with
/// something other than ENOENT (e.g. ENOTDIR); strip it.
fn strip_errno_suffix(path: &[u8]) -> Vec<u8> {
    if path.ends_with(b")") {
        for errno in 1..134 {
            // SAFETY: strerror returns a pointer to a static NUL-terminated string.
            let msg = unsafe { std::ffi::CStr::from_ptr(libc::strerror(errno)) };
            let suffix = [b" (".as_slice(), msg.to_bytes(), b")"].concat();
            if let Some(p) = path.strip_suffix(suffix.as_slice()) {
                return p.to_vec();
            }
        }
    }
    path.to_vec()
}

/// The host's `path-exclude`/`path-include` filters (dpkg.cfg, then dpkg.cfg.d/* in
/// order; last match wins), as dpkg applied them when it unpacked.
fn host_path_filters() -> Vec<(bool, glob::Pattern)> {
    let mut files = vec![PathBuf::from("/etc/dpkg/dpkg.cfg")];
    if let Ok(rd) = fs::read_dir("/etc/dpkg/dpkg.cfg.d") {
        let mut names: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name().is_some_and(|n| {
                    n.as_bytes()
                        .iter()
                        .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-')
                })
            })
            .collect();
        names.sort();
        files.extend(names);
    }
    let mut filters = Vec::new();
    for f in files {
        let Ok(text) = fs::read_to_string(&f) else {
            continue;
        };
        for line in text.lines() {
            let line = line.trim().trim_start_matches("--");
            let (key, value) = match line.split_once(['=', ' ', '\t']) {
                Some((k, v)) => (k.trim(), v.trim()),
                None => continue,
            };
            let include = match key {
                "path-exclude" => false,
                "path-include" => true,
                _ => continue,
            };
            if let Ok(p) = glob::Pattern::new(value) {
                filters.push((include, p));
            }
        }
    }
    filters
}

fn filtered_out(filters: &[(bool, glob::Pattern)], path: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(path) else {
        return false;
    };
    let mut skip = false;
    for (include, pattern) in filters {
        if pattern.matches(text) {
            skip = !include;
        }
    }
    skip
}

fn dpkg_query(args: &[&str]) -> Vec<u8> {
    let out = Command::new("dpkg-query")
        .args(args)
        .env("LC_ALL", "C")
        .output()
        .expect("run dpkg-query");
    out.stdout
}

/// Recorded paths whose absence livescan calls no change by design: everything a
/// removed-but-not-purged package still lists, and obsolete conffiles.
fn optional_paths() -> BTreeSet<Vec<u8>> {
    let mut set = BTreeSet::new();
    let status = dpkg_query(&["-W", "-f", "${db:Status-Status}\t${binary:Package}\n"]);
    let rc: Vec<String> = String::from_utf8_lossy(&status)
        .lines()
        .filter_map(|l| l.strip_prefix("config-files\t").map(str::to_string))
        .collect();
    if !rc.is_empty() {
        let mut args = vec!["-L"];
        args.extend(rc.iter().map(String::as_str));
        for line in dpkg_query(&args).split(|&b| b == b'\n') {
            if line.starts_with(b"/") {
                set.insert(line.to_vec());
            }
        }
    }
    for line in dpkg_query(&["-W", "-f", "${Conffiles}\n"]).split(|&b| b == b'\n') {
        // ` <path> <md5> [obsolete] [remove-on-upgrade]`, parsed from the right.
        let text = String::from_utf8_lossy(line);
        let mut words: Vec<&str> = text.trim().split(' ').collect();
        let mut obsolete = false;
        while let Some(&w) = words.last() {
            if w == "obsolete" || w == "remove-on-upgrade" {
                obsolete |= w == "obsolete";
                words.pop();
            } else {
                break;
            }
        }
        if obsolete && words.len() >= 2 {
            words.pop();
            set.insert(words.join(" ").into_bytes());
        }
    }
    set
}

/// Canonical paths with a statoverride, and canonical diversion targets.
fn statoverride_and_diverted() -> (BTreeSet<Vec<u8>>, BTreeSet<Vec<u8>>) {
    let mut over = BTreeSet::new();
    if let Ok(text) = fs::read("/var/lib/dpkg/statoverride") {
        for line in text.split(|&b| b == b'\n') {
            // `<user> <group> <mode> <path>`; the path may contain spaces.
            let mut it = line.splitn(4, |&b| b == b' ');
            if let (Some(_), Some(_), Some(_), Some(path)) =
                (it.next(), it.next(), it.next(), it.next())
            {
                over.insert(canonical(path));
            }
        }
    }
    let mut diverted = BTreeSet::new();
    if let Ok(text) = fs::read("/var/lib/dpkg/diversions") {
        let lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
        for triple in lines.chunks(3) {
            if triple.len() == 3 {
                diverted.insert(canonical(triple[1]));
            }
        }
    }
    (over, diverted)
}

fn show(p: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(p))
}

#[test]
fn host_scan_agrees_with_dpkg_verify() {
    const NAME: &str = "host_scan_agrees_with_dpkg_verify";
    if std::env::var_os("LIVESCAN_HOST_TESTS").as_deref() != Some(OsStr::new("1")) {
        eprintln!("SKIP {NAME}: set LIVESCAN_HOST_TESTS=1 to scan this host and compare with dpkg --verify (CI's .ci/run does)");
        return;
    }
    if !common::euid_is_root() {
        eprintln!("SKIP {NAME}: needs root (a scan of / as a user is partial by design)");
        return;
    }
    if !Path::new("/var/lib/dpkg/status").is_file() {
        eprintln!("SKIP {NAME}: /var/lib/dpkg/status not found: not a dpkg host");
        return;
    }
    if !common::have_tools(NAME, &["dpkg", "dpkg-query"]) {
        return;
    }

    let tmp = tempfile::tempdir().unwrap();
    let report_path = tmp.path().join("report.json");
    fs::write(tmp.path().join("livescan.toml"), b"").unwrap();
    let start = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        - 1;
    let t = Instant::now();
    let verify = std::thread::spawn(|| {
        let t = Instant::now();
        let out = Command::new("dpkg")
            .arg("--verify")
            .env("LC_ALL", "C")
            .output()
            .expect("run dpkg --verify");
        (out, t.elapsed())
    });
    let scan = common::livescan()
        .arg("--config")
        .arg(tmp.path().join("livescan.toml"))
        .args(["scan", "--root", "/", "--quiet", "--report"])
        .arg(&report_path)
        .arg("--lock-file")
        .arg(tmp.path().join("livescan.lock"))
        .output()
        .expect("run livescan");
    let scan_time = t.elapsed();
    let (verify, verify_time) = verify.join().unwrap();
    eprintln!("livescan: {scan_time:.1?}, dpkg --verify: {verify_time:.1?} (concurrently)");
    // dpkg --verify exits 0 even when it prints mismatches; 1 only for bad arguments.
    assert!(
        verify.status.success(),
        "dpkg --verify: {}\n{}",
        verify.status,
        String::from_utf8_lossy(&verify.stderr)
    );
    let code = scan.status.code();
    assert!(
        matches!(code, Some(0) | Some(3)),
        "livescan exit {code:?} (0 or 3 = partial on a live host expected):\n{}",
        String::from_utf8_lossy(&scan.stderr)
    );
    let report: Report =
        serde_json::from_slice(&fs::read(&report_path).unwrap()).expect("the report parses");

    // Packages: the same number installed as dpkg-query says.
    let installed_by_dpkg =
        String::from_utf8_lossy(&dpkg_query(&["-W", "-f", "${db:Status-Status}\n"]))
            .lines()
            .filter(|l| *l == "installed")
            .count();
    let installed_by_us = report
        .packages
        .iter()
        .filter(|p| p.state == "installed")
        .count();
    assert_eq!(installed_by_us, installed_by_dpkg, "installed packages");

    // dpkg's verdicts, canonicalised.
    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    enum Dpkg {
        Modified,
        Missing,
        Unreadable,
    }
    let mut dpkg: BTreeMap<Vec<u8>, (Dpkg, Vec<u8>, String)> = BTreeMap::new();
    for l in common::parse_dpkg_verify(&verify.stdout) {
        let (kind, recorded) = if l.result == "missing" {
            (Dpkg::Missing, strip_errno_suffix(&l.path))
        } else if l.result.contains('5') || l.result.contains('M') {
            (Dpkg::Modified, l.path.clone())
        } else {
            (Dpkg::Unreadable, l.path.clone())
        };
        dpkg.insert(canonical(&recorded), (kind, recorded, l.result));
    }

    let ours: BTreeMap<Vec<u8>, (String, String)> = report
        .files
        .iter()
        .filter(|f| f.change != "added")
        .map(|f| {
            (
                f.path.bytes(),
                (f.change.clone(), f.verify.clone().unwrap_or_default()),
            )
        })
        .collect();
    let our_errors: BTreeSet<Vec<u8>> = report.errors.iter().map(|e| e.path.bytes()).collect();
    let not_walked: Vec<Vec<u8>> = report
        .mounts
        .skipped
        .iter()
        .map(|m| m.mount_point.bytes())
        .chain(report.scan.excludes.iter().map(|e| e.as_bytes().to_vec()))
        .collect();
    // Nothing below is vacuous: the root itself was walked and files were really checked.
    assert!(
        !covers(&not_walked, b"/"),
        "/ itself was skipped or excluded: nothing would be compared"
    );
    assert!(
        report.totals.walked_entries > 0
            && report.totals.unchanged > 0
            && report.totals.hashed_files > 0,
        "walked {}, unchanged {}, hashed {}",
        report.totals.walked_entries,
        report.totals.unchanged,
        report.totals.hashed_files
    );
    let filters = host_path_filters();
    let optional = optional_paths();
    let (overridden, diverted) = statoverride_and_diverted();
    let moved = |p: &[u8]| status_change_time(p).is_some_and(|c| c >= start);

    let mut excused: BTreeMap<&str, usize> = BTreeMap::new();
    let mut failures: Vec<String> = Vec::new();
    let mut excuse = |why: &'static str| *excused.entry(why).or_default() += 1;

    for (path, (kind, recorded, flags)) in &dpkg {
        let us = ours.get(path).map(|(c, _)| c.as_str());
        let agrees = match kind {
            Dpkg::Modified => us == Some("modified"),
            Dpkg::Missing => us == Some("deleted"),
            Dpkg::Unreadable => {
                excuse("dpkg could not read it (?????????)");
                continue;
            }
        };
        if agrees {
            continue;
        }
        if moved(path) {
            excuse("changed after the runs started");
        } else if our_errors.contains(path) {
            excuse("in livescan's errors");
        } else if *kind == Dpkg::Missing && covers(&not_walked, path) {
            excuse("below a skipped mount or an exclude");
        } else if *kind == Dpkg::Missing && filtered_out(&filters, recorded) {
            excuse("skipped by the host's dpkg path-exclude");
        } else if *kind == Dpkg::Missing && optional.contains(recorded) {
            excuse("rc leftover or obsolete conffile");
        } else {
            failures.push(format!(
                "dpkg --verify: {flags:9} {}  livescan: {}",
                show(path),
                us.unwrap_or("unchanged or not listed")
            ));
        }
    }
    for (path, (change, verify)) in &ours {
        if dpkg.contains_key(path) {
            continue;
        }
        if moved(path) {
            excuse("changed after the runs started");
        } else if change == "modified" && !verify.contains('5') && overridden.contains(path) {
            excuse("statoverride mode/owner (dpkg --verify does not check it)");
        } else if change == "modified" && diverted.contains(path) {
            excuse("diverted file (dpkg --verify cannot check its content)");
        } else {
            failures.push(format!(
                "livescan: {change} {verify:9} {}  dpkg --verify: nothing",
                show(path)
            ));
        }
    }

    let agreed = dpkg
        .iter()
        .filter(|(p, (k, _, _))| match k {
            Dpkg::Modified => ours.get(*p).is_some_and(|(c, _)| c == "modified"),
            Dpkg::Missing => ours.get(*p).is_some_and(|(c, _)| c == "deleted"),
            Dpkg::Unreadable => false,
        })
        .count();
    eprintln!(
        "dpkg --verify lines: {}, livescan modified+deleted: {}, agreed: {agreed}, excused: {excused:?}",
        dpkg.len(),
        ours.len()
    );
    if !failures.is_empty() {
        for f in failures.iter().take(20) {
            eprintln!("  {f}");
        }
        if failures.len() > 20 {
            eprintln!("  … and {} more", failures.len() - 20);
        }
        panic!(
            "{} unexplained difference(s) between livescan and dpkg --verify (first 20 above)",
            failures.len()
        );
    }
}
