//! `info/<pkg>[:<arch>].{list,md5sums}`.

use std::path::Path;

/// 32 hex digits → 16 bytes.
pub fn parse_md5(hex: &[u8]) -> Option<[u8; 16]> {
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in hex.chunks_exact(2).enumerate() {
        let d = |c: u8| (c as char).to_digit(16);
        out[i] = (d(pair[0])? * 16 + d(pair[1])?) as u8;
    }
    Some(out)
}

/// Absolute paths, one per line (`/.` is the root).
pub fn parse_list(text: &[u8]) -> Vec<Vec<u8>> {
    text.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

/// `<md5>  <path without leading />`; malformed lines are reported, not fatal.
pub fn parse_md5sums(
    path: &Path,
    text: &[u8],
    warnings: &mut Vec<String>,
) -> Vec<(Vec<u8>, [u8; 16])> {
    let mut out = Vec::new();
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let parsed = line.get(..32).and_then(parse_md5).and_then(|h| {
            let rest = line.get(32..)?;
            let name = rest
                .strip_prefix(b"  ")
                .or_else(|| rest.strip_prefix(b" *"))?;
            let mut p = Vec::with_capacity(name.len() + 1);
            if !name.starts_with(b"/") {
                p.push(b'/');
            }
            p.extend_from_slice(name);
            Some((p, h))
        });
        match parsed {
            Some(x) => out.push(x),
            None => warnings.push(format!(
                "{}:{}: malformed md5sums line",
                path.display(),
                i + 1
            )),
        }
    }
    out
}
