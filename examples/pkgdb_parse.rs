//! Time reading a package database: `cargo run --release --example pkgdb_parse -- ROOT [N]`
//! reads every database `livescan` detects in ROOT N times (default 20) and prints the
//! median, min and max per database. Not run in CI.

use std::time::{Duration, Instant};

use livescan::pkgdb;
use livescan::rootfs::RootFs;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(root) = args.next() else {
        eprintln!("usage: pkgdb_parse ROOT [N]");
        std::process::exit(2);
    };
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(20);
    let root = RootFs::new(root);
    let dbs = pkgdb::detect(&root);
    if dbs.is_empty() {
        eprintln!("no package database in {}", root.root().display());
        std::process::exit(1);
    }
    for db in dbs {
        let mut times: Vec<Duration> = Vec::with_capacity(n);
        let mut counts = (0, 0);
        for _ in 0..n {
            let t = Instant::now();
            match db.read(&root) {
                Ok(c) => counts = (c.packages.len(), c.files.len()),
                Err(e) => {
                    eprintln!("{e}");
                    std::process::exit(1);
                }
            }
            times.push(t.elapsed());
        }
        times.sort();
        println!(
            "{:?} {}: {} packages, {} files: median {:.2} ms (min {:.2}, max {:.2}, n={n})",
            db.format(),
            db.location().display(),
            counts.0,
            counts.1,
            times[n / 2].as_secs_f64() * 1e3,
            times[0].as_secs_f64() * 1e3,
            times[n - 1].as_secs_f64() * 1e3,
        );
    }
}
