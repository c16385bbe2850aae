//! A section compressed into an unnamed temporary file, then copied into the export.
//!
//! A skippable frame starts with its content's length, and the export goes where nothing
//! can seek back to fill it in later (standard output, split parts, an upload stream). So
//! the section's zstd stream is spooled to a temporary file (`O_TMPFILE`, or created and
//! unlinked at once: gone when dropped), its length read from there, and the file copied after the
//! header: the report, the UForge XML and the manifest are never in memory, neither whole
//! nor compressed, however many files the host has.

use std::fs::File;
use std::io::{self, BufWriter, Seek, Write};
use std::path::Path;

use super::container::{self, CountingWriter, Span};

pub struct Spool {
    enc: BufWriter<zstd::stream::write::Encoder<'static, BufWriter<File>>>,
}

impl Spool {
    /// A spool in `dir`: the export's own directory, so it draws on the space the export
    /// needs anyway and never on a small tmpfs.
    pub fn new(dir: &Path, level: i32) -> io::Result<Spool> {
        let file = tempfile::tempfile_in(dir).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("temporary file in {}: {e}", dir.display()),
            )
        })?;
        let enc = zstd::stream::write::Encoder::new(BufWriter::new(file), level)?;
        Ok(Spool {
            enc: BufWriter::with_capacity(1 << 16, enc),
        })
    }

    /// Finish the zstd stream and write it to `out` as the skippable section `tag`.
    pub fn write_section<W: Write>(
        self,
        out: &mut CountingWriter<W>,
        tag: &[u8; 8],
    ) -> io::Result<Span> {
        let enc = self.enc.into_inner().map_err(|e| e.into_error())?;
        let mut file = enc.finish()?.into_inner().map_err(|e| e.into_error())?;
        let payload = file.stream_position()?;
        let content = u32::try_from(tag.len() as u64 + payload)
            .map_err(|_| io::Error::other("section larger than a skippable frame (4 GiB)"))?;
        let offset = out.written;
        out.write_all(&container::SKIPPABLE_MAGIC.to_le_bytes())?;
        out.write_all(&content.to_le_bytes())?;
        out.write_all(tag)?;
        file.rewind()?;
        let copied = io::copy(&mut file, out)?;
        if copied != payload {
            return Err(io::Error::other(format!(
                "temporary file of section {} shrank from {payload} to {copied} bytes",
                String::from_utf8_lossy(tag)
            )));
        }
        Ok(Span {
            offset,
            length: 8 + u64::from(content),
        })
    }
}

impl Write for Spool {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.enc.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.enc.flush()
    }
}

/// What fills a section: called once with the writer the section's bytes go to (on
/// another thread, for a section written while the overlay is packed).
pub type Fill<'a> = &'a (dyn Fn(&mut dyn Write) -> io::Result<()> + Sync);

/// The section `tag` holding what `fill` writes, compressed at `level`.
pub fn section<W: Write>(
    out: &mut CountingWriter<W>,
    tag: &[u8; 8],
    level: i32,
    dir: &Path,
    fill: Fill<'_>,
) -> io::Result<Span> {
    let mut spool = Spool::new(dir, level)?;
    fill(&mut spool)?;
    spool.write_section(out, tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A section spooled in pieces reads back whole through the container's reader, at the
    /// offset and with the length its span says; a failing fill fails the section.
    #[test]
    fn spooled_section_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut out = CountingWriter::new(Vec::new());
        out.write_all(b"before").unwrap();
        let text: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let span = section(&mut out, container::TAG_REPORT, 3, dir.path(), &|w| {
            for piece in text.chunks(777) {
                w.write_all(piece)?;
            }
            Ok(())
        })
        .unwrap();
        let bytes = out.into_inner();
        assert_eq!(span.offset, 6);
        assert_eq!(span.offset + span.length, bytes.len() as u64);
        let mut r = io::Cursor::new(bytes);
        let payload =
            container::read_section(&mut r, span.offset, container::TAG_REPORT, 1 << 30).unwrap();
        assert_eq!(zstd::decode_all(payload.as_slice()).unwrap(), text);

        let mut out = CountingWriter::new(Vec::new());
        let err = section(&mut out, container::TAG_REPORT, 3, dir.path(), &|_| {
            Err(io::Error::other("no room"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "no room");
        assert_eq!(
            out.written, 0,
            "nothing of a failed section reaches the export"
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
