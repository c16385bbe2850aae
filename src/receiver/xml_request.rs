//! UForge's XML request bodies (`Content-Type: application/xml`), as the UForge docs show
//! them for scannedInstance create and scan update:
//!
//! ```xml
//! <ns0:scannedInstance xmlns:ns0="http://www.usharesoft.com/uforge">
//!   <name>Example Scan</name>
//!   <distribution><name>CentOS</name><version>6.7</version><arch>x86_64</arch></distribution>
//! </ns0:scannedInstance>
//! ```
//!
//! The root must be the expected element in UForge's namespace (any prefix, or the default
//! namespace); children are unqualified. The document becomes the JSON value the object
//! model (serde) reads, typed by a template — the JSON of the type's default value — since
//! XML text does not say whether `true` or `42` is a boolean, a number or a string.
//! Elements the model does not know are kept as text and ignored by serde, like unknown
//! JSON keys. No DTD (a `<!DOCTYPE` is refused: no entity tricks), only XML's five
//! predefined entities and character references, at most [`MAX_DEPTH`] levels; the body
//! itself is bounded by the caller.

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;
use serde_json::{Map, Value};

use super::xml::NS;

pub const MAX_DEPTH: usize = 32;

/// One parsed element: its local name, its text and its children, in order.
#[derive(Debug, Default)]
struct Element {
    name: String,
    text: String,
    children: Vec<Element>,
}

fn parse(body: &[u8], root: &str) -> Result<Element, String> {
    let text = std::str::from_utf8(body).map_err(|e| format!("not UTF-8: {e}"))?;
    let mut reader = NsReader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    loop {
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|e| format!("XML: {e}"))?;
        let ns_ok = matches!(&ns, ResolveResult::Bound(n) if n.as_ref() == NS);
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let name = e.local_name().as_ref().to_string();
                if stack.is_empty() {
                    if !ns_ok || name != root {
                        return Err(format!(
                            "expected <{root}> in namespace {NS}, found <{}>",
                            e.name().as_ref()
                        ));
                    }
                } else if stack.len() >= MAX_DEPTH {
                    return Err(format!("nested deeper than {MAX_DEPTH} elements"));
                }
                let el = Element {
                    name,
                    ..Element::default()
                };
                if matches!(event, Event::Empty(_)) {
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(el),
                        None => return Ok(el),
                    }
                } else {
                    stack.push(el);
                }
            }
            Event::End(_) => {
                let Some(el) = stack.pop() else {
                    return Err("closing tag without an opening one".into());
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => return Ok(el),
                }
            }
            Event::Text(t) => {
                let t = t.xml10_content();
                if let Some(el) = stack.last_mut() {
                    el.text.push_str(&t);
                } else if !t.trim().is_empty() {
                    return Err("text outside the root element".into());
                }
            }
            Event::CData(c) => {
                if let Some(el) = stack.last_mut() {
                    el.text.push_str(&c);
                }
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => quick_xml::escape::resolve_predefined_entity(&r)
                        .ok_or_else(|| format!("unknown entity &{};", &*r))?
                        .to_string(),
                    Err(e) => return Err(format!("character reference: {e}")),
                };
                if let Some(el) = stack.last_mut() {
                    el.text.push_str(&resolved);
                }
            }
            Event::DocType(_) => return Err("a DOCTYPE is not accepted".into()),
            Event::Eof => return Err("the document ends inside an element".into()),
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
        }
    }
}

/// The JSON value of `el`, typed by `template` (None: text, or an object of texts).
fn to_value(el: &Element, template: Option<&Value>) -> Result<Value, String> {
    let text = el.text.trim();
    Ok(match template {
        Some(Value::Bool(_)) => match text {
            "true" | "1" => Value::Bool(true),
            "false" | "0" => Value::Bool(false),
            _ => return Err(format!("<{}>: {text:?} is not a boolean", el.name)),
        },
        Some(Value::Number(_)) => text
            .parse::<u64>()
            .map(Value::from)
            .or_else(|_| text.parse::<i64>().map(Value::from))
            .map_err(|_| format!("<{}>: {text:?} is not a whole number", el.name))?,
        // A list wrapper (`<scans><scan>…</scan></scans>`): one item per child.
        Some(Value::Array(items)) => Value::Array(
            el.children
                .iter()
                .map(|c| to_value(c, items.first()))
                .collect::<Result<_, _>>()?,
        ),
        Some(Value::Object(fields)) => object(el, Some(fields))?,
        _ if !el.children.is_empty() => object(el, None)?,
        _ => Value::String(el.text.clone()),
    })
}

fn object(el: &Element, fields: Option<&Map<String, Value>>) -> Result<Value, String> {
    let mut out = Map::new();
    for c in &el.children {
        let v = to_value(c, fields.and_then(|f| f.get(&c.name)))?;
        out.insert(c.name.clone(), v);
    }
    Ok(Value::Object(out))
}

/// Read a UForge XML body whose root element is `root` into `T` (through its JSON form,
/// typed by `T::default()`).
pub fn read<T>(body: &[u8], root: &str) -> Result<T, String>
where
    T: serde::de::DeserializeOwned + serde::Serialize + Default,
{
    let template = serde_json::to_value(T::default()).map_err(|e| e.to_string())?;
    let el = parse(body, root)?;
    let v = to_value(&el, Some(&template))?;
    serde_json::from_value(v).map_err(|e| format!("<{root}>: {e}"))
}

/// Whether a request's `Content-Type` is XML.
pub fn is_xml(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|c| {
        let mime = c.split(';').next().unwrap_or("").trim();
        mime.eq_ignore_ascii_case("application/xml") || mime.eq_ignore_ascii_case("text/xml")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uforge::{Scan, ScannedInstance};

    #[test]
    fn uforge_doc_example_and_escapes() {
        let doc = r#"<?xml version="1.0" encoding="UTF-8"?>
<ns0:scannedInstance xmlns:ns0="http://www.usharesoft.com/uforge">
  <name>R&amp;D &lt;box&gt; &#233;t&#xE9; "q" &apos;s&apos; ü</name>
  <distribution><name>CentOS</name><version>6.7</version><arch>x86_64</arch></distribution>
  <overlayIncluded>true</overlayIncluded>
  <unknownField><deep>x</deep></unknownField>
  <platformType/>
</ns0:scannedInstance>"#;
        let i: ScannedInstance = read(doc.as_bytes(), "scannedInstance").unwrap();
        assert_eq!(i.name, "R&D <box> été \"q\" 's' ü");
        assert_eq!(
            (
                i.distribution.name.as_str(),
                i.distribution.version.as_str()
            ),
            ("CentOS", "6.7")
        );
        assert!(i.overlay_included);
        // The default namespace is the same namespace.
        let d = br#"<scan xmlns="http://www.usharesoft.com/uforge"><status><cancelled>true</cancelled><message><![CDATA[a<b]]></message><percentage>40</percentage></status></scan>"#;
        let s: Scan = read(d, "scan").unwrap();
        assert!(s.status.cancelled);
        assert_eq!(
            (s.status.message.as_str(), s.status.percentage),
            ("a<b", 40)
        );
    }

    #[test]
    fn wrong_documents_are_errors() {
        let bad: &[&[u8]] = &[
            br#"<scannedInstance><name>x</name></scannedInstance>"#,
            br#"<ns0:scannedInstance xmlns:ns0="urn:other"><name>x</name></ns0:scannedInstance>"#,
            br#"<ns0:scan xmlns:ns0="http://www.usharesoft.com/uforge"/>"#,
            br#"<ns0:scannedInstance xmlns:ns0="http://www.usharesoft.com/uforge"><name>x</name>"#,
            br#"<!DOCTYPE a [<!ENTITY e "x">]><ns0:scannedInstance xmlns:ns0="http://www.usharesoft.com/uforge"><name>&e;</name></ns0:scannedInstance>"#,
            br#"<ns0:scannedInstance xmlns:ns0="http://www.usharesoft.com/uforge"><overlayIncluded>yes</overlayIncluded></ns0:scannedInstance>"#,
            b"<ns0:scannedInstance xmlns:ns0=\"http://www.usharesoft.com/uforge\"><name>\xff</name></ns0:scannedInstance>",
            b"",
        ];
        for b in bad {
            assert!(
                read::<ScannedInstance>(b, "scannedInstance").is_err(),
                "{}",
                String::from_utf8_lossy(b)
            );
        }
        let deep = format!(
            "<ns0:scannedInstance xmlns:ns0=\"{NS}\">{}{}</ns0:scannedInstance>",
            "<a>".repeat(100),
            "</a>".repeat(100)
        );
        assert!(read::<ScannedInstance>(deep.as_bytes(), "scannedInstance").is_err());
    }
}
