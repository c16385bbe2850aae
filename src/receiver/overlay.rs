//! Overlay uploads on the receiver: livescan's chunks (offset = committed length, BLAKE3 per
//! chunk, fsync before the answer), UForge's plain one-body upload, and the final check of
//! the whole export before a scan is complete.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;

use tiny_http::Request;

use super::http::{error, header, json, read_body, Reply};
use super::store::Store;
use super::{Receiver, MAX_CHUNK, MAX_WHOLE};
use crate::uforge::{OverlayState, Scan};

/// Where one scan's overlay lives and how much of it is stored.
pub struct OverlayAt<'a> {
    pub uid: &'a str,
    pub siid: u64,
    pub path: &'a Path,
    pub committed: u64,
}

impl Receiver {
    pub(super) fn overlay_chunk(
        &self,
        scan: &mut Scan,
        at: &OverlayAt,
        q: &HashMap<String, String>,
        req: &mut Request,
    ) -> Reply {
        let (overlay, committed) = (at.path, at.committed);
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
            return self.whole_overlay(scan, at, q, req);
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
        self.complete_overlay(scan, at, q.get("blake3"))
    }

    /// The whole overlay in one request body, streamed to disk (never held in memory).
    fn whole_overlay(
        &self,
        scan: &mut Scan,
        at: &OverlayAt,
        q: &HashMap<String, String>,
        req: &mut Request,
    ) -> Reply {
        let (overlay, committed) = (at.path, at.committed);
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
        self.complete_overlay(scan, at, digest)
    }

    /// Verify the whole stored overlay (the same checks as `livescan verify`) and that it is
    /// the export announced (`expected` = its trailer digest, if given); mark the scan.
    fn complete_overlay(
        &self,
        scan: &mut Scan,
        at: &OverlayAt,
        expected: Option<&String>,
    ) -> Reply {
        let overlay = at.path;
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
        if let Err(e) = Store::write_json(&self.scan_path(at.uid, at.siid, scan.db_id), &*scan) {
            return error(500, format!("storage: {e}"));
        }
        if scan.status.complete {
            json(201, &*scan)
        } else {
            error(422, scan.status.error_message.clone())
        }
    }
}
