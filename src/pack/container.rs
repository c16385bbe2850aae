//! The export file: one zstd stream that stock tools read as a `.tar.zst`, with livescan's
//! own sections in zstd *skippable* frames that decoders pass over. Layout (docs/export-format.md):
//!
//! ```text
//! [skippable "LSREPORT": zstd(JSON scan report)]      ← first: readable without the overlay
//! [zstd frame]… each ending on a whole tar entry; the last ends the tar archive
//! [skippable "LSMANIFS": zstd(JSON lines: one per packed entry, BLAKE3 of its data, events)]
//! [skippable "LSTRAILR": JSON: section offsets, frame index, counts, BLAKE3 of all bytes before it]
//! [skippable "LSFOOTER": u64 LE offset of the trailer frame]  ← fixed 24 bytes, at the end
//! ```

use std::io::{Read, Seek, SeekFrom, Write};

use serde::{Deserialize, Serialize};

/// zstd's skippable frame magic range is 0x184D2A50..=0x184D2A5F; livescan uses one value.
pub const SKIPPABLE_MAGIC: u32 = 0x184D_2A5E;
pub const TAG_REPORT: &[u8; 8] = b"LSREPORT";
pub const TAG_MANIFEST: &[u8; 8] = b"LSMANIFS";
/// The scan as UForge XML (docs/report-format.md), what `upload` sends as the scan report.
pub const TAG_UFORGE_XML: &[u8; 8] = b"LSUFORGX";
pub const TAG_TRAILER: &[u8; 8] = b"LSTRAILR";
pub const TAG_FOOTER: &[u8; 8] = b"LSFOOTER";
pub const FOOTER_LEN: u64 = 8 + 8 + 8;
pub const FORMAT: &str = "livescan-export";
pub const VERSION: u32 = 1;

/// A skippable frame: magic, content length (u32 LE), content = tag + payload.
pub fn skippable(tag: &[u8; 8], payload: &[u8]) -> std::io::Result<Vec<u8>> {
    let len = u32::try_from(tag.len() + payload.len())
        .map_err(|_| std::io::Error::other("section larger than a skippable frame (4 GiB)"))?;
    let mut out = Vec::with_capacity(8 + len as usize);
    out.extend_from_slice(&SKIPPABLE_MAGIC.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(tag);
    out.extend_from_slice(payload);
    Ok(out)
}

/// Where a section lies in the file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub offset: u64,
    pub length: u64,
}

/// One data frame: where it is, and which tar entries and tar bytes it holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameInfo {
    pub offset: u64,
    pub length: u64,
    /// Index of its first tar entry (in archive order) and how many it holds whole.
    pub first_entry: u64,
    pub entries: u64,
    /// Offset and length of its content in the uncompressed tar stream.
    pub tar_offset: u64,
    pub tar_length: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trailer {
    pub format: String,
    pub version: u32,
    pub report: Span,
    /// Absent with `--no-overlay`.
    pub frames: Vec<FrameInfo>,
    pub manifest: Option<Span>,
    /// The UForge XML section, right after the manifest; absent in exports made before it
    /// existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uforge_xml: Option<Span>,
    pub entries: u64,
    pub tar_bytes: u64,
    pub zstd_level: i32,
    /// BLAKE3 of every byte of the file before the trailer frame, hex.
    pub blake3: String,
}

pub fn footer(trailer_offset: u64) -> std::io::Result<Vec<u8>> {
    skippable(TAG_FOOTER, &trailer_offset.to_le_bytes())
}

#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("not a livescan export: {0}")]
    NotExport(String),
    #[error("byte {offset}: {message}")]
    Corrupt { offset: u64, message: String },
}

fn corrupt(offset: u64, message: impl Into<String>) -> ContainerError {
    ContainerError::Corrupt {
        offset,
        message: message.into(),
    }
}

/// Read one livescan skippable frame at `offset`, checking its tag; returns the payload.
/// `max` bounds what we are willing to allocate.
pub fn read_section<R: Read + Seek>(
    r: &mut R,
    offset: u64,
    tag: &[u8; 8],
    max: u64,
) -> Result<Vec<u8>, ContainerError> {
    r.seek(SeekFrom::Start(offset))?;
    let mut head = [0u8; 16];
    r.read_exact(&mut head)
        .map_err(|_| corrupt(offset, "truncated frame header"))?;
    let magic = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
    let len = u64::from(u32::from_le_bytes([head[4], head[5], head[6], head[7]]));
    if magic != SKIPPABLE_MAGIC || &head[8..16] != tag || len < 8 {
        return Err(corrupt(
            offset,
            format!("expected a {} section", String::from_utf8_lossy(tag)),
        ));
    }
    if len - 8 > max {
        return Err(corrupt(
            offset,
            format!("section of {len} bytes is over the {max}-byte limit"),
        ));
    }
    let mut payload = vec![0u8; usize::try_from(len - 8).unwrap_or(0)];
    r.read_exact(&mut payload)
        .map_err(|_| corrupt(offset, "section truncated"))?;
    Ok(payload)
}

/// The trailer of an export (via its footer), and where it starts.
pub fn read_trailer<R: Read + Seek>(r: &mut R) -> Result<(Trailer, u64), ContainerError> {
    let len = r.seek(SeekFrom::End(0))?;
    if len < FOOTER_LEN {
        return Err(ContainerError::NotExport(format!(
            "{len} bytes is too short"
        )));
    }
    let foot = read_section(r, len - FOOTER_LEN, TAG_FOOTER, 8).map_err(|_| {
        ContainerError::NotExport(
            "no livescan footer at the end (truncated, or not an export)".into(),
        )
    })?;
    let off = u64::from_le_bytes(
        foot.as_slice()
            .try_into()
            .map_err(|_| corrupt(len - FOOTER_LEN, "bad footer"))?,
    );
    if off >= len - FOOTER_LEN {
        return Err(corrupt(len - FOOTER_LEN, "footer points past the end"));
    }
    let json = read_section(r, off, TAG_TRAILER, 64 << 20)?;
    let t: Trailer =
        serde_json::from_slice(&json).map_err(|e| corrupt(off, format!("trailer: {e}")))?;
    if t.format != FORMAT || t.version != VERSION {
        return Err(ContainerError::NotExport(format!(
            "format {} version {} (this livescan reads {FORMAT} {VERSION})",
            t.format, t.version
        )));
    }
    Ok((t, off))
}

/// A writer that counts bytes and hashes everything written (for offsets and the
/// whole-file digest).
pub struct CountingWriter<W: Write> {
    inner: W,
    pub written: u64,
    pub hasher: blake3::Hasher,
}

impl<W: Write> CountingWriter<W> {
    pub fn new(inner: W) -> Self {
        CountingWriter {
            inner,
            written: 0,
            hasher: blake3::Hasher::new(),
        }
    }
    pub fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
