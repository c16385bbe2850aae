//! `info/<pkg>[:<arch>].{list,md5sums}` and `info/format`.

use std::path::{Path, PathBuf};

use super::bytes;
use super::fsread::{io_error, read_optional};
use crate::pkgdb::DbError;

/// Hex digit values; 0xff marks a non-digit. A table, because 100 k md5sums lines make this
/// one of the reader's hottest loops.
const HEX_VALUE: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// 32 hex digits (either case) → 16 bytes.
pub fn parse_md5_hex(hex: &[u8]) -> Option<[u8; 16]> {
    let hex: &[u8; 32] = hex.try_into().ok()?;
    let mut out = [0u8; 16];
    let mut invalid = 0u8;
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let (hi, lo) = (HEX_VALUE[pair[0] as usize], HEX_VALUE[pair[1] as usize]);
        invalid |= (hi | lo) & 0xf0;
        *byte = (hi << 4) | (lo & 0x0f);
    }
    (invalid == 0).then_some(out)
}

/// One `.list` line as a packaged path: `/.` is the root; dpkg strips a trailing `/`.
/// `None` for lines that are not absolute paths (the caller warns).
pub fn list_path(line: &[u8]) -> Option<&[u8]> {
    if line == b"/." || line == b"/" {
        return Some(b"/");
    }
    let line = line.strip_suffix(b"/").unwrap_or(line);
    line.starts_with(b"/").then_some(line)
}

/// Lines of a `.list` with their 1-based numbers, empty lines skipped. A missing final
/// newline is accepted (dpkg refuses it, but the path is still unambiguous).
pub fn list_lines(text: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    bytes::lines(text)
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
        .map(|(i, l)| (i + 1, l))
}

/// One `.md5sums` entry: the path as written (relative, without the leading `/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Md5Entry<'a> {
    pub rel_path: &'a [u8],
    pub md5: [u8; 16],
}

/// `<md5>  <path without leading />` lines (`md5sum` output; ` *` binary marker accepted).
/// Malformed lines become warnings naming file and line, never errors: a damaged md5sums
/// only loses the digests it cannot give.
pub fn parse_md5sums<'a>(
    path: &Path,
    text: &'a [u8],
    warnings: &mut Vec<String>,
) -> Vec<Md5Entry<'a>> {
    let mut out = Vec::with_capacity(text.len() / 64);
    for (n, line) in list_lines(text) {
        let parsed = line.get(..32).and_then(parse_md5_hex).and_then(|md5| {
            let name = line.get(32..)?;
            let name = name
                .strip_prefix(b"  ")
                .or_else(|| name.strip_prefix(b" *"))?;
            // Some generators write absolute paths; both mean the same file.
            let rel_path = name.strip_prefix(b"/").unwrap_or(name);
            (!rel_path.is_empty()).then_some(Md5Entry { rel_path, md5 })
        });
        match parsed {
            Some(e) => out.push(e),
            None => warnings.push(format!(
                "{}:{n}: malformed md5sums line, ignored",
                path.display()
            )),
        }
    }
    out
}

/// `info/format`: `1` means Multi-Arch: same packages use `<pkg>:<arch>.*` names; a missing
/// file means format 0 (no arch qualifiers).
pub fn read_format(info_dir: &Path, warnings: &mut Vec<String>) -> Result<u32, DbError> {
    let path = info_dir.join("format");
    let Some(text) = read_optional(&path)? else {
        return Ok(0);
    };
    match std::str::from_utf8(&text).ok().map(str::trim) {
        Some("0") => Ok(0),
        Some("1") => Ok(1),
        _ => {
            warnings.push(format!(
                "{}: unknown info format, looking up both file names",
                path.display()
            ));
            Ok(1)
        }
    }
}

/// Which `info/` file names to try for a package, most likely first. Both are tried so that
/// a database caught mid-conversion between formats still reads.
pub fn candidates(
    info_dir: &Path,
    name: &str,
    arch: &str,
    qualified_first: bool,
    ext: &str,
) -> [PathBuf; 2] {
    let plain = info_dir.join(format!("{name}.{ext}"));
    let qualified = info_dir.join(format!("{name}:{arch}.{ext}"));
    if qualified_first {
        [qualified, plain]
    } else {
        [plain, qualified]
    }
}

/// The first candidate that exists, with its contents.
pub fn read_first(candidates: &[PathBuf]) -> Result<Option<(PathBuf, Vec<u8>)>, DbError> {
    for path in candidates {
        match std::fs::read(path) {
            Ok(b) => return Ok(Some((path.clone(), b))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error(path, e)),
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_hex() {
        assert_eq!(
            parse_md5_hex(b"d41d8cd98f00b204e9800998ecf8427e").map(|h| h[0]),
            Some(0xd4)
        );
        assert_eq!(
            parse_md5_hex(b"D41D8CD98F00B204E9800998ECF8427E"),
            parse_md5_hex(b"d41d8cd98f00b204e9800998ecf8427e")
        );
        assert!(parse_md5_hex(b"d41d8cd98f00b204e9800998ecf8427").is_none());
        assert!(parse_md5_hex(b"g41d8cd98f00b204e9800998ecf8427e").is_none());
        assert!(parse_md5_hex(b"newconffile").is_none());
    }

    #[test]
    fn md5sums_lines() {
        let mut w = Vec::new();
        let text = b"d41d8cd98f00b204e9800998ecf8427e  usr/bin/a b\nbad line\n\nd41d8cd98f00b204e9800998ecf8427e */usr/bin/c\nd41d8cd98f00b204e9800998ecf8427e usr/one-space";
        let e = parse_md5sums(Path::new("x.md5sums"), text, &mut w);
        let paths: Vec<_> = e.iter().map(|e| e.rel_path).collect();
        assert_eq!(paths, vec![&b"usr/bin/a b"[..], b"usr/bin/c"]);
        assert_eq!(
            w,
            vec![
                "x.md5sums:2: malformed md5sums line, ignored",
                "x.md5sums:5: malformed md5sums line, ignored"
            ]
        );
    }

    #[test]
    fn list_paths() {
        assert_eq!(list_path(b"/."), Some(&b"/"[..]));
        assert_eq!(list_path(b"/usr/"), Some(&b"/usr"[..]));
        assert_eq!(list_path(b"usr/bin"), None);
        let lines: Vec<_> = list_lines(b"/.\n\n/usr\n/usr/x").collect();
        assert_eq!(lines, vec![(1, &b"/."[..]), (3, b"/usr"), (4, b"/usr/x")]);
    }
}
