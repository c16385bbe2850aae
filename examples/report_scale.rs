//! Size and write speed of the JSON report for N added files (default 1,000,000), with
//! paths shaped like a real /home tree. Usage: cargo run --release --example report_scale [N]

use std::io::BufWriter;
use std::time::Instant;

use livescan::accounts::Accounts;
use livescan::classify::{Category, Change, Classified, Reported, Totals};
use livescan::report::{self, HostInfo, ReportInput, ScanInfo, Timings};
use livescan::walk::{FileKind, Meta};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let meta = Meta {
        kind: FileKind::Regular,
        mode: 0o100644,
        uid: 1000,
        gid: 1000,
        size: 12_345,
        mtime: 1_790_000_000,
        mtime_nsec: 123_456_789,
        ctime: 1_790_000_000,
        ctime_nsec: 0,
        dev: 2049,
        ino: 1,
        nlink: 1,
        rdev: 0,
        blocks: 32,
    };
    let files: Vec<Classified> = (0..n)
        .map(|i| Classified {
            path: format!(
                "/home/user{}/projects/p{}/src/module_{}/file_{i}.rs",
                i % 7,
                i % 101,
                i % 997
            )
            .into_bytes(),
            change: Change::Added,
            meta: Some(meta),
            link_target: None,
            verify: None,
            config: false,
            marker: None,
            owners: Vec::new(),
            category: Some(Category::Unowned),
            reason: "no package owns it",
        })
        .collect();
    let files = Reported::from(files);
    let scan = ScanInfo {
        root: b"/".to_vec(),
        excludes: vec![],
        started: "2026-01-01T00:00:00Z".into(),
        jobs: 2,
        live: true,
    };
    let host = HostInfo::default();
    let profile = livescan::profile::Profile::default();
    let totals = Totals::default();
    let timings = Timings::default();
    let accounts = Accounts::default();
    let input = ReportInput {
        scan: &scan,
        host: &host,
        profile: &profile,
        databases: &[],
        walked_mounts: &[],
        skipped_mounts: &[],
        files: &files,
        errors: &[],
        totals: &totals,
        timings: &timings,
        accounts: &accounts,
        verify_cache: &Default::default(),
    };
    let path = std::env::temp_dir().join("livescan-report-scale.json");
    let t = Instant::now();
    let f = std::fs::File::create(&path).expect("create report");
    let mut w = BufWriter::with_capacity(1 << 20, f);
    report::write_report(&mut w, &input).expect("write report");
    drop(w);
    let secs = t.elapsed().as_secs_f64();
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!(
        "{n} files: {:.1} MiB ({:.0} B/file) in {secs:.2} s ({:.0} k files/s, {:.0} MiB/s)",
        size as f64 / 1048576.0,
        size as f64 / n as f64,
        n as f64 / secs / 1000.0,
        size as f64 / 1048576.0 / secs
    );
    let _ = std::fs::remove_file(&path);
}
