//! The added paths' report records, packed as pass 1 finds them.
//!
//! Most of what a large scan reports is added files (no package owns them), and their
//! records were held from the walk to the end as 104-byte walk records with a path each,
//! then as ~200-byte report records: on a 1 M-file tree with half of it unowned, the
//! largest thing in memory. Packed, a record is its path's suffix after what it shares
//! with the previous path (paths come sorted, so siblings share their directory), and
//! its `lstat` fields as varints (inode and device as the difference from the previous
//! record's): ~30–40 bytes where they took ~140.
//!
//! Pass 1 packs each of its chunks' added entries into a [`Block`] and drops the walk
//! records; the report, the summary and the overlay's plan decode the blocks in order.

#[cfg(test)]
use crate::walk::LinkTarget;
use crate::walk::{FileKind, Meta, WalkedEntry};

use super::category::CategoryRule;
use super::{Change, Classified};

/// The added records of one pass-1 chunk, in path order. Each block starts afresh (its
/// first path whole), so blocks are built and read independently.
pub struct Block {
    bytes: Box<[u8]>,
    count: u32,
}

/// One decoded record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddedRecord {
    pub path: Vec<u8>,
    pub meta: Meta,
    pub link_target: Option<Vec<u8>>,
    pub rule: CategoryRule,
}

/// Packs records into a block. Paths must come in path order (it is correct for any
/// order, only smaller for sorted ones).
#[derive(Default)]
pub struct BlockWriter {
    bytes: Vec<u8>,
    count: u32,
    prev_path: Vec<u8>,
    prev_dev: u64,
    prev_ino: u64,
    prev_mtime: i64,
}

impl BlockWriter {
    pub fn push(&mut self, e: &WalkedEntry, rule: CategoryRule) {
        let m = &e.meta;
        let out = &mut self.bytes;
        let shared = e
            .path
            .iter()
            .zip(&self.prev_path)
            .take_while(|(a, b)| a == b)
            .count();
        let suffix = &e.path[shared..];
        put(out, shared as u64);
        put(out, suffix.len() as u64);
        out.extend_from_slice(suffix);
        self.prev_path.truncate(shared);
        self.prev_path.extend_from_slice(suffix);
        put(out, u64::from(m.mode));
        put(out, u64::from(m.uid));
        put(out, u64::from(m.gid));
        put(out, m.size);
        // Siblings were mostly written at about the same time; the nanoseconds are noise
        // (fixed four bytes: below 10^9, where a varint would take five).
        put(out, zigzag(m.mtime.wrapping_sub(self.prev_mtime)));
        out.extend_from_slice(&m.mtime_nsec.to_le_bytes());
        put(out, zigzag(m.ctime.wrapping_sub(m.mtime)));
        out.extend_from_slice(&m.ctime_nsec.to_le_bytes());
        put(out, zigzag(m.dev.wrapping_sub(self.prev_dev) as i64));
        put(out, zigzag(m.ino.wrapping_sub(self.prev_ino) as i64));
        (self.prev_mtime, self.prev_dev, self.prev_ino) = (m.mtime, m.dev, m.ino);
        put(out, u64::from(m.nlink));
        put(out, u64::from(m.rdev));
        put(out, m.blocks);
        // 0 = no target; otherwise its length + 1 (a symlink's target is never empty,
        // but an empty one round-trips too).
        match e.link_target.as_deref() {
            None => put(out, 0),
            Some(t) => {
                put(out, t.len() as u64 + 1);
                out.extend_from_slice(t);
            }
        }
        put(out, u64::from(rule.number()));
        self.count += 1;
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn finish(self) -> Block {
        Block {
            bytes: self.bytes.into_boxed_slice(),
            count: self.count,
        }
    }
}

impl Block {
    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn iter(&self) -> BlockIter<'_> {
        BlockIter {
            bytes: &self.bytes,
            left: self.count,
            path: Vec::new(),
            dev: 0,
            ino: 0,
            mtime: 0,
        }
    }
}

pub struct BlockIter<'a> {
    bytes: &'a [u8],
    left: u32,
    path: Vec<u8>,
    dev: u64,
    ino: u64,
    mtime: i64,
}

impl Iterator for BlockIter<'_> {
    type Item = AddedRecord;

    fn next(&mut self) -> Option<AddedRecord> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let r = self.decode();
        if r.is_none() {
            // Only this module writes blocks, so this is a bug; stop rather than report
            // garbage.
            debug_assert!(false, "undecodable added-record block");
            log::error!("internal error: an added-files record could not be decoded");
            self.left = 0;
        }
        r
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left as usize))
    }
}

impl<'a> BlockIter<'a> {
    fn decode(&mut self) -> Option<AddedRecord> {
        let shared = usize::try_from(self.varint()?).ok()?;
        let suffix_len = usize::try_from(self.varint()?).ok()?;
        if shared > self.path.len() {
            return None;
        }
        self.path.truncate(shared);
        let suffix = self.take(suffix_len)?;
        self.path.extend_from_slice(suffix);
        let mode = u32::try_from(self.varint()?).ok()?;
        let uid = u32::try_from(self.varint()?).ok()?;
        let gid = u32::try_from(self.varint()?).ok()?;
        let size = self.varint()?;
        self.mtime = self.mtime.wrapping_add(unzigzag(self.varint()?));
        let mtime = self.mtime;
        let mtime_nsec = self.u32_le()?;
        let ctime = mtime.wrapping_add(unzigzag(self.varint()?));
        let ctime_nsec = self.u32_le()?;
        self.dev = self.dev.wrapping_add(unzigzag(self.varint()?) as u64);
        self.ino = self.ino.wrapping_add(unzigzag(self.varint()?) as u64);
        let nlink = u32::try_from(self.varint()?).ok()?;
        let rdev = u32::try_from(self.varint()?).ok()?;
        let blocks = self.varint()?;
        let link_target = match usize::try_from(self.varint()?).ok()? {
            0 => None,
            n => Some(self.take(n - 1)?.to_vec()),
        };
        let rule = CategoryRule::from_number(u16::try_from(self.varint()?).ok()?)?;
        Some(AddedRecord {
            path: self.path.clone(),
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
                dev: self.dev,
                ino: self.ino,
                nlink,
                rdev,
                blocks,
            },
            link_target,
            rule,
        })
    }

    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = self.bytes.split_first()?;
            self.bytes = rest;
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

/// Every added path's record, in path order: the blocks of pass 1's chunks, in order.
#[derive(Default)]
pub struct AddedFiles {
    blocks: Vec<Block>,
    len: usize,
}

impl AddedFiles {
    /// `blocks` in path order (each sorted, each after the one before).
    pub fn new(blocks: Vec<Block>) -> AddedFiles {
        let len = blocks.iter().map(Block::len).sum();
        AddedFiles { blocks, len }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes the packed records take (logged at debug level).
    pub fn packed_bytes(&self) -> usize {
        self.blocks.iter().map(|b| b.bytes.len()).sum()
    }

    pub fn iter(&self) -> impl Iterator<Item = AddedRecord> + '_ {
        self.blocks.iter().flat_map(Block::iter)
    }
}

impl AddedRecord {
    pub fn into_classified(self) -> Classified {
        Classified {
            path: self.path,
            change: Change::Added,
            meta: Some(self.meta),
            link_target: self.link_target,
            verify: None,
            config: false,
            marker: None,
            owners: Vec::new(),
            category: Some(self.rule.category()),
            reason: self.rule.reason(),
        }
    }

    /// Back into a walk record (tests, and the round trip they check).
    #[cfg(test)]
    fn entry(&self) -> WalkedEntry {
        WalkedEntry {
            path: self.path.clone().into_boxed_slice(),
            meta: self.meta,
            link_target: self
                .link_target
                .clone()
                .map(LinkTarget::new)
                .unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(kind_mode: u32, size: u64, ino: u64) -> Meta {
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

    fn entry(path: &[u8], m: Meta, link: Option<&[u8]>) -> WalkedEntry {
        WalkedEntry {
            path: path.into(),
            meta: m,
            link_target: link
                .map(|t| LinkTarget::new(t.to_vec()))
                .unwrap_or_default(),
        }
    }

    #[test]
    fn records_round_trip_whatever_their_values() {
        let entries = vec![
            entry(b"/", meta(libc::S_IFDIR | 0o755, 4096, 2), None),
            entry(b"/srv/a", meta(libc::S_IFREG | 0o644, 0, 1 << 40), None),
            // Shares "/srv/a" whole, then an inode far below the previous one.
            entry(b"/srv/a-b", meta(libc::S_IFREG | 0o600, u64::MAX, 7), None),
            entry(
                b"/srv/a/\xff\x00name",
                meta(libc::S_IFLNK | 0o777, 9, u64::MAX),
                Some(b"../t\n"),
            ),
            // Shares nothing but "/", a shorter path after a longer one.
            entry(b"/x", meta(libc::S_IFCHR | 0o620, 0, 8), Some(b"")),
            entry(b"/x", meta(libc::S_IFSOCK, 0, 8), None),
        ];
        let mut w = BlockWriter::default();
        for (i, e) in entries.iter().enumerate() {
            w.push(e, CategoryRule::from_number(i as u16).expect("a rule"));
        }
        let block = w.finish();
        assert_eq!(block.len(), entries.len());
        let back: Vec<AddedRecord> = block.iter().collect();
        assert_eq!(back.len(), entries.len());
        for (i, (r, e)) in back.iter().zip(&entries).enumerate() {
            let got = r.entry();
            assert_eq!(got.path, e.path, "record {i}");
            assert_eq!(got.meta, e.meta, "record {i}");
            assert_eq!(got.link_target, e.link_target, "record {i}");
            assert_eq!(r.rule.number(), i as u16);
        }
    }

    #[test]
    fn sorted_siblings_pack_small() {
        let mut w = BlockWriter::default();
        let n = 1000;
        for i in 0..n {
            let path = format!("/srv/gen/d003/d00342/f{i:04}.dat");
            let mut m = meta(libc::S_IFREG | 0o644, 2048 + i, 500_000 + i);
            // As files written one after the other are.
            (m.gid, m.mtime, m.ctime) = (
                1000,
                1_700_000_000 + i as i64 / 8,
                1_700_000_000 + i as i64 / 8,
            );
            w.push(
                &entry(path.as_bytes(), m, None),
                CategoryRule::from_number(0).expect("rule 0"),
            );
        }
        let block = w.finish();
        // A walk record alone is 104 bytes, its path another 32.
        assert!(
            block.bytes.len() < 36 * n as usize,
            "{} bytes for {n} records",
            block.bytes.len()
        );
        assert_eq!(block.iter().count(), n as usize);
    }

    #[test]
    fn a_truncated_block_ends_instead_of_panicking() {
        let mut w = BlockWriter::default();
        w.push(
            &entry(b"/a/b", meta(libc::S_IFREG, 1, 1), Some(b"t")),
            CategoryRule::from_number(0).expect("rule 0"),
        );
        let full = w.finish();
        for cut in 0..full.bytes.len() {
            let mut it = BlockIter {
                bytes: &full.bytes[..cut],
                left: 1,
                path: Vec::new(),
                dev: 0,
                ino: 0,
                mtime: 0,
            };
            assert!(it.decode().is_none(), "cut at {cut}");
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
