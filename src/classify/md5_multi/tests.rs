use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;

use md5::{Digest as _, Md5};

use super::*;
use crate::classify::digest::hash_file;
use crate::classify::open_ahead::in_index_order;

/// Fixed-seed generator (xorshift64*): the same cases on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| (self.next() >> 56) as u8).collect()
    }
}

fn oracle(b: &[u8]) -> [u8; 16] {
    Md5::digest(b).into()
}

fn avx2() -> Option<Engine> {
    let e = Engine::detect();
    if matches!(e, Engine::Scalar) {
        eprintln!("skipping: this CPU has no AVX2, only the scalar engine runs here");
        return None;
    }
    Some(e)
}

fn check(engine: Engine, bufs: &[Vec<u8>]) {
    let refs: Vec<&[u8]> = bufs.iter().map(|b| b.as_slice()).collect();
    let got = md5_buffers(engine, &refs);
    assert_eq!(got.len(), bufs.len());
    for (i, (g, b)) in got.iter().zip(bufs).enumerate() {
        assert_eq!(
            *g,
            oracle(b),
            "stream {i} of {} ({} bytes)",
            bufs.len(),
            b.len()
        );
    }
}

/// Lengths around every padding boundary (55/56: the length fits in the last block or not;
/// 63/64/65: whole blocks) and around the lane buffer size.
const EDGES: [usize; 24] = [
    0, 1, 2, 55, 56, 57, 63, 64, 65, 119, 120, 121, 127, 128, 129, 1000, 4095, 4096, 65_535,
    65_536, 65_537, 65_600, 131_072, 200_003,
];

#[test]
fn known_vectors() {
    // RFC 1321, appendix A.5.
    let Some(e) = avx2() else { return };
    let cases: [(&[u8], &str); 7] = [
        (b"", "d41d8cd98f00b204e9800998ecf8427e"),
        (b"a", "0cc175b9c0f1b6a831c399e269772661"),
        (b"abc", "900150983cd24fb0d6963f7d28e17f72"),
        (b"message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
        (
            b"abcdefghijklmnopqrstuvwxyz",
            "c3fcd3d76192e4007dfb496cca67e13b",
        ),
        (
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
            "d174ab98d277d9f5a5611c2c9f419d9f",
        ),
        (
            b"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
            "57edf4a22be3c955ac49da2e2107b67a",
        ),
    ];
    let bufs: Vec<&[u8]> = cases.iter().map(|c| c.0).collect();
    for (d, (_, want)) in md5_buffers(e, &bufs).iter().zip(cases) {
        let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, want);
    }
}

#[test]
fn every_edge_length_in_every_lane() {
    let Some(e) = avx2() else { return };
    let mut rng = Rng(1);
    // Rotating the list puts each length in each lane, next to different neighbours.
    for shift in 0..LANES_AVX2 {
        let bufs: Vec<Vec<u8>> = (0..EDGES.len())
            .map(|i| rng.bytes(EDGES[(i + shift) % EDGES.len()]))
            .collect();
        check(e, &bufs);
    }
}

#[test]
fn all_lanes_end_at_once() {
    let Some(e) = avx2() else { return };
    let mut rng = Rng(2);
    for len in [0, 55, 56, 64, 64 * 1024, 64 * 1024 + 1, 300_000] {
        for n in [LANES_AVX2, 2 * LANES_AVX2, 3 * LANES_AVX2 - 1] {
            let bufs: Vec<Vec<u8>> = (0..n).map(|_| rng.bytes(len)).collect();
            check(e, &bufs);
        }
    }
}

#[test]
fn lanes_of_very_different_lengths() {
    let Some(e) = avx2() else { return };
    let mut rng = Rng(3);
    // One long stream outlives many short ones, which keep refilling the other lanes; then
    // it finishes alone (the scalar tail).
    let mut bufs = vec![rng.bytes(5 << 20)];
    bufs.extend((0..200).map(|i| rng.bytes(i * 37 % 3000)));
    bufs.push(rng.bytes(1 << 20));
    bufs.push(rng.bytes(3 << 20));
    check(e, &bufs);
    // Fewer streams than lanes, and a single stream.
    check(e, &bufs[..3]);
    check(e, &bufs[..1]);
    check(e, &[]);
}

#[test]
fn property_random_lengths_match_md5() {
    let Some(e) = avx2() else { return };
    let mut rng = Rng(0x5eed_1234);
    for round in 0..40 {
        let n = rng.below(40) as usize;
        let bufs: Vec<Vec<u8>> = (0..n)
            .map(|_| {
                // Mostly small files, like a package's; now and then MiBs.
                let len = match rng.below(10) {
                    0 => rng.below(3 << 20),
                    1..=3 => rng.below(200),
                    _ => rng.below(70_000),
                };
                rng.bytes(len as usize)
            })
            .collect();
        let refs: Vec<&[u8]> = bufs.iter().map(|b| b.as_slice()).collect();
        for (i, (g, b)) in md5_buffers(e, &refs).iter().zip(&bufs).enumerate() {
            assert_eq!(
                *g,
                oracle(b),
                "round {round}, stream {i}, {} bytes",
                b.len()
            );
        }
    }
}

/// A reader that returns its data in random short pieces, with interruptions, and fails
/// after `fail_at` bytes if set.
struct Choppy {
    data: Vec<u8>,
    pos: usize,
    rng: Rng,
    fail_at: Option<usize>,
}

impl Read for Choppy {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.rng.below(5) == 0 {
            return Err(io::Error::from(io::ErrorKind::Interrupted));
        }
        if self.fail_at.is_some_and(|f| self.pos >= f) {
            return Err(io::Error::other("disk on fire"));
        }
        let n = (1 + self.rng.below(200) as usize)
            .min(buf.len())
            .min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[test]
fn short_reads_interruptions_and_errors() {
    let Some(Engine::Avx2(k)) = avx2() else {
        return;
    };
    let mut rng = Rng(4);
    let streams: Vec<Choppy> = (0..30)
        .map(|i| {
            let len = rng.below(20_000) as usize;
            Choppy {
                data: rng.bytes(len),
                pos: 0,
                rng: Rng(100 + i),
                fail_at: (i % 7 == 3).then_some(len / 2),
            }
        })
        .collect();
    let want: Vec<(Vec<u8>, bool)> = streams
        .iter()
        .map(|s| (s.data.clone(), s.fail_at.is_some_and(|f| f < s.data.len())))
        .collect();
    let mut results: Vec<Option<io::Result<[u8; 16]>>> = (0..streams.len()).map(|_| None).collect();
    let mut it = streams.into_iter().enumerate();
    lanes::run(k, || it.next(), |i, _, r| results[i] = Some(r));
    let mut failed = 0;
    for (i, (r, (data, fails))) in results.into_iter().zip(want).enumerate() {
        match r {
            Some(Ok(d)) => {
                assert!(!fails, "stream {i} should have failed");
                assert_eq!(d, oracle(&data), "stream {i}");
            }
            Some(Err(e)) => {
                assert!(fails, "stream {i}: {e}");
                assert_eq!(e.to_string(), "disk on fire");
                failed += 1;
            }
            None => panic!("stream {i} never finished"),
        }
    }
    assert!(failed > 0);
}

#[test]
fn scalar_engine_matches() {
    let mut rng = Rng(5);
    let bufs: Vec<Vec<u8>> = EDGES.iter().map(|&l| rng.bytes(l)).collect();
    check(Engine::Scalar, &bufs);
}

#[test]
fn files_hash_like_hash_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(6);
    let mut paths = Vec::new();
    for (i, len) in EDGES.iter().chain(&[3 << 20, 10, 0]).enumerate() {
        let p = dir.path().join(format!("f{i}"));
        std::fs::write(&p, rng.bytes(*len)).unwrap();
        paths.push(p);
    }
    // A file replaced after the walk saw it, and one deleted.
    let replaced = dir.path().join("replaced");
    std::fs::write(&replaced, b"old").unwrap();
    paths.push(replaced.clone());
    let gone = dir.path().join("gone");
    std::fs::write(&gone, b"x").unwrap();
    paths.push(gone.clone());
    let metas: Vec<Meta> = paths
        .iter()
        .map(|p| Meta::from_std(&std::fs::symlink_metadata(p).unwrap()))
        .collect();
    std::fs::remove_file(&replaced).unwrap();
    std::fs::write(dir.path().join("keep-inode-busy"), b"x").unwrap();
    std::fs::write(&replaced, b"new").unwrap();
    std::fs::remove_file(&gone).unwrap();
    let replaced_ino = std::fs::symlink_metadata(&replaced).unwrap().ino();

    let mut algos = AlgoSet::default();
    algos.insert(DigestAlgo::Md5);
    let want: Vec<String> = paths
        .iter()
        .zip(&metas)
        .map(|(p, m)| format!("{:?}", hash_file(p, m, algos).map_err(|e| e.kind())))
        .collect();
    for engine in [Engine::detect(), Engine::Scalar] {
        let got = in_index_order(paths.len(), |store| {
            hash_files(
                engine,
                paths.len(),
                |i| (paths[i].clone(), &metas[i]),
                store,
            )
        });
        let got: Vec<String> = got
            .into_iter()
            .map(|r| format!("{:?}", r.map_err(|e| e.kind())))
            .collect();
        assert_eq!(got, want, "{}", engine.name());
    }
    // The outcomes themselves: real digests, the replaced file, the missing one.
    let n = paths.len();
    assert!(want[1].contains("Digests"));
    if replaced_ino != metas[n - 2].ino {
        assert!(
            want[n - 2].contains("replaced since the walk"),
            "{}",
            want[n - 2]
        );
    }
    assert!(want[n - 1].contains("NotFound"), "{}", want[n - 1]);
    let HashOutcome::Digests(d) = hash_file(&paths[3], &metas[3], algos).unwrap() else {
        panic!()
    };
    assert_eq!(
        d.get(DigestAlgo::Md5).unwrap(),
        oracle(&std::fs::read(&paths[3]).unwrap())
    );
}

#[test]
fn many_files_across_threads() {
    let Some(e) = avx2() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(7);
    let mut files = Vec::new();
    for i in 0..600 {
        let len = match i % 50 {
            0 => rng.below(2 << 20),
            _ => rng.below(9000),
        } as usize;
        let data = rng.bytes(len);
        let p = dir.path().join(format!("{i}"));
        std::fs::write(&p, &data).unwrap();
        let m = Meta::from_std(&std::fs::symlink_metadata(&p).unwrap());
        files.push((p, m, oracle(&data)));
    }
    let got = in_index_order(files.len(), |store| {
        hash_files(e, files.len(), |i| (files[i].0.clone(), &files[i].1), store)
    });
    for (r, (p, _, want)) in got.into_iter().zip(&files) {
        let Ok(HashOutcome::Digests(d)) = r else {
            panic!("{}: {r:?}", p.display())
        };
        assert_eq!(d.get(DigestAlgo::Md5).unwrap(), want, "{}", p.display());
    }
}

#[test]
fn files_that_change_while_read_are_caught() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("f");
    std::fs::write(&p, vec![7u8; 10_000]).unwrap();
    let seen = Meta::from_std(&std::fs::symlink_metadata(&p).unwrap());
    // Read only part of it: fewer bytes than it holds.
    let mut f = GentleFile::open(&p, &seen).unwrap().unwrap();
    let mut buf = [0u8; 100];
    f.read_exact(&mut buf).unwrap();
    assert_eq!(f.changed().unwrap(), Some("changed while read"));
    // Read all of it, then it grows.
    let mut f = GentleFile::open(&p, &seen).unwrap().unwrap();
    io::copy(&mut f, &mut io::sink()).unwrap();
    assert_eq!(f.changed().unwrap(), None);
    std::fs::OpenOptions::new()
        .append(true)
        .open(&p)
        .unwrap()
        .write_all(b"more")
        .unwrap();
    assert_eq!(f.changed().unwrap(), Some("changed while read"));
}
