//! Uploading an export file (`upload --from FILE`): find or create the scanned instance and
//! the scan, then send the file in chunks from whatever the server has committed. Any
//! failure — dropped connection, timeout, 5xx, a receiver that restarted — ends in asking
//! the server for its committed offset and going on from there, with exponential backoff
//! and jitter, up to a retry limit. Nothing committed is sent twice; the server checks the
//! whole export (and that it is the announced one) before the scan is complete.

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use super::{ReportBody, ShipError, UploadTarget};
use crate::pack::{container, parts};
use crate::uforge::{Distribution, Scan};

#[derive(Debug, Clone)]
pub struct UploadOptions {
    pub name: Option<String>,
    pub chunk_size: usize,
    /// Consecutive failures tolerated before giving up.
    pub retries: u32,
    /// First backoff; doubles per consecutive failure, capped at 30 s, ±50 % jitter.
    pub backoff: Duration,
}

#[derive(Debug, Default)]
pub struct UploadSummary {
    pub scan_uri: String,
    pub bytes: u64,
    /// Bytes put on the wire (more than `bytes` after retries).
    pub sent: u64,
    pub retries: u32,
    pub resumed_from: u64,
    pub seconds: f64,
}

/// Host facts for the scanned instance, from the export's report.
fn host_facts(report: &serde_json::Value) -> (String, Option<String>, Distribution) {
    let host = &report["host"];
    let os = &host["os_release"];
    let s = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
    let hostname = host["hostname"]
        .as_str()
        .unwrap_or("unknown-host")
        .to_string();
    // The profile's distribution (UForge's names, the root's own architecture); exports
    // made before the profile existed fall back to the raw os-release fields.
    let pd = &report["profile"]["distribution"];
    let dist = if pd["name"].is_string() {
        Distribution {
            name: s(&pd["name"]),
            version: s(&pd["version"]),
            arch: s(&pd["arch"]),
        }
    } else {
        Distribution {
            name: os["NAME"]
                .as_str()
                .map_or_else(|| s(&os["ID"]), str::to_string),
            version: s(&os["VERSION_ID"]),
            arch: s(&host["arch"]),
        }
    };
    (
        hostname,
        host["machine_id"].as_str().map(str::to_string),
        dist,
    )
}

fn jitter(d: Duration) -> Duration {
    let mut b = [0u8; 2];
    let _ = getrandom::fill(&mut b);
    let f = 0.5 + f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX);
    d.mul_f64(f)
}

/// Run `f` until it succeeds, is rejected, or fails `retries` times in a row.
fn with_retries<T>(
    opts: &UploadOptions,
    retries: &mut u32,
    what: &str,
    mut f: impl FnMut() -> Result<T, ShipError>,
) -> Result<T, ShipError> {
    let mut failures = 0;
    loop {
        match f() {
            Err(ShipError::Retryable(m)) => {
                failures += 1;
                *retries += 1;
                if failures > opts.retries {
                    return Err(ShipError::Retryable(format!(
                        "{what}: giving up after {} attempts: {m}",
                        failures
                    )));
                }
                let wait = jitter(
                    opts.backoff
                        .saturating_mul(1 << failures.min(6))
                        .min(Duration::from_secs(30)),
                );
                log::warn!("{what}: {m}; retrying in {:.1} s", wait.as_secs_f64());
                std::thread::sleep(wait);
            }
            other => return other,
        }
    }
}

pub fn upload_file(
    target: &dyn UploadTarget,
    file: &Path,
    opts: &UploadOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<UploadSummary, ShipError> {
    let started = Instant::now();
    let bad = |e: String| ShipError::Rejected(format!("{}: {e}", file.display()));
    let mut r = parts::open(file).map_err(|e| bad(e.to_string()))?;
    let total = r.len();
    let (trailer, _) = container::read_trailer(&mut r).map_err(|e| bad(e.to_string()))?;
    let report = container::read_section(
        &mut r,
        trailer.report.offset,
        container::TAG_REPORT,
        4 << 30,
    )
    .map_err(|e| bad(e.to_string()))?;
    let mut report_json = Vec::new();
    zstd::stream::read::Decoder::new(report.as_slice())
        .and_then(|d| d.take(4 << 30).read_to_end(&mut report_json))
        .map_err(|e| bad(format!("report: {e}")))?;
    let report_value: serde_json::Value =
        serde_json::from_slice(&report_json).map_err(|e| bad(format!("report: {e}")))?;
    let (hostname, machine_id, dist) = host_facts(&report_value);
    // The UForge XML the export carries is the scan report; an export made before it did
    // sends its JSON report instead.
    let xml = match trailer.uforge_xml {
        Some(span) => {
            let section =
                container::read_section(&mut r, span.offset, container::TAG_UFORGE_XML, 4 << 30)
                    .map_err(|e| bad(e.to_string()))?;
            let mut xml = Vec::new();
            zstd::stream::read::Decoder::new(section.as_slice())
                .and_then(|d| d.take(4 << 30).read_to_end(&mut xml))
                .map_err(|e| bad(format!("UForge XML report: {e}")))?;
            Some(xml)
        }
        None => None,
    };
    let report_body = match &xml {
        Some(x) => ReportBody::UforgeXml(x),
        None => ReportBody::Json(&report_json),
    };
    let name = opts.name.clone().unwrap_or(hostname);
    let overlay = !trailer.frames.is_empty();

    let mut summary = UploadSummary::default();
    let mut retries = 0;
    let inst = with_retries(opts, &mut retries, "scanned instance", || {
        target.instance(&name, machine_id.as_deref(), &dist, overlay)
    })?;
    let scan: Scan = match with_retries(opts, &mut retries, "finding the scan", || {
        target.find_scan(&inst, &trailer.blake3)
    })? {
        Some(s) => s,
        None => with_retries(opts, &mut retries, "creating the scan", || {
            target.create_scan(&inst, &name, &trailer.blake3, report_body)
        })?,
    };
    summary.scan_uri = scan.uri.clone();
    if scan.status.complete {
        summary.bytes = total;
        summary.seconds = started.elapsed().as_secs_f64();
        return Ok(summary);
    }

    let mut committed = with_retries(opts, &mut retries, "asking what the server has", || {
        target.overlay_state(&scan)
    })?
    .committed;
    summary.resumed_from = committed;
    let chunk_size = opts.chunk_size.max(1) as u64;
    let chunk_len =
        |at: u64| usize::try_from((total.saturating_sub(at)).min(chunk_size)).unwrap_or(0);
    std::thread::scope(|scope| -> Result<(), ShipError> {
        let mut ahead = super::prefetch::Prefetch::start(scope, r);
        let mut failures = 0u32;
        loop {
            if super::interrupt::interrupted() {
                let how = match target.cancel(&scan) {
                    Ok(()) => "the scan is marked cancelled on the server".to_string(),
                    Err(e) => format!("marking the scan cancelled failed: {e}"),
                };
                return Err(ShipError::Interrupted(format!(
                    "{how} ({committed} of {total} bytes were stored)"
                )));
            }
            if committed > total {
                return Err(ShipError::Rejected(format!(
                    "the server holds {committed} bytes, more than this export's {total}: not the same file"
                )));
            }
            let len = chunk_len(committed);
            let chunk = ahead
                .get(committed, len)
                .map_err(|e| bad(format!("reading at {committed}: {e}")))?;
            let end = committed + len as u64;
            let last = end == total;
            // The next chunk is read and hashed while this one is on the wire.
            if !last {
                ahead
                    .ahead(end, chunk_len(end))
                    .map_err(|e| bad(format!("reading at {end}: {e}")))?;
            }
            let digest = last.then_some(trailer.blake3.as_str());
            summary.sent += len as u64;
            let sent = target.send_chunk(&scan, committed, &chunk.data, &chunk.blake3, digest);
            ahead.recycle(chunk.data);
            match sent {
                Ok(state) => {
                    failures = 0;
                    committed = state.committed;
                    progress(committed, total);
                    if last && state.complete {
                        return Ok(());
                    }
                    if last {
                        return Err(ShipError::Rejected(
                            "the server took the last chunk but did not complete the scan".into(),
                        ));
                    }
                }
                Err(ShipError::Conflict(c)) => {
                    // Someone (a previous run, a retry that did land) moved the offset.
                    committed = c;
                }
                Err(ShipError::Complete) => return Ok(()),
                Err(ShipError::Retryable(m)) => {
                    failures += 1;
                    retries += 1;
                    if failures > opts.retries {
                        return Err(ShipError::Retryable(format!(
                            "overlay: giving up after {failures} attempts at byte {committed}: {m}"
                        )));
                    }
                    let wait = jitter(
                        opts.backoff
                            .saturating_mul(1 << failures.min(6))
                            .min(Duration::from_secs(30)),
                    );
                    log::warn!(
                        "overlay at byte {committed}: {m}; retrying in {:.1} s",
                        wait.as_secs_f64()
                    );
                    std::thread::sleep(wait);
                    committed =
                        with_retries(opts, &mut retries, "asking what the server has", || {
                            target.overlay_state(&scan)
                        })?
                        .committed;
                }
                // The last chunk's answer may have been lost after the server completed, or
                // another agent uploading the same export got there first.
                Err(e) => {
                    return match target.overlay_state(&scan) {
                        Ok(s) if s.complete => Ok(()),
                        _ => Err(e),
                    }
                }
            }
        }
    })?;
    summary.bytes = total;
    summary.retries = retries;
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scanned instance's distribution is the profile's (UForge's names, the root's
    /// architecture), with the raw os-release as the fallback for older exports.
    #[test]
    fn host_facts_prefer_the_profile() {
        let report = serde_json::json!({
            "host": {"hostname": "db1", "machine_id": "abc", "arch": "x86_64",
                     "os_release": {"NAME": "Oracle Linux Server", "VERSION_ID": "8.9"}},
            "profile": {"distribution": {"name": "Oracle Linux", "version": "8.9", "arch": "aarch64"}}
        });
        let (host, id, d) = host_facts(&report);
        assert_eq!((host.as_str(), id.as_deref()), ("db1", Some("abc")));
        assert_eq!(
            (d.name.as_str(), d.version.as_str(), d.arch.as_str()),
            ("Oracle Linux", "8.9", "aarch64")
        );
        let mut old = report.clone();
        old.as_object_mut().unwrap().remove("profile");
        let (_, _, d) = host_facts(&old);
        assert_eq!(
            (d.name.as_str(), d.arch.as_str()),
            ("Oracle Linux Server", "x86_64")
        );
    }
}
