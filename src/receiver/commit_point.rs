//! The durable commit point of one overlay: how many of its bytes are verified and
//! acknowledged. Chunks are written into the overlay file *as they arrive* (so the disk works
//! while the network does) and checked against their BLAKE3 only at the end, so the file's
//! length is no longer the resume point: a chunk that failed its check, or a crash in the
//! middle of one, leaves an unverified tail. The commit point is what counts; it only ever
//! moves after the chunk's bytes were checked and are on disk (`fdatasync`), and the tail
//! past it is cut off before the next chunk is written.
//!
//! Stored next to the overlay in `overlay.commit`: two 32-byte slots written alternately
//! (pwrite + fdatasync of one sector, no rename, no directory sync: ~0.2 ms), each holding
//! a sequence number, the committed length and a checksum of both; the valid slot with the
//! higher sequence number wins. A torn write can only damage the slot being written, so the
//! previous commit point survives it.
//!
//! Data directories from before this file existed (or overlays that never saw a chunk) have
//! no record: every byte in them was verified before it was written, so their length is the
//! commit point. The record is created durably (file and directory synced) before the first
//! unverified byte reaches the overlay.

use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 4] = b"LSCP";
const SLOT: usize = 32;

pub struct CommitPoint {
    file: File,
    seq: u64,
    committed: u64,
}

/// The record's path for an overlay file.
pub fn record_path(overlay: &Path) -> PathBuf {
    overlay.with_extension("commit")
}

fn encode(seq: u64, committed: u64) -> [u8; SLOT] {
    let mut s = [0u8; SLOT];
    s[..4].copy_from_slice(MAGIC);
    s[4..12].copy_from_slice(&seq.to_le_bytes());
    s[12..20].copy_from_slice(&committed.to_le_bytes());
    let sum = blake3::hash(&s[..20]);
    s[20..28].copy_from_slice(&sum.as_bytes()[..8]);
    s
}

fn decode(s: &[u8]) -> Option<(u64, u64)> {
    if s.len() < SLOT || &s[..4] != MAGIC {
        return None;
    }
    let sum = blake3::hash(&s[..20]);
    if s[20..28] != sum.as_bytes()[..8] {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s.get(r)?.try_into().ok().map(u64::from_le_bytes);
    Some((n(4..12)?, n(12..20)?))
}

fn parse(bytes: &[u8]) -> Option<(u64, u64)> {
    let a = bytes.get(..SLOT).and_then(decode);
    let b = bytes.get(SLOT..2 * SLOT).and_then(decode);
    match (a, b) {
        (Some(a), Some(b)) => Some(if a.0 >= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

fn overlay_len(overlay: &Path) -> std::io::Result<u64> {
    match std::fs::metadata(overlay) {
        Ok(m) => Ok(m.len()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(0),
        Err(e) => Err(e),
    }
}

/// The committed length of `overlay` (its record, or its length when it has none).
pub fn committed(overlay: &Path) -> std::io::Result<u64> {
    let record = record_path(overlay);
    match std::fs::read(&record) {
        Ok(b) => parse(&b).map(|(_, c)| c).ok_or_else(|| {
            std::io::Error::other(format!("{}: no valid commit record", record.display()))
        }),
        Err(e) if e.kind() == ErrorKind::NotFound => overlay_len(overlay),
        Err(e) => Err(e),
    }
}

impl CommitPoint {
    /// Open (or durably create) the record of `overlay`.
    pub fn open(overlay: &Path) -> std::io::Result<CommitPoint> {
        let record = record_path(overlay);
        match OpenOptions::new().read(true).write(true).open(&record) {
            Ok(file) => {
                let mut b = [0u8; 2 * SLOT];
                let n = file.read_at(&mut b, 0)?;
                let (seq, committed) = parse(&b[..n]).ok_or_else(|| {
                    std::io::Error::other(format!("{}: no valid commit record", record.display()))
                })?;
                Ok(CommitPoint {
                    file,
                    seq,
                    committed,
                })
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {
                let committed = overlay_len(overlay)?;
                let tmp = record.with_extension("commit.tmp");
                let file = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(&tmp)?;
                let mut b = [0u8; 2 * SLOT];
                // Sequence 1 goes where `advance` would put it (odd: second slot).
                b[SLOT..].copy_from_slice(&encode(1, committed));
                file.write_all_at(&b, 0)?;
                file.sync_all()?;
                std::fs::rename(&tmp, &record)?;
                if let Some(dir) = record.parent() {
                    File::open(dir)?.sync_all()?;
                }
                Ok(CommitPoint {
                    file,
                    seq: 1,
                    committed,
                })
            }
            Err(e) => Err(e),
        }
    }

    pub fn committed(&self) -> u64 {
        self.committed
    }

    /// Move the commit point to `to` and make it durable. The caller has synced the
    /// overlay's bytes up to `to` first.
    pub fn advance(&mut self, to: u64) -> std::io::Result<()> {
        let seq = self.seq + 1;
        let slot = (seq % 2) * SLOT as u64;
        self.file.write_all_at(&encode(seq, to), slot)?;
        self.file.sync_data()?;
        self.seq = seq;
        self.committed = to;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_survives_reopen_and_a_torn_slot() {
        let dir = tempfile::tempdir().unwrap();
        let overlay = dir.path().join("overlay");
        std::fs::write(&overlay, b"0123456789").unwrap();
        // No record: the legacy rule (length = committed).
        assert_eq!(committed(&overlay).unwrap(), 10);
        let mut cp = CommitPoint::open(&overlay).unwrap();
        assert_eq!(cp.committed(), 10);
        // Unverified bytes past the commit point do not count.
        std::fs::write(&overlay, b"0123456789abcdef").unwrap();
        assert_eq!(committed(&overlay).unwrap(), 10);
        cp.advance(16).unwrap();
        cp.advance(20).unwrap();
        assert_eq!(committed(&overlay).unwrap(), 20);
        assert_eq!(CommitPoint::open(&overlay).unwrap().committed(), 20);
        // Tear the newest slot: the previous commit point is what remains.
        let rec = record_path(&overlay);
        let mut b = std::fs::read(&rec).unwrap();
        let newest = if decode(&b[..SLOT]).unwrap().0 == 3 {
            0
        } else {
            SLOT
        };
        b[newest + 14] ^= 0xff;
        std::fs::write(&rec, &b).unwrap();
        assert_eq!(committed(&overlay).unwrap(), 16);
        // Both slots bad: an error, never a guess.
        b[(SLOT - newest) + 14] ^= 0xff;
        std::fs::write(&rec, &b).unwrap();
        assert!(committed(&overlay).is_err());
    }
}
