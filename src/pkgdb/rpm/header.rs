//! The rpm header blob, as every rpmdb backend stores it (no 8-byte lead magic):
//! `u32 il, u32 dl, il × {i32 tag, u32 type, i32 offset, u32 count}, dl bytes of data`,
//! all big-endian. Layout, limits and the region/dribble rules:
//! `../shared/docs/package-databases.md` §1d. Input is hostile: every count, offset and
//! string is checked against rpm's own limits before it is used.

use std::collections::HashMap;

/// rpm's limits (lib/header.cc): entries, data bytes, elements per array.
const MAX_ENTRIES: u32 = 0xffff;
const MAX_DATA: u32 = 0x0fff_ffff;
const MAX_ARRAY: u32 = 0xfffff;

pub const TAG_HEADERIMAGE: u32 = 61;
pub const TAG_HEADERSIGNATURES: u32 = 62;
pub const TAG_HEADERIMMUTABLE: u32 = 63;

pub mod tag {
    pub const NAME: u32 = 1000;
    pub const VERSION: u32 = 1001;
    pub const RELEASE: u32 = 1002;
    pub const EPOCH: u32 = 1003;
    pub const ARCH: u32 = 1022;
    pub const OLDFILENAMES: u32 = 1027;
    pub const FILESIZES: u32 = 1028;
    pub const FILESTATES: u32 = 1029;
    pub const FILEMODES: u32 = 1030;
    pub const FILERDEVS: u32 = 1033;
    pub const FILEMTIMES: u32 = 1034;
    pub const FILEDIGESTS: u32 = 1035;
    pub const FILELINKTOS: u32 = 1036;
    pub const FILEFLAGS: u32 = 1037;
    pub const FILEUSERNAME: u32 = 1039;
    pub const FILEGROUPNAME: u32 = 1040;
    pub const FILEVERIFYFLAGS: u32 = 1045;
    pub const FILEDEVICES: u32 = 1095;
    pub const FILEINODES: u32 = 1096;
    pub const DIRINDEXES: u32 = 1116;
    pub const BASENAMES: u32 = 1117;
    pub const DIRNAMES: u32 = 1118;
    pub const FILECOLORS: u32 = 1140;
    pub const LONGFILESIZES: u32 = 5008;
    pub const FILECAPS: u32 = 5010;
    pub const FILEDIGESTALGO: u32 = 5011;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Kind {
    Null = 0,
    Char = 1,
    Int8 = 2,
    Int16 = 3,
    Int32 = 4,
    Int64 = 5,
    String = 6,
    Bin = 7,
    StringArray = 8,
    I18nString = 9,
}

impl Kind {
    fn from_u32(v: u32) -> Option<Kind> {
        Some(match v {
            0 => Kind::Null,
            1 => Kind::Char,
            2 => Kind::Int8,
            3 => Kind::Int16,
            4 => Kind::Int32,
            5 => Kind::Int64,
            6 => Kind::String,
            7 => Kind::Bin,
            8 => Kind::StringArray,
            9 => Kind::I18nString,
            _ => return None,
        })
    }

    /// Element size, which is also the required alignment of the data offset.
    fn width(self) -> usize {
        match self {
            Kind::Int16 => 2,
            Kind::Int32 => 4,
            Kind::Int64 => 8,
            _ => 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rpm header: {message} (byte {offset})")]
pub struct HeaderError {
    pub offset: usize,
    pub message: String,
}

fn err(offset: usize, message: impl Into<String>) -> HeaderError {
    HeaderError {
        offset,
        message: message.into(),
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    kind: Kind,
    /// Start of the element bytes within `data`.
    start: usize,
    /// End (exclusive) within `data`, computed and checked at parse time.
    end: usize,
    count: u32,
}

/// A parsed header: a map from tag to its checked data range.
#[derive(Debug)]
pub struct Header<'a> {
    data: &'a [u8],
    entries: HashMap<u32, Entry>,
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

impl<'a> Header<'a> {
    pub fn parse(blob: &'a [u8]) -> Result<Header<'a>, HeaderError> {
        let il = be32(blob, 0).ok_or_else(|| err(0, "shorter than 8 bytes"))?;
        let dl = be32(blob, 4).ok_or_else(|| err(4, "shorter than 8 bytes"))?;
        if il == 0 || il > MAX_ENTRIES {
            return Err(err(
                0,
                format!("{il} index entries (allowed 1..={MAX_ENTRIES})"),
            ));
        }
        if dl > MAX_DATA {
            return Err(err(4, format!("{dl} data bytes (limit {MAX_DATA})")));
        }
        let data_start = 8 + 16 * il as usize;
        let data_end = data_start + dl as usize;
        if blob.len() < data_end {
            return Err(err(
                blob.len(),
                format!(
                    "truncated: {il} entries and {dl} data bytes need {data_end} bytes, have {}",
                    blob.len()
                ),
            ));
        }
        let data = &blob[data_start..data_end];
        let mut raw = Vec::with_capacity(il as usize);
        for i in 0..il as usize {
            let at = 8 + 16 * i;
            let (Some(t), Some(k), Some(o), Some(c)) = (
                be32(blob, at),
                be32(blob, at + 4),
                be32(blob, at + 8),
                be32(blob, at + 12),
            ) else {
                return Err(err(at, "truncated index entry"));
            };
            raw.push((t, k, o as i32, c, at));
        }

        // Region: entry 0 may be a HEADERIMMUTABLE (or signature/image) tag whose trailer
        // says how many entries belong to the immutable region; the rest are "dribble"
        // entries added at install time, which override region entries of the same tag.
        let mut entries = HashMap::with_capacity(raw.len());
        let (first_tag, first_kind, first_off, first_count, first_at) = raw[0];
        let region_entries = if (TAG_HEADERIMAGE..=TAG_HEADERIMMUTABLE).contains(&first_tag) {
            if first_kind != Kind::Bin as u32 || first_count != 16 {
                return Err(err(first_at, "region tag is not a 16-byte BIN"));
            }
            let off = usize::try_from(first_off)
                .ok()
                .filter(|o| o + 16 <= data.len())
                .ok_or_else(|| err(first_at, "region trailer outside the data"))?;
            let trailer_off = be32(data, off + 8).unwrap_or(0) as i32;
            let ril = trailer_off
                .checked_neg()
                .filter(|n| *n > 0 && n % 16 == 0)
                .map(|n| (n / 16) as usize)
                .filter(|&n| n <= raw.len())
                .ok_or_else(|| {
                    err(
                        data_start + off,
                        format!("bad region trailer offset {trailer_off}"),
                    )
                })?;
            ril
        } else {
            0
        };
        let mut dribble_basenames = false;
        for (i, &(t, k, o, c, at)) in raw.iter().enumerate() {
            if i == 0 && region_entries > 0 {
                continue;
            }
            if t < 100 {
                // Signature/region tags other than entry 0 carry nothing we read.
                continue;
            }
            let e = check_entry(data, t, k, o, c).map_err(|m| err(at, format!("tag {t}: {m}")))?;
            if i >= region_entries.max(1) && region_entries > 0 && t == tag::BASENAMES {
                dribble_basenames = true;
            }
            // Later entries (dribble) replace earlier ones (region).
            entries.insert(t, e);
        }
        if dribble_basenames {
            entries.remove(&tag::OLDFILENAMES);
        }
        Ok(Header { data, entries })
    }

    pub fn has(&self, t: u32) -> bool {
        self.entries.contains_key(&t)
    }

    fn bytes(&self, t: u32) -> Option<(&'a [u8], Entry)> {
        let e = *self.entries.get(&t)?;
        Some((&self.data[e.start..e.end], e))
    }

    /// A STRING (or element 0 of a STRING_ARRAY/I18NSTRING), without its NUL.
    pub fn string(&self, t: u32) -> Option<&'a [u8]> {
        let (b, e) = self.bytes(t)?;
        match e.kind {
            Kind::String | Kind::StringArray | Kind::I18nString => b.split(|&c| c == 0).next(),
            _ => None,
        }
    }

    pub fn string_lossy(&self, t: u32) -> Option<String> {
        self.string(t)
            .map(|s| String::from_utf8_lossy(s).into_owned())
    }

    /// A STRING_ARRAY: exactly `count` NUL-terminated strings (checked at parse time).
    pub fn string_array(&self, t: u32) -> Option<Vec<&'a [u8]>> {
        let (b, e) = self.bytes(t)?;
        match e.kind {
            Kind::StringArray | Kind::I18nString | Kind::String => {
                let mut v: Vec<&[u8]> = b.split(|&c| c == 0).collect();
                v.truncate(e.count as usize);
                Some(v)
            }
            _ => None,
        }
    }

    /// Integer arrays of any width, widened to u64 (INT32 is read as unsigned, as rpm does).
    pub fn ints(&self, t: u32) -> Option<Vec<u64>> {
        let (b, e) = self.bytes(t)?;
        let w = e.kind.width();
        match e.kind {
            Kind::Char | Kind::Int8 | Kind::Int16 | Kind::Int32 | Kind::Int64 => Some(
                b.chunks_exact(w)
                    .map(|c| c.iter().fold(0u64, |acc, &x| acc << 8 | u64::from(x)))
                    .collect(),
            ),
            _ => None,
        }
    }

    pub fn int(&self, t: u32) -> Option<u64> {
        self.ints(t)?.first().copied()
    }

    /// BIN data.
    pub fn bin(&self, t: u32) -> Option<&'a [u8]> {
        let (b, e) = self.bytes(t)?;
        (e.kind == Kind::Bin).then_some(b)
    }
}

/// Validate one index entry against the data area and compute its byte range.
fn check_entry(
    data: &[u8],
    _tag: u32,
    kind: u32,
    offset: i32,
    count: u32,
) -> Result<Entry, String> {
    let kind = Kind::from_u32(kind).ok_or_else(|| format!("unknown type {kind}"))?;
    let start = usize::try_from(offset).map_err(|_| format!("negative offset {offset}"))?;
    if start > data.len() {
        return Err(format!("offset {start} beyond {} data bytes", data.len()));
    }
    if start % kind.width() != 0 {
        return Err(format!("offset {start} not aligned for type {kind:?}"));
    }
    // BIN counts are bytes and may exceed the array limit; everything else may not.
    let limit = if kind == Kind::Bin {
        MAX_DATA
    } else {
        MAX_ARRAY
    };
    if count == 0 || count > limit {
        return Err(format!("count {count} out of range"));
    }
    let end = match kind {
        Kind::Null => start,
        Kind::String | Kind::StringArray | Kind::I18nString => {
            if kind == Kind::String && count != 1 {
                return Err(format!("STRING with count {count}"));
            }
            // `count` NUL-terminated strings must lie inside the data.
            let mut pos = start;
            for _ in 0..count {
                let nul = data[pos..]
                    .iter()
                    .position(|&c| c == 0)
                    .ok_or_else(|| "unterminated string".to_string())?;
                pos += nul + 1;
            }
            pos
        }
        _ => {
            let len = (count as usize)
                .checked_mul(kind.width())
                .ok_or_else(|| "size overflow".to_string())?;
            let end = start + len;
            if end > data.len() {
                return Err(format!(
                    "{count} elements at {start} run past {} data bytes",
                    data.len()
                ));
            }
            end
        }
    };
    Ok(Entry {
        kind,
        start,
        end,
        count,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Build a header blob from (tag, kind, bytes, count) with proper alignment, and an
    /// optional immutable region covering the first `region` entries.
    pub fn build(entries: &[(u32, Kind, Vec<u8>, u32)], region: Option<usize>) -> Vec<u8> {
        let mut data = Vec::new();
        let mut index = Vec::new();
        let n = entries.len() + usize::from(region.is_some());
        for (t, k, bytes, count) in entries {
            while data.len() % k.width() != 0 {
                data.push(0);
            }
            index.push((*t, *k as u32, data.len() as i32, *count));
            data.extend_from_slice(bytes);
        }
        if let Some(ril) = region {
            let off = data.len() as i32;
            data.extend_from_slice(&TAG_HEADERIMMUTABLE.to_be_bytes());
            data.extend_from_slice(&(Kind::Bin as u32).to_be_bytes());
            data.extend_from_slice(&(-((ril as i32 + 1) * 16)).to_be_bytes());
            data.extend_from_slice(&16u32.to_be_bytes());
            index.insert(0, (TAG_HEADERIMMUTABLE, Kind::Bin as u32, off, 16));
        }
        let mut blob = Vec::new();
        blob.extend_from_slice(&(n as u32).to_be_bytes());
        blob.extend_from_slice(&(data.len() as u32).to_be_bytes());
        for (t, k, o, c) in index {
            blob.extend_from_slice(&t.to_be_bytes());
            blob.extend_from_slice(&k.to_be_bytes());
            blob.extend_from_slice(&o.to_be_bytes());
            blob.extend_from_slice(&c.to_be_bytes());
        }
        blob.extend_from_slice(&data);
        blob
    }

    fn s(x: &str) -> Vec<u8> {
        let mut v = x.as_bytes().to_vec();
        v.push(0);
        v
    }

    #[test]
    fn reads_strings_ints_and_arrays() {
        let blob = build(
            &[
                (tag::NAME, Kind::String, s("bash"), 1),
                (tag::EPOCH, Kind::Int32, 2u32.to_be_bytes().to_vec(), 1),
                (tag::FILEMODES, Kind::Int16, vec![0x81, 0xed, 0xa1, 0xff], 2),
                (
                    tag::BASENAMES,
                    Kind::StringArray,
                    [s("a"), s("b")].concat(),
                    2,
                ),
            ],
            None,
        );
        let h = Header::parse(&blob).unwrap();
        assert_eq!(h.string(tag::NAME), Some(&b"bash"[..]));
        assert_eq!(h.int(tag::EPOCH), Some(2));
        assert_eq!(h.ints(tag::FILEMODES), Some(vec![0o100755, 0o120777]));
        assert_eq!(
            h.string_array(tag::BASENAMES),
            Some(vec![&b"a"[..], &b"b"[..]])
        );
        assert!(h.string(tag::ARCH).is_none());
    }

    #[test]
    fn dribble_overrides_region() {
        let blob = build(
            &[
                (tag::NAME, Kind::String, s("old"), 1),
                (tag::NAME, Kind::String, s("new"), 1),
            ],
            Some(1),
        );
        let h = Header::parse(&blob).unwrap();
        assert_eq!(h.string(tag::NAME), Some(&b"new"[..]));
    }

    #[test]
    fn hostile_headers_are_errors_not_panics() {
        assert!(Header::parse(b"").is_err());
        assert!(Header::parse(&[0, 0, 0, 1, 0, 0, 0, 0]).is_err());
        let good = build(&[(tag::NAME, Kind::String, s("x"), 1)], None);
        // Every truncation fails cleanly.
        for n in 0..good.len() {
            assert!(Header::parse(&good[..n]).is_err(), "truncated at {n}");
        }
        // Unterminated string.
        let bad = build(&[(tag::NAME, Kind::String, b"abc".to_vec(), 1)], None);
        assert!(Header::parse(&bad).is_err());
        // Huge counts.
        let bad = build(
            &[(tag::FILESIZES, Kind::Int32, vec![0; 4], 0x00ff_ffff)],
            None,
        );
        assert!(Header::parse(&bad).is_err());
        // Every single-byte corruption either parses or errors, never panics.
        for i in 0..good.len() {
            for v in [0u8, 0xff, 0x80, 0x7f] {
                let mut b = good.clone();
                b[i] = v;
                let _ = Header::parse(&b);
            }
        }
    }
}
