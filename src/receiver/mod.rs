//! The receiver: the server side of the UForge scan endpoints livescan uses, under `/api`,
//! with livescan's chunk protocol for overlays (docs/upload-protocol.md). Durable
//! ([`store`]), authenticated ([`auth`]), one lock per scan so different uploads never wait
//! for each other and two clients racing on one scan cannot interleave bytes.

pub mod auth;
pub mod store;
pub mod xml;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tiny_http::{Header, Method, Request, Response, Server};

use crate::uforge::{OpStatus, OverlayState, Scan, ScannedInstance, ScannedInstances, Scans};
use store::Store;

/// Largest chunk the receiver accepts (agents default to 8 MiB).
pub const MAX_CHUNK: u64 = 64 << 20;
/// Largest overlay accepted in one plain (non-chunked) upload.
pub const MAX_WHOLE: u64 = 1 << 40;
/// Largest report accepted with a scan.
pub const MAX_REPORT: u64 = 2 << 30;

pub struct Receiver {
    store: Store,
    auth: auth::Authenticator,
    /// Serialises id allocation and instance/scan creation.
    global: Mutex<()>,
    /// One lock per scan id for its overlay and status.
    scans: Mutex<HashMap<u64, Arc<Mutex<()>>>>,
}

/// A handler's answer: status and JSON body (or raw bytes).
pub struct Reply {
    code: u16,
    body: Vec<u8>,
    json: bool,
    /// The UForge XML element name of the object, for clients that ask for XML.
    root: &'static str,
}

fn json<T: Serialize>(code: u16, v: &T) -> Reply {
    Reply {
        code,
        body: serde_json::to_vec(v).unwrap_or_default(),
        json: true,
        root: xml::root_name::<T>(),
    }
}

fn error(code: u16, message: impl Into<String>) -> Reply {
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

fn query(url: &str) -> HashMap<String, String> {
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

pub(crate) fn percent_decode(s: &str) -> Option<String> {
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
fn read_body(req: &mut Request, limit: u64) -> Result<Vec<u8>, Reply> {
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

fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers()
        .iter()
        .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
}

impl Receiver {
    pub fn open(data: &std::path::Path) -> std::io::Result<Receiver> {
        Ok(Receiver {
            store: Store::open(data)?,
            auth: auth::Authenticator::load(data)?,
            global: Mutex::new(()),
            scans: Mutex::new(HashMap::new()),
        })
    }

    fn scan_lock(&self, sid: u64) -> Arc<Mutex<()>> {
        let mut m = self.scans.lock().unwrap_or_else(|p| p.into_inner());
        m.entry(sid).or_default().clone()
    }

    /// Serve forever with `workers` threads.
    pub fn serve(self: Arc<Self>, server: Arc<Server>, workers: usize) {
        let handles: Vec<_> = (0..workers.max(1))
            .map(|_| {
                let (me, server) = (self.clone(), server.clone());
                std::thread::spawn(move || {
                    while let Ok(req) = server.recv() {
                        me.handle(req);
                    }
                })
            })
            .collect();
        for h in handles {
            let _ = h.join();
        }
    }

    fn handle(&self, mut req: Request) {
        let reply = self.route(&mut req);
        // UForge answers XML unless JSON is asked for; livescan's agent asks for JSON.
        let want_xml = reply.json
            && header(&req, "Accept").is_some_and(|a| a.contains("xml") && !a.contains("json"));
        let (body, ctype) = if want_xml {
            (xml::from_json(reply.root, &reply.body), "application/xml")
        } else if reply.json {
            (reply.body, "application/json")
        } else {
            (reply.body, "application/octet-stream")
        };
        let mut resp = Response::from_data(body).with_status_code(reply.code);
        if let Ok(h) = Header::from_bytes("Content-Type", ctype) {
            resp = resp.with_header(h);
        }
        let _ = req.respond(resp);
    }

    fn route(&self, req: &mut Request) -> Reply {
        let url = req.url().to_string();
        let path = url.split('?').next().unwrap_or("");
        let Some(rest) = path.strip_prefix("/api/") else {
            return error(404, "the API is under /api");
        };
        let parts: Vec<&str> = rest.split('/').collect();
        if parts == ["status"] {
            #[derive(Serialize)]
            #[serde(rename_all = "camelCase")]
            struct ServiceStatus {
                service_status: serde_json::Value,
            }
            return json(
                200,
                &ServiceStatus {
                    service_status: serde_json::json!({"alive": true, "version": env!("CARGO_PKG_VERSION")}),
                },
            );
        }
        let login = match url.contains("signature=") {
            true => self.auth.check_api_key(url.trim_start_matches("/api/")),
            false => self.auth.check(header(req, "Authorization")),
        };
        let Some(login) = login else {
            return error(401, "authentication required");
        };
        let q = query(&url);
        let method = req.method().clone();
        match parts.as_slice() {
            ["users", uid, rest @ ..] => {
                let Some(uid) = percent_decode(uid) else {
                    return error(400, "bad user in path");
                };
                if uid != login {
                    return error(403, "a user can only reach their own scans");
                }
                self.user_route(&uid, rest, &method, &q, req)
            }
            _ => error(404, "no such resource"),
        }
    }

    fn user_route(
        &self,
        uid: &str,
        rest: &[&str],
        method: &Method,
        q: &HashMap<String, String>,
        req: &mut Request,
    ) -> Reply {
        let id = |s: &str| s.parse::<u64>().ok();
        match (method, rest) {
            (Method::Get, ["scannedinstances"]) => self.list_instances(uid, q.get("name")),
            (Method::Post, ["scannedinstances"]) => self.create_instance(uid, req),
            (Method::Get, ["scannedinstances", siid]) => match id(siid) {
                Some(siid) => self.get_instance(uid, siid),
                None => error(400, "bad scanned instance id"),
            },
            (Method::Get, ["scannedinstances", siid, "scans"]) => match id(siid) {
                Some(siid) => self.list_scans(uid, siid),
                None => error(400, "bad scanned instance id"),
            },
            (Method::Post, ["scannedinstances", siid, "scans"]) => match id(siid) {
                Some(siid) => self.create_scan(uid, siid, q, req),
                None => error(400, "bad scanned instance id"),
            },
            (m, ["scannedinstances", siid, "scans", sid, tail @ ..]) => {
                let (Some(siid), Some(sid)) = (id(siid), id(sid)) else {
                    return error(400, "bad id");
                };
                self.scan_route(uid, siid, sid, m, tail, q, req)
            }
            _ => error(404, "no such resource"),
        }
    }

    fn instance_path(&self, uid: &str, siid: u64) -> PathBuf {
        self.store.instance_dir(uid, siid).join("instance.json")
    }

    fn load_instance(&self, uid: &str, siid: u64) -> Option<ScannedInstance> {
        Store::read_json(&self.instance_path(uid, siid))
            .ok()
            .flatten()
    }

    fn list_instances(&self, uid: &str, name: Option<&String>) -> Reply {
        let dir = self.store.user_dir(uid).join("i");
        let list: Vec<ScannedInstance> = Store::ids(&dir)
            .into_iter()
            .filter_map(|siid| self.load_instance(uid, siid))
            .filter(|i| name.is_none_or(|n| &i.name == n))
            .collect();
        json(
            200,
            &ScannedInstances {
                total: list.len() as u64,
                scanned_instances: list,
            },
        )
    }

    fn get_instance(&self, uid: &str, siid: u64) -> Reply {
        match self.load_instance(uid, siid) {
            Some(i) => json(200, &i),
            None => error(404, "no such scanned instance"),
        }
    }

    fn create_instance(&self, uid: &str, req: &mut Request) -> Reply {
        let body = match read_body(req, 1 << 20) {
            Ok(b) => b,
            Err(r) => return r,
        };
        let mut inst: ScannedInstance = match serde_json::from_slice(&body) {
            Ok(i) => i,
            Err(e) => return error(400, format!("scannedInstance: {e}")),
        };
        if inst.name.is_empty() {
            return error(400, "scannedInstance needs a name");
        }
        let _g = self.global.lock().unwrap_or_else(|p| p.into_inner());
        let siid = match self.store.next_id() {
            Ok(i) => i,
            Err(e) => return error(500, format!("storage: {e}")),
        };
        inst.db_id = siid;
        inst.uri = format!("users/{uid}/scannedinstances/{siid}");
        inst.scans_uri = format!("{}/scans", inst.uri);
        inst.total_scans = 0;
        match Store::write_json(&self.instance_path(uid, siid), &inst) {
            Ok(()) => json(201, &inst),
            Err(e) => error(500, format!("storage: {e}")),
        }
    }

    fn scan_path(&self, uid: &str, siid: u64, sid: u64) -> PathBuf {
        self.store.scan_dir(uid, siid, sid).join("scan.json")
    }

    fn load_scan(&self, uid: &str, siid: u64, sid: u64) -> Option<Scan> {
        Store::read_json(&self.scan_path(uid, siid, sid))
            .ok()
            .flatten()
    }

    fn list_scans(&self, uid: &str, siid: u64) -> Reply {
        if self.load_instance(uid, siid).is_none() {
            return error(404, "no such scanned instance");
        }
        let dir = self.store.instance_dir(uid, siid).join("s");
        let scans: Vec<Scan> = Store::ids(&dir)
            .into_iter()
            .filter_map(|sid| self.load_scan(uid, siid, sid))
            .collect();
        json(
            200,
            &Scans {
                total: scans.len() as u64,
                scans,
            },
        )
    }

    fn create_scan(
        &self,
        uid: &str,
        siid: u64,
        q: &HashMap<String, String>,
        req: &mut Request,
    ) -> Reply {
        let Some(mut inst) = self.load_instance(uid, siid) else {
            return error(404, "no such scanned instance");
        };
        let report = match read_body(req, MAX_REPORT) {
            Ok(b) => b,
            Err(r) => return r,
        };
        if serde_json::from_slice::<serde::de::IgnoredAny>(&report).is_err() {
            return error(400, "the report is not JSON");
        }
        let _g = self.global.lock().unwrap_or_else(|p| p.into_inner());
        let sid = match self.store.next_id() {
            Ok(i) => i,
            Err(e) => return error(500, format!("storage: {e}")),
        };
        let uri = format!("users/{uid}/scannedinstances/{siid}/scans/{sid}");
        let scan = Scan {
            db_id: sid,
            name: q
                .get("name")
                .cloned()
                .unwrap_or_else(|| format!("scan {sid}")),
            overlay_uri: format!("{uri}/overlay"),
            uri,
            scanned_instance_uri: inst.uri.clone(),
            overlay_crc: q.get("crc").cloned().unwrap_or_default(),
            scanned: true,
            status: OpStatus {
                message: if inst.overlay_included {
                    "waiting for the overlay".into()
                } else {
                    String::new()
                },
                complete: !inst.overlay_included,
                percentage: if inst.overlay_included { 0 } else { 100 },
                ..OpStatus::default()
            },
        };
        let dir = self.store.scan_dir(uid, siid, sid);
        let stored = store::write_atomic(&dir.join("report.json"), &report, 0o644)
            .and_then(|()| Store::write_json(&dir.join("scan.json"), &scan));
        if let Err(e) = stored {
            return error(500, format!("storage: {e}"));
        }
        inst.total_scans += 1;
        let _ = Store::write_json(&self.instance_path(uid, siid), &inst);
        json(201, &scan)
    }

    #[allow(clippy::too_many_arguments)]
    fn scan_route(
        &self,
        uid: &str,
        siid: u64,
        sid: u64,
        method: &Method,
        tail: &[&str],
        q: &HashMap<String, String>,
        req: &mut Request,
    ) -> Reply {
        let Some(inst) = self.load_instance(uid, siid) else {
            return error(404, "no such scanned instance");
        };
        let lock = self.scan_lock(sid);
        let _g = lock.lock().unwrap_or_else(|p| p.into_inner());
        let Some(mut scan) = self.load_scan(uid, siid, sid) else {
            return error(404, "no such scan");
        };
        let dir = self.store.scan_dir(uid, siid, sid);
        let overlay = dir.join("overlay");
        let committed = std::fs::metadata(&overlay).map(|m| m.len()).unwrap_or(0);
        match (method, tail) {
            (Method::Get, []) => json(200, &scan),
            (Method::Put, []) => {
                let body = match read_body(req, 1 << 20) {
                    Ok(b) => b,
                    Err(r) => return r,
                };
                match serde_json::from_slice::<Scan>(&body) {
                    Ok(update) => {
                        // Only the status is the client's to change.
                        if !scan.status.complete {
                            scan.status.error = update.status.error;
                            scan.status.error_message = update.status.error_message;
                            scan.status.cancelled = update.status.cancelled;
                            scan.status.message = update.status.message;
                        }
                        self.save_scan(uid, siid, &scan)
                    }
                    Err(e) => error(400, format!("scan: {e}")),
                }
            }
            (Method::Delete, ["status"]) => {
                if !scan.status.complete {
                    scan.status.cancelled = true;
                    scan.status.message = "cancelled by the agent".into();
                }
                match Store::write_json(&self.scan_path(uid, siid, sid), &scan) {
                    Ok(()) => json(200, &scan.status),
                    Err(e) => error(500, format!("storage: {e}")),
                }
            }
            (Method::Get, ["overlay", "status"]) => json(
                200,
                &OverlayState {
                    committed,
                    complete: scan.status.complete,
                },
            ),
            (Method::Get, ["overlay"]) => match std::fs::read(&overlay) {
                Ok(b) if scan.status.complete => Reply {
                    code: 200,
                    body: b,
                    json: false,
                    root: "",
                },
                _ => error(404, "no complete overlay"),
            },
            (Method::Post, ["overlay"]) => {
                if !inst.overlay_included {
                    return error(409, "this scanned instance was created without overlay");
                }
                self.overlay_chunk(uid, siid, &mut scan, &overlay, committed, q, req)
            }
            _ => error(404, "no such resource"),
        }
    }

    fn save_scan(&self, uid: &str, siid: u64, scan: &Scan) -> Reply {
        match Store::write_json(&self.scan_path(uid, siid, scan.db_id), scan) {
            Ok(()) => json(200, scan),
            Err(e) => error(500, format!("storage: {e}")),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn overlay_chunk(
        &self,
        uid: &str,
        siid: u64,
        scan: &mut Scan,
        overlay: &std::path::Path,
        committed: u64,
        q: &HashMap<String, String>,
        req: &mut Request,
    ) -> Reply {
        if scan.status.complete {
            // Says so in the chunk protocol's terms: the client is done.
            return json(
                409,
                &OverlayState {
                    committed,
                    complete: true,
                },
            );
        }
        if scan.status.cancelled {
            return error(409, "the scan was cancelled");
        }
        let Some(offset) = q.get("offset") else {
            // UForge's plain upload: the whole overlay in one body (`crc` = its digest).
            return self.whole_overlay(uid, siid, scan, overlay, committed, q, req);
        };
        let Ok(offset) = offset.parse::<u64>() else {
            return error(400, "offset is not a number");
        };
        let state = |committed| OverlayState {
            committed,
            complete: false,
        };
        if offset != committed {
            // The client learns where to continue from the body.
            return json(409, &state(committed));
        }
        let body = match read_body(req, MAX_CHUNK) {
            Ok(b) => b,
            Err(r) => return r,
        };
        if !body.is_empty() {
            let want = header(req, "X-Livescan-Chunk-BLAKE3").unwrap_or("");
            if blake3::hash(&body).to_hex().as_str() != want {
                return error(400, "chunk BLAKE3 does not match X-Livescan-Chunk-BLAKE3");
            }
            let written = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(overlay)
                .and_then(|mut f| {
                    f.write_all(&body)?;
                    f.sync_data()
                });
            if let Err(e) = written {
                return error(507, format!("storage: {e}"));
            }
        }
        let committed = committed + body.len() as u64;
        scan.status.bytes_loaded = committed;
        if q.get("final").map(String::as_str) != Some("true") {
            return json(200, &state(committed));
        }
        self.complete_overlay(uid, siid, scan, overlay, q.get("blake3"))
    }

    /// The whole overlay in one request body, streamed to disk (never held in memory).
    #[allow(clippy::too_many_arguments)]
    fn whole_overlay(
        &self,
        uid: &str,
        siid: u64,
        scan: &mut Scan,
        overlay: &std::path::Path,
        committed: u64,
        q: &HashMap<String, String>,
        req: &mut Request,
    ) -> Reply {
        if committed != 0 {
            return json(
                409,
                &OverlayState {
                    committed,
                    complete: false,
                },
            );
        }
        let tmp = overlay.with_extension("upload");
        let stored = std::fs::File::create(&tmp).and_then(|mut f| {
            let n = std::io::copy(&mut req.as_reader().take(MAX_WHOLE + 1), &mut f)?;
            if n > MAX_WHOLE {
                return Err(std::io::Error::other("over the size limit"));
            }
            f.sync_all()?;
            std::fs::rename(&tmp, overlay)
        });
        if let Err(e) = stored {
            let _ = std::fs::remove_file(&tmp);
            return error(400, format!("overlay upload failed: {e}"));
        }
        let digest = q.get("crc").or_else(|| q.get("blake3"));
        self.complete_overlay(uid, siid, scan, overlay, digest)
    }

    /// Verify the whole stored overlay (the same checks as `livescan verify`) and that it is
    /// the export announced (`expected` = its trailer digest, if given); mark the scan.
    fn complete_overlay(
        &self,
        uid: &str,
        siid: u64,
        scan: &mut Scan,
        overlay: &std::path::Path,
        expected: Option<&String>,
    ) -> Reply {
        let outcome = crate::pack::verify::verify_file(overlay);
        match outcome {
            Ok(v) if expected.is_none_or(|b| *b == v.blake3) => {
                scan.status.complete = true;
                scan.status.percentage = 100;
                scan.status.message = format!("overlay received: {} entries", v.entries);
            }
            Ok(v) => {
                scan.status.error = true;
                scan.status.error_message = format!(
                    "the overlay is a valid export but not the one announced (BLAKE3 {})",
                    v.blake3
                );
            }
            Err(e) => {
                scan.status.error = true;
                scan.status.error_message = format!("the overlay does not verify: {e}");
            }
        }
        if let Err(e) = Store::write_json(&self.scan_path(uid, siid, scan.db_id), &*scan) {
            return error(500, format!("storage: {e}"));
        }
        if scan.status.complete {
            json(201, &*scan)
        } else {
            error(422, scan.status.error_message.clone())
        }
    }
}
