//! pacman's `desc` and `files`: `%KEY%` lines, then value lines, then a blank line.

use std::collections::BTreeMap;

/// Sections of a `desc`/`files` file: key → value lines.
pub type Sections = BTreeMap<String, Vec<Vec<u8>>>;

/// Parse `%KEY%` sections; an error is (1-based line, message).
pub fn parse_sections(text: &[u8]) -> Result<Sections, (usize, String)> {
    let mut out: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for (i, line) in text.split(|&c| c == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            current = None;
            continue;
        }
        if line.len() > 2 && line.starts_with(b"%") && line.ends_with(b"%") && current.is_none() {
            let key = String::from_utf8(line[1..line.len() - 1].to_vec())
                .map_err(|_| (i + 1, "section name is not UTF-8".to_string()))?;
            out.entry(key.clone()).or_default();
            current = Some(key);
            continue;
        }
        match &current {
            Some(k) => out.entry(k.clone()).or_default().push(line.to_vec()),
            None => return Err((i + 1, "value outside a %SECTION%".into())),
        }
    }
    Ok(out)
}

/// `[epoch:]pkgver-pkgrel` → (epoch, pkgver, pkgrel).
pub fn split_version(v: &str) -> (Option<u32>, String, Option<String>) {
    let (epoch, rest) = match v.split_once(':') {
        Some((e, r)) if e.bytes().all(|b| b.is_ascii_digit()) && !e.is_empty() => {
            (e.parse().ok(), r)
        }
        _ => (None, v),
    };
    match rest.rsplit_once('-') {
        Some((ver, rel)) => (epoch, ver.to_string(), Some(rel.to_string())),
        None => (epoch, rest.to_string(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_and_versions() {
        let s =
            parse_sections(b"%NAME%\ngmp\n\n%FILES%\nusr/\nusr/lib/x\n\n%BACKUP%\netc/a\tabc\n")
                .unwrap();
        assert_eq!(s["NAME"], vec![b"gmp".to_vec()]);
        assert_eq!(s["FILES"].len(), 2);
        assert_eq!(
            split_version("2:1.0-1"),
            (Some(2), "1.0".into(), Some("1".into()))
        );
        assert_eq!(
            split_version("6.2.1-2"),
            (None, "6.2.1".into(), Some("2".into()))
        );
        assert!(parse_sections(b"stray\n").is_err());
    }
}
