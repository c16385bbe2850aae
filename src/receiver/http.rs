//! Request and response helpers of the receiver: replies (JSON, or UForge XML on request),
//! query strings, bounded bodies, headers.

use std::collections::HashMap;
use std::io::Read;

use serde::Serialize;
use tiny_http::Request;

use super::xml;

/// A handler's answer: status and JSON body (or raw bytes).
pub struct Reply {
    pub code: u16,
    pub body: Vec<u8>,
    pub json: bool,
    /// The UForge XML element name of the object, for clients that ask for XML.
    pub root: &'static str,
    /// A stored document served as it is (instead of `body`), with its content type.
    pub file: Option<(std::fs::File, &'static str)>,
}

/// A stored document, or 404 with `missing` when it is not there.
pub fn stored(path: &std::path::Path, ctype: &'static str, missing: &str) -> Reply {
    match std::fs::File::open(path) {
        Ok(f) => Reply {
            code: 200,
            body: Vec::new(),
            json: false,
            root: "",
            file: Some((f, ctype)),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => error(404, missing),
        Err(e) => error(500, format!("storage: {e}")),
    }
}

pub fn json<T: Serialize>(code: u16, v: &T) -> Reply {
    Reply {
        code,
        body: serde_json::to_vec(v).unwrap_or_default(),
        json: true,
        root: xml::root_name::<T>(),
        file: None,
    }
}

pub fn error(code: u16, message: impl Into<String>) -> Reply {
    #[derive(Serialize)]
    struct E {
        error: String,
    }
    json(
        code,
        &E {
            error: message.into(),
        },
    )
}

pub fn query(url: &str) -> HashMap<String, String> {
    let Some((_, q)) = url.split_once('?') else {
        return HashMap::new();
    };
    q.split('&')
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            Some((percent_decode(k)?, percent_decode(v)?))
        })
        .collect()
}

pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(h, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The request body, refused past `limit` bytes.
pub fn read_body(req: &mut Request, limit: u64) -> Result<Vec<u8>, Reply> {
    if req.body_length().is_some_and(|l| l as u64 > limit) {
        return Err(error(413, format!("body over {limit} bytes")));
    }
    let mut body = Vec::new();
    if req
        .as_reader()
        .take(limit + 1)
        .read_to_end(&mut body)
        .is_err()
    {
        return Err(error(400, "connection ended inside the body"));
    }
    if body.len() as u64 > limit {
        return Err(error(413, format!("body over {limit} bytes")));
    }
    Ok(body)
}

/// Copy the request body into `out`, refused past `limit` bytes; the bytes copied.
pub fn copy_body(
    req: &mut Request,
    out: &mut impl std::io::Write,
    limit: u64,
) -> Result<u64, Reply> {
    if req.body_length().is_some_and(|l| l as u64 > limit) {
        return Err(error(413, format!("body over {limit} bytes")));
    }
    let n = match std::io::copy(&mut req.as_reader().take(limit + 1), out) {
        Ok(n) => n,
        Err(e) => return Err(error(400, format!("reading the body: {e}"))),
    };
    if n > limit {
        return Err(error(413, format!("body over {limit} bytes")));
    }
    Ok(n)
}

pub fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers()
        .iter()
        .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
}
