//! deb822 stanzas as dpkg writes them (`status`, `updates/*`, `status.d/*`): `Field: value`
//! lines, continuation lines starting with a space or tab, stanzas separated by blank lines.
//!
//! There are no comment lines: dpkg refuses them in its database, and so does this parser.
//!
//! Zero-copy and streaming: a [`Stanza`] borrows the file's bytes, and [`Stanzas`] yields one
//! stanza at a time, so memory stays proportional to one stanza however hostile the file is.

/// A stanza larger than this is refused: the largest real ones (a package with thousands of
/// conffiles or a long Description) are well under 1 MiB.
pub const MAX_STANZA_BYTES: usize = 16 << 20;
/// Real stanzas carry ~30 fields; this bounds the per-stanza field vector.
pub const MAX_FIELDS: usize = 4096;

/// One `Name: value` field. `value` is trimmed; a multi-line value keeps its continuation
/// lines verbatim (`"first\n second\n third"`), as dpkg stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    pub name: &'a [u8],
    pub value: &'a [u8],
    /// 1-based line of the field name.
    pub line: usize,
}

impl<'a> Field<'a> {
    /// The value's lines: the text after the colon, then each continuation line without its
    /// leading space/tab. Each item carries its 1-based line number.
    pub fn lines(&self) -> impl Iterator<Item = (usize, &'a [u8])> + 'a {
        let first = self.line;
        self.value
            .split(|&b| b == b'\n')
            .enumerate()
            .map(move |(i, l)| {
                let l = if i == 0 { l } else { l.get(1..).unwrap_or(&[]) };
                (first + i, l)
            })
    }
}

/// One stanza: fields in file order, names as written.
#[derive(Debug, Clone, Default)]
pub struct Stanza<'a> {
    /// 1-based line of the first field.
    pub line: usize,
    pub fields: Vec<Field<'a>>,
}

impl<'a> Stanza<'a> {
    /// First field with this name; field names are case-insensitive.
    pub fn field(&self, name: &str) -> Option<&Field<'a>> {
        self.fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name.as_bytes()))
    }

    /// How many fields carry this name (dpkg refuses duplicates).
    pub fn count(&self, name: &str) -> usize {
        self.fields
            .iter()
            .filter(|f| f.name.eq_ignore_ascii_case(name.as_bytes()))
            .count()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deb822Error {
    pub line: usize,
    pub message: String,
}

/// Iterator over the stanzas of a deb822 text; stops after the first error.
pub struct Stanzas<'a> {
    text: &'a [u8],
    pos: usize,
    /// Number of the line starting at `pos`.
    line: usize,
    failed: bool,
}

pub fn stanzas(text: &[u8]) -> Stanzas<'_> {
    Stanzas {
        text,
        pos: 0,
        line: 1,
        failed: false,
    }
}

/// Every stanza of `text` (tests, small files).
pub fn parse(text: &[u8]) -> Result<Vec<Stanza<'_>>, Deb822Error> {
    stanzas(text).collect()
}

impl<'a> Stanzas<'a> {
    /// The line at `pos` without its newline, and the position after it.
    fn next_line(&self) -> Option<(&'a [u8], usize)> {
        let rest = self.text.get(self.pos..)?;
        if rest.is_empty() {
            return None;
        }
        Some(match super::bytes::find_byte(rest, b'\n') {
            Some(n) => (&rest[..n], self.pos + n + 1),
            None => (rest, self.text.len()),
        })
    }

    fn err(&mut self, line: usize, message: String) -> Option<Result<Stanza<'a>, Deb822Error>> {
        self.failed = true;
        Some(Err(Deb822Error { line, message }))
    }
}

fn is_blank(line: &[u8]) -> bool {
    // Whitespace-only lines separate stanzas (as in RFC 822 readers). dpkg would take them as
    // empty continuation lines, but it never writes one, and hand-edited files do.
    line.iter().all(|b| b.is_ascii_whitespace())
}

fn trim_end(b: &[u8]) -> &[u8] {
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(0, |p| p + 1);
    &b[..end]
}

fn trim_start(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| *c != b' ' && *c != b'\t')
        .unwrap_or(b.len());
    &b[start..]
}

fn shown(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.len().min(60)]).into_owned()
}

impl<'a> Iterator for Stanzas<'a> {
    type Item = Result<Stanza<'a>, Deb822Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        // Blank lines before the stanza.
        while let Some((line, next)) = self.next_line() {
            if !is_blank(line) {
                break;
            }
            self.pos = next;
            self.line += 1;
        }
        let start = self.pos;
        // Offset in `text` where the last field's value begins.
        let mut value_start = self.pos;
        let mut stanza = Stanza {
            line: self.line,
            fields: Vec::new(),
        };
        while let Some((line, next)) = self.next_line() {
            if is_blank(line) {
                break;
            }
            let n = self.line;
            if next - start > MAX_STANZA_BYTES {
                return self.err(
                    stanza.line,
                    format!("stanza larger than {MAX_STANZA_BYTES} bytes"),
                );
            }
            match line[0] {
                b' ' | b'\t' => {
                    let Some(field) = stanza.fields.last_mut() else {
                        return self.err(n, "continuation line outside a field".into());
                    };
                    // The value is the span from its first byte to this line's end, so a
                    // multi-line value stays one borrowed slice.
                    let line_end = self.pos + line.len();
                    field.value = trim_end(&self.text[value_start..line_end]);
                }
                _ => {
                    let Some(colon) = line.iter().position(|&b| b == b':') else {
                        return self.err(
                            n,
                            format!("field name not followed by a colon: {:?}", shown(line)),
                        );
                    };
                    let name = trim_end(&line[..colon]);
                    if name.is_empty() {
                        return self.err(n, "empty field name".into());
                    }
                    if name.iter().any(|b| b.is_ascii_whitespace()) {
                        return self.err(n, format!("field name with a space: {:?}", shown(name)));
                    }
                    if stanza.fields.len() >= MAX_FIELDS {
                        return self.err(n, format!("more than {MAX_FIELDS} fields in a stanza"));
                    }
                    let after_colon = &line[colon + 1..];
                    let value = trim_start(after_colon);
                    value_start = self.pos + (line.len() - value.len());
                    stanza.fields.push(Field {
                        name,
                        value: trim_end(value),
                        line: n,
                    });
                }
            }
            self.pos = next;
            self.line += 1;
        }
        // Empty only at the end of the text: every other line is a field or an error.
        (!stanza.fields.is_empty()).then_some(Ok(stanza))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stanzas_and_continuations() {
        let text = b"Package: a\nConffiles:\n /etc/a x\n /etc/b  y obsolete\nDescription: short\n long\n .\n\n\nPackage: b\nstatus: install ok installed\n";
        let s = parse(text).unwrap();
        assert_eq!(s.len(), 2);
        let conf = s[0].field("conffiles").unwrap();
        assert_eq!(conf.value, b"\n /etc/a x\n /etc/b  y obsolete");
        assert_eq!(conf.line, 2);
        let lines: Vec<_> = conf.lines().collect();
        assert_eq!(
            lines,
            vec![
                (2, &b""[..]),
                (3, &b"/etc/a x"[..]),
                (4, &b"/etc/b  y obsolete"[..])
            ]
        );
        assert_eq!(
            s[0].field("Description").unwrap().value,
            b"short\n long\n ."
        );
        assert_eq!(s[1].line, 10);
        assert_eq!(s[1].field("STATUS").unwrap().value, b"install ok installed");
    }

    #[test]
    fn empty_values_crlf_and_missing_final_newline() {
        let s = parse(b"Package:\r\nVersion: 1 \r\n\r\nPackage: z").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].field("Package").unwrap().value, b"");
        assert_eq!(s[0].field("version").unwrap().value, b"1");
        assert_eq!(s[1].field("package").unwrap().value, b"z");
        assert_eq!(s[1].line, 4);
    }

    #[test]
    fn garbage_is_an_error_with_a_line() {
        let e = parse(b"Package: a\nthis is not a field\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert_eq!(parse(b" leading continuation\n").unwrap_err().line, 1);
        assert_eq!(parse(b"a: 1\n: empty name\n").unwrap_err().line, 2);
        assert_eq!(parse(b"\n\nbad name: 1\n").unwrap_err().line, 3);
        for b in [
            &b"\xff\xfe:"[..],
            b":",
            b"\n\n\n",
            b"a:\n \n",
            b"#\n#\n",
            b" ",
            b"",
        ] {
            let _ = parse(b);
        }
    }

    #[test]
    fn stops_after_the_first_error() {
        let mut it = stanzas(b"a: 1\n\nbroken\n\nb: 2\n");
        assert!(it.next().unwrap().is_ok());
        assert!(it.next().unwrap().is_err());
        assert!(it.next().is_none());
    }

    #[test]
    fn many_tiny_stanzas_need_no_stack() {
        let text = "a: 1\n\n".repeat(1 << 20);
        assert_eq!(stanzas(text.as_bytes()).count(), 1 << 20);
    }

    #[test]
    fn field_count_is_bounded() {
        let text = "x: 1\n".repeat(MAX_FIELDS + 1);
        let e = parse(text.as_bytes()).unwrap_err();
        assert_eq!(e.line, MAX_FIELDS + 1);
    }
}
