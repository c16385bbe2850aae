//! deb822 stanzas as dpkg writes them (`status`, `updates/*`, `status.d/*`): `Field: value`
//! lines, continuation lines starting with a space or tab, stanzas separated by blank lines.

/// One stanza: fields in order, names as written; `line` is where it starts (1-based).
#[derive(Debug, Clone, Default)]
pub struct Stanza {
    pub line: usize,
    pub fields: Vec<(String, Vec<u8>)>,
}

impl Stanza {
    /// Field value (case-insensitive name); continuation lines joined with `\n`.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    pub fn get_str(&self, name: &str) -> Option<String> {
        self.get(name)
            .map(|v| String::from_utf8_lossy(v).trim().to_string())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deb822Error {
    pub line: usize,
    pub message: String,
}

/// Parse every stanza. Lines that are neither a field, a continuation nor blank are errors.
pub fn parse(text: &[u8]) -> Result<Vec<Stanza>, Deb822Error> {
    let mut out = Vec::new();
    let mut cur = Stanza::default();
    for (i, raw) in text.split(|&b| b == b'\n').enumerate() {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        let n = i + 1;
        if line.iter().all(|b| *b == b' ' || *b == b'\t') {
            if !cur.fields.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            let Some((_, value)) = cur.fields.last_mut() else {
                return Err(Deb822Error {
                    line: n,
                    message: "continuation line outside a field".into(),
                });
            };
            value.push(b'\n');
            value.extend_from_slice(&line[1..]);
            continue;
        }
        if line[0] == b'#' {
            continue;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return Err(Deb822Error {
                line: n,
                message: format!(
                    "not a field: {:?}",
                    String::from_utf8_lossy(&line[..line.len().min(60)])
                ),
            });
        };
        if cur.fields.is_empty() {
            cur.line = n;
        }
        let name = String::from_utf8_lossy(&line[..colon]).trim().to_string();
        let value = trim(&line[colon + 1..]).to_vec();
        cur.fields.push((name, value));
    }
    if !cur.fields.is_empty() {
        out.push(cur);
    }
    Ok(out)
}

fn trim(b: &[u8]) -> &[u8] {
    let s = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let e = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(s, |p| p + 1);
    &b[s..e.max(s)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stanzas_and_continuations() {
        let s = parse(b"Package: a\nConffiles:\n /etc/a x\n /etc/b y obsolete\n\n\nPackage: b\nStatus: install ok installed\n").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(
            s[0].get("conffiles"),
            Some(&b"\n/etc/a x\n/etc/b y obsolete"[..])
        );
        assert_eq!(s[1].line, 7);
        assert_eq!(
            s[1].get_str("STATUS").as_deref(),
            Some("install ok installed")
        );
    }

    #[test]
    fn garbage_is_an_error_with_a_line() {
        let e = parse(b"Package: a\nthis is not a field\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(parse(b" leading continuation\n").is_err());
        for b in [&b"\xff\xfe:"[..], b":", b"\n\n\n", b"a:\n \n"] {
            let _ = parse(b);
        }
    }
}
