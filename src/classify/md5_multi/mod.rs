//! MD5 of many files at once on one core (multi-buffer SIMD, as Intel's isa-l_crypto does).
//!
//! One MD5 is a chain of 64 dependent steps per block: a core runs it at the latency of
//! that chain, not at the throughput of its vector units. Hashing eight independent files
//! side by side, one per 32-bit lane of an AVX2 register, fills those units; each thread
//! keeps eight files open and feeds them block by block ([`lanes`]). dpkg (and rpm's md5
//! packages) record only MD5, so this is most of a scan's hashing.
//!
//! CPUs without AVX2 (and other architectures) hash one file at a time with md-5, exactly
//! as [`digest::hash_file`] does. Files are opened, read and checked by the same code as
//! that path ([`GentleFile`]): `O_NOATIME`, page cache left as found, files that change
//! while read reported as changed.

#[cfg(target_arch = "x86_64")]
pub mod avx2;
#[cfg(target_arch = "x86_64")]
pub mod lanes;

use std::io;
use std::path::PathBuf;

use rayon::prelude::*;

use super::digest::{Computed, GentleFile, HashOutcome};
use super::open_ahead::OpenAhead;
use crate::pkgdb::digest::{AlgoSet, DigestAlgo};
use crate::walk::Meta;

/// Lanes of the AVX2 kernel: 256-bit registers, 32-bit MD5 words.
pub const LANES_AVX2: usize = 8;

/// MD5 state of `L` lanes: `state[w][l]` is word `w` (a, b, c, d) of lane `l`.
pub type State<const L: usize> = [[u32; L]; 4];

/// The hashing engine this CPU gets.
#[derive(Debug, Clone, Copy)]
pub enum Engine {
    #[cfg(target_arch = "x86_64")]
    Avx2(avx2::Avx2),
    /// One stream at a time, md-5.
    Scalar,
}

impl Engine {
    pub fn detect() -> Engine {
        #[cfg(target_arch = "x86_64")]
        if let Some(k) = avx2::Avx2::detect() {
            return Engine::Avx2(k);
        }
        Engine::Scalar
    }

    pub fn name(self) -> &'static str {
        match self {
            #[cfg(target_arch = "x86_64")]
            Engine::Avx2(_) => "avx2 x8",
            Engine::Scalar => "scalar",
        }
    }
}

#[cfg(target_arch = "x86_64")]
impl lanes::Kernel<LANES_AVX2> for avx2::Avx2 {
    // One 8-lane pass costs 1.1-1.6 scalar blocks (kernel alone / with the scheduler's
    // copies, bench/results/md5-multi-2026-12-01.md): two busy lanes barely pay, one does
    // not. Three keeps a margin; the tail it affects is a few files per thread.
    const SCALAR_BELOW: usize = 3;
    fn compress(self, state: &mut State<LANES_AVX2>, data: [&[u8]; LANES_AVX2], blocks: usize) {
        avx2::Avx2::compress(self, state, data, blocks)
    }
}

/// MD5 of each buffer, on the calling thread (tests and benchmarks).
pub fn md5_buffers(engine: Engine, bufs: &[&[u8]]) -> Vec<[u8; 16]> {
    match engine {
        #[cfg(target_arch = "x86_64")]
        Engine::Avx2(k) => {
            let mut out = vec![[0; 16]; bufs.len()];
            let mut it = bufs.iter().copied().enumerate();
            lanes::run(
                k,
                || it.next(),
                |i, _, r| {
                    // Reading a slice cannot fail.
                    if let Ok(d) = r {
                        out[i] = d;
                    }
                },
            );
            out
        }
        Engine::Scalar => bufs
            .iter()
            .map(|b| {
                use md5::Digest as _;
                md5::Md5::digest(b).into()
            })
            .collect(),
    }
}

/// The algorithms of a file this module hashes: MD5 alone.
pub fn md5_only() -> AlgoSet {
    let mut a = AlgoSet::default();
    a.insert(DigestAlgo::Md5);
    a
}

/// MD5 of `count` files, `file(i)` naming the i-th and what the walk saw of it, on the
/// rayon pool: the same outcomes, file by file, as [`digest::hash_file`] with MD5 alone.
/// `store(i, outcome)` is called once per file, from the thread that read it.
pub fn hash_files<'a, F, S>(engine: Engine, count: usize, file: F, store: S)
where
    F: Fn(usize) -> (PathBuf, &'a Meta) + Sync,
    S: Fn(usize, io::Result<HashOutcome>) + Sync,
{
    match engine {
        #[cfg(target_arch = "x86_64")]
        Engine::Avx2(k) => {
            let next = std::sync::atomic::AtomicUsize::new(0);
            (0..rayon::current_num_threads())
                .into_par_iter()
                .for_each(|_| lane_worker(k, &next, count, &file, &store));
        }
        Engine::Scalar => super::open_ahead::hash_each(count, file, |_| md5_only(), store),
    }
}

/// One thread's share: takes the next file index from `next` whenever a lane is free, so
/// threads finish together and files are opened in the order given (inode order).
#[cfg(target_arch = "x86_64")]
fn lane_worker<'a, K, F, S>(
    kernel: K,
    next: &std::sync::atomic::AtomicUsize,
    count: usize,
    file: &F,
    store: &S,
) where
    K: lanes::Kernel<LANES_AVX2>,
    F: Fn(usize) -> (PathBuf, &'a Meta) + Sync,
    S: Fn(usize, io::Result<HashOutcome>) + Sync,
{
    let mut ahead = OpenAhead::new(next, count, file);
    lanes::run(
        kernel,
        || loop {
            let (i, opened) = ahead.next_file()?;
            match opened {
                Ok(Ok(f)) => return Some((i, f)),
                Ok(Err(why)) => store(i, Ok(HashOutcome::Changed(why))),
                Err(e) => store(i, Err(e)),
            }
        },
        |i, f: GentleFile, r| {
            let outcome = r.and_then(|md5| {
                Ok(match f.changed()? {
                    Some(why) => HashOutcome::Changed(why),
                    None => HashOutcome::Digests(Computed::md5(md5)),
                })
            });
            store(i, outcome);
        },
    );
}

#[cfg(test)]
mod tests;
