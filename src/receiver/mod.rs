//! The receiver: the server side of the UForge scan endpoints livescan uses, under `/api`,
//! with livescan's chunk protocol for overlays (docs/upload-protocol.md). Durable
//! ([`store`]), authenticated ([`auth`]), one lock per scan so different uploads never wait
//! for each other and two clients racing on one scan cannot interleave bytes.

pub mod auth;
pub mod commit_point;
pub mod http;
pub mod overlay;
pub mod store;
pub mod xml;
pub mod xml_request;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tiny_http::{Header, Method, Request, Response, Server};

use http::{error, header, json, percent_decode, query, read_body, Reply};

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
            false => self
                .auth
                .check(req.remote_addr().copied(), header(req, "Authorization")),
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
        let parsed = if xml_request::is_xml(header(req, "Content-Type")) {
            xml_request::read::<ScannedInstance>(&body, "scannedInstance")
        } else {
            serde_json::from_slice(&body).map_err(|e| e.to_string())
        };
        let mut inst = match parsed {
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
        let committed = match commit_point::committed(&overlay) {
            Ok(c) => c,
            Err(e) => return error(500, format!("storage: {e}")),
        };
        match (method, tail) {
            (Method::Get, []) => json(200, &scan),
            (Method::Put, []) => {
                let body = match read_body(req, 1 << 20) {
                    Ok(b) => b,
                    Err(r) => return r,
                };
                let parsed = if xml_request::is_xml(header(req, "Content-Type")) {
                    xml_request::read::<Scan>(&body, "scan")
                } else {
                    serde_json::from_slice::<Scan>(&body).map_err(|e| e.to_string())
                };
                match parsed {
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
                let at = overlay::OverlayAt {
                    uid,
                    siid,
                    path: &overlay,
                    committed,
                };
                self.overlay_chunk(&mut scan, &at, q, req)
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
}
