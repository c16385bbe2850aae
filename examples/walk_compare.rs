//! Walk a directory three ways and time each (warm cache, best of 3):
//! 1. walkdir, one thread, `lstat` of every entry;
//! 2. walkdir for readdir + rayon `par_iter` for the `lstat`s (crates.md's fastest);
//! 3. livescan's walker: one rayon task per directory, `fstatat` relative to the dir fd.
//!
//! Usage: cargo run --release --example walk_compare -- /usr

use std::time::Instant;

use rayon::prelude::*;

fn best_of<F: FnMut() -> usize>(mut f: F) -> (f64, usize) {
    let mut best = f64::MAX;
    let mut n = 0;
    for _ in 0..3 {
        let t = Instant::now();
        n = f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    (best, n)
}

fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "/usr".into());
    let (t1, n1) = best_of(|| {
        walkdir::WalkDir::new(&dir)
            .same_file_system(true)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.metadata().is_ok())
            .count()
    });
    let (t2, n2) = best_of(|| {
        let paths: Vec<_> = walkdir::WalkDir::new(&dir)
            .same_file_system(true)
            .into_iter()
            .filter_map(Result::ok)
            .map(|e| e.into_path())
            .collect();
        paths
            .par_iter()
            .filter(|p| std::fs::symlink_metadata(p).is_ok())
            .count()
    });
    let root = livescan::rootfs::RootFs::new(&dir);
    let none = livescan::walk::Excludes::default();
    let (t3, n3) = best_of(|| {
        livescan::walk::walk(&livescan::walk::WalkOptions {
            root: &root,
            excludes: &none,
            skip_mounts: &none,
        })
        .entries
        .len()
    });
    println!("walkdir, 1 thread:           {t1:.3} s  {n1} entries");
    println!("walkdir + rayon lstat:       {t2:.3} s  {n2} entries");
    println!(
        "livescan parallel walker:    {t3:.3} s  {n3} entries ({} threads)",
        rayon::current_num_threads()
    );
}
