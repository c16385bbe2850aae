//! Single-thread MD5 throughput, in-memory: md-5 (`asm`, what one-file-at-a-time hashing
//! uses) against the multi-buffer AVX2 kernel, alone and with its lane scheduler. Best of
//! RUNS runs, MB/s of thread CPU time. Never run in CI; `bench/results/md5-multi-*.md` has the numbers.
//!
//! cargo run --release --example md5_multi_throughput [RUNS]   (best of RUNS, default 5;
//! bench/run.py --quick passes 1)

use std::time::Instant;

use livescan::classify::md5_multi::{self, Engine};
use md5::{Digest, Md5};

/// CPU time of the calling thread: on a machine shared with other builds, wall time
/// measures the neighbours as much as the code.
fn thread_cpu() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the struct we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// Best of `runs`, in thread CPU seconds (wall is printed when much larger: a busy host).
fn best_of<F: FnMut()>(runs: usize, mut f: F) -> f64 {
    let mut best = f64::MAX;
    let mut best_wall = f64::MAX;
    for _ in 0..runs {
        let (t, c) = (Instant::now(), thread_cpu());
        f();
        best = best.min(thread_cpu() - c);
        best_wall = best_wall.min(t.elapsed().as_secs_f64());
    }
    if best_wall > 1.5 * best {
        eprintln!("  (busy host: best wall {best_wall:.3} s for {best:.3} s of CPU)");
    }
    best
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(5);
    println!("load average before: {}", loadavg());
    let total: usize = 1 << 30;
    let buf = noise(256 * 1024, 1);
    let t = best_of(runs, || {
        let mut h = Md5::new();
        for _ in 0..total / buf.len() {
            h.update(&buf);
        }
        std::hint::black_box(h.finalize());
    });
    let scalar = total as f64 / t / 1e6;
    println!("scalar md-5 (asm), one stream:            {scalar:7.0} MB/s");

    let engine = Engine::detect();
    #[cfg(target_arch = "x86_64")]
    if let Engine::Avx2(k) = engine {
        // The kernel alone on data in L2: 8 lanes x 32 KiB.
        let lanes: Vec<Vec<u8>> = (0..8).map(|i| noise(32 * 1024, 10 + i)).collect();
        let mut state = [[0u32; 8]; 4];
        let passes = total / (8 * 32 * 1024);
        let t = best_of(runs, || {
            for _ in 0..passes {
                let data: [&[u8]; 8] = std::array::from_fn(|l| lanes[l].as_slice());
                k.compress(&mut state, data, 32 * 1024 / 64);
            }
            std::hint::black_box(&state);
        });
        let kernel = total as f64 / t / 1e6;
        println!(
            "avx2 x8 kernel, 8 lanes in L2:            {kernel:7.0} MB/s ({:.2}x scalar)",
            kernel / scalar
        );
    }
    if matches!(engine, Engine::Scalar) {
        println!("no AVX2 on this CPU: nothing more to compare");
        return;
    }

    // Through the scheduler (copy into lane buffers, padding, refills): 8 x 128 MiB.
    let big: Vec<Vec<u8>> = (0..8).map(|i| noise(128 << 20, 20 + i)).collect();
    let refs: Vec<&[u8]> = big.iter().map(|b| b.as_slice()).collect();
    let bytes: usize = refs.iter().map(|b| b.len()).sum();
    let t = best_of(runs, || {
        std::hint::black_box(md5_multi::md5_buffers(engine, &refs));
    });
    let sched = bytes as f64 / t / 1e6;
    println!(
        "{} scheduler, 8 x 128 MiB streams:   {sched:7.0} MB/s ({:.2}x scalar)",
        engine.name(),
        sched / scalar
    );

    // Package-like: many small files and a few large (log-uniform 1 B .. 4 MiB).
    let mut x = 99u64;
    let sizes: Vec<usize> = (0..20_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (2f64.powf((x % 2200) as f64 / 100.0)) as usize
        })
        .collect();
    let pool = noise(4 << 20, 7);
    let refs: Vec<&[u8]> = sizes.iter().map(|&s| &pool[..s.min(pool.len())]).collect();
    let bytes: usize = refs.iter().map(|b| b.len()).sum();
    let t_scalar = best_of(runs, || {
        std::hint::black_box(md5_multi::md5_buffers(Engine::Scalar, &refs));
    });
    let t_multi = best_of(runs, || {
        std::hint::black_box(md5_multi::md5_buffers(engine, &refs));
    });
    println!(
        "20000 streams, log-uniform sizes ({} MB): scalar {:.0} MB/s, {} {:.0} MB/s ({:.2}x)",
        bytes / 1_000_000,
        bytes as f64 / t_scalar / 1e6,
        engine.name(),
        bytes as f64 / t_multi / 1e6,
        t_scalar / t_multi
    );
    println!("load average after:  {}", loadavg());
}
