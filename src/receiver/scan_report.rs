//! The scan report in UForge's XML, as an agent uploads it with a new scan (`POST …/scans`,
//! `Content-Type: application/xml`; the document `livescan scan --format xml` writes,
//! docs/uforge-livescan.xsd): read as a stream and split into the pieces UForge serves on
//! their own — `installProfile`, `scannedPackages`, `scannedFiles` — plus the scan-level
//! facts the `scan` object carries (totals, `unixServices`).
//!
//! The bytes are untrusted, so the reader never panics and bounds its memory whatever the
//! document's size: at most [`MAX_RUN`] bytes without markup (a text or tag longer than
//! that is refused; the reader's buffer never holds more), at most [`MAX_DEPTH`] levels, at
//! most [`MAX_SERVICES`] services kept. No DTD (a DOCTYPE is refused), only XML's five
//! entities and character references, UTF-8 only, the root `scan` in UForge's namespace and
//! every other element unqualified (what is copied into the pieces must stay well-formed
//! without the root's namespace declarations). The totals must match what the document
//! lists, so a cut or edited report is refused rather than stored.

use std::io::{self, BufRead, Read, Write};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

use super::xml::NS;
use crate::uforge::UnixService;

/// Longest run of bytes without `<` or `>` (one text or one tag).
pub const MAX_RUN: usize = 1 << 20;
pub const MAX_DEPTH: usize = 32;
pub const MAX_SERVICES: usize = 100_000;

/// What the scan object takes from the report.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub packages: u64,
    pub files_added: u64,
    pub files_deleted: u64,
    pub files_modified: u64,
    pub unix_services: Vec<UnixService>,
    pub error: bool,
}

/// Where the pieces go.
pub struct Parts<W: Write> {
    pub install_profile: W,
    pub packages: W,
    pub files: W,
}

/// A reader that fails once more than `max` bytes pass without a `<` or `>`: the XML
/// reader's buffer grows only up to the next delimiter, so this bounds it.
struct RunLimit<R> {
    inner: R,
    run: usize,
    max: usize,
    exceeded: bool,
}

impl<R: BufRead> Read for RunLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = {
            let avail = self.fill_buf()?;
            let n = avail.len().min(buf.len());
            buf[..n].copy_from_slice(&avail[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for RunLimit<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.exceeded || self.run > self.max {
            return Err(io::Error::other(format!(
                "more than {} bytes without markup",
                self.max
            )));
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        // The bytes being consumed are still the front of the inner buffer.
        if let Ok(buf) = self.inner.fill_buf() {
            let seen = &buf[..amt.min(buf.len())];
            let delim = |b: &u8| *b == b'<' || *b == b'>';
            match (seen.iter().position(delim), seen.iter().rposition(delim)) {
                (Some(first), Some(last)) => {
                    // The run that ends here counts even though it is over: the next
                    // fill refuses (its bytes are at most one fill past the bound).
                    if self.run.saturating_add(first) > self.max {
                        self.exceeded = true;
                    }
                    self.run = seen.len() - 1 - last;
                }
                _ => self.run = self.run.saturating_add(seen.len()),
            }
        }
        self.inner.consume(amt);
    }
}

/// Which piece the reader is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    None,
    InstallProfile,
    Packages,
    Files,
    Services,
    Other,
}

fn bad(msg: impl Into<String>) -> String {
    msg.into()
}

/// Text of a leaf the receiver reads (totals, service fields), decoded.
#[derive(Default)]
struct Leaf {
    text: Vec<u8>,
    base64: bool,
}

impl Leaf {
    fn value(&self, name: &str) -> Result<String, String> {
        let bytes = if self.base64 {
            STANDARD
                .decode(&self.text)
                .map_err(|e| bad(format!("<{name}>: bad base64: {e}")))?
        } else {
            self.text.clone()
        };
        String::from_utf8(bytes).map_err(|_| bad(format!("<{name}>: not UTF-8")))
    }
}

fn is_base64(e: &BytesStart) -> Result<bool, String> {
    for a in e.attributes() {
        let a = a.map_err(|e| bad(format!("attribute: {e}")))?;
        if a.key.as_ref() == "encoding" {
            return match &*a.value {
                "base64" => Ok(true),
                other => Err(bad(format!("encoding={other:?}: only base64 is known"))),
            };
        }
    }
    Ok(false)
}

/// The writer of the piece `section` copies into.
fn piece<W: Write>(parts: &mut Parts<W>, section: Section) -> Option<&mut W> {
    match section {
        Section::InstallProfile => Some(&mut parts.install_profile),
        Section::Packages => Some(&mut parts.packages),
        Section::Files => Some(&mut parts.files),
        _ => None,
    }
}

/// Write the start tag of `e` as `name` (its attributes as they are).
fn start<W: Write>(w: &mut W, name: &str, e: &BytesStart, empty: bool) -> io::Result<()> {
    w.write_all(b"<")?;
    w.write_all(name.as_bytes())?;
    w.write_all(e.attributes_raw().as_bytes())?;
    w.write_all(if empty { b"/>" } else { b">" })
}

fn header<W: Write>(w: &mut W, root: &str) -> io::Result<()> {
    write!(
        w,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ns0:{root} xmlns:ns0=\"{NS}\">"
    )
}

/// Read the report from `input`, writing the pieces to `parts`. An error names what is
/// wrong; the pieces are then incomplete and must be thrown away.
pub fn split<R: BufRead, W: Write>(input: R, parts: &mut Parts<W>) -> Result<Summary, String> {
    let mut reader = NsReader::from_reader(RunLimit {
        inner: input,
        run: 0,
        max: MAX_RUN,
        exceeded: false,
    });
    let io_err = |e: io::Error| bad(format!("writing: {e}"));
    let mut buf = Vec::new();
    // Local names of the open elements, the root first.
    let mut stack: Vec<String> = Vec::new();
    let mut section = Section::None;
    let mut sum = Summary::default();
    let mut totals: [Option<u64>; 4] = [None; 4];
    let mut leaf: Option<Leaf> = None;
    let mut service: Option<UnixService> = None;
    let mut change: Option<Vec<u8>> = None;
    let mut seen = [false; 3];
    let mut files_listed = 0u64;

    header(&mut parts.install_profile, "installProfile").map_err(io_err)?;
    header(&mut parts.packages, "scannedPackages").map_err(io_err)?;
    parts
        .packages
        .write_all(b"<scannedPackages>")
        .map_err(io_err)?;
    header(&mut parts.files, "scannedFiles").map_err(io_err)?;
    parts.files.write_all(b"<scannedFiles>").map_err(io_err)?;

    loop {
        buf.clear();
        let at = reader.buffer_position();
        let (ns, event) = reader
            .read_resolved_event_into(&mut buf)
            .map_err(|e| bad(format!("XML after byte {at}: {e}")))?;
        let bound_to_uforge = matches!(&ns, ResolveResult::Bound(n) if n.as_ref() == NS);
        let unqualified = matches!(ns, ResolveResult::Unbound);
        let depth = stack.len();
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                let local = e.local_name().as_ref().to_string();
                if depth == 0 {
                    if !bound_to_uforge || local != "scan" {
                        return Err(bad(format!(
                            "expected <scan> in namespace {NS}, found <{}>",
                            e.name().as_ref()
                        )));
                    }
                    if empty {
                        return Err(bad("<scan> is empty"));
                    }
                    stack.push(local);
                    continue;
                }
                if !unqualified {
                    return Err(bad(format!(
                        "<{}>: elements inside <scan> are unqualified",
                        e.name().as_ref()
                    )));
                }
                if depth >= MAX_DEPTH {
                    return Err(bad(format!("nested deeper than {MAX_DEPTH} elements")));
                }
                let b64 = is_base64(e)?;
                if depth == 1 {
                    section = match local.as_str() {
                        "installProfile" => Section::InstallProfile,
                        "packages" => Section::Packages,
                        "files" => Section::Files,
                        "unixServices" => Section::Services,
                        _ => Section::Other,
                    };
                    let which = match section {
                        Section::InstallProfile => Some(0),
                        Section::Packages => Some(1),
                        Section::Files => Some(2),
                        _ => None,
                    };
                    if let Some(i) = which {
                        if std::mem::replace(&mut seen[i], true) {
                            return Err(bad(format!("<{local}> twice")));
                        }
                    }
                    if matches!(
                        local.as_str(),
                        "error"
                            | "totalFilesAdded"
                            | "totalFilesDeleted"
                            | "totalFilesModified"
                            | "totalPackages"
                    ) {
                        leaf = Some(Leaf {
                            base64: b64,
                            ..Leaf::default()
                        });
                    }
                } else {
                    match (section, depth, local.as_str()) {
                        (Section::Packages, 2, "package") => {
                            sum.packages += 1;
                            start(&mut parts.packages, "scannedPackage", e, empty)
                                .map_err(io_err)?;
                        }
                        (Section::Files, 2, "scannedFile") => {
                            files_listed += 1;
                            start(&mut parts.files, &local, e, empty).map_err(io_err)?;
                        }
                        (Section::Packages | Section::Files, 2, _) => {
                            return Err(bad(format!("<{local}> inside <{}>", stack[1])));
                        }
                        (Section::Files, 3, "changeType") => {
                            change = Some(Vec::new());
                            start(&mut parts.files, &local, e, empty).map_err(io_err)?;
                        }
                        (Section::Services, 2, "unixService") => {
                            if sum.unix_services.len() >= MAX_SERVICES {
                                return Err(bad(format!("more than {MAX_SERVICES} services")));
                            }
                            service = Some(UnixService::default());
                        }
                        (Section::Services, 3, _) => {
                            leaf = Some(Leaf {
                                base64: b64,
                                ..Leaf::default()
                            });
                        }
                        (Section::InstallProfile | Section::Packages | Section::Files, ..) => {
                            if let Some(w) = piece(parts, section) {
                                start(w, &local, e, empty).map_err(io_err)?;
                            }
                        }
                        _ => {}
                    }
                }
                if empty {
                    // An empty element is its own end.
                    end_element(
                        &local,
                        depth,
                        &mut section,
                        &mut leaf,
                        &mut service,
                        &mut change,
                        &mut sum,
                        &mut totals,
                    )?;
                } else {
                    stack.push(local);
                }
            }
            Event::End(_) => {
                let Some(local) = stack.pop() else {
                    return Err(bad("closing tag without an opening one"));
                };
                let depth = stack.len();
                if depth == 0 {
                    break;
                }
                if depth >= 2 {
                    let name = match (section, depth) {
                        (Section::Packages, 2) => "scannedPackage",
                        _ => &local,
                    };
                    if let Some(w) = piece(parts, section) {
                        w.write_all(b"</").map_err(io_err)?;
                        w.write_all(name.as_bytes()).map_err(io_err)?;
                        w.write_all(b">").map_err(io_err)?;
                    }
                }
                end_element(
                    &local,
                    depth,
                    &mut section,
                    &mut leaf,
                    &mut service,
                    &mut change,
                    &mut sum,
                    &mut totals,
                )?;
            }
            Event::Text(ref t) => {
                // quick-xml has checked the text is UTF-8.
                let raw = t.as_bytes();
                if depth == 0 {
                    if !raw.iter().all(u8::is_ascii_whitespace) {
                        return Err(bad("text outside <scan>"));
                    }
                    continue;
                }
                if let Some(l) = leaf.as_mut() {
                    l.text.extend_from_slice(raw);
                }
                if let Some(c) = change.as_mut() {
                    c.extend_from_slice(raw);
                }
                if depth >= 2 {
                    if let Some(w) = piece(parts, section) {
                        w.write_all(raw).map_err(io_err)?;
                    }
                }
            }
            Event::CData(ref c) => {
                let raw = c.as_bytes();
                if raw.windows(3).any(|w| w == b"]]>") {
                    return Err(bad("bad CDATA"));
                }
                if let Some(l) = leaf.as_mut() {
                    l.text.extend_from_slice(raw);
                }
                if let Some(c) = change.as_mut() {
                    c.extend_from_slice(raw);
                }
                if depth >= 2 {
                    if let Some(w) = piece(parts, section) {
                        w.write_all(b"<![CDATA[").map_err(io_err)?;
                        w.write_all(raw).map_err(io_err)?;
                        w.write_all(b"]]>").map_err(io_err)?;
                    }
                }
            }
            Event::GeneralRef(ref r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => quick_xml::escape::resolve_predefined_entity(r)
                        .ok_or_else(|| bad(format!("unknown entity &{};", &**r)))?
                        .to_string(),
                    Err(e) => return Err(bad(format!("character reference: {e}"))),
                };
                if depth == 0 {
                    return Err(bad("text outside <scan>"));
                }
                if let Some(l) = leaf.as_mut() {
                    l.text.extend_from_slice(resolved.as_bytes());
                }
                if let Some(c) = change.as_mut() {
                    c.extend_from_slice(resolved.as_bytes());
                }
                if depth >= 2 {
                    if let Some(w) = piece(parts, section) {
                        w.write_all(b"&").map_err(io_err)?;
                        w.write_all(r.as_bytes()).map_err(io_err)?;
                        w.write_all(b";").map_err(io_err)?;
                    }
                }
            }
            Event::DocType(_) => return Err(bad("a DOCTYPE is not accepted")),
            Event::Eof => {
                return Err(bad(if stack.is_empty() {
                    "no <scan> element"
                } else {
                    "the document ends inside an element"
                }))
            }
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
        }
    }
    // Anything after the root's end is not read: a report is one document.
    let named = [
        ("totalFilesAdded", sum.files_added),
        ("totalFilesDeleted", sum.files_deleted),
        ("totalFilesModified", sum.files_modified),
        ("totalPackages", sum.packages),
    ];
    for ((name, counted), total) in named.iter().zip(totals) {
        match total {
            Some(t) if t == *counted => {}
            Some(t) => {
                return Err(bad(format!(
                    "<{name}> says {t}, the document lists {counted}"
                )))
            }
            None => return Err(bad(format!("no <{name}>"))),
        }
    }
    let changes = sum.files_added + sum.files_deleted + sum.files_modified;
    if files_listed != changes {
        return Err(bad(format!(
            "{files_listed} <scannedFile> elements, {changes} <changeType>s"
        )));
    }
    if !seen.iter().all(|s| *s) {
        return Err(bad("a scan needs <installProfile>, <packages> and <files>"));
    }
    parts
        .install_profile
        .write_all(b"</ns0:installProfile>\n")
        .map_err(io_err)?;
    writeln!(
        parts.packages,
        "</scannedPackages><total>{}</total></ns0:scannedPackages>",
        sum.packages
    )
    .map_err(io_err)?;
    let files = sum.files_added + sum.files_deleted + sum.files_modified;
    writeln!(
        parts.files,
        "</scannedFiles><total>{files}</total></ns0:scannedFiles>"
    )
    .map_err(io_err)?;
    for w in [
        &mut parts.install_profile,
        &mut parts.packages,
        &mut parts.files,
    ] {
        w.flush().map_err(io_err)?;
    }
    Ok(sum)
}

/// The end of element `local` at `depth` (its parent's depth + 1 = `depth`, the root being
/// 0): take what the summary needs from it.
#[allow(clippy::too_many_arguments)]
fn end_element(
    local: &str,
    depth: usize,
    section: &mut Section,
    leaf: &mut Option<Leaf>,
    service: &mut Option<UnixService>,
    change: &mut Option<Vec<u8>>,
    sum: &mut Summary,
    totals: &mut [Option<u64>; 4],
) -> Result<(), String> {
    let name = local;
    match depth {
        1 => {
            if let Some(l) = leaf.take() {
                let v = l.value(name)?;
                let v = v.trim();
                let number = || {
                    v.parse::<u64>()
                        .map_err(|_| bad(format!("<{name}>: {v:?} is not a count")))
                };
                match local {
                    "error" => {
                        sum.error = match v {
                            "true" | "1" => true,
                            "false" | "0" => false,
                            _ => return Err(bad(format!("<error>: {v:?} is not a boolean"))),
                        }
                    }
                    "totalFilesAdded" => totals[0] = Some(number()?),
                    "totalFilesDeleted" => totals[1] = Some(number()?),
                    "totalFilesModified" => totals[2] = Some(number()?),
                    "totalPackages" => totals[3] = Some(number()?),
                    _ => {}
                }
            }
            *section = Section::None;
        }
        2 if *section == Section::Services => {
            if let Some(s) = service.take() {
                if s.service_name.is_empty() {
                    return Err(bad("<unixService> without <serviceName>"));
                }
                sum.unix_services.push(s);
            }
        }
        3 if *section == Section::Services => {
            if let (Some(l), Some(s)) = (leaf.take(), service.as_mut()) {
                let v = l.value(name)?;
                match local {
                    "serviceManager" => s.service_manager = v,
                    "serviceName" => s.service_name = v,
                    "serviceStatus" => s.service_status = v,
                    "runlevels" => s.runlevels = Some(v),
                    _ => {}
                }
            }
        }
        3 if *section == Section::Files && local == "changeType" => {
            match change.take().as_deref() {
                Some(b"added") => sum.files_added += 1,
                Some(b"deleted") => sum.files_deleted += 1,
                Some(b"modified") => sum.files_modified += 1,
                other => {
                    return Err(bad(format!(
                        "<changeType>: {:?} is not added, deleted or modified",
                        String::from_utf8_lossy(other.unwrap_or_default())
                    )))
                }
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(doc: &[u8]) -> Result<(Summary, [String; 3]), String> {
        let mut parts = Parts {
            install_profile: Vec::new(),
            packages: Vec::new(),
            files: Vec::new(),
        };
        // A small buffer, as the receiver's file reader has: the run bound is checked
        // between fills.
        let s = split(std::io::BufReader::with_capacity(4096, doc), &mut parts)?;
        let text = |v: Vec<u8>| String::from_utf8(v).unwrap();
        Ok((
            s,
            [
                text(parts.install_profile),
                text(parts.packages),
                text(parts.files),
            ],
        ))
    }

    const DOC: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ns0:scan xmlns:ns0="http://www.usharesoft.com/uforge">
<name>h&amp;st</name><error>false</error>
<totalFilesAdded>1</totalFilesAdded><totalFilesDeleted>1</totalFilesDeleted><totalFilesModified>0</totalFilesModified><totalPackages>2</totalPackages>
<distribution><name>Debian</name></distribution>
<installProfile><timezone>Europe/Paris</timezone><users><user><name>jo</name><fullName>J&#246; &amp; &lt;Co&gt;</fullName></user></users></installProfile>
<unixServices><unixService><serviceManager>systemd</serviceManager><serviceName>a&amp;b.service</serviceName><serviceStatus>enabled</serviceStatus></unixService></unixServices>
<packages><package><name>p&lt;1</name></package><package><name>p2</name><arch/></package></packages>
<files><scannedFile><fullPath encoding="base64">L2NhZuk=</fullPath><changeType>added</changeType></scannedFile>
<scannedFile><fullPath>/x</fullPath><changeType>deleted</changeType></scannedFile></files>
</ns0:scan>
"#;

    #[test]
    fn splits_into_uforge_pieces() {
        let (s, [ip, pk, fl]) = run(DOC.as_bytes()).unwrap();
        assert_eq!(
            (s.packages, s.files_added, s.files_deleted, s.files_modified),
            (2, 1, 1, 0)
        );
        assert_eq!(s.unix_services.len(), 1);
        assert_eq!(s.unix_services[0].service_name, "a&b.service");
        assert_eq!(s.unix_services[0].service_status, "enabled");
        assert!(ip.contains(&format!("<ns0:installProfile xmlns:ns0=\"{NS}\"><timezone>Europe/Paris</timezone><users><user><name>jo</name><fullName>J&#246; &amp; &lt;Co&gt;</fullName></user></users></ns0:installProfile>")), "{ip}");
        assert!(pk.contains("<scannedPackages><scannedPackage><name>p&lt;1</name></scannedPackage><scannedPackage><name>p2</name><arch/></scannedPackage></scannedPackages><total>2</total></ns0:scannedPackages>"), "{pk}");
        assert!(fl.contains("<scannedFile><fullPath encoding=\"base64\">L2NhZuk=</fullPath><changeType>added</changeType></scannedFile>"), "{fl}");
        assert!(
            fl.ends_with("<total>2</total></ns0:scannedFiles>\n"),
            "{fl}"
        );
        // The pieces are documents of their own.
        for piece in [&ip, &pk, &fl] {
            let mut r = quick_xml::Reader::from_str(piece);
            loop {
                match r.read_event() {
                    Ok(Event::Eof) => break,
                    Ok(_) => {}
                    Err(e) => panic!("{e}: {piece}"),
                }
            }
        }
    }

    #[test]
    fn refuses_what_is_not_a_sound_report() {
        let bad: Vec<Vec<u8>> = vec![
            DOC.replace("<totalPackages>2", "<totalPackages>3")
                .into_bytes(),
            DOC.replace("<changeType>added", "<changeType>ADD")
                .into_bytes(),
            DOC.replace("http://www.usharesoft.com/uforge", "urn:x")
                .into_bytes(),
            DOC.replace("<timezone>", "<ns0:timezone>")
                .replace("</timezone>", "</ns0:timezone>")
                .into_bytes(),
            DOC.replace(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
                "<!DOCTYPE s [<!ENTITY e \"x\">]>",
            )
            .into_bytes(),
            DOC.replace("Europe/Paris", "&e;").into_bytes(),
            DOC.replace("Europe/Paris", "Europe/Par\u{e9}s")
                .into_bytes()
                .into_iter()
                .map(|b| if b == 0xc3 { 0xe9 } else { b })
                .collect(),
            DOC.as_bytes()[..DOC.len() - 20].to_vec(),
            DOC.replace("<files>", "<files><package/>").into_bytes(),
            DOC.replace("</files>", "</files><files></files>")
                .into_bytes(),
            DOC.replace("encoding=\"base64\"", "encoding=\"rot13\"")
                .into_bytes(),
            b"".to_vec(),
            format!(
                "<ns0:scan xmlns:ns0=\"{NS}\">{}{}</ns0:scan>",
                "<a>".repeat(40),
                "</a>".repeat(40)
            )
            .into_bytes(),
        ];
        for b in &bad {
            assert!(run(b).is_err(), "{}", String::from_utf8_lossy(b));
        }
    }

    #[test]
    fn a_long_text_is_refused_before_it_is_held() {
        let long = DOC.replace("Europe/Paris", &"x".repeat(MAX_RUN + 10));
        match run(long.as_bytes()) {
            Err(e) => assert!(e.contains("without markup"), "{e}"),
            Ok(_) => panic!("a text over MAX_RUN was accepted"),
        }
        // Just under the bound is fine.
        let ok = DOC.replace("Europe/Paris", &"x".repeat(MAX_RUN - 10));
        assert!(run(ok.as_bytes()).is_ok());
    }
}
