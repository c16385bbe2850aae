//! The added paths' report records, packed as pass 1 finds them.
//!
//! Most of what a large scan reports is added files (no package owns them), and their
//! records were held from the walk to the end as 104-byte walk records with a path each,
//! then as ~200-byte report records: on a 1 M-file tree with half of it unowned, the
//! largest thing in memory. Packed ([`crate::walk::packed`], with the category rule as
//! the record's number), one takes ~30–40 bytes where they took ~140.
//!
//! Pass 1 packs each of its chunks' added entries into a [`Block`] and drops the walk
//! records; the report, the summary and the overlay's plan decode the blocks in order.

use crate::walk::packed::{Cursor, Packed, Packer};
#[cfg(test)]
use crate::walk::LinkTarget;
use crate::walk::{Meta, WalkedEntry};

use super::category::CategoryRule;
use super::{Change, Classified};

/// The added records of one pass-1 chunk, in path order. Each block starts afresh (its
/// first path whole), so blocks are built and read independently.
pub struct Block(Packed);

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
pub struct BlockWriter(Packer);

impl BlockWriter {
    pub fn push(&mut self, e: &WalkedEntry, rule: CategoryRule) {
        let link = e.link_target.as_deref();
        self.0
            .push(&e.path, &e.meta, link, u64::from(rule.number()));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn finish(self) -> Block {
        Block(self.0.finish())
    }
}

impl Block {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> BlockIter<'_> {
        BlockIter {
            block: &self.0,
            cursor: self.0.cursor(),
        }
    }
}

pub struct BlockIter<'a> {
    block: &'a Packed,
    cursor: Cursor,
}

impl Iterator for BlockIter<'_> {
    type Item = AddedRecord;

    fn next(&mut self) -> Option<AddedRecord> {
        let r = self.cursor.next(self.block)?;
        let rule = u16::try_from(r.extra)
            .ok()
            .and_then(CategoryRule::from_number);
        let Some(rule) = rule else {
            // Only pass 1 writes blocks, with a rule's number: a bug.
            debug_assert!(false, "added record with rule {}", r.extra);
            log::error!("internal error: an added record has no category rule");
            return None;
        };
        Some(AddedRecord {
            path: r.key.to_vec(),
            meta: r.meta,
            link_target: r.link_target.map(<[u8]>::to_vec),
            rule,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.cursor.left()))
    }
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
        self.blocks.iter().map(|b| b.0.byte_len()).sum()
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
    use crate::walk::packed::tests::meta;

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
}
