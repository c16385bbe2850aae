//! Overlay uploads on the receiver: livescan's chunks (offset = committed length, BLAKE3 per
//! chunk, fsync before the answer), UForge's plain one-body upload, and the final check of
//! the whole export before a scan is complete.
//!
//! A chunk's body is never held whole: it is written into the overlay as it arrives, hashed
//! on the way, and pushed to the disk every few MiB (`sync_file_range`), so the `fdatasync`
//! before the answer waits for the last few MiB only instead of the whole chunk. Its bytes
//! count only once the BLAKE3 matched and they are synced: then the commit point
//! ([`super::commit_point`]) moves. A bad or cut-off chunk is truncated away and never committed.

use std::collections::HashMap;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;

use tiny_http::Request;

use super::commit_point::CommitPoint;
use super::http::{error, header, json, Reply};
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
        let want = header(req, "X-Livescan-Chunk-BLAKE3")
            .unwrap_or("")
            .to_string();
        let len = match store_chunk(overlay, committed, &want, req) {
            Ok(n) => n,
            Err(r) => return r,
        };
        let committed = committed + len;
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
            std::fs::rename(&tmp, overlay)?;
            // A record left by earlier chunk attempts must not hide what is now stored.
            let mut point = CommitPoint::open(overlay)?;
            if point.committed() != n {
                point.advance(n)?;
            }
            Ok(())
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

/// Bytes read from the socket at a time.
const PIECE: usize = 1 << 20;
/// Start writeback after this many new bytes.
const WRITEBACK: u64 = 4 << 20;

/// Ask the kernel to start writing `len` bytes at `offset` of `f` now (not waiting), so the
/// `fdatasync` at the end of the chunk finds them mostly written.
fn start_writeback(f: &std::fs::File, offset: u64, len: u64) {
    let (Ok(off), Ok(n)) = (i64::try_from(offset), i64::try_from(len)) else {
        return;
    };
    // SAFETY: a plain syscall on an open descriptor; no memory is passed. Only a hint: its
    // result does not matter for durability (fdatasync follows).
    unsafe {
        libc::sync_file_range(f.as_raw_fd(), off, n, libc::SYNC_FILE_RANGE_WRITE);
    }
}

/// Write the request body at `offset` (= the commit point) of `overlay`, check it against
/// `want` (hex BLAKE3), make it durable and advance the commit point. Returns its length.
/// Anything that fails leaves the commit point where it was and cuts the tail off.
fn store_chunk(overlay: &Path, offset: u64, want: &str, req: &mut Request) -> Result<u64, Reply> {
    let announced = req.body_length().map(|l| l as u64);
    if announced.is_some_and(|l| l > MAX_CHUNK) {
        return Err(error(413, format!("body over {MAX_CHUNK} bytes")));
    }
    let storage = |e: std::io::Error| error(507, format!("storage: {e}"));
    let mut point = CommitPoint::open(overlay).map_err(storage)?;
    if point.committed() != offset {
        return Err(error(
            500,
            "storage: commit point moved under the scan lock",
        ));
    }
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(overlay)
        .map_err(storage)?;
    // A tail past the commit point is a chunk that failed or was cut off: drop it.
    if f.metadata().map_err(storage)?.len() != offset {
        f.set_len(offset).map_err(storage)?;
    }
    let cut = |reply: Reply| {
        let _ = f.set_len(offset);
        reply
    };
    let mut hasher = blake3::Hasher::new();
    let mut piece = vec![0u8; PIECE];
    let body = req.as_reader();
    let (mut len, mut flushed) = (0u64, 0u64);
    loop {
        let n = match body.read(&mut piece) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return Err(cut(error(400, "connection ended inside the body"))),
        };
        if len + n as u64 > MAX_CHUNK {
            return Err(cut(error(413, format!("body over {MAX_CHUNK} bytes"))));
        }
        hasher.update(&piece[..n]);
        if let Err(e) = f.write_all_at(&piece[..n], offset + len) {
            return Err(cut(storage(e)));
        }
        len += n as u64;
        if len - flushed >= WRITEBACK {
            start_writeback(&f, offset + flushed, len - flushed);
            flushed = len;
        }
    }
    if announced.is_some_and(|l| l != len) {
        return Err(cut(error(400, "connection ended inside the body")));
    }
    if len == 0 {
        return Ok(0);
    }
    if hasher.finalize().to_hex().as_str() != want {
        return Err(cut(error(
            400,
            "chunk BLAKE3 does not match X-Livescan-Chunk-BLAKE3",
        )));
    }
    if let Err(e) = f.sync_data() {
        return Err(cut(storage(e)));
    }
    point.advance(offset + len).map_err(storage)?;
    Ok(len)
}
