//! Walk records packed into bytes: how the walk holds its directories' entries until they
//! are taken in path order, and how pass 1 holds the added paths until the report.
//!
//! A million records are held at once on a large tree. As [`WalkedEntry`]s they took
//! 104 bytes each plus a 32-byte path box (~130 MiB for a 1 M-file tree, the largest part
//! of its scan's peak). Packed, a record is its key's suffix after what it shares with the
//! previous record's key (keys come sorted, so siblings share most of theirs) and its
//! `lstat` fields as varints, inode, device and mtime as differences from the previous
//! record's: 30–40 bytes.
//!
//! [`WalkedEntry`]: super::WalkedEntry

use super::{FileKind, Meta};

/// Records in the order they were pushed. Only [`Packer`] writes one, so a record that
/// does not decode is a bug: the reader stops there and logs it rather than hand out
/// garbage.
#[derive(Default)]
pub struct Packed {
    bytes: Box<[u8]>,
    count: u32,
}

/// Packs records. Correct for keys in any order; small for sorted ones.
#[derive(Default)]
pub struct Packer {
    bytes: Vec<u8>,
    count: u32,
    prev_key: Vec<u8>,
    prev: Deltas,
}

/// The fields stored as differences from the previous record's.
#[derive(Default, Clone, Copy)]
struct Deltas {
    dev: u64,
    ino: u64,
    mtime: i64,
}

/// One record read back. `key` and `link_target` borrow from the reader and the bytes.
#[derive(Debug, PartialEq, Eq)]
pub struct Record<'a> {
    pub key: &'a [u8],
    pub meta: Meta,
    pub link_target: Option<&'a [u8]>,
    /// A number the packer's caller attached (the added paths' category rule).
    pub extra: u64,
}

impl Packer {
    pub fn push(&mut self, key: &[u8], m: &Meta, link_target: Option<&[u8]>, extra: u64) {
        let out = &mut self.bytes;
        let shared = key
            .iter()
            .zip(&self.prev_key)
            .take_while(|(a, b)| a == b)
            .count();
        let suffix = &key[shared..];
        put(out, shared as u64);
        put(out, suffix.len() as u64);
        out.extend_from_slice(suffix);
        self.prev_key.truncate(shared);
        self.prev_key.extend_from_slice(suffix);
        put(out, u64::from(m.mode));
        put(out, u64::from(m.uid));
        put(out, u64::from(m.gid));
        put(out, m.size);
        // Siblings were mostly written at about the same time; the nanoseconds are noise
        // (fixed four bytes: below 10^9, where a varint would take five).
        put(out, zigzag(m.mtime.wrapping_sub(self.prev.mtime)));
        out.extend_from_slice(&m.mtime_nsec.to_le_bytes());
        put(out, zigzag(m.ctime.wrapping_sub(m.mtime)));
        out.extend_from_slice(&m.ctime_nsec.to_le_bytes());
        put(out, zigzag(m.dev.wrapping_sub(self.prev.dev) as i64));
        put(out, zigzag(m.ino.wrapping_sub(self.prev.ino) as i64));
        self.prev = Deltas {
            dev: m.dev,
            ino: m.ino,
            mtime: m.mtime,
        };
        put(out, u64::from(m.nlink));
        put(out, u64::from(m.rdev));
        put(out, m.blocks);
        // 0 = no target; otherwise its length + 1 (a symlink's target is never empty,
        // but an empty one round-trips too).
        match link_target {
            None => put(out, 0),
            Some(t) => {
                put(out, t.len() as u64 + 1);
                out.extend_from_slice(t);
            }
        }
        put(out, extra);
        self.count += 1;
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn finish(self) -> Packed {
        Packed {
            bytes: self.bytes.into_boxed_slice(),
            count: self.count,
        }
    }
}

impl Packed {
    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes the records take (logged at debug level).
    pub fn byte_len(&self) -> usize {
        self.bytes.len()
    }

    /// A reader from the first record. It does not borrow `self`, so the two can live in
    /// one struct (the walk's depth-first stack holds both).
    pub fn cursor(&self) -> Cursor {
        Cursor {
            pos: 0,
            left: self.count,
            key: Vec::new(),
            prev: Deltas::default(),
        }
    }
}

/// Where a reader of one [`Packed`] is, and the key it last decoded.
pub struct Cursor {
    pos: usize,
    left: u32,
    key: Vec<u8>,
    prev: Deltas,
}

impl Cursor {
    /// Records not read yet.
    pub fn left(&self) -> usize {
        self.left as usize
    }

    /// The next record of `packed`, which must be the one this cursor came from.
    pub fn next<'a>(&'a mut self, packed: &'a Packed) -> Option<Record<'a>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let mut input = Input {
            bytes: packed.bytes.get(self.pos..).unwrap_or_default(),
            used: 0,
        };
        let Some(fields) = decode(&mut input, &mut self.key, &mut self.prev) else {
            debug_assert!(false, "undecodable packed walk record");
            log::error!("internal error: a packed walk record could not be decoded");
            self.left = 0;
            return None;
        };
        let link_target = fields
            .link
            .map(|(at, len)| &packed.bytes[self.pos + at..self.pos + at + len]);
        self.pos += input.used;
        Some(Record {
            key: &self.key,
            meta: fields.meta,
            link_target,
            extra: fields.extra,
        })
    }
}

struct Fields {
    meta: Meta,
    /// Offset and length of the link target, from the record's start.
    link: Option<(usize, usize)>,
    extra: u64,
}

fn decode(input: &mut Input, key: &mut Vec<u8>, prev: &mut Deltas) -> Option<Fields> {
    let shared = usize::try_from(input.varint()?).ok()?;
    let suffix_len = usize::try_from(input.varint()?).ok()?;
    if shared > key.len() {
        return None;
    }
    let suffix = input.take(suffix_len)?;
    key.truncate(shared);
    key.extend_from_slice(suffix);
    let mode = u32::try_from(input.varint()?).ok()?;
    let uid = u32::try_from(input.varint()?).ok()?;
    let gid = u32::try_from(input.varint()?).ok()?;
    let size = input.varint()?;
    let mtime = prev.mtime.wrapping_add(unzigzag(input.varint()?));
    let mtime_nsec = input.u32_le()?;
    let ctime = mtime.wrapping_add(unzigzag(input.varint()?));
    let ctime_nsec = input.u32_le()?;
    let dev = prev.dev.wrapping_add(unzigzag(input.varint()?) as u64);
    let ino = prev.ino.wrapping_add(unzigzag(input.varint()?) as u64);
    let nlink = u32::try_from(input.varint()?).ok()?;
    let rdev = u32::try_from(input.varint()?).ok()?;
    let blocks = input.varint()?;
    let link = match usize::try_from(input.varint()?).ok()? {
        0 => None,
        n => {
            let at = input.used;
            input.take(n - 1)?;
            Some((at, n - 1))
        }
    };
    let extra = input.varint()?;
    *prev = Deltas { dev, ino, mtime };
    Some(Fields {
        meta: Meta {
            kind: FileKind::from_mode(mode),
            mode,
            uid,
            gid,
            size,
            mtime,
            mtime_nsec,
            ctime,
            ctime_nsec,
            dev,
            ino,
            nlink,
            rdev,
            blocks,
        },
        link,
        extra,
    })
}

/// The unread bytes of a record, and how many of them have been read.
struct Input<'a> {
    bytes: &'a [u8],
    used: usize,
}

impl<'a> Input<'a> {
    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.take(1)?.first()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    fn u32_le(&mut self) -> Option<u32> {
        let b = self.take(4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.bytes.len() {
            return None;
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        self.used += n;
        Some(head)
    }
}

/// LEB128.
fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Small negative differences (an inode before the previous one) in few bytes too.
fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Every field away from zero (the other packed records' tests use it too).
    pub(crate) fn meta(kind_mode: u32, size: u64, ino: u64) -> Meta {
        Meta {
            kind: FileKind::from_mode(kind_mode),
            mode: kind_mode,
            uid: 1000,
            gid: u32::MAX,
            size,
            mtime: 1_700_000_000,
            mtime_nsec: 999_999_999,
            ctime: -5,
            ctime_nsec: 1,
            dev: 0xfd01,
            ino,
            nlink: 3,
            rdev: 0x0801,
            blocks: size / 512,
        }
    }

    #[test]
    fn records_round_trip_whatever_their_values() {
        let rec = |key: &'static [u8], meta, link_target, extra| Record {
            key,
            meta,
            link_target,
            extra,
        };
        let records = [
            rec(b"/", meta(libc::S_IFDIR | 0o755, 4096, 2), None, 0),
            rec(b"/srv/a", meta(libc::S_IFREG | 0o644, 0, 1 << 40), None, 1),
            // Shares "/srv/a" whole, then an inode far below the previous one.
            rec(
                b"/srv/a-b",
                meta(libc::S_IFREG | 0o600, u64::MAX, 7),
                None,
                2,
            ),
            rec(
                b"/srv/a/\xff\x00name",
                meta(libc::S_IFLNK | 0o777, 9, u64::MAX),
                Some(b"../t\n"),
                u64::MAX,
            ),
            // Shares nothing but "/", a shorter key after a longer one.
            rec(b"/x", meta(libc::S_IFCHR | 0o620, 0, 8), Some(b""), 3),
            rec(b"/x", meta(libc::S_IFSOCK, 0, 8), None, 4),
            rec(b"", meta(libc::S_IFIFO, 0, 0), None, 5),
        ];
        let mut w = Packer::default();
        for r in &records {
            w.push(r.key, &r.meta, r.link_target, r.extra);
        }
        let packed = w.finish();
        assert_eq!(packed.len(), records.len());
        let mut c = packed.cursor();
        for (i, want) in records.iter().enumerate() {
            let r = c.next(&packed).expect("a record");
            assert_eq!(&r, want, "record {i}");
        }
        assert!(c.next(&packed).is_none());
        assert_eq!(c.left(), 0);
    }

    #[test]
    fn sorted_siblings_pack_small() {
        let mut w = Packer::default();
        let n = 1000;
        for i in 0..n {
            let key = format!("/srv/gen/d003/d00342/f{i:04}.dat");
            let mut m = meta(libc::S_IFREG | 0o644, 2048 + i, 500_000 + i);
            // As files written one after the other are.
            (m.gid, m.mtime, m.ctime) = (
                1000,
                1_700_000_000 + i as i64 / 8,
                1_700_000_000 + i as i64 / 8,
            );
            w.push(key.as_bytes(), &m, None, 0);
        }
        let packed = w.finish();
        // A walk record alone is 104 bytes, its path another 32.
        assert!(
            packed.byte_len() < 36 * n as usize,
            "{} bytes for {n} records",
            packed.byte_len()
        );
        let mut c = packed.cursor();
        let mut count = 0;
        while c.next(&packed).is_some() {
            count += 1;
        }
        assert_eq!(count, n);
    }

    #[test]
    fn a_truncated_record_does_not_decode() {
        let mut w = Packer::default();
        w.push(b"/a/b", &meta(libc::S_IFREG, 1, 1), Some(b"t"), 9);
        let full = w.finish();
        for cut in 0..full.bytes.len() {
            let mut input = Input {
                bytes: &full.bytes[..cut],
                used: 0,
            };
            let decoded = decode(&mut input, &mut Vec::new(), &mut Deltas::default());
            assert!(decoded.is_none(), "cut at {cut}");
        }
    }

    #[test]
    fn zigzag_round_trips_the_extremes() {
        for v in [0i64, 1, -1, i64::MAX, i64::MIN, 1 << 40, -(1 << 40)] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
        assert!(zigzag(-1) < 2 && zigzag(1) < 3);
    }
}
