//! End to end on this host's packaged files (every path in /var/lib/dpkg/info/*.md5sums that
//! is a regular file, each inode once, in inode order as the classifier orders them): hash
//! them with MD5 one file at a time (digest::hash_file on rayon, the path before the
//! multi-buffer hasher) and with md5_multi::hash_files, on THREADS threads. Warm cache: every
//! file is read once first. Prints wall and CPU time of each run, and checks that both give
//! the same digests and how many match dpkg's. Never run in CI.
//!
//! cargo run --release --example md5_packaged_files -- [THREADS] [RUNS]

use std::collections::HashMap;
use std::io::{BufRead, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::Instant;

use livescan::classify::digest::{hash_file, HashOutcome};
use livescan::classify::md5_multi::{self, Engine};
use livescan::pkgdb::digest::{AlgoSet, DigestAlgo};
use livescan::walk::{FileKind, Meta};
use rayon::prelude::*;

/// User and system CPU seconds of the process so far.
fn cpu_seconds() -> (f64, f64) {
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes one rusage into the struct we own.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (tv(ru.ru_utime), tv(ru.ru_stime))
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let threads: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .unwrap();

    // What dpkg records: path -> md5 hex.
    let mut recorded: HashMap<PathBuf, String> = HashMap::new();
    for e in std::fs::read_dir("/var/lib/dpkg/info").unwrap().flatten() {
        if !e.file_name().as_bytes().ends_with(b".md5sums") {
            continue;
        }
        let f = std::io::BufReader::new(std::fs::File::open(e.path()).unwrap());
        for line in f.split(b'\n').map_while(Result::ok) {
            if line.len() > 34 {
                let hex = String::from_utf8_lossy(&line[..32]).into_owned();
                let path = PathBuf::from("/").join(std::ffi::OsStr::from_bytes(&line[34..]));
                recorded.insert(path, hex);
            }
        }
    }
    let mut files: Vec<(PathBuf, Meta)> = recorded
        .keys()
        .filter_map(|p| {
            let m = Meta::from_std(&std::fs::symlink_metadata(p).ok()?);
            (m.kind == FileKind::Regular).then(|| (p.clone(), m))
        })
        .collect();
    files.sort_by_key(|(_, m)| (m.dev, m.ino));
    files.dedup_by_key(|(_, m)| (m.dev, m.ino));
    let bytes: u64 = files.iter().map(|(_, m)| m.size).sum();
    // Warm the page cache (plain reads, no fadvise), so both runs read from memory.
    let mut buf = vec![0u8; 1 << 20];
    for (p, _) in &files {
        if let Ok(mut f) = std::fs::File::open(p) {
            while matches!(f.read(&mut buf), Ok(n) if n > 0) {}
        }
    }
    println!(
        "{} files, {:.2} GB, {threads} threads, engine {}",
        files.len(),
        bytes as f64 / 1e9,
        Engine::detect().name()
    );
    let mut algos = AlgoSet::default();
    algos.insert(DigestAlgo::Md5);
    let hex = |r: &std::io::Result<HashOutcome>| match r {
        Ok(HashOutcome::Digests(d)) => d
            .get(DigestAlgo::Md5)
            .map(|d| d.iter().map(|b| format!("{b:02x}")).collect::<String>()),
        _ => None,
    };
    let mut reference: Option<Vec<Option<String>>> = None;
    for run in 0..runs {
        for (name, multi) in [("one file at a time", false), ("multi-buffer", true)] {
            let (t0, c0) = (Instant::now(), cpu_seconds());
            let out: Vec<std::io::Result<HashOutcome>> = if multi {
                livescan::classify::open_ahead::in_index_order(files.len(), |store| {
                    md5_multi::hash_files(
                        Engine::detect(),
                        files.len(),
                        |i| (files[i].0.clone(), &files[i].1),
                        store,
                    )
                })
            } else {
                files
                    .par_iter()
                    .map(|(p, m)| hash_file(p, m, algos))
                    .collect()
            };
            let (wall, c1) = (t0.elapsed().as_secs_f64(), cpu_seconds());
            let (user, sys) = (c1.0 - c0.0, c1.1 - c0.1);
            let digests: Vec<Option<String>> = out.iter().map(hex).collect();
            let matching = digests
                .iter()
                .zip(&files)
                .filter(|(d, (p, _))| d.as_ref() == recorded.get(p))
                .count();
            println!(
                "run {run} {name:>18}: wall {wall:6.3} s, cpu {:6.3} s (user {user:.3} + sys {sys:.3}), \
                 {:5.0} MB/s wall, {matching} match dpkg, load {}",
                user + sys,
                bytes as f64 / wall / 1e6,
                loadavg()
            );
            match &reference {
                None => reference = Some(digests),
                Some(r) => assert!(*r == digests, "the two hashers disagree"),
            }
        }
    }
}
