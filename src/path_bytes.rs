//! Paths are bytes on Linux. In the JSON report a path is a plain JSON string when its bytes
//! are valid UTF-8 (JSON escaping takes care of newlines, quotes, `>` …), and otherwise an
//! object `{"base64": "<standard base64 of the raw bytes>"}`. Both forms round-trip exactly;
//! consumers that only want text can treat the object form as "not representable".

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserializer, Serializer};

pub fn serialize<S: Serializer>(path: &[u8], s: S) -> Result<S::Ok, S::Error> {
    match std::str::from_utf8(path) {
        Ok(text) => s.serialize_str(text),
        Err(_) => {
            use serde::ser::SerializeMap;
            let mut m = s.serialize_map(Some(1))?;
            m.serialize_entry("base64", &STANDARD.encode(path))?;
            m.end()
        }
    }
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    struct PathVisitor;
    impl<'de> Visitor<'de> for PathVisitor {
        type Value = Vec<u8>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a path string or {\"base64\": …}")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<u8>, E> {
            Ok(v.as_bytes().to_vec())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<u8>, A::Error> {
            let mut out = None;
            while let Some(key) = map.next_key::<String>()? {
                if key != "base64" {
                    return Err(de::Error::unknown_field(&key, &["base64"]));
                }
                let text: String = map.next_value()?;
                out = Some(STANDARD.decode(text).map_err(de::Error::custom)?);
            }
            out.ok_or_else(|| de::Error::missing_field("base64"))
        }
    }
    d.deserialize_any(PathVisitor)
}

/// Decode a path from an already-parsed JSON value (string or `{"base64": …}`).
pub fn from_json(v: &serde_json::Value) -> Option<Vec<u8>> {
    match v {
        serde_json::Value::String(s) => Some(s.as_bytes().to_vec()),
        serde_json::Value::Object(m) if m.len() == 1 => {
            STANDARD.decode(m.get("base64")?.as_str()?).ok()
        }
        _ => None,
    }
}

/// Same encoding for an optional path (e.g. a symlink target).
pub mod option {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(path: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match path {
            Some(p) => super::serialize(p, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        #[derive(Deserialize)]
        struct Wrap(#[serde(with = "super")] Vec<u8>);
        Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
    }
}

/// A path for messages and the human summary: lossy, with non-UTF-8 bytes as `\xNN`
/// and control characters escaped so a hostile name cannot forge terminal output.
pub fn display(path: &[u8]) -> String {
    let mut out = String::with_capacity(path.len());
    for chunk in path.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() {
                out.extend(c.escape_default());
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct P {
        #[serde(with = "super")]
        p: Vec<u8>,
    }

    #[test]
    fn any_bytes_round_trip() {
        for raw in [
            b"/etc/hosts".to_vec(),
            b"/tmp/new\nline \"q\" >x".to_vec(),
            b"/tmp/caf\xe9-latin1".to_vec(),
            b"/tmp/\xff\xfe".to_vec(),
        ] {
            let json = serde_json::to_string(&P { p: raw.clone() }).unwrap();
            let back: P = serde_json::from_str(&json).unwrap();
            assert_eq!(back.p, raw, "{json}");
        }
        let json = serde_json::to_string(&P {
            p: b"/a\xe9".to_vec(),
        })
        .unwrap();
        assert_eq!(json, r#"{"p":{"base64":"L2Hp"}}"#);
    }

    #[test]
    fn display_escapes_controls_and_bad_bytes() {
        assert_eq!(super::display(b"/a\nb\xe9"), "/a\\nb\\xe9");
    }
}
