//! UForge's XML form of the receiver's answers (`Accept: application/xml`): the JSON value
//! written as elements, the root qualified in UForge's namespace, lists as a wrapper element
//! holding one element per item (`<scans><scan>…</scan></scans>`), as the UForge docs show.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::report::uforge_xml::xml_char;

pub const NS: &str = "http://www.usharesoft.com/uforge";

/// The element name for a response type: its Rust name in lowerCamelCase, with UForge's own
/// names where they differ.
pub fn root_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    match full.rsplit("::").next().unwrap_or(full) {
        "ScannedInstance" => "scannedInstance",
        "ScannedInstances" => "scannedInstances",
        "Scan" => "scan",
        "Scans" => "scans",
        "OpStatus" => "status",
        "OverlayState" => "overlayState",
        "ServiceStatus" => "",
        _ => "error",
    }
}

/// Text that XML 1.0 can carry, escaped as the report writer does (`report/uforge_xml.rs`):
/// entities for markup, CR as `&#13;` (a parser would turn a raw CR into LF).
fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

/// `items` → `item`, `scannedInstances` → `scannedInstance`.
fn singular(name: &str) -> &str {
    name.strip_suffix('s').unwrap_or(name)
}

fn element(name: &str, v: &serde_json::Value, out: &mut String, root: bool) {
    use serde_json::Value;
    let open_with = |out: &mut String, attrs: &str| {
        if root {
            out.push_str(&format!("<ns0:{name} xmlns:ns0=\"{NS}\"{attrs}>"));
        } else {
            out.push_str(&format!("<{name}{attrs}>"));
        }
    };
    let open = |out: &mut String| open_with(out, "");
    let close = |out: &mut String| {
        if root {
            out.push_str(&format!("</ns0:{name}>"));
        } else {
            out.push_str(&format!("</{name}>"));
        }
    };
    match v {
        Value::Null => {}
        Value::Object(m) => {
            open(out);
            for (k, v) in m {
                element(k, v, out, false);
            }
            close(out);
        }
        Value::Array(items) => {
            open(out);
            for item in items {
                element(singular(name), item, out, false);
            }
            close(out);
        }
        Value::String(s) if s.chars().all(xml_char) => {
            open(out);
            escape(s, out);
            close(out);
        }
        // XML 1.0 cannot carry these characters, not even as character references: the
        // documented base64 form (docs/report-format.md), as the report writer does.
        Value::String(s) => {
            open_with(out, " encoding=\"base64\"");
            out.push_str(&STANDARD.encode(s.as_bytes()));
            close(out);
        }
        other => {
            open(out);
            out.push_str(&other.to_string());
            close(out);
        }
    }
}

/// The XML document for a JSON body. An empty `root` means the JSON is `{name: object}`.
pub fn from_json(root: &str, json: &[u8]) -> Vec<u8> {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(json) else {
        return json.to_vec();
    };
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>");
    match (root, &v) {
        ("", serde_json::Value::Object(m)) if m.len() == 1 => {
            if let Some((k, inner)) = m.iter().next() {
                element(k, inner, &mut out, true);
            }
        }
        (r, v) => element(if r.is_empty() { "error" } else { r }, v, &mut out, true),
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uforge::{Scan, Scans};

    #[test]
    fn uforge_shapes() {
        let scans = Scans {
            scans: vec![Scan {
                db_id: 7,
                name: "a<b & c".into(),
                uri: "users/u/scannedinstances/1/scans/7".into(),
                ..Scan::default()
            }],
            total: 1,
        };
        let x = String::from_utf8(from_json(
            root_name::<Scans>(),
            &serde_json::to_vec(&scans).unwrap(),
        ))
        .unwrap();
        assert!(
            x.contains(&format!(
                "<ns0:scans xmlns:ns0=\"{NS}\"><scans><scan><dbId>7</dbId>"
            )),
            "{x}"
        );
        assert!(x.contains("<name>a&lt;b &amp; c</name>"), "{x}");
        assert!(
            x.contains("<uri>users/u/scannedinstances/1/scans/7</uri>"),
            "{x}"
        );
        assert!(x.ends_with("<total>1</total></ns0:scans>"), "{x}");
        let s = String::from_utf8(from_json("", br#"{"serviceStatus":{"alive":true}}"#)).unwrap();
        assert!(
            s.contains("<ns0:serviceStatus xmlns:ns0") && s.contains("<alive>true</alive>"),
            "{s}"
        );
        assert_eq!(root_name::<crate::uforge::OpStatus>(), "status");
    }

    /// A scan named with a control character (U+0001, which XML 1.0 cannot carry even as
    /// `&#x1;`) and a CR: the answer is well-formed XML (xmllint), the name is in the
    /// documented base64 form, and the CR survives a parser as `&#13;`.
    #[test]
    fn control_characters_become_base64() {
        let scan = Scan {
            db_id: 3,
            name: "web\u{1}01".into(),
            uri: "a\rb".into(),
            ..Scan::default()
        };
        let x = from_json(root_name::<Scan>(), &serde_json::to_vec(&scan).unwrap());
        let text = String::from_utf8(x.clone()).unwrap();
        assert!(
            text.contains(&format!(
                "<name encoding=\"base64\">{}</name>",
                STANDARD.encode("web\u{1}01")
            )),
            "{text}"
        );
        assert!(text.contains("<uri>a&#13;b</uri>"), "{text}");
        assert!(!text.contains('\u{1}') && !text.contains("&#x1;"), "{text}");

        let Ok(mut lint) = std::process::Command::new("xmllint")
            .args(["--noout", "-"])
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
        else {
            eprintln!("SKIP control_characters_become_base64 (xmllint part): xmllint not found (apt-get install libxml2-utils)");
            return;
        };
        use std::io::Write;
        lint.stdin.take().unwrap().write_all(&x).unwrap();
        let out = lint.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "xmllint refused the answer: {}\n{text}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
