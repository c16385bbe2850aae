//! Bounded reads of a block device or an image: every on-disk parser reads through this.
//!
//! A parser asks for a few sectors at a time at offsets it computed from bytes it does not
//! trust, so each read is capped ([`MAX_READ`]) and a read past the end is a short read,
//! never a panic. Devices are opened `O_RDONLY` without `O_EXCL` (an exclusive open would
//! fail on a mounted device and, worse, keep mkfs or the kernel from opening it meanwhile),
//! and read with `pread`: nothing is written, locked or cached by us.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// The largest single read any parser makes (a GPT entry array of 128 × 128 bytes is 16 KiB;
/// LVM metadata text is the largest thing read, and it is bounded here too).
pub const MAX_READ: usize = 1 << 20;

/// Something with bytes at offsets: a device, an image file, or a byte slice (fuzzing, tests).
pub trait BlockRead {
    /// Size in bytes.
    fn size(&self) -> u64;
    /// Up to `len` bytes at `offset` (fewer at the end; `len` is capped at [`MAX_READ`]).
    fn read_at(&self, offset: u64, len: usize) -> io::Result<Vec<u8>>;

    /// Exactly `len` bytes at `offset`, or an error naming the offset.
    fn read_exact_at(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let buf = self.read_at(offset, len)?;
        if buf.len() < len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{len} bytes at offset {offset}: only {} there", buf.len()),
            ));
        }
        Ok(buf)
    }
}

/// Bytes in memory as a device (fuzzing, seeds).
pub struct Bytes<'a>(pub &'a [u8]);

impl BlockRead for Bytes<'_> {
    fn size(&self) -> u64 {
        self.0.len() as u64
    }

    fn read_at(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let len = len.min(MAX_READ);
        let Ok(start) = usize::try_from(offset) else {
            return Ok(Vec::new());
        };
        if start >= self.0.len() {
            return Ok(Vec::new());
        }
        let end = start.saturating_add(len).min(self.0.len());
        Ok(self.0[start..end].to_vec())
    }
}

/// A window of another reader: a partition read through its disk (`start`, `size` in bytes),
/// as blkid does, so partitions need no device node of their own.
pub struct Window<'a> {
    pub inner: &'a dyn BlockRead,
    pub start: u64,
    pub size: u64,
}

impl BlockRead for Window<'_> {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        if offset >= self.size {
            return Ok(Vec::new());
        }
        let len = (len as u64).min(self.size - offset) as usize;
        match self.start.checked_add(offset) {
            Some(at) => self.inner.read_at(at, len),
            None => Ok(Vec::new()),
        }
    }
}

/// A device node or image file, opened read-only.
pub struct Device {
    file: File,
    size: u64,
    path: PathBuf,
}

impl Device {
    /// Open `path` read-only; `size` is what sysfs says (a block device's `metadata().len()`
    /// is 0), or the file's length when `None`.
    pub fn open(path: &Path, size: Option<u64>) -> io::Result<Device> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .read(true)
            // O_NONBLOCK: an empty CD drive or a tape must not make open() wait.
            .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        let size = match size {
            Some(s) => s,
            None => file.metadata()?.len(),
        };
        Ok(Device {
            file,
            size,
            path: path.to_path_buf(),
        })
    }
}

impl BlockRead for Device {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        if offset >= self.size {
            return Ok(Vec::new());
        }
        let len = (len.min(MAX_READ) as u64).min(self.size - offset) as usize;
        let mut buf = vec![0u8; len];
        let mut got = 0;
        while got < len {
            match self.file.read_at(&mut buf[got..], offset + got as u64) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!(
                            "{} at offset {}: {e}",
                            self.path.display(),
                            offset + got as u64
                        ),
                    ))
                }
            }
        }
        buf.truncate(got);
        Ok(buf)
    }
}

// Little helpers over fixed-size fields; callers check lengths first (`read_exact_at`).

pub fn le16(b: &[u8], at: usize) -> u16 {
    b.get(at..at + 2)
        .map_or(0, |s| u16::from_le_bytes([s[0], s[1]]))
}

pub fn le32(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map_or(0, |s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

pub fn le64(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8).map_or(0, |s| {
        u64::from_le_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]])
    })
}

pub fn be16(b: &[u8], at: usize) -> u16 {
    b.get(at..at + 2)
        .map_or(0, |s| u16::from_be_bytes([s[0], s[1]]))
}

pub fn be32(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map_or(0, |s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

pub fn be64(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8).map_or(0, |s| {
        u64::from_be_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]])
    })
}

/// 16 bytes at `at` in the usual 8-4-4-4-12 form, lowercase (as blkid prints it).
pub fn uuid(b: &[u8], at: usize) -> String {
    let Some(u) = b.get(at..at + 16) else {
        return String::new();
    };
    let h: Vec<String> = u.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        h[0..4].concat(),
        h[4..6].concat(),
        h[6..8].concat(),
        h[8..10].concat(),
        h[10..16].concat()
    )
}

/// A GUID as GPT stores it (first three fields little-endian), lowercase.
pub fn guid(b: &[u8], at: usize) -> String {
    let Some(u) = b.get(at..at + 16) else {
        return String::new();
    };
    let mut r = [0u8; 16];
    r.copy_from_slice(u);
    r[0..4].reverse();
    r[4..6].reverse();
    r[6..8].reverse();
    uuid(&r, 0)
}

/// A fixed-size text field (label), NUL-padded; `None` when empty.
pub fn label(b: &[u8], at: usize, len: usize) -> Option<String> {
    let f = b.get(at..at + len)?;
    let end = f.iter().position(|&c| c == 0).unwrap_or(f.len());
    let s = String::from_utf8_lossy(&f[..end]).trim_end().to_string();
    (!s.is_empty()).then_some(s)
}

pub fn is_zero(b: &[u8]) -> bool {
    b.iter().all(|&x| x == 0)
}
