//! The static (musl, x86_64) build's `memcpy`, `memmove` and `memcmp`.
//!
//! musl's x86_64 `memcpy` aligns the destination one `movsb` at a time, copies the body
//! with `rep movsq` and the tail one `movsb` at a time again: every call pays a string
//! instruction's start-up of some tens of cycles, however few bytes it copies. A scan
//! copies mostly small things (paths, names, JSON fragments): a rescan of a Debian 12
//! host made 5.6 M calls, 3.4 M of them under 64 bytes and 1.2 M of 256 B–4 KiB, and
//! musl's `memcpy` was 15–18 % of its CPU samples. glibc copies small sizes with a few
//! overlapping vector moves instead, and this does the same, with SSE2 (every x86_64 has
//! it, so no feature detection):
//! - up to 128 bytes: straight-line code, every load before any store, so one routine
//!   serves `memcpy` and `memmove` whatever the overlap;
//! - above: a loop of 16-byte moves, forward or (for `memmove` onto a later, overlapping
//!   destination) backward, the last (first) 16 bytes loaded before the loop starts.
//!
//! Only the musl build exports the symbols (as `allocator.rs` gives it mimalloc); the
//! static link then takes them instead of musl's (its `memcpy.o` and `memmove.o` are only
//! pulled in for symbols still undefined, and `memmove.o` alone refers to `memcpy.o`).
//! glibc builds keep glibc's.
//!
//! musl's `memcmp` compares a byte at a time; paths (sorted, searched, merged against the
//! package index) share long prefixes (`/usr/share/locale/…`). This one compares 8 bytes
//! at a time, the last 8 overlapping (bytes already found equal cannot decide), and reads
//! only the `n` bytes it is given.
//!
//! Each loop iteration holds a compiler barrier, so LLVM cannot
//! turn the loop back into a call to `memcpy` (its loop-idiom pass would, and the call
//! would be this one).

use core::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_storeu_si128};

#[cfg(target_env = "musl")]
/// # Safety
/// The C contract: `src` readable and `dst` writable for `n` bytes, not overlapping.
#[no_mangle]
pub unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    copy_forward(dst, src, n);
    dst
}

#[cfg(target_env = "musl")]
/// # Safety
/// The C contract: `src` readable and `dst` writable for `n` bytes; they may overlap.
#[no_mangle]
pub unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    copy_overlapping(dst, src, n);
    dst
}

#[cfg(target_env = "musl")]
/// # Safety
/// The C contract: `a` and `b` readable for `n` bytes.
#[no_mangle]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    compare(a, b, n)
}

/// `memcmp`'s body: negative, zero or positive as the first differing byte (unsigned) of
/// `a` is below, equal to or above `b`'s.
///
/// # Safety
/// `a` and `b` readable for `n` bytes.
#[inline]
pub unsafe fn compare(a: *const u8, b: *const u8, n: usize) -> i32 {
    if n < 8 {
        for i in 0..n {
            let (x, y) = (*a.add(i), *b.add(i));
            if x != y {
                return i32::from(x) - i32::from(y);
            }
        }
        return 0;
    }
    let word_order = |i: usize| {
        let x = a.add(i).cast::<u64>().read_unaligned();
        let y = b.add(i).cast::<u64>().read_unaligned();
        // Big-endian, the first byte is the most significant: integer order is byte order.
        x.swap_bytes().cmp(&y.swap_bytes())
    };
    let mut i = 0;
    while i < n - 8 {
        barrier();
        match word_order(i) {
            core::cmp::Ordering::Equal => i += 8,
            o => return o as i32,
        }
    }
    word_order(n - 8) as i32
}

/// `memcpy`'s body. Also correct when `dst` comes before an overlapping `src`.
///
/// # Safety
/// `src` readable and `dst` writable for `n` bytes; if they overlap, `dst < src`.
#[inline]
pub unsafe fn copy_forward(dst: *mut u8, src: *const u8, n: usize) {
    if n <= 128 {
        copy_up_to_128(dst, src, n);
        return;
    }
    let last = load16(src.add(n - 16));
    let mut i = 0;
    while i + 64 <= n - 16 {
        let a = load16_in_loop(src.add(i));
        let b = load16_in_loop(src.add(i + 16));
        let c = load16_in_loop(src.add(i + 32));
        let d = load16_in_loop(src.add(i + 48));
        store16(dst.add(i), a);
        store16(dst.add(i + 16), b);
        store16(dst.add(i + 32), c);
        store16(dst.add(i + 48), d);
        i += 64;
    }
    while i < n - 16 {
        store16(dst.add(i), load16_in_loop(src.add(i)));
        i += 16;
    }
    store16(dst.add(n - 16), last);
}

/// `memmove`'s body.
///
/// # Safety
/// `src` readable and `dst` writable for `n` bytes.
#[inline]
pub unsafe fn copy_overlapping(dst: *mut u8, src: *const u8, n: usize) {
    // Unsigned distance: at least `n` when `dst` is before `src` or past its end, where a
    // forward copy never overwrites a byte before reading it.
    if n <= 128 || (dst as usize).wrapping_sub(src as usize) >= n {
        copy_forward(dst, src, n);
        return;
    }
    let first = load16(src);
    let mut i = n;
    while i > 16 {
        i -= 16;
        store16(dst.add(i), load16_in_loop(src.add(i)));
    }
    store16(dst, first);
}

/// Every load before the first store: right for any overlap.
#[inline(always)]
unsafe fn copy_up_to_128(dst: *mut u8, src: *const u8, n: usize) {
    if n <= 16 {
        if n >= 8 {
            let a = src.cast::<u64>().read_unaligned();
            let b = src.add(n - 8).cast::<u64>().read_unaligned();
            dst.cast::<u64>().write_unaligned(a);
            dst.add(n - 8).cast::<u64>().write_unaligned(b);
        } else if n >= 4 {
            let a = src.cast::<u32>().read_unaligned();
            let b = src.add(n - 4).cast::<u32>().read_unaligned();
            dst.cast::<u32>().write_unaligned(a);
            dst.add(n - 4).cast::<u32>().write_unaligned(b);
        } else if n >= 2 {
            let a = src.cast::<u16>().read_unaligned();
            let b = src.add(n - 2).cast::<u16>().read_unaligned();
            dst.cast::<u16>().write_unaligned(a);
            dst.add(n - 2).cast::<u16>().write_unaligned(b);
        } else if n == 1 {
            *dst = *src;
        }
    } else if n <= 32 {
        let a = load16(src);
        let b = load16(src.add(n - 16));
        store16(dst, a);
        store16(dst.add(n - 16), b);
    } else if n <= 64 {
        let a = load16(src);
        let b = load16(src.add(16));
        let c = load16(src.add(n - 32));
        let d = load16(src.add(n - 16));
        store16(dst, a);
        store16(dst.add(16), b);
        store16(dst.add(n - 32), c);
        store16(dst.add(n - 16), d);
    } else {
        let a = load16(src);
        let b = load16(src.add(16));
        let c = load16(src.add(32));
        let d = load16(src.add(48));
        let e = load16(src.add(n - 64));
        let f = load16(src.add(n - 48));
        let g = load16(src.add(n - 32));
        let h = load16(src.add(n - 16));
        store16(dst, a);
        store16(dst.add(16), b);
        store16(dst.add(32), c);
        store16(dst.add(48), d);
        store16(dst.add(n - 64), e);
        store16(dst.add(n - 48), f);
        store16(dst.add(n - 32), g);
        store16(dst.add(n - 16), h);
    }
}

#[inline(always)]
unsafe fn load16(p: *const u8) -> __m128i {
    _mm_loadu_si128(p.cast())
}

/// A loop's load, after a [`barrier`].
#[inline(always)]
unsafe fn load16_in_loop(p: *const u8) -> __m128i {
    barrier();
    load16(p)
}

/// An empty `asm!` that may, for all LLVM knows, touch memory: a loop holding one stays a
/// loop (see the module doc). It emits no instruction.
#[inline(always)]
fn barrier() {
    // SAFETY: no instruction; it only stops the compiler moving memory accesses across it.
    unsafe { core::arch::asm!("", options(nostack, preserves_flags)) }
}

#[inline(always)]
unsafe fn store16(p: *mut u8, v: __m128i) {
    _mm_storeu_si128(p.cast(), v)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sizes around every branch's edges, and some large ones.
    fn sizes() -> Vec<usize> {
        let mut s: Vec<usize> = (0..=300).collect();
        s.extend([511, 512, 513, 1000, 4095, 4096, 4097, 65_536 + 7, 1 << 20]);
        s
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 131 + i / 251 + 7) as u8).collect()
    }

    #[test]
    fn copies_every_size_and_alignment_and_touches_nothing_else() {
        const GUARD: usize = 32;
        for n in sizes() {
            let src = pattern(n + 64);
            for src_off in [0, 1, 3, 8, 15] {
                for dst_off in [0, 1, 7, 9, 16] {
                    let mut dst = vec![0xa5u8; n + 2 * GUARD + 16];
                    // SAFETY: both ranges are inside their vectors.
                    unsafe {
                        copy_forward(
                            dst.as_mut_ptr().add(GUARD + dst_off),
                            src.as_ptr().add(src_off),
                            n,
                        )
                    };
                    let at = GUARD + dst_off;
                    assert_eq!(&dst[at..at + n], &src[src_off..src_off + n], "n={n}");
                    assert!(dst[..at].iter().all(|&b| b == 0xa5), "before, n={n}");
                    assert!(dst[at + n..].iter().all(|&b| b == 0xa5), "after, n={n}");
                }
            }
        }
    }

    #[test]
    fn moves_overlapping_ranges_in_both_directions() {
        for n in sizes().into_iter().filter(|&n| n <= 5000) {
            for shift in [1usize, 2, 7, 8, 15, 16, 17, 31, 64, 100, 129] {
                let len = n + shift + 32;
                let original = pattern(len);
                // Onto a later destination (the backward case) and onto an earlier one.
                for (from, to) in [(8, 8 + shift), (8 + shift, 8)] {
                    if from.max(to) + n > len {
                        continue;
                    }
                    let mut buf = original.clone();
                    let base = buf.as_mut_ptr();
                    // SAFETY: both ranges are inside `buf`.
                    unsafe { copy_overlapping(base.add(to), base.add(from), n) };
                    let mut expected = original.clone();
                    expected.copy_within(from..from + n, to);
                    assert_eq!(buf, expected, "n={n} from={from} to={to}");
                }
            }
        }
    }

    #[test]
    fn compares_as_the_first_differing_byte_does() {
        for n in (0..=80).chain([255, 256, 1000]) {
            let a = pattern(n);
            // SAFETY: both are `n` bytes long (here and below).
            assert_eq!(
                unsafe { compare(a.as_ptr(), a.clone().as_ptr(), n) },
                0,
                "n={n}"
            );
            for at in 0..n {
                for (x, y) in [(0x00u8, 0x01u8), (0x7f, 0x80), (0xfe, 0xff), (0x80, 0x7f)] {
                    let mut l = a.clone();
                    let mut r = a.clone();
                    l[at] = x;
                    r[at] = y;
                    // A later difference the other way round must not decide.
                    if at + 1 < n {
                        l[n - 1] = 0xff;
                        r[n - 1] = 0x00;
                    }
                    let got = unsafe { compare(l.as_ptr(), r.as_ptr(), n) };
                    assert_eq!(
                        got.signum(),
                        (x as i32 - y as i32).signum(),
                        "n={n} at={at}"
                    );
                    let back = unsafe { compare(r.as_ptr(), l.as_ptr(), n) };
                    assert_eq!(back.signum(), -got.signum(), "n={n} at={at}");
                }
            }
        }
    }

    #[test]
    fn compare_reads_nothing_past_n() {
        // Equal in the first n bytes, different right after: only n bytes count.
        for n in 0..40 {
            let a = vec![7u8; n + 1];
            let mut b = a.clone();
            b[n] = 8;
            assert_eq!(unsafe { compare(a.as_ptr(), b.as_ptr(), n) }, 0, "n={n}");
        }
    }

    #[test]
    fn moves_onto_itself_and_disjoint_ranges() {
        for n in [0, 5, 100, 200, 3000] {
            let original = pattern(2 * n + 8);
            let mut buf = original.clone();
            let base = buf.as_mut_ptr();
            // SAFETY: inside `buf`.
            unsafe { copy_overlapping(base, base, n) };
            assert_eq!(buf, original);
            // SAFETY: inside `buf`, not overlapping.
            unsafe { copy_overlapping(base.add(n + 8), base, n) };
            assert_eq!(&buf[n + 8..], &original[..n]);
        }
    }
}
