//! `livescan inspect FILE`: what an export holds, from its report, manifest and trailer
//! only — the overlay frames are never decompressed, so this is instant on any size.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde::Serialize;

use super::container::{self, ContainerError};

#[derive(Debug, Serialize)]
pub struct Inspection {
    pub host: serde_json::Value,
    pub scan: serde_json::Value,
    /// Packages per package manager.
    pub packages: BTreeMap<String, u64>,
    pub totals: serde_json::Value,
    pub entries: u64,
    pub frames: usize,
    pub tar_bytes: u64,
    pub file_bytes: u64,
    pub export_bytes: u64,
    pub not_packed: u64,
    /// Events while packing (files that changed, vanished, …).
    pub events: u64,
    /// The directories holding the most packed bytes (two levels deep), largest first.
    pub top_directories: Vec<(String, u64)>,
}

const MAX_SECTION: u64 = 4 << 30;

fn section_json(
    f: &mut super::parts::ExportReader,
    span: container::Span,
    tag: &[u8; 8],
) -> Result<Vec<u8>, ContainerError> {
    let raw = container::read_section(f, span.offset, tag, MAX_SECTION)?;
    let mut out = Vec::new();
    zstd::stream::read::Decoder::new(raw.as_slice())?
        .take(MAX_SECTION)
        .read_to_end(&mut out)?;
    Ok(out)
}

fn top_dir(path: &[u8]) -> String {
    let s = String::from_utf8_lossy(path);
    let parts: Vec<&str> = s.split('/').filter(|p| !p.is_empty()).collect();
    match parts.len() {
        0 | 1 => "/".to_string(),
        2 => format!("/{}", parts[0]),
        _ => format!("/{}/{}", parts[0], parts[1]),
    }
}

pub fn inspect(path: &Path) -> Result<Inspection, ContainerError> {
    let mut f = super::parts::open(path)?;
    let export_bytes = f.len();
    let (t, _) = container::read_trailer(&mut f)?;
    let report = section_json(&mut f, t.report, container::TAG_REPORT)?;
    let report: serde_json::Value =
        serde_json::from_slice(&report).map_err(|e| ContainerError::Corrupt {
            offset: t.report.offset,
            message: format!("report: {e}"),
        })?;
    let mut packages = BTreeMap::new();
    for p in report["packages"].as_array().into_iter().flatten() {
        let m = p["manager"].as_str().unwrap_or("?").to_string();
        *packages.entry(m).or_insert(0) += 1;
    }
    let mut by_dir: BTreeMap<String, u64> = BTreeMap::new();
    let (mut file_bytes, mut not_packed, mut events) = (0, 0, 0);
    if let Some(span) = t.manifest {
        let manifest = section_json(&mut f, span, container::TAG_MANIFEST)?;
        for line in manifest.split(|&c| c == b'\n').filter(|l| !l.is_empty()) {
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(line) else {
                continue;
            };
            if v.get("event").is_some() {
                events += 1;
            }
            if v.get("type").is_none() {
                not_packed += 1;
                continue;
            }
            let size = v["size"].as_u64().unwrap_or(0);
            if v["type"] == "regular" {
                file_bytes += size;
                let p = crate::path_bytes::from_json(&v["path"]).unwrap_or_default();
                *by_dir.entry(top_dir(&p)).or_default() += size;
            }
        }
    }
    let mut top: Vec<(String, u64)> = by_dir.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    top.truncate(10);
    Ok(Inspection {
        host: report["host"].clone(),
        scan: report["scan"].clone(),
        packages,
        totals: report["totals"].clone(),
        entries: t.entries,
        frames: t.frames.len(),
        tar_bytes: t.tar_bytes,
        file_bytes,
        export_bytes,
        not_packed,
        events,
        top_directories: top,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn top_directories_are_two_levels() {
        assert_eq!(super::top_dir(b"srv/app/x/y"), "/srv/app");
        assert_eq!(super::top_dir(b"etc/hosts"), "/etc");
        assert_eq!(super::top_dir(b"f"), "/");
    }
}
