//! The receiver: the server side of the UForge scan endpoints livescan uses, under `/api`,
//! with livescan's chunk protocol for overlays (docs/upload-protocol.md). Durable
//! ([`store`]), authenticated ([`auth`]), one lock per scan so different uploads never wait
//! for each other and two clients racing on one scan cannot interleave bytes.

pub mod auth;
pub mod commit_point;
pub mod http;
pub mod overlay;
pub mod scan_report;
pub mod store;
pub mod xml;
pub mod xml_request;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tiny_http::{Header, Method, Request, Response, Server};

use http::{copy_body, error, header, json, percent_decode, query, read_body, stored, Reply};

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
        if let Some((file, ctype)) = reply.file {
            let mut resp = Response::from_file(file).with_status_code(reply.code);
            if let Ok(h) = Header::from_bytes("Content-Type", ctype) {
                resp = resp.with_header(h);
            }
            let _ = req.respond(resp);
            return;
        }
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
        // The scan's files are put together in a directory of their own, then renamed into
        // place: a scan exists whole or not at all. (A crash leaves a `.incoming-*`
        // directory, which no listing reads.)
        let mut nonce = [0u8; 8];
        let _ = getrandom::fill(&mut nonce);
        let staging = self.store.instance_dir(uid, siid).join(format!(
            ".incoming-{}",
            nonce.iter().map(|b| format!("{b:02x}")).collect::<String>()
        ));
        let staged = if xml_request::is_xml(header(req, "Content-Type")) {
            stage_xml_report(req, &staging)
        } else {
            stage_json_report(req, &staging)
        };
        let summary = match staged {
            Ok(s) => s,
            Err(r) => {
                let _ = std::fs::remove_dir_all(&staging);
                return r;
            }
        };
        let _g = self.global.lock().unwrap_or_else(|p| p.into_inner());
        let sid = match self.store.next_id() {
            Ok(i) => i,
            Err(e) => return error(500, format!("storage: {e}")),
        };
        let uri = format!("users/{uid}/scannedinstances/{siid}/scans/{sid}");
        let summary = summary.unwrap_or_default();
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
            total_files_added: summary.files_added,
            total_files_deleted: summary.files_deleted,
            total_files_modified: summary.files_modified,
            total_packages: summary.packages,
            unix_services: summary.unix_services,
        };
        let dir = self.store.scan_dir(uid, siid, sid);
        let stored = Store::write_json(&staging.join("scan.json"), &scan)
            .and_then(|()| store::rename_dir(&staging, &dir));
        if let Err(e) = stored {
            let _ = std::fs::remove_dir_all(&staging);
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
        let no_xml = "this scan's report was not sent as UForge XML";
        match (method, tail) {
            (Method::Get, []) => json(200, &scan),
            // The report's pieces, as UForge serves them (XML).
            (Method::Get, ["installProfile"]) => {
                stored(&dir.join("installProfile.xml"), "application/xml", no_xml)
            }
            (Method::Get, ["packages"]) => {
                stored(&dir.join("packages.xml"), "application/xml", no_xml)
            }
            (Method::Get, ["files"]) => stored(&dir.join("files.xml"), "application/xml", no_xml),
            // livescan's addition: the report as the agent sent it, byte for byte.
            (Method::Get, ["report"]) => match dir.join("report.xml").exists() {
                true => stored(&dir.join("report.xml"), "application/xml", "no report"),
                false => stored(&dir.join("report.json"), "application/json", "no report"),
            },
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
                    file: None,
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

/// A UForge XML scan report: the body as sent (`report.xml`) and its pieces
/// (`installProfile.xml`, `packages.xml`, `files.xml`), read as a stream
/// ([`scan_report::split`]), into `staging`.
fn stage_xml_report(
    req: &mut Request,
    staging: &std::path::Path,
) -> Result<Option<scan_report::Summary>, Reply> {
    use std::fs::File;
    use std::io::{BufReader, BufWriter};
    let storage = |e: std::io::Error| error(500, format!("storage: {e}"));
    std::fs::create_dir_all(staging).map_err(storage)?;
    let report = staging.join("report.xml");
    let mut f = File::create(&report).map_err(storage)?;
    copy_body(req, &mut f, MAX_REPORT)?;
    f.sync_all().map_err(storage)?;
    let input = BufReader::with_capacity(64 << 10, File::open(&report).map_err(storage)?);
    let create = |name: &str| -> Result<BufWriter<File>, Reply> {
        Ok(BufWriter::with_capacity(
            64 << 10,
            File::create(staging.join(name)).map_err(storage)?,
        ))
    };
    let mut parts = scan_report::Parts {
        install_profile: create("installProfile.xml")?,
        packages: create("packages.xml")?,
        files: create("files.xml")?,
    };
    let summary = scan_report::split(input, &mut parts)
        .map_err(|e| error(400, format!("scan report: {e}")))?;
    for w in [parts.install_profile, parts.packages, parts.files] {
        let f = w.into_inner().map_err(|e| storage(e.into_error()))?;
        f.sync_all().map_err(storage)?;
    }
    Ok(Some(summary))
}

/// A JSON report (livescan's own, from exports made before they carried the XML).
fn stage_json_report(
    req: &mut Request,
    staging: &std::path::Path,
) -> Result<Option<scan_report::Summary>, Reply> {
    let report = read_body(req, MAX_REPORT)?;
    if serde_json::from_slice::<serde::de::IgnoredAny>(&report).is_err() {
        return Err(error(
            400,
            "the report is neither UForge XML (Content-Type: application/xml) nor JSON",
        ));
    }
    store::write_atomic(&staging.join("report.json"), &report, 0o644)
        .map_err(|e| error(500, format!("storage: {e}")))?;
    Ok(None)
}
