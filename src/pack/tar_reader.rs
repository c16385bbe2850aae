//! Reading back the tar stream of an export (for `verify`, and later `extract`/`inspect`):
//! ustar headers with PAX extended headers, checked strictly — a checksum, a size or a
//! record that is off is an error naming the member, never a guess. Bounded: PAX headers
//! over 1 MiB are refused; data is streamed to the caller, never held.

use std::collections::BTreeMap;
use std::io::Read;

use super::tar_header::BLOCK;

const MAX_PAX: u64 = 1 << 20;

/// One member, as its headers describe it.
#[derive(Debug, Clone, Default)]
pub struct MemberHeader {
    pub path: Vec<u8>,
    pub typeflag: u8,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// Bytes of data after the header.
    pub size: u64,
    pub link: Vec<u8>,
    pub pax: BTreeMap<String, Vec<u8>>,
}

#[derive(Debug, thiserror::Error)]
pub enum TarError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("tar byte {offset}: {message}")]
    Bad { offset: u64, message: String },
}

fn bad(offset: u64, message: impl Into<String>) -> TarError {
    TarError::Bad {
        offset,
        message: message.into(),
    }
}

fn parse_octal(field: &[u8]) -> Option<u64> {
    let s: Vec<u8> = field
        .iter()
        .copied()
        .take_while(|&c| c != 0)
        .filter(|&c| c != b' ')
        .collect();
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(std::str::from_utf8(&s).ok()?, 8).ok()
}

fn cstr(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&c| c == 0).unwrap_or(field.len());
    &field[..end]
}

/// Parse PAX records `"<len> <key>=<value>\n"`.
pub fn parse_pax(data: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let mut out = BTreeMap::new();
    let mut rest = data;
    while !rest.is_empty() {
        if rest.iter().all(|&c| c == 0) {
            break;
        }
        let sp = rest
            .iter()
            .position(|&c| c == b' ')
            .ok_or("PAX record without a length")?;
        let len: usize = std::str::from_utf8(&rest[..sp])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or("PAX record length is not a number")?;
        if len <= sp + 1 || len > rest.len() || rest[len - 1] != b'\n' {
            return Err("PAX record length does not match its text".into());
        }
        let rec = &rest[sp + 1..len - 1];
        let eq = rec
            .iter()
            .position(|&c| c == b'=')
            .ok_or("PAX record without '='")?;
        let key = String::from_utf8(rec[..eq].to_vec()).map_err(|_| "PAX key is not UTF-8")?;
        out.insert(key, rec[eq + 1..].to_vec());
        rest = &rest[len..];
    }
    Ok(out)
}

/// A streaming reader of members. `offset` counts tar bytes consumed.
pub struct TarReader<R: Read> {
    inner: R,
    pub offset: u64,
    pub ended: bool,
}

impl<R: Read> TarReader<R> {
    pub fn new(inner: R) -> Self {
        TarReader {
            inner,
            offset: 0,
            ended: false,
        }
    }

    /// Read a block; `Ok(false)` at a clean end of input (no bytes at all).
    fn block(&mut self, buf: &mut [u8; BLOCK]) -> Result<bool, TarError> {
        let mut got = 0;
        while got < BLOCK {
            match self.inner.read(&mut buf[got..]) {
                Ok(0) if got == 0 => return Ok(false),
                Ok(0) => return Err(bad(self.offset, "input ends inside a header block")),
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.offset += BLOCK as u64;
        Ok(true)
    }

    /// Stream `size` bytes of data (and its padding) to `sink`.
    pub fn data(&mut self, size: u64, mut sink: impl FnMut(&[u8])) -> Result<(), TarError> {
        let padded = size.div_ceil(BLOCK as u64) * BLOCK as u64;
        let mut left = padded;
        let mut buf = vec![0u8; 1 << 20];
        let mut data_left = size;
        while left > 0 {
            let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            let n = match self.inner.read(&mut buf[..want]) {
                Ok(0) => return Err(bad(self.offset, "input ends inside member data")),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            let data_n = usize::try_from(data_left.min(n as u64)).unwrap_or(n);
            sink(&buf[..data_n]);
            data_left -= data_n as u64;
            left -= n as u64;
            self.offset += n as u64;
        }
        Ok(())
    }

    /// The next member's headers (PAX merged), or `None` after the end-of-archive blocks
    /// or at the end of input.
    pub fn next_header(&mut self) -> Result<Option<MemberHeader>, TarError> {
        let mut pax = BTreeMap::new();
        let mut block = [0u8; BLOCK];
        loop {
            let start = self.offset;
            if !self.block(&mut block)? {
                return Ok(None);
            }
            if block.iter().all(|&c| c == 0) {
                // End of archive: a second zero block must follow.
                if !self.block(&mut block)? || block.iter().any(|&c| c != 0) {
                    return Err(bad(start, "one zero block where the end needs two"));
                }
                self.ended = true;
                return Ok(None);
            }
            let stored = parse_octal(&block[148..156])
                .ok_or_else(|| bad(start, "header checksum is not octal"))?;
            let mut sum: u64 = block.iter().map(|&c| u64::from(c)).sum();
            sum -= block[148..156].iter().map(|&c| u64::from(c)).sum::<u64>();
            sum += 8 * u64::from(b' ');
            if sum != stored {
                return Err(bad(start, "header checksum mismatch"));
            }
            let typeflag = block[156];
            let size = parse_octal(&block[124..136])
                .ok_or_else(|| bad(start, "size field is not octal"))?;
            if typeflag == b'x' {
                if size > MAX_PAX {
                    return Err(bad(start, format!("PAX header of {size} bytes")));
                }
                let mut data = Vec::with_capacity(size as usize);
                self.data(size, |b| data.extend_from_slice(b))?;
                let recs = parse_pax(&data).map_err(|m| bad(start, m))?;
                pax.extend(recs);
                continue;
            }
            let num = |f: &[u8], key: &str| -> Result<u64, TarError> {
                match pax.get(key) {
                    Some(v) => std::str::from_utf8(v)
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .ok_or_else(|| bad(start, format!("PAX {key} is not a number"))),
                    None => parse_octal(f).ok_or_else(|| bad(start, format!("{key} is not octal"))),
                }
            };
            let name = cstr(&block[0..100]);
            let prefix = cstr(&block[345..500]);
            let mut path = if prefix.is_empty() {
                name.to_vec()
            } else {
                [prefix, b"/", name].concat()
            };
            if let Some(p) = pax.get("GNU.sparse.name").or_else(|| pax.get("path")) {
                path = p.clone();
            }
            let link = pax
                .get("linkpath")
                .cloned()
                .unwrap_or_else(|| cstr(&block[157..257]).to_vec());
            let header = MemberHeader {
                path,
                typeflag,
                mode: u32::try_from(num(&block[100..108], "mode")?).unwrap_or(0),
                uid: num(&block[108..116], "uid")?,
                gid: num(&block[116..124], "gid")?,
                size: num(&block[124..136], "size")?,
                link,
                pax,
            };
            return Ok(Some(header));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tar_header::{encode, padding, EntryType, Member, END};
    use super::*;

    #[test]
    fn reads_back_what_encode_writes() {
        let long = [b"d/".as_slice(), &[b'x'; 200], b"/caf\xe9"].concat();
        let mut tar = Vec::new();
        for (path, data) in [
            (b"etc/a".to_vec(), b"hello".to_vec()),
            (long.clone(), vec![7; 600]),
        ] {
            let m = Member {
                path: path.clone(),
                kind: Some(EntryType::Regular),
                mode: 0o640,
                size: data.len() as u64,
                mtime: 5,
                mtime_nsec: 7,
                records: vec![("SCHILY.xattr.user.k".into(), b"v\0w".to_vec())],
                ..Member::default()
            };
            tar.extend(encode(&m));
            tar.extend(&data);
            tar.resize(tar.len() + padding(data.len() as u64), 0);
        }
        tar.extend(END);
        let mut r = TarReader::new(tar.as_slice());
        let a = r.next_header().unwrap().unwrap();
        assert_eq!(a.path, b"etc/a");
        assert_eq!(a.mode, 0o640);
        let mut got = Vec::new();
        r.data(a.size, |b| got.extend_from_slice(b)).unwrap();
        assert_eq!(got, b"hello");
        let b = r.next_header().unwrap().unwrap();
        assert_eq!(b.path, long);
        assert_eq!(b.pax.get("SCHILY.xattr.user.k").unwrap(), b"v\0w");
        assert_eq!(b.pax.get("mtime").unwrap(), b"5.000000007");
        r.data(b.size, |_| {}).unwrap();
        assert!(r.next_header().unwrap().is_none());
        assert!(r.ended);
        assert_eq!(r.offset, tar.len() as u64);
    }

    #[test]
    fn corruption_is_an_error_with_an_offset() {
        let m = Member {
            path: b"f".to_vec(),
            kind: Some(EntryType::Regular),
            size: 3,
            ..Member::default()
        };
        let mut tar = encode(&m);
        tar.extend(b"abc");
        tar.resize(1024, 0);
        tar[10] ^= 1;
        let err = TarReader::new(tar.as_slice()).next_header().unwrap_err();
        assert!(err.to_string().contains("checksum"), "{err}");
        // Truncated data.
        let mut tar = encode(&m);
        tar.extend(b"ab");
        let mut r = TarReader::new(tar.as_slice());
        let h = r.next_header().unwrap().unwrap();
        assert!(r.data(h.size, |_| {}).is_err());
        assert!(parse_pax(b"99 path=x\n").is_err());
        assert!(parse_pax(b"3 \n").is_err());
    }
}
