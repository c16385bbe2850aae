//! Byte scanning a word at a time. A real host has ~200 k `.list`/`.md5sums` lines (~15 MB)
//! whose paths share long prefixes, and byte-at-a-time loops over them were the reader's
//! largest cost. (No `memchr` dependency: these two functions are all it needs.)

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

fn word(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

/// Length of the common prefix of `a` and `b`.
pub fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + 8 <= n {
        let diff = word(a, i) ^ word(b, i);
        if diff != 0 {
            // Little-endian words: the lowest set bit is in the first differing byte.
            return i + (diff.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < n && a[i] == b[i] {
        i += 1;
    }
    i
}

/// Index of the first `needle` in `hay`.
pub fn find_byte(hay: &[u8], needle: u8) -> Option<usize> {
    let pattern = ONES * u64::from(needle);
    let mut i = 0;
    while i + 8 <= hay.len() {
        let x = word(hay, i) ^ pattern;
        // Exact zero-byte test (no false positives): the high bit of each byte of `found`
        // is set iff that byte of `x` is zero.
        let found = !(((x & !HIGHS) + !HIGHS) | x | !HIGHS);
        if found != 0 {
            return Some(i + (found.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    hay[i..].iter().position(|&b| b == needle).map(|p| i + p)
}

/// Lines of `text` without their `\n`, like `split(|b| b == b'\n')`: a final newline gives
/// a last empty item, and a missing one does not lose the last line.
pub fn lines(text: &[u8]) -> Lines<'_> {
    Lines { rest: Some(text) }
}

pub struct Lines<'a> {
    rest: Option<&'a [u8]>,
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = self.rest?;
        match find_byte(rest, b'\n') {
            Some(n) => {
                self.rest = Some(&rest[n + 1..]);
                Some(&rest[..n])
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agree_with_the_obvious_loops() {
        let samples: [&[u8]; 7] = [
            b"",
            b"\n",
            b"abc",
            b"usr/lib/google-cloud-sdk/lib/x\nusr/lib/google-cloud-sdk/lib/y\n",
            b"\x80\xff\x0a\x0b\x09\x8a\n\n\x00\x0a",
            b"0123456789abcdef0123456789abcdef\n",
            b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\n",
        ];
        for a in samples {
            let split: Vec<&[u8]> = a.split(|&b| b == b'\n').collect();
            assert_eq!(lines(a).collect::<Vec<_>>(), split);
            for needle in [b'\n', 0, 0x80, 0xff, b'a'] {
                assert_eq!(find_byte(a, needle), a.iter().position(|&b| b == needle));
            }
            for b in samples {
                let naive = a.iter().zip(b).take_while(|(x, y)| x == y).count();
                assert_eq!(common_prefix(a, b), naive);
                for cut in 0..a.len() {
                    let naive = a.iter().zip(&a[..cut]).take_while(|(x, y)| x == y).count();
                    assert_eq!(common_prefix(a, &a[..cut]), naive);
                }
            }
        }
        // Every position of the needle inside and across words.
        for len in 0..40 {
            for at in 0..len {
                let mut v = vec![b'x'; len];
                v[at] = b'\n';
                assert_eq!(find_byte(&v, b'\n'), Some(at));
                let mut w = v.clone();
                w[at] = b'y';
                assert_eq!(common_prefix(&v, &w), at);
            }
        }
    }
}
