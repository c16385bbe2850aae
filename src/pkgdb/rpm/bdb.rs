//! Berkeley DB hash `Packages` (rpm up to 4.15: RHEL/CentOS 5–8, Amazon Linux 2, SLE ≤ 15 SP2),
//! read without libdb. Both byte orders; hash versions 8–10; offpage (overflow) chains.
//! Layout: `../shared/docs/package-databases.md` §1b. Every page number is checked against
//! `last_pgno` and every chain is bounded, so a corrupt file gives an error, never a loop.

const HASH_MAGIC: u32 = 0x0006_1561;
const PAGE_HEADER: usize = 26;
const P_HASH_UNSORTED: u8 = 2;
const P_OVERFLOW: u8 = 7;
const P_HASHMETA: u8 = 8;
const P_HASH: u8 = 13;
const H_KEYDATA: u8 = 1;
const H_OFFPAGE: u8 = 3;

#[derive(Debug, thiserror::Error)]
#[error("{message} (page {page}, byte {offset})")]
pub struct BdbError {
    pub page: u32,
    pub offset: usize,
    pub message: String,
}

fn err(page: u32, offset: usize, message: impl Into<String>) -> BdbError {
    BdbError {
        page,
        offset,
        message: message.into(),
    }
}

struct Db<'a> {
    bytes: &'a [u8],
    swap: bool,
    page_size: usize,
    last_pgno: u32,
}

impl Db<'_> {
    fn u32_at(&self, at: usize) -> Option<u32> {
        let b: [u8; 4] = self.bytes.get(at..at + 4)?.try_into().ok()?;
        Some(if self.swap {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    fn u16_at(&self, at: usize) -> Option<u16> {
        let b: [u8; 2] = self.bytes.get(at..at + 2)?.try_into().ok()?;
        Some(if self.swap {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }

    fn page(&self, pgno: u32) -> Result<&[u8], BdbError> {
        if pgno > self.last_pgno {
            return Err(err(
                pgno,
                0,
                format!("page beyond last_pgno {}", self.last_pgno),
            ));
        }
        let start = pgno as usize * self.page_size;
        self.bytes
            .get(start..start + self.page_size)
            .ok_or_else(|| err(pgno, start, "page beyond the end of the file"))
    }

    fn page_u32(&self, pgno: u32, at: usize) -> u32 {
        self.u32_at(pgno as usize * self.page_size + at)
            .unwrap_or(0)
    }
    fn page_u16(&self, pgno: u32, at: usize) -> u16 {
        self.u16_at(pgno as usize * self.page_size + at)
            .unwrap_or(0)
    }
}

/// True when the file starts like a BDB hash database (either byte order).
pub fn looks_like(bytes: &[u8]) -> bool {
    bytes
        .get(12..16)
        .map(|m| {
            let m: [u8; 4] = [m[0], m[1], m[2], m[3]];
            u32::from_le_bytes(m) == HASH_MAGIC || u32::from_be_bytes(m) == HASH_MAGIC
        })
        .unwrap_or(false)
}

/// One package: its key (rpm's header instance number) and header blob.
pub type Record = (u32, Vec<u8>);

/// All (key, header blob) records of a `Packages` file, skipping key 0 (rpm's instance counter).
pub fn read_records(bytes: &[u8]) -> Result<Vec<Record>, BdbError> {
    let magic = bytes
        .get(12..16)
        .ok_or_else(|| err(0, 12, "file shorter than a meta page"))?;
    let magic: [u8; 4] = [magic[0], magic[1], magic[2], magic[3]];
    let swap = if u32::from_le_bytes(magic) == HASH_MAGIC {
        false
    } else if u32::from_be_bytes(magic) == HASH_MAGIC {
        true
    } else {
        return Err(err(0, 12, "not a Berkeley DB hash file (bad magic)"));
    };
    let mut db = Db {
        bytes,
        swap,
        page_size: 0,
        last_pgno: 0,
    };
    let version = db.u32_at(16).unwrap_or(0);
    if !(8..=10).contains(&version) {
        return Err(err(
            0,
            16,
            format!("hash version {version} (supported 8-10)"),
        ));
    }
    let page_size = db.u32_at(20).unwrap_or(0) as usize;
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(err(0, 20, format!("page size {page_size}")));
    }
    if bytes.get(24) != Some(&0) {
        return Err(err(0, 24, "encrypted database"));
    }
    if bytes.get(25) != Some(&P_HASHMETA) {
        return Err(err(0, 25, "page 0 is not a hash meta page"));
    }
    if bytes.get(26).is_some_and(|f| f & 1 != 0) {
        return Err(err(0, 26, "page checksums are not supported"));
    }
    db.page_size = page_size;
    let last_pgno = db.u32_at(32).unwrap_or(0);
    // A truncated file must not make us read past its end: clamp to what is there.
    let pages_in_file = (bytes.len() / page_size) as u32;
    if pages_in_file == 0 {
        return Err(err(0, 0, "file shorter than one page"));
    }
    db.last_pgno = last_pgno.min(pages_in_file - 1);
    let max_bucket = db.u32_at(72).unwrap_or(0);
    if max_bucket > db.last_pgno {
        return Err(err(
            0,
            72,
            format!("max_bucket {max_bucket} beyond last_pgno {}", db.last_pgno),
        ));
    }
    let mut spares = [0u32; 32];
    for (i, s) in spares.iter_mut().enumerate() {
        *s = db.u32_at(96 + 4 * i).unwrap_or(0);
    }

    let mut out = Vec::new();
    let mut visited = vec![false; db.last_pgno as usize + 1];
    for bucket in 0..=max_bucket {
        let bits = 32 - bucket.leading_zeros();
        let mut pgno = bucket
            .checked_add(spares[bits as usize])
            .ok_or_else(|| err(0, 96, format!("bucket {bucket}: page number overflow")))?;
        // Follow the bucket's overflow bucket pages; each page is visited at most once.
        while pgno != 0 {
            if visited.get(pgno as usize).copied().unwrap_or(true) {
                return Err(err(
                    pgno,
                    0,
                    format!("bucket {bucket}: page chain loops or leaves the file"),
                ));
            }
            visited[pgno as usize] = true;
            let page = db.page(pgno)?;
            let ptype = page[25];
            if ptype != P_HASH && ptype != P_HASH_UNSORTED {
                return Err(err(
                    pgno,
                    25,
                    format!("bucket {bucket}: page type {ptype}, expected hash"),
                ));
            }
            read_bucket_page(&db, pgno, page, &mut out)?;
            pgno = db.page_u32(pgno, 16);
        }
    }
    Ok(out)
}

fn read_bucket_page(
    db: &Db,
    pgno: u32,
    page: &[u8],
    out: &mut Vec<Record>,
) -> Result<(), BdbError> {
    let entries = db.page_u16(pgno, 20) as usize;
    if PAGE_HEADER + 2 * entries > db.page_size {
        return Err(err(
            pgno,
            20,
            format!("{entries} entries do not fit the page"),
        ));
    }
    let inp = |i: usize| db.page_u16(pgno, PAGE_HEADER + 2 * i) as usize;
    for i in (0..entries.saturating_sub(1)).step_by(2) {
        // Items are packed downward from the page end: key i ends where item i-1 starts.
        let key_end = if i == 0 { db.page_size } else { inp(i - 1) };
        let (key_start, data_start) = (inp(i), inp(i + 1));
        if !(PAGE_HEADER <= data_start
            && data_start <= key_start
            && key_start <= key_end
            && key_end <= db.page_size)
        {
            return Err(err(pgno, PAGE_HEADER + 2 * i, "item offsets out of order"));
        }
        let key = &page[key_start..key_end];
        let data = &page[data_start..key_start];
        if key.first() != Some(&H_KEYDATA) || key.len() != 5 {
            return Err(err(
                pgno,
                key_start,
                "package key is not a 4-byte inline key",
            ));
        }
        let kb: [u8; 4] = [key[1], key[2], key[3], key[4]];
        let key_num = if db.swap {
            u32::from_be_bytes(kb)
        } else {
            u32::from_le_bytes(kb)
        };
        if key_num == 0 {
            continue; // rpm's "largest instance" counter, not a package
        }
        let value = match data.first() {
            Some(&H_KEYDATA) => data[1..].to_vec(),
            Some(&H_OFFPAGE) if data.len() >= 12 => {
                let first = db
                    .u32_at(pgno as usize * db.page_size + data_start + 4)
                    .unwrap_or(0);
                let total = db
                    .u32_at(pgno as usize * db.page_size + data_start + 8)
                    .unwrap_or(0);
                read_overflow(db, first, total as usize)?
            }
            _ => return Err(err(pgno, data_start, "unsupported data item type")),
        };
        out.push((key_num, value));
    }
    Ok(())
}

/// Concatenate an overflow chain; bounded by the page count and the declared length.
fn read_overflow(db: &Db, first: u32, total: usize) -> Result<Vec<u8>, BdbError> {
    if total > db.bytes.len() {
        return Err(err(
            first,
            0,
            format!("overflow length {total} exceeds the file size"),
        ));
    }
    let mut out = Vec::with_capacity(total);
    let mut pgno = first;
    let mut hops = 0u32;
    while pgno != 0 {
        hops += 1;
        if hops > db.last_pgno + 1 {
            return Err(err(pgno, 0, "overflow chain longer than the file"));
        }
        let page = db.page(pgno)?;
        if page[25] != P_OVERFLOW {
            return Err(err(
                pgno,
                25,
                format!("overflow chain reaches a page of type {}", page[25]),
            ));
        }
        let used = db.page_u16(pgno, 22) as usize;
        if PAGE_HEADER + used > db.page_size || out.len() + used > total {
            return Err(err(pgno, 22, format!("overflow page uses {used} bytes")));
        }
        out.extend_from_slice(&page[PAGE_HEADER..PAGE_HEADER + used]);
        pgno = db.page_u32(pgno, 16);
    }
    if out.len() != total {
        return Err(err(
            first,
            0,
            format!("overflow chain holds {} of {total} bytes", out.len()),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pkgdb::rpm::header::{tag, Header};
    use crate::shared_fixtures::pkgdb_fixture;

    fn names(path: &str) -> Option<Vec<String>> {
        let p = pkgdb_fixture(path)?;
        let recs = read_records(&std::fs::read(&p).unwrap()).unwrap();
        let mut v: Vec<String> = recs
            .iter()
            .map(|(_, b)| Header::parse(b).unwrap().string_lossy(tag::NAME).unwrap())
            .collect();
        v.sort();
        Some(v)
    }

    #[test]
    fn single_package_fixtures() {
        if let Some(n) = names("rpm-bdb/rhel8-libuuid/Packages") {
            assert_eq!(n, vec!["libuuid"]);
        }
        if let Some(n) = names("rpm-bdb/ubi7-tzdata/Packages") {
            assert_eq!(n, vec!["tzdata"]);
        }
        if let Some(n) = names("rpm-bdb/centos8-dive/Packages") {
            assert_eq!(n, vec!["dive"]);
        }
    }

    #[test]
    fn multi_bucket_fixture_has_129_packages() {
        if let Some(n) = names("rpm-bdb/derived-mariner2-le/Packages") {
            assert_eq!(n.len(), 129);
            assert!(n.iter().any(|x| x == "curl"));
        }
    }

    #[test]
    fn corrupt_files_are_errors() {
        let Some(p) = pkgdb_fixture("rpm-bdb/rhel8-libuuid/Packages") else {
            return;
        };
        let good = std::fs::read(p).unwrap();
        assert!(read_records(&good[..100]).is_err());
        assert!(read_records(&good[..4096 * 3]).is_err());
        // Flip bytes across the meta page and the first bucket pages: never a panic or hang.
        for i in (0..good.len().min(3 * 4096)).step_by(7) {
            let mut b = good.clone();
            b[i] ^= 0xff;
            let _ = read_records(&b);
        }
    }
}
