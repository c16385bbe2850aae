//! MD5 throughput of the digest code livescan ships (md-5 with `asm`), one thread, in MB/s.
//! Used by `bench/compare.py` to compute the hashing lower bound of a scan.

use md5::{Digest, Md5};
use std::time::Instant;

fn main() {
    let buf = vec![0x5au8; 256 * 1024];
    let total: usize = 1 << 30;
    let mut best = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let mut h = Md5::new();
        for _ in 0..total / buf.len() {
            h.update(&buf);
        }
        std::hint::black_box(h.finalize());
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!("{:.0}", total as f64 / best / 1e6);
}
