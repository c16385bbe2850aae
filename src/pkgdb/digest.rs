//! File digests as package databases record them: the algorithm, and the value.

use std::fmt;

/// The hash functions any supported database uses (rpm's PGPHASHALGO set, apk's SHA-1 and
/// SHA-256, pacman's SHA-256, dpkg's MD5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DigestAlgo {
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl DigestAlgo {
    pub const ALL: [DigestAlgo; 6] = [
        DigestAlgo::Md5,
        DigestAlgo::Sha1,
        DigestAlgo::Sha224,
        DigestAlgo::Sha256,
        DigestAlgo::Sha384,
        DigestAlgo::Sha512,
    ];

    pub fn output_len(self) -> usize {
        match self {
            DigestAlgo::Md5 => 16,
            DigestAlgo::Sha1 => 20,
            DigestAlgo::Sha224 => 28,
            DigestAlgo::Sha256 => 32,
            DigestAlgo::Sha384 => 48,
            DigestAlgo::Sha512 => 64,
        }
    }

    /// rpm's FILEDIGESTALGO (PGPHASHALGO) number; rpm itself falls back to MD5 for values it
    /// does not know, and so do we (the caller warns).
    pub fn from_rpm(id: u64) -> Option<DigestAlgo> {
        Some(match id {
            1 => DigestAlgo::Md5,
            2 => DigestAlgo::Sha1,
            8 => DigestAlgo::Sha256,
            9 => DigestAlgo::Sha384,
            10 => DigestAlgo::Sha512,
            11 => DigestAlgo::Sha224,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            DigestAlgo::Md5 => "md5",
            DigestAlgo::Sha1 => "sha1",
            DigestAlgo::Sha224 => "sha224",
            DigestAlgo::Sha256 => "sha256",
            DigestAlgo::Sha384 => "sha384",
            DigestAlgo::Sha512 => "sha512",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A small set of algorithms: what one file must be hashed with (a path owned by an MD5
/// package and a SHA-256 package is read once and fed to both).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct AlgoSet(u8);

impl AlgoSet {
    pub fn insert(&mut self, a: DigestAlgo) {
        self.0 |= a.bit();
    }
    pub fn contains(self, a: DigestAlgo) -> bool {
        self.0 & a.bit() != 0
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn union(self, other: AlgoSet) -> AlgoSet {
        AlgoSet(self.0 | other.0)
    }
    pub fn iter(self) -> impl Iterator<Item = DigestAlgo> {
        DigestAlgo::ALL
            .into_iter()
            .filter(move |a| self.contains(*a))
    }
}

/// A recorded digest. `value` may be shorter than the algorithm's output: apk's `f:S`
/// packages record SHA-256 truncated to 160 bits, and a prefix match is what apk checks.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Digest {
    pub algo: DigestAlgo,
    value: Value,
}

/// The digest bytes. A host records one digest per packaged file (a million on a large
/// one): MD5, SHA-1 and SHA-256 are kept inline (no allocation of their own, 48 bytes in
/// all), only SHA-384/512 go to the heap.
#[derive(Clone, PartialEq, Eq, Hash)]
enum Value {
    /// `len` bytes, the rest zero (so the derived comparisons are those of the slices).
    Inline {
        len: u8,
        bytes: [u8; INLINE],
    },
    Boxed(Box<[u8]>),
}

const INLINE: usize = 32;

impl Value {
    fn of(value: &[u8]) -> Value {
        match u8::try_from(value.len()) {
            Ok(len) if value.len() <= INLINE => {
                let mut bytes = [0; INLINE];
                bytes[..value.len()].copy_from_slice(value);
                Value::Inline { len, bytes }
            }
            _ => Value::Boxed(value.into()),
        }
    }

    fn as_slice(&self) -> &[u8] {
        match self {
            Value::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Value::Boxed(b) => b,
        }
    }
}

impl Digest {
    /// `None` unless `value` is the algorithm's full length.
    pub fn new(algo: DigestAlgo, value: &[u8]) -> Option<Digest> {
        (value.len() == algo.output_len()).then(|| Digest {
            algo,
            value: Value::of(value),
        })
    }

    /// A truncated digest (at least 16 bytes, at most the full length).
    pub fn truncated(algo: DigestAlgo, value: &[u8]) -> Option<Digest> {
        (value.len() >= 16 && value.len() <= algo.output_len()).then(|| Digest {
            algo,
            value: Value::of(value),
        })
    }

    /// A digest as computed here or read back from the verify cache (whose decoder checks
    /// the lengths): no length rule.
    pub(crate) fn any_len(algo: DigestAlgo, value: &[u8]) -> Digest {
        Digest {
            algo,
            value: Value::of(value),
        }
    }

    pub fn md5(value: [u8; 16]) -> Digest {
        Digest {
            algo: DigestAlgo::Md5,
            value: Value::of(&value),
        }
    }

    /// Lower- or upper-case hex of the full length.
    pub fn from_hex(algo: DigestAlgo, hex: &[u8]) -> Option<Digest> {
        if hex.len() != algo.output_len() * 2 {
            return None;
        }
        let value = decode_hex(hex)?;
        Digest::new(algo, &value)
    }

    pub fn value(&self) -> &[u8] {
        self.value.as_slice()
    }

    /// Does a freshly computed full-length digest of the same algorithm match?
    pub fn matches(&self, computed: &[u8]) -> bool {
        computed.len() == self.algo.output_len() && computed.starts_with(self.value())
    }

    pub fn hex(&self) -> String {
        self.value().iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algo.name(), self.hex())
    }
}

pub fn decode_hex(hex: &[u8]) -> Option<Vec<u8>> {
    if hex.len() % 2 != 0 {
        return None;
    }
    hex.chunks(2)
        .map(|p| {
            let hi = (p[0] as char).to_digit(16)?;
            let lo = (p[1] as char).to_digit(16)?;
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_length_checks() {
        let d = Digest::from_hex(DigestAlgo::Md5, b"B1946AC92492D2347C6235B4D2611184").unwrap();
        assert_eq!(d.hex(), "b1946ac92492d2347c6235b4d2611184");
        assert!(
            Digest::from_hex(DigestAlgo::Sha256, b"b1946ac92492d2347c6235b4d2611184").is_none()
        );
        assert!(Digest::from_hex(DigestAlgo::Md5, b"zz946ac92492d2347c6235b4d2611184").is_none());
        assert!(Digest::new(DigestAlgo::Sha1, &[0; 16]).is_none());
    }

    #[test]
    fn truncated_digests_match_by_prefix() {
        let full = [7u8; 32];
        let t = Digest::truncated(DigestAlgo::Sha256, &full[..20]).unwrap();
        assert!(t.matches(&full));
        let mut other = full;
        other[3] = 0;
        assert!(!t.matches(&other));
        assert!(
            !t.matches(&full[..20]),
            "a computed digest is always full length"
        );
    }

    #[test]
    fn long_digests_are_kept_whole_and_short_ones_inline() {
        let sha512 = [9u8; 64];
        let d = Digest::new(DigestAlgo::Sha512, &sha512).unwrap();
        assert_eq!(d.value(), &sha512[..]);
        assert!(d.matches(&sha512));
        let md5 = Digest::md5([1; 16]);
        assert_eq!(md5.value(), &[1u8; 16][..]);
        // Same bytes, other length: not equal (the inline zero padding must not match).
        let t20 = Digest::truncated(DigestAlgo::Sha256, &[1; 20]).unwrap();
        let t16 = Digest::truncated(DigestAlgo::Sha256, &[1; 16]).unwrap();
        assert_ne!(t20, t16);
        assert!(std::mem::size_of::<Option<Digest>>() <= 48);
    }

    #[test]
    fn algo_sets() {
        let mut s = AlgoSet::default();
        assert!(s.is_empty());
        s.insert(DigestAlgo::Sha256);
        s.insert(DigestAlgo::Md5);
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            vec![DigestAlgo::Md5, DigestAlgo::Sha256]
        );
        assert_eq!(DigestAlgo::from_rpm(8), Some(DigestAlgo::Sha256));
        assert_eq!(DigestAlgo::from_rpm(3), None);
    }
}
