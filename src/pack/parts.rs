//! Exports split into parts for removable media (`--split SIZE`: FAT32 stops at 4 GiB a
//! file): `FILE.001`, `FILE.002`, … whose concatenation is the export, byte for byte (all
//! offsets in the trailer are offsets of that concatenation, so `cat FILE.* > FILE` works).
//! [`SplitWriter`] writes them; [`open`] reads a whole or split export as one stream.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::writeback::Writeback;

/// `FILE.NNN` (1-based, at least three digits).
pub fn part_name(base: &Path, n: usize) -> PathBuf {
    let mut s = base.as_os_str().to_owned();
    s.push(format!(".{n:03}"));
    PathBuf::from(s)
}

/// Create an output file: 0600, never an existing name, never through a symlink.
pub fn create_exclusive(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}

/// Writes parts of at most `size` bytes each, named by `name(n)` (the caller renames them
/// when the export is complete). Every part is created 0600 with O_EXCL.
pub struct SplitWriter {
    name: Box<dyn Fn(usize) -> PathBuf + Send>,
    size: u64,
    current: Option<File>,
    in_current: u64,
    /// The current part goes to disk as it is written (`pack/writeback.rs`).
    writeback: Writeback,
    pub parts: Vec<PathBuf>,
}

/// Make a finished part durable and leave nothing of it in the page cache.
fn close_part(f: File, writeback: &mut Writeback) -> std::io::Result<()> {
    writeback.finish()?;
    f.sync_all()?;
    super::writeback::drop_cached(&f, 0, 0);
    Ok(())
}

impl SplitWriter {
    pub fn new(
        first: File,
        first_name: PathBuf,
        size: u64,
        name: Box<dyn Fn(usize) -> PathBuf + Send>,
    ) -> SplitWriter {
        SplitWriter {
            name,
            size: size.max(1),
            current: Some(first),
            in_current: 0,
            writeback: Writeback::default(),
            parts: vec![first_name],
        }
    }

    /// Flush and fsync every part.
    pub fn finish(mut self) -> std::io::Result<Vec<PathBuf>> {
        if let Some(f) = self.current.take() {
            close_part(f, &mut self.writeback)?;
        }
        Ok(self.parts)
    }
}

impl Write for SplitWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.in_current == self.size {
            if let Some(f) = self.current.take() {
                close_part(f, &mut self.writeback)?;
            }
            self.writeback = Writeback::default();
            let n = self.parts.len() + 1;
            let path = (self.name)(n);
            self.current = Some(create_exclusive(&path)?);
            self.parts.push(path);
            self.in_current = 0;
        }
        let room = usize::try_from(self.size - self.in_current).unwrap_or(usize::MAX);
        let take = buf.len().min(room);
        let f = self
            .current
            .as_mut()
            .ok_or_else(|| std::io::Error::other("no open part"))?;
        let n = f.write(&buf[..take])?;
        self.in_current += n as u64;
        self.writeback.advance(f, self.in_current);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.current {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

/// A whole export, or its parts read as one.
pub struct ExportReader {
    parts: Vec<(File, u64)>,
    pos: u64,
    len: u64,
}

impl ExportReader {
    pub fn len(&self) -> u64 {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn part_count(&self) -> usize {
        self.parts.len()
    }
}

/// Open `path` as an export: the file itself, or — when it does not exist, or names a
/// `.001` part — all of `BASE.001`, `BASE.002`, … in order.
pub fn open(path: &Path) -> std::io::Result<ExportReader> {
    let base = match path.to_str().and_then(|s| s.strip_suffix(".001")) {
        Some(b) => Some(PathBuf::from(b)),
        None if !path.exists() && part_name(path, 1).exists() => Some(path.to_path_buf()),
        None => None,
    };
    let names: Vec<PathBuf> = match base {
        Some(b) => (1..)
            .map(|n| part_name(&b, n))
            .take_while(|p| p.exists())
            .collect(),
        None => vec![path.to_path_buf()],
    };
    let mut parts = Vec::with_capacity(names.len());
    let mut len = 0;
    for n in names {
        let f = File::open(&n)?;
        let l = f.metadata()?.len();
        len += l;
        parts.push((f, l));
    }
    Ok(ExportReader { parts, pos: 0, len })
}

impl Read for ExportReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut start = 0u64;
        for (f, l) in &mut self.parts {
            if self.pos < start + *l {
                let off = self.pos - start;
                f.seek(SeekFrom::Start(off))?;
                let want = buf
                    .len()
                    .min(usize::try_from(*l - off).unwrap_or(usize::MAX));
                let n = f.read(&mut buf[..want])?;
                self.pos += n as u64;
                return Ok(n);
            }
            start += *l;
        }
        Ok(0)
    }
}

impl Seek for ExportReader {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => i128::from(p),
            SeekFrom::End(d) => i128::from(self.len) + i128::from(d),
            SeekFrom::Current(d) => i128::from(self.pos) + i128::from(d),
        };
        if target < 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "seek before the start",
            ));
        }
        self.pos = u64::try_from(target).unwrap_or(u64::MAX);
        Ok(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_then_read_back_as_one() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("x.lsx");
        let first = create_exclusive(&part_name(&base, 1)).unwrap();
        let b2 = base.clone();
        let mut w = SplitWriter::new(
            first,
            part_name(&base, 1),
            1000,
            Box::new(move |n| part_name(&b2, n)),
        );
        let data: Vec<u8> = (0..3500u32).map(|i| (i % 251) as u8).collect();
        for chunk in data.chunks(333) {
            w.write_all(chunk).unwrap();
        }
        let parts = w.finish().unwrap();
        assert_eq!(parts.len(), 4);
        assert_eq!(std::fs::metadata(&parts[3]).unwrap().len(), 500);
        for name in [base.clone(), part_name(&base, 1)] {
            let mut r = open(&name).unwrap();
            assert_eq!(r.len(), 3500);
            let mut all = Vec::new();
            r.read_to_end(&mut all).unwrap();
            assert_eq!(all, data);
            r.seek(SeekFrom::End(-10)).unwrap();
            let mut tail = [0u8; 10];
            r.read_exact(&mut tail).unwrap();
            assert_eq!(&tail[..], &data[3490..]);
        }
    }
}
