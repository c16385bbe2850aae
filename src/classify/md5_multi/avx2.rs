//! MD5 on eight independent streams at once: one AVX2 register holds the same state word
//! of eight messages, so the 64 steps of a block run for eight blocks in one pass.
//! Scalar MD5 is bound by the latency of its dependency chain; eight chains side by side
//! fill the vector units instead.

use std::arch::x86_64::*;

use super::{State, LANES_AVX2 as L};

/// Proof that the running CPU has AVX2: only [`Avx2::detect`] makes one, so a function
/// taking it may call the `avx2` code.
#[derive(Debug, Clone, Copy)]
pub struct Avx2(());

impl Avx2 {
    pub fn detect() -> Option<Avx2> {
        is_x86_feature_detected!("avx2").then_some(Avx2(()))
    }

    /// Runs the compression function over `blocks` whole 64-byte blocks of each lane's data:
    /// `data[l]` must hold at least `64 * blocks` bytes (lanes that carry no stream pass any
    /// bytes of that length; their state is garbage and ignored).
    pub fn compress(self, state: &mut State<L>, data: [&[u8]; L], blocks: usize) {
        let ptrs = data.map(|d| {
            assert!(d.len() >= blocks * 64, "lane shorter than {blocks} blocks");
            d.as_ptr()
        });
        // SAFETY: `self` exists only when AVX2 was detected at run time; every pointer is
        // valid for `64 * blocks` bytes (checked above), which is all the kernel reads.
        unsafe { compress8(state, ptrs, blocks) }
    }
}

/// The sine-derived constants of RFC 1321, in step order.
const K: [u32; 64] = [
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
];

/// Transposes eight rows of eight u32 (one row = 32 bytes of one lane) into eight vectors
/// of word `j` of every lane.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn transpose(r: [__m256i; 8]) -> [__m256i; 8] {
    let t0 = _mm256_unpacklo_epi32(r[0], r[1]);
    let t1 = _mm256_unpackhi_epi32(r[0], r[1]);
    let t2 = _mm256_unpacklo_epi32(r[2], r[3]);
    let t3 = _mm256_unpackhi_epi32(r[2], r[3]);
    let t4 = _mm256_unpacklo_epi32(r[4], r[5]);
    let t5 = _mm256_unpackhi_epi32(r[4], r[5]);
    let t6 = _mm256_unpacklo_epi32(r[6], r[7]);
    let t7 = _mm256_unpackhi_epi32(r[6], r[7]);
    // s0: words 0 (low 128 bits) and 4 (high) of rows 0..3; s4 the same of rows 4..7; …
    let s0 = _mm256_unpacklo_epi64(t0, t2);
    let s1 = _mm256_unpackhi_epi64(t0, t2);
    let s2 = _mm256_unpacklo_epi64(t1, t3);
    let s3 = _mm256_unpackhi_epi64(t1, t3);
    let s4 = _mm256_unpacklo_epi64(t4, t6);
    let s5 = _mm256_unpackhi_epi64(t4, t6);
    let s6 = _mm256_unpacklo_epi64(t5, t7);
    let s7 = _mm256_unpackhi_epi64(t5, t7);
    [
        _mm256_permute2x128_si256(s0, s4, 0x20),
        _mm256_permute2x128_si256(s1, s5, 0x20),
        _mm256_permute2x128_si256(s2, s6, 0x20),
        _mm256_permute2x128_si256(s3, s7, 0x20),
        _mm256_permute2x128_si256(s0, s4, 0x31),
        _mm256_permute2x128_si256(s1, s5, 0x31),
        _mm256_permute2x128_si256(s2, s6, 0x31),
        _mm256_permute2x128_si256(s3, s7, 0x31),
    ]
}

// The four round functions of RFC 1321, in forms that need no NOT where possible.
macro_rules! f {
    ($b:expr, $c:expr, $d:expr) => {
        _mm256_xor_si256($d, _mm256_and_si256($b, _mm256_xor_si256($c, $d)))
    };
}
macro_rules! g {
    ($b:expr, $c:expr, $d:expr) => {
        _mm256_xor_si256($c, _mm256_and_si256($d, _mm256_xor_si256($b, $c)))
    };
}
macro_rules! h {
    ($b:expr, $c:expr, $d:expr) => {
        _mm256_xor_si256(_mm256_xor_si256($b, $c), $d)
    };
}
macro_rules! i {
    ($b:expr, $c:expr, $d:expr) => {
        _mm256_xor_si256(
            $c,
            _mm256_or_si256($b, _mm256_xor_si256($d, _mm256_set1_epi32(-1))),
        )
    };
}

/// One step: a = b + ((a + fn(b, c, d) + m + k) <<< s).
macro_rules! step {
    ($fun:ident, $a:ident, $b:ident, $c:ident, $d:ident, $m:expr, $k:expr, $s:literal) => {
        let mk = _mm256_add_epi32($m, _mm256_set1_epi32($k as i32));
        let sum = _mm256_add_epi32(_mm256_add_epi32($a, mk), $fun!($b, $c, $d));
        let rot = _mm256_or_si256(
            _mm256_slli_epi32::<$s>(sum),
            _mm256_srli_epi32::<{ 32 - $s }>(sum),
        );
        $a = _mm256_add_epi32($b, rot);
    };
}

/// Four steps with the round's four shifts; message word of step `i` is `w[idx(i)]`.
macro_rules! four {
    ($fun:ident, $w:ident, $a:ident, $b:ident, $c:ident, $d:ident, $i:expr, $idx:expr,
     $s0:literal, $s1:literal, $s2:literal, $s3:literal) => {
        step!($fun, $a, $b, $c, $d, $w[$idx($i)], K[$i], $s0);
        step!($fun, $d, $a, $b, $c, $w[$idx($i + 1)], K[$i + 1], $s1);
        step!($fun, $c, $d, $a, $b, $w[$idx($i + 2)], K[$i + 2], $s2);
        step!($fun, $b, $c, $d, $a, $w[$idx($i + 3)], K[$i + 3], $s3);
    };
}

const fn r1(i: usize) -> usize {
    i
}
const fn r2(i: usize) -> usize {
    (5 * i + 1) % 16
}
const fn r3(i: usize) -> usize {
    (3 * i + 5) % 16
}
const fn r4(i: usize) -> usize {
    (7 * i) % 16
}

/// # Safety
/// The CPU must support AVX2, and each `ptrs[l]` must be valid for reads of
/// `64 * blocks` bytes.
#[target_feature(enable = "avx2")]
unsafe fn compress8(state: &mut State<L>, ptrs: [*const u8; L], blocks: usize) {
    // No closures here: they would not inherit `target_feature` and the intrinsics in them
    // would become calls.
    let mut a = _mm256_loadu_si256(state[0].as_ptr().cast());
    let mut b = _mm256_loadu_si256(state[1].as_ptr().cast());
    let mut c = _mm256_loadu_si256(state[2].as_ptr().cast());
    let mut d = _mm256_loadu_si256(state[3].as_ptr().cast());
    for n in 0..blocks {
        let off = n * 64;
        let mut rows = [_mm256_setzero_si256(); 8];
        for (r, p) in rows.iter_mut().zip(ptrs) {
            *r = _mm256_loadu_si256(p.add(off).cast());
        }
        let lo = transpose(rows);
        for (r, p) in rows.iter_mut().zip(ptrs) {
            *r = _mm256_loadu_si256(p.add(off + 32).cast());
        }
        let hi = transpose(rows);
        let w: [__m256i; 16] = [
            lo[0], lo[1], lo[2], lo[3], lo[4], lo[5], lo[6], lo[7], hi[0], hi[1], hi[2], hi[3],
            hi[4], hi[5], hi[6], hi[7],
        ];
        let (aa, bb, cc, dd) = (a, b, c, d);
        four!(f, w, a, b, c, d, 0, r1, 7, 12, 17, 22);
        four!(f, w, a, b, c, d, 4, r1, 7, 12, 17, 22);
        four!(f, w, a, b, c, d, 8, r1, 7, 12, 17, 22);
        four!(f, w, a, b, c, d, 12, r1, 7, 12, 17, 22);
        four!(g, w, a, b, c, d, 16, r2, 5, 9, 14, 20);
        four!(g, w, a, b, c, d, 20, r2, 5, 9, 14, 20);
        four!(g, w, a, b, c, d, 24, r2, 5, 9, 14, 20);
        four!(g, w, a, b, c, d, 28, r2, 5, 9, 14, 20);
        four!(h, w, a, b, c, d, 32, r3, 4, 11, 16, 23);
        four!(h, w, a, b, c, d, 36, r3, 4, 11, 16, 23);
        four!(h, w, a, b, c, d, 40, r3, 4, 11, 16, 23);
        four!(h, w, a, b, c, d, 44, r3, 4, 11, 16, 23);
        four!(i, w, a, b, c, d, 48, r4, 6, 10, 15, 21);
        four!(i, w, a, b, c, d, 52, r4, 6, 10, 15, 21);
        four!(i, w, a, b, c, d, 56, r4, 6, 10, 15, 21);
        four!(i, w, a, b, c, d, 60, r4, 6, 10, 15, 21);
        a = _mm256_add_epi32(a, aa);
        b = _mm256_add_epi32(b, bb);
        c = _mm256_add_epi32(c, cc);
        d = _mm256_add_epi32(d, dd);
    }
    _mm256_storeu_si256(state[0].as_mut_ptr().cast(), a);
    _mm256_storeu_si256(state[1].as_mut_ptr().cast(), b);
    _mm256_storeu_si256(state[2].as_mut_ptr().cast(), c);
    _mm256_storeu_si256(state[3].as_mut_ptr().cast(), d);
}
