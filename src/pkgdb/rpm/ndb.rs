//! SUSE's NDB `Packages.db` (rpm ≥ 4.15, SLE ≥ 15 SP3, openSUSE), read without librpm.
//! Slots point at blobs framed by a head (`BlbS`) and a tail (`BlbE`) with an Adler-32 of
//! everything before the tail. Layout: `../shared/docs/package-databases.md` §1c.

use super::bdb::Record;

const FILE_MAGIC: u32 = u32::from_le_bytes(*b"RpmP");
const SLOT_MAGIC: u32 = u32::from_le_bytes(*b"Slot");
const BLOB_HEAD: u32 = u32::from_le_bytes(*b"BlbS");
const BLOB_TAIL: u32 = u32::from_le_bytes(*b"BlbE");
const BLOCK: usize = 16;
const SLOT_PAGE: usize = 4096;
/// The header occupies the first two 16-byte slots of the slot area.
const HEADER_SLOTS: usize = 2;

#[derive(Debug, thiserror::Error)]
#[error("{message} (byte {offset})")]
pub struct NdbError {
    pub offset: usize,
    pub message: String,
}

fn err(offset: usize, message: impl Into<String>) -> NdbError {
    NdbError {
        offset,
        message: message.into(),
    }
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

pub fn looks_like(bytes: &[u8]) -> bool {
    le32(bytes, 0) == Some(FILE_MAGIC)
}

/// Adler-32 (RFC 1950), initial value 1.
pub fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65521;
    let (mut a, mut b) = (1u32, 0u32);
    // 5552 is the largest n such that sums cannot overflow u32 before the modulo.
    for chunk in data.chunks(5552) {
        for &x in chunk {
            a += u32::from(x);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    b << 16 | a
}

/// All (package index, header blob) records, in slot order.
pub fn read_records(bytes: &[u8]) -> Result<Vec<Record>, NdbError> {
    if !looks_like(bytes) {
        return Err(err(0, "not an NDB Packages.db (bad magic)"));
    }
    let version = le32(bytes, 4).unwrap_or(u32::MAX);
    if version != 0 {
        return Err(err(4, format!("NDB version {version} (supported: 0)")));
    }
    let slot_pages = le32(bytes, 12).unwrap_or(0) as usize;
    let slot_area = slot_pages
        .checked_mul(SLOT_PAGE)
        .filter(|&n| n > 0 && n <= bytes.len())
        .ok_or_else(|| err(12, format!("{slot_pages} slot pages do not fit the file")))?;
    let file_blocks = bytes.len() / BLOCK;
    let mut out = Vec::new();
    for slot in HEADER_SLOTS..slot_area / BLOCK {
        let at = slot * BLOCK;
        let (Some(magic), Some(pkgidx), Some(blkoff), Some(blkcnt)) = (
            le32(bytes, at),
            le32(bytes, at + 4),
            le32(bytes, at + 8),
            le32(bytes, at + 12),
        ) else {
            break;
        };
        if magic != SLOT_MAGIC {
            return Err(err(at, format!("slot {slot}: bad magic {magic:#x}")));
        }
        if blkoff == 0 {
            continue; // free slot (rpm's own test)
        }
        let (blkoff, blkcnt) = (blkoff as usize, blkcnt as usize);
        if blkoff < slot_area / BLOCK || blkoff.saturating_add(blkcnt) > file_blocks || blkcnt < 2 {
            return Err(err(
                at,
                format!("slot {slot}: blob blocks {blkoff}+{blkcnt} outside the data area"),
            ));
        }
        let start = blkoff * BLOCK;
        let area = &bytes[start..start + blkcnt * BLOCK];
        let head = |o: usize| le32(area, o).unwrap_or(0);
        if head(0) != BLOB_HEAD {
            return Err(err(
                start,
                format!("package {pkgidx}: blob head magic missing"),
            ));
        }
        if head(4) != pkgidx {
            return Err(err(
                start + 4,
                format!("blob belongs to package {}, slot says {pkgidx}", head(4)),
            ));
        }
        let bloblen = head(12) as usize;
        let need = (BLOCK + bloblen + 12).div_ceil(BLOCK);
        if need != blkcnt {
            return Err(err(
                start + 12,
                format!("package {pkgidx}: blob of {bloblen} bytes cannot fill {blkcnt} blocks"),
            ));
        }
        let tail = area.len() - 12;
        let (sum, tail_len, tail_magic) = (head(tail), head(tail + 4) as usize, head(tail + 8));
        if tail_magic != BLOB_TAIL || tail_len != bloblen {
            return Err(err(
                start + tail,
                format!("package {pkgidx}: blob tail does not match its head"),
            ));
        }
        let actual = adler32(&area[..tail]);
        if actual != sum {
            return Err(err(
                start + tail,
                format!("package {pkgidx}: Adler-32 {actual:#010x}, stored {sum:#010x}"),
            ));
        }
        out.push((pkgidx, area[BLOCK..BLOCK + bloblen].to_vec()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pkgdb::rpm::header::{tag, Header};
    use crate::shared_fixtures::pkgdb_fixture;

    #[test]
    fn adler32_known_value() {
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
        assert_eq!(adler32(b""), 1);
    }

    #[test]
    fn sle15_fixture_has_35_packages() {
        let Some(p) = pkgdb_fixture("rpm-ndb/sle15-bci/Packages.db") else {
            return;
        };
        let bytes = std::fs::read(p).unwrap();
        let recs = read_records(&bytes).unwrap();
        assert_eq!(recs.len(), 35);
        let bash = recs
            .iter()
            .map(|(_, b)| Header::parse(b).unwrap())
            .find(|h| h.string(tag::NAME) == Some(&b"bash"[..]))
            .expect("bash");
        assert_eq!(bash.string_array(tag::BASENAMES).map(|v| v.len()), Some(90));
    }

    #[test]
    fn corruption_is_detected_not_panicked() {
        let Some(p) = pkgdb_fixture("rpm-ndb/sle15-bci/Packages.db") else {
            return;
        };
        let good = std::fs::read(p).unwrap();
        assert!(read_records(&good[..20]).is_err());
        // A flipped byte inside the first blob must fail the Adler-32 check.
        let recs_start = {
            let off = le32(&good, 2 * BLOCK + 8).unwrap() as usize * BLOCK;
            off + BLOCK + 40
        };
        let mut b = good.clone();
        b[recs_start] ^= 0x01;
        let e = read_records(&b).unwrap_err();
        assert!(e.message.contains("Adler-32"), "{e}");
        for i in (0..good.len()).step_by(good.len() / 97 + 1) {
            let mut b = good.clone();
            b[i] ^= 0xa5;
            let _ = read_records(&b);
        }
    }
}
