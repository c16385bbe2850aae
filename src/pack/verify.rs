//! Check an export end to end: footer and trailer, the whole-file BLAKE3, the report, every
//! frame where the trailer says it is, every tar member against the manifest (path, size,
//! BLAKE3 of its data), counts. The first problem found is the error, naming the frame,
//! entry and path.

use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use super::container::{self, ContainerError};
use super::tar_reader::{TarError, TarReader};

#[derive(Debug)]
pub struct Verified {
    pub report_bytes: u64,
    pub entries: u64,
    pub frames: usize,
    pub tar_bytes: u64,
    pub manifest_lines: usize,
    pub blake3: String,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Container(#[from] ContainerError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Bad(String),
}

fn bad(msg: impl Into<String>) -> VerifyError {
    VerifyError::Bad(msg.into())
}

/// Largest report or manifest we decompress (they are JSON of a whole host).
const MAX_SECTION: u64 = 4 << 30;

fn decompress(data: &[u8], what: &str) -> Result<Vec<u8>, VerifyError> {
    let mut out = Vec::new();
    zstd::stream::read::Decoder::new(data)?
        .take(MAX_SECTION)
        .read_to_end(&mut out)
        .map_err(|e| bad(format!("{what}: not valid zstd: {e}")))?;
    Ok(out)
}

/// A packed entry as the manifest lists it.
struct Listed {
    path: Vec<u8>,
    data_size: u64,
    blake3: Option<String>,
}

fn manifest_entries(text: &[u8]) -> Result<(Vec<Listed>, usize), VerifyError> {
    let mut out = Vec::new();
    let mut lines = 0;
    for (i, line) in text.split(|&c| c == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        lines += 1;
        let v: serde_json::Value = serde_json::from_slice(line)
            .map_err(|e| bad(format!("manifest line {}: {e}", i + 1)))?;
        if v.get("type").is_none() {
            continue; // not packed, or skipped: listed only
        }
        let path = crate::path_bytes::from_json(&v["path"])
            .ok_or_else(|| bad(format!("manifest line {}: bad path", i + 1)))?;
        out.push(Listed {
            path,
            data_size: v["data_size"].as_u64().unwrap_or(0),
            blake3: v["blake3"].as_str().map(str::to_string),
        });
    }
    Ok((out, lines))
}

pub fn verify_file(path: &Path) -> Result<Verified, VerifyError> {
    let mut f = super::parts::open(path)?;
    let (t, trailer_off) = container::read_trailer(&mut f)?;

    // Whole-file digest first: it catches any flipped byte before the trailer.
    f.seek(SeekFrom::Start(0))?;
    let mut hasher = blake3::Hasher::new();
    std::io::copy(&mut BufReader::new((&mut f).take(trailer_off)), &mut hasher)?;
    let digest = hasher.finalize().to_hex().to_string();
    if digest != t.blake3 {
        return Err(bad(format!(
            "whole-file BLAKE3 is {digest}, the trailer says {}: bytes before byte {trailer_off} changed",
            t.blake3
        )));
    }

    let report =
        container::read_section(&mut f, t.report.offset, container::TAG_REPORT, MAX_SECTION)?;
    let report = decompress(&report, "report")?;
    let v: serde_json::Value =
        serde_json::from_slice(&report).map_err(|e| bad(format!("report: {e}")))?;
    if v["schema"] != "livescan-report" {
        return Err(bad("report: not a livescan report"));
    }

    let manifest_span = t.manifest.ok_or_else(|| bad("trailer has no manifest"))?;
    let manifest = container::read_section(
        &mut f,
        manifest_span.offset,
        container::TAG_MANIFEST,
        MAX_SECTION,
    )?;
    let manifest = decompress(&manifest, "manifest")?;
    let (listed, manifest_lines) = manifest_entries(&manifest)?;

    let mut expect_offset = t.report.offset + t.report.length;
    let mut entry = 0u64;
    let mut tar_bytes = 0u64;
    let frame_count = t.frames.len();
    for (fi, frame) in t.frames.iter().enumerate() {
        if frame.offset != expect_offset {
            return Err(bad(format!(
                "frame {fi} starts at byte {}, expected {expect_offset}",
                frame.offset
            )));
        }
        if frame.first_entry != entry || frame.tar_offset != tar_bytes {
            return Err(bad(format!(
                "frame {fi}: index disagrees with the frames before it"
            )));
        }
        f.seek(SeekFrom::Start(frame.offset))?;
        let raw = BufReader::new((&mut f).take(frame.length));
        let mut dec = zstd::stream::read::Decoder::with_buffer(raw)?.single_frame();
        let mut tar = TarReader::new(&mut dec);
        let mut in_frame = 0u64;
        loop {
            let h = match tar.next_header() {
                Ok(Some(h)) => h,
                Ok(None) => break,
                Err(e) => return Err(frame_error(fi, entry, &listed, e)),
            };
            let want = listed.get(entry as usize).ok_or_else(|| {
                bad(format!(
                    "frame {fi}: entry {entry} ({}) is not in the manifest",
                    String::from_utf8_lossy(&h.path)
                ))
            })?;
            let name = String::from_utf8_lossy(&want.path).into_owned();
            if h.path != want.path {
                return Err(bad(format!(
                    "frame {fi}, entry {entry}: archive has {:?}, manifest {name:?}",
                    String::from_utf8_lossy(&h.path)
                )));
            }
            let data_size = if h.typeflag == b'0' { h.size } else { 0 };
            if data_size != want.data_size {
                return Err(bad(format!(
                    "frame {fi}, entry {entry} {name}: {data_size} data bytes, manifest says {}",
                    want.data_size
                )));
            }
            let mut hasher = blake3::Hasher::new();
            tar.data(h.size, |b| {
                hasher.update(b);
            })
            .map_err(|e| frame_error(fi, entry, &listed, e))?;
            if let Some(d) = &want.blake3 {
                let got = hasher.finalize().to_hex().to_string();
                if &got != d {
                    return Err(bad(format!(
                        "frame {fi}, entry {entry} {name}: content BLAKE3 {got}, manifest {d}"
                    )));
                }
            }
            entry += 1;
            in_frame += 1;
        }
        let last = fi + 1 == frame_count;
        if tar.ended != last {
            return Err(bad(format!(
                "frame {fi}: the tar end-of-archive is {}",
                if last {
                    "missing"
                } else {
                    "in the middle of the data"
                }
            )));
        }
        if in_frame != frame.entries || tar.offset != frame.tar_length {
            return Err(bad(format!(
                "frame {fi}: {in_frame} entries and {} tar bytes, the index says {} and {}",
                tar.offset, frame.entries, frame.tar_length
            )));
        }
        // The frame must end exactly where the index says.
        let mut rest = [0u8; 1];
        if dec.read(&mut rest)? != 0 {
            return Err(bad(format!(
                "frame {fi}: data after the end of the archive"
            )));
        }
        tar_bytes += frame.tar_length;
        expect_offset = frame.offset + frame.length;
    }
    if t.frames.is_empty() {
        expect_offset = t.report.offset + t.report.length;
    }
    if manifest_span.offset != expect_offset {
        return Err(bad(format!(
            "manifest at byte {}, expected {expect_offset} (right after the data)",
            manifest_span.offset
        )));
    }
    if entry != t.entries || tar_bytes != t.tar_bytes || entry as usize != listed.len() {
        return Err(bad(format!(
            "{entry} entries and {tar_bytes} tar bytes read; trailer says {} and {}, manifest lists {}",
            t.entries,
            t.tar_bytes,
            listed.len()
        )));
    }
    if let Some(x) = t.uforge_xml {
        let after_manifest = manifest_span.offset + manifest_span.length;
        if x.offset != after_manifest {
            return Err(bad(format!(
                "UForge XML section at byte {}, expected {after_manifest} (right after the manifest)",
                x.offset
            )));
        }
        let xml =
            container::read_section(&mut f, x.offset, container::TAG_UFORGE_XML, MAX_SECTION)?;
        let xml = decompress(&xml, "UForge XML")?;
        if !xml.starts_with(b"<?xml") {
            return Err(bad("UForge XML section: not an XML document"));
        }
    }
    Ok(Verified {
        report_bytes: report.len() as u64,
        entries: entry,
        frames: frame_count,
        tar_bytes,
        manifest_lines,
        blake3: t.blake3,
    })
}

fn frame_error(fi: usize, entry: u64, listed: &[Listed], e: TarError) -> VerifyError {
    let name = listed
        .get(entry as usize)
        .map(|l| String::from_utf8_lossy(&l.path).into_owned())
        .unwrap_or_default();
    bad(format!("frame {fi}, entry {entry} {name}: {e}"))
}
