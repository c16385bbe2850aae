//! UForge's XML form of the receiver's answers (`Accept: application/xml`): the JSON value
//! written as elements, the root qualified in UForge's namespace, lists as a wrapper element
//! holding one element per item (`<scans><scan>…</scan></scans>`), as the UForge docs show.

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

fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {
                out.push_str(&format!("&#x{:x};", c as u32))
            }
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
    let open = |out: &mut String| {
        if root {
            out.push_str(&format!("<ns0:{name} xmlns:ns0=\"{NS}\">"));
        } else {
            out.push_str(&format!("<{name}>"));
        }
    };
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
        Value::String(s) => {
            open(out);
            escape(s, out);
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
}
