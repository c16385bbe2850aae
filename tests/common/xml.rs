//! Reading UForge XML back in the tests: every leaf with its element path and its decoded
//! bytes (entities and character references resolved, `encoding="base64"` undone).

use base64::Engine as _;
use quick_xml::events::Event;
use quick_xml::Reader;

/// Element path (`scan/files/scannedFile/fullPath`) and decoded text of every leaf.
pub fn leaves(xml: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut reader = Reader::from_reader(xml);
    let mut buf = Vec::new();
    let mut stack: Vec<(String, bool, Vec<u8>)> = Vec::new();
    let mut out = Vec::new();
    loop {
        match reader.read_event_into(&mut buf).unwrap() {
            Event::Start(e) => {
                let b64 = e.attributes().any(|a| {
                    let a = a.unwrap();
                    a.key.0 == "encoding" && &*a.value == "base64"
                });
                let name = e.name().0.to_string();
                stack.push((name, b64, Vec::new()));
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.2.extend_from_slice(t.xml10_content().as_bytes());
                }
            }
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref().unwrap() {
                    Some(c) => c.to_string(),
                    None => quick_xml::escape::resolve_predefined_entity(&r)
                        .unwrap()
                        .to_string(),
                };
                stack.last_mut().unwrap().2.extend_from_slice(c.as_bytes());
            }
            Event::End(_) => {
                let (name, b64, text) = stack.pop().unwrap();
                let path: Vec<&str> = stack
                    .iter()
                    .map(|s| s.0.as_str())
                    .chain([name.as_str()])
                    .collect();
                let value = if b64 {
                    base64::engine::general_purpose::STANDARD
                        .decode(&text)
                        .unwrap()
                } else {
                    text
                };
                out.push((path.join("/"), value));
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    out
}

pub fn values<'a>(leaves: &'a [(String, Vec<u8>)], path: &str) -> Vec<&'a [u8]> {
    leaves
        .iter()
        .filter(|(p, _)| p == path)
        .map(|(_, v)| v.as_slice())
        .collect()
}

/// Fails the test unless xmllint accepts `file` as valid by docs/uforge-livescan.xsd
/// (callers check that xmllint is installed first). `context` is printed on failure.
pub fn assert_valid_by_schema(file: &std::path::Path, context: &str) {
    let lint = std::process::Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/uforge-livescan.xsd"
        ))
        .arg(file)
        .output()
        .unwrap();
    assert!(
        lint.status.success(),
        "xmllint: {}\n{context}",
        String::from_utf8_lossy(&lint.stderr)
    );
}
