//! The BSD mtree files pacman keeps per package (`local/<pkg>/mtree`, gzip): `/set` and
//! `/unset` lines change defaults, entry lines are `./path key=value…` with paths in vis
//! escaping (`\040` for a space, `\ooo` octal bytes, `\\`). Hostile input: bounded size and
//! line length, every number checked, no panics.

use std::io::Read;

/// Decompressed mtree files larger than this are refused.
pub const MAX_MTREE: u64 = 64 << 20;
const MAX_LINE: usize = 1 << 16;

/// One file entry with the keywords pacman uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MtreeEntry {
    /// Relative path without the leading `./`.
    pub path: Vec<u8>,
    pub kind: Option<String>,
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub size: Option<u64>,
    /// Seconds (the fraction is dropped: pacman compares whole seconds).
    pub time: Option<i64>,
    pub md5: Option<Vec<u8>>,
    pub sha256: Option<Vec<u8>>,
    pub link: Option<Vec<u8>>,
}

/// Decompress a gzip mtree (plain text is accepted too), at most [`MAX_MTREE`] bytes.
pub fn decompress(raw: &[u8]) -> Result<Vec<u8>, String> {
    if !raw.starts_with(&[0x1f, 0x8b]) {
        return Ok(raw.to_vec());
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(raw)
        .take(MAX_MTREE + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("gzip: {e}"))?;
    if out.len() as u64 > MAX_MTREE {
        return Err(format!("more than {MAX_MTREE} bytes uncompressed"));
    }
    Ok(out)
}

/// Undo vis(3) escaping: `\ooo` octal, `\\`, and the C escapes mtree may use.
pub fn unvis(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] != b'\\' {
            out.push(s[i]);
            i += 1;
            continue;
        }
        let next = *s.get(i + 1)?;
        match next {
            b'0'..=b'7' => {
                let digits = s.get(i + 1..i + 4)?;
                if !digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                    return None;
                }
                let v = digits.iter().fold(0u32, |a, d| a * 8 + u32::from(d - b'0'));
                out.push(u8::try_from(v).ok()?);
                i += 4;
            }
            b'\\' => {
                out.push(b'\\');
                i += 2;
            }
            b's' => {
                out.push(b' ');
                i += 2;
            }
            b't' => {
                out.push(b'\t');
                i += 2;
            }
            b'n' => {
                out.push(b'\n');
                i += 2;
            }
            _ => return None,
        }
    }
    Some(out)
}

fn hex(v: &[u8]) -> Option<Vec<u8>> {
    crate::pkgdb::digest::decode_hex(v)
}

fn apply(e: &mut MtreeEntry, key: &[u8], value: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(value).map_err(|_| "value is not text".to_string())?;
    let bad = || format!("bad {}={text}", String::from_utf8_lossy(key));
    match key {
        b"type" => e.kind = Some(text.to_string()),
        b"mode" => {
            e.mode = Some(
                u32::from_str_radix(text, 8)
                    .ok()
                    .filter(|m| *m <= 0o7777)
                    .ok_or_else(bad)?,
            )
        }
        b"uid" => e.uid = Some(text.parse().map_err(|_| bad())?),
        b"gid" => e.gid = Some(text.parse().map_err(|_| bad())?),
        b"size" => e.size = Some(text.parse().map_err(|_| bad())?),
        b"time" => {
            let sec = text.split('.').next().unwrap_or("");
            e.time = Some(sec.parse().map_err(|_| bad())?);
        }
        b"md5digest" | b"md5" => {
            e.md5 = Some(hex(value).filter(|v| v.len() == 16).ok_or_else(bad)?)
        }
        b"sha256digest" | b"sha256" => {
            e.sha256 = Some(hex(value).filter(|v| v.len() == 32).ok_or_else(bad)?)
        }
        b"link" => e.link = Some(unvis(value).ok_or_else(bad)?),
        // uname, gname, nlink, flags, …: not checked by pacman.
        _ => {}
    }
    Ok(())
}

/// Parse decompressed mtree text. Errors carry the 1-based line number.
pub fn parse(text: &[u8]) -> Result<Vec<MtreeEntry>, (usize, String)> {
    let mut defaults = MtreeEntry::default();
    let mut out = Vec::new();
    for (i, line) in text.split(|&c| c == b'\n').enumerate() {
        let n = i + 1;
        if line.len() > MAX_LINE {
            return Err((n, format!("line of {} bytes", line.len())));
        }
        let line = line.trim_ascii();
        if line.is_empty() || line.starts_with(b"#") {
            continue;
        }
        let mut words = line
            .split(|c| c.is_ascii_whitespace())
            .filter(|w| !w.is_empty());
        let Some(first) = words.next() else { continue };
        match first {
            b"/set" => {
                for w in words {
                    let (k, v) = split_kv(w).ok_or((n, "keyword without '='".to_string()))?;
                    apply(&mut defaults, k, v).map_err(|m| (n, m))?;
                }
            }
            b"/unset" => {
                for w in words {
                    let cleared = MtreeEntry::default();
                    match w {
                        b"all" => defaults = MtreeEntry::default(),
                        b"type" => defaults.kind = cleared.kind,
                        b"mode" => defaults.mode = None,
                        b"uid" => defaults.uid = None,
                        b"gid" => defaults.gid = None,
                        _ => {}
                    }
                }
            }
            path => {
                let path = unvis(path).ok_or((n, "bad escape in path".to_string()))?;
                let path = path.strip_prefix(b"./").map(<[u8]>::to_vec).unwrap_or(path);
                let mut e = MtreeEntry {
                    path,
                    ..defaults.clone()
                };
                // A digest or link from /set would be meaningless; only per-entry values count.
                e.md5 = None;
                e.sha256 = None;
                e.link = None;
                e.size = None;
                e.time = None;
                for w in words {
                    let (k, v) = split_kv(w).ok_or((n, "keyword without '='".to_string()))?;
                    apply(&mut e, k, v).map_err(|m| (n, m))?;
                }
                out.push(e);
            }
        }
    }
    Ok(out)
}

fn split_kv(w: &[u8]) -> Option<(&[u8], &[u8])> {
    let eq = w.iter().position(|&c| c == b'=')?;
    Some((&w[..eq], &w[eq + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_unset_and_escapes() {
        let text = b"#mtree\n/set type=file uid=0 gid=0 mode=644\n\
            ./etc time=1.5 mode=755 type=dir\n\
            ./etc/a\\040b time=7.0 size=3 md5digest=900150983cd24fb0d6963f7d28e17f72\n\
            /unset mode\n./etc/l type=link link=tar\\\\get time=2.0\n";
        let e = parse(text).unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].path, b"etc");
        assert_eq!(e[0].kind.as_deref(), Some("dir"));
        assert_eq!(e[0].mode, Some(0o755));
        assert_eq!(e[1].path, b"etc/a b");
        assert_eq!(e[1].mode, Some(0o644));
        assert_eq!(e[1].time, Some(7));
        assert_eq!(e[1].md5.as_ref().unwrap().len(), 16);
        assert_eq!(e[2].mode, None);
        assert_eq!(e[2].link.as_deref(), Some(&b"tar\\get"[..]));
    }

    #[test]
    fn hostile_lines_are_errors_with_line_numbers() {
        assert_eq!(parse(b"./a mode=999999\n").unwrap_err().0, 1);
        assert_eq!(parse(b"#x\n./a\\9 size=1\n").unwrap_err().0, 2);
        assert_eq!(parse(b"./a size=-1\n").unwrap_err().0, 1);
        assert_eq!(parse(b"./a md5digest=abc\n").unwrap_err().0, 1);
        assert_eq!(parse(b"/set uid\n").unwrap_err().0, 1);
        assert!(decompress(&[0x1f, 0x8b, 1, 2, 3]).is_err());
        assert_eq!(unvis(b"\\"), None);
        assert_eq!(unvis(b"\\400"), None);
    }
}
