//! Reading one file of a live system into the archive: exactly the size the header
//! promised, whatever the file does meanwhile (a shrinking file is zero-filled, a growing
//! one cut at the promised size, a rewritten one flagged), with its xattrs, ACLs and holes.

use std::fs::{File, Metadata};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde::Serialize;

use super::acl;
use crate::walk::xattr;

/// What happened to a file while it was packed. Any event makes the run partial, but the
/// archive stays valid: sizes in headers always match the data written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Event {
    /// Fewer bytes than its size at open: the rest is zeros in the archive.
    Shrank { read: u64, expected: u64 },
    /// More bytes than its size at open: cut at that size.
    Grew,
    /// Modified (mtime/ctime moved) while read: the content may mix two versions.
    ChangedWhileRead,
    /// Gone between the scan and packing: not in the archive.
    Vanished,
    /// A different file (inode) than the scan saw: packed as it is now.
    Replaced,
    /// Could not be opened or read: not in the archive (or zero-filled from `at`).
    Unreadable { error: String },
}

/// Holes bigger than this share of the file make it worth storing sparse.
const SPARSE_MIN_SIZE: u64 = 64 * 1024;
/// A sparse map longer than this is stored dense (the map itself would be huge).
const MAX_SPARSE_RUNS: usize = 1 << 16;

/// Data runs `(offset, length)` of a sparse file, found with SEEK_DATA/SEEK_HOLE; `None`
/// when the file is not sparse (or the filesystem cannot say).
pub fn sparse_runs(file: &File, size: u64, blocks: u64) -> Option<Vec<(u64, u64)>> {
    if size < SPARSE_MIN_SIZE || blocks.saturating_mul(512) >= size {
        return None;
    }
    let fd = file.as_raw_fd();
    let mut runs = Vec::new();
    let mut pos: i64 = 0;
    let end = i64::try_from(size).ok()?;
    while pos < end {
        // SAFETY: lseek on a descriptor we own; no memory involved.
        let data = unsafe { libc::lseek(fd, pos, libc::SEEK_DATA) };
        if data < 0 {
            // ENXIO: no data after pos, the rest is a hole.
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::ENXIO) {
                break;
            }
            return None;
        }
        if data >= end {
            break;
        }
        // SAFETY: as above.
        let hole = unsafe { libc::lseek(fd, data, libc::SEEK_HOLE) };
        if hole < 0 {
            return None;
        }
        let hole = hole.min(end);
        runs.push((data as u64, (hole - data) as u64));
        if runs.len() > MAX_SPARSE_RUNS {
            return None;
        }
        pos = hole;
    }
    // A trailing hole: a zero-length run at the end tells the extractor the real size.
    if runs.last().is_none_or(|(o, l)| o + l < size) {
        runs.push((size, 0));
    }
    Some(runs)
}

/// The PAX 1.0 sparse map that starts the member's data, padded to a block.
pub fn sparse_map_block(runs: &[(u64, u64)]) -> Vec<u8> {
    let mut map = format!("{}\n", runs.len());
    for (o, l) in runs {
        map.push_str(&format!("{o}\n{l}\n"));
    }
    let mut map = map.into_bytes();
    map.resize(map.len().div_ceil(512) * 512, 0);
    map
}

/// Copy exactly `len` bytes from `file` at `offset` to `out`; zero-fill if the file ends
/// early. Returns the bytes really read from the file.
fn copy_range(
    file: &File,
    offset: u64,
    len: u64,
    out: &mut dyn Write,
    buf: &mut [u8],
) -> std::io::Result<u64> {
    use std::os::unix::fs::FileExt;
    let mut done = 0u64;
    while done < len {
        let want = buf
            .len()
            .min(usize::try_from(len - done).unwrap_or(usize::MAX));
        let n = match file.read_at(&mut buf[..want], offset + done) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            // Shrank: keep the promise to the tar header with zeros.
            let read = done;
            buf[..want].fill(0);
            while done < len {
                let z = buf
                    .len()
                    .min(usize::try_from(len - done).unwrap_or(usize::MAX));
                buf[..z].fill(0);
                out.write_all(&buf[..z])?;
                done += z as u64;
            }
            return Ok(read);
        }
        out.write_all(&buf[..n])?;
        done += n as u64;
    }
    Ok(done)
}

/// What happened to `file` since `before` (its fstat when it was opened) once `size` bytes
/// were read: grown past them, or modified (mtime/ctime moved) meanwhile.
fn changed_since(file: &File, before: &Metadata, size: u64) -> std::io::Result<Option<Event>> {
    let after = file.metadata()?;
    Ok(if after.len() > size {
        Some(Event::Grew)
    } else if after.mtime() != before.mtime()
        || after.mtime_nsec() != before.mtime_nsec()
        || after.ctime() != before.ctime()
        || after.ctime_nsec() != before.ctime_nsec()
    {
        Some(Event::ChangedWhileRead)
    } else {
        None
    })
}

/// Write the member data of a regular file (dense: `size` bytes; sparse: map + runs) to
/// `out`, which also feeds the manifest digest. `size` is what the header says; `opened` is
/// the fstat taken when the file was opened (the header's), so a change from then on is seen
/// without a second fstat before reading.
pub fn write_data(
    file: &File,
    opened: &Metadata,
    size: u64,
    runs: Option<&[(u64, u64)]>,
    out: &mut dyn Write,
) -> std::io::Result<Option<Event>> {
    let mut buf = vec![0u8; 1 << 20];
    let mut short = None;
    match runs {
        None => {
            let read = copy_range(file, 0, size, out, &mut buf)?;
            if read < size {
                short = Some(read);
            }
        }
        Some(runs) => {
            out.write_all(&sparse_map_block(runs))?;
            for &(o, l) in runs {
                let read = copy_range(file, o, l, out, &mut buf)?;
                if read < l && short.is_none() {
                    short = Some(o + read);
                }
            }
        }
    }
    if let Some(read) = short {
        return Ok(Some(Event::Shrank {
            read,
            expected: size,
        }));
    }
    changed_since(file, opened, size)
}

/// Size of the member data (what the tar header's size field says).
pub fn data_size(size: u64, runs: Option<&[(u64, u64)]>) -> u64 {
    match runs {
        None => size,
        Some(runs) => {
            sparse_map_block(runs).len() as u64 + runs.iter().map(|(_, l)| l).sum::<u64>()
        }
    }
}

/// PAX records for a path's xattrs: `SCHILY.xattr.<name>` for each (raw value), ACLs as
/// `SCHILY.acl.access`/`.default` text, and SELinux labels also as `RHT.security.selinux`
/// (GNU tar's `--selinux` reads that key). Names that are not UTF-8 cannot be PAX keys:
/// they are returned as warnings.
pub fn xattr_records(path: &Path) -> (Vec<(String, Vec<u8>)>, Vec<String>) {
    let mut records = Vec::new();
    let mut warnings = Vec::new();
    let names = match xattr::list(path) {
        Ok(n) => n,
        Err(e) => {
            warnings.push(format!("listing xattrs: {e}"));
            return (records, warnings);
        }
    };
    for name in names {
        let Ok(name) = String::from_utf8(name.clone()) else {
            warnings.push(format!(
                "xattr {:?} has a name that is not UTF-8; not packed",
                String::from_utf8_lossy(&name)
            ));
            continue;
        };
        let value = match xattr::get(path, &name) {
            Ok(Some(v)) => v,
            Ok(None) => continue,
            Err(e) => {
                warnings.push(format!("xattr {name}: {e}"));
                continue;
            }
        };
        match name.as_str() {
            "system.posix_acl_access" | "system.posix_acl_default" => {
                let key = if name.ends_with("access") {
                    "SCHILY.acl.access"
                } else {
                    "SCHILY.acl.default"
                };
                match acl::to_text(&value) {
                    Some(text) => records.push((key.to_string(), text.into_bytes())),
                    None => warnings.push(format!("{name}: not a POSIX ACL; not packed")),
                }
            }
            _ => {
                if name == "security.selinux" {
                    // GNU tar stores the label without its trailing NUL.
                    let label = value.strip_suffix(b"\0").unwrap_or(&value).to_vec();
                    records.push(("RHT.security.selinux".to_string(), label));
                }
                records.push((format!("SCHILY.xattr.{name}"), value));
            }
        }
    }
    (records, warnings)
}

/// Open a file for packing without following a symlink put there since the scan, and
/// without updating its atime.
pub fn open(path: &Path) -> std::io::Result<File> {
    crate::classify::digest::open_gently(path)
}

/// Read all of a small file's member data into memory (parallel reads of small files).
/// Dense files are read straight into the result, without an intermediate buffer. `opened`
/// as for [`write_data`].
pub fn read_small(
    file: &File,
    opened: &Metadata,
    size: u64,
    runs: Option<&[(u64, u64)]>,
) -> std::io::Result<(Vec<u8>, Option<Event>)> {
    if runs.is_some() {
        let mut data = Vec::with_capacity(usize::try_from(data_size(size, runs)).unwrap_or(0));
        let event = write_data(file, opened, size, runs, &mut data)?;
        return Ok((data, event));
    }
    use std::os::unix::fs::FileExt;
    let len = usize::try_from(size).map_err(|_| std::io::Error::other("file too large"))?;
    let mut data = vec![0u8; len];
    let mut done = 0;
    while done < len {
        match file.read_at(&mut data[done..], done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    if done < len {
        // Shrank: the rest stays zero, as the header promised `size` bytes.
        return Ok((
            data,
            Some(Event::Shrank {
                read: done as u64,
                expected: size,
            }),
        ));
    }
    let event = changed_since(file, opened, size)?;
    Ok((data, event))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shrinking_and_growing_files_keep_the_promised_size() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"0123456789").unwrap();
        let f = File::open(&p).unwrap();
        let m = f.metadata().unwrap();
        // Promised 16, the file has 10: zero-filled.
        let (data, ev) = read_small(&f, &m, 16, None).unwrap();
        assert_eq!(data.len(), 16);
        assert_eq!(&data[10..], &[0; 6]);
        assert_eq!(
            ev,
            Some(Event::Shrank {
                read: 10,
                expected: 16
            })
        );
        // Promised 4 of 10: cut.
        let (data, ev) = read_small(&f, &m, 4, None).unwrap();
        assert_eq!(data, b"0123");
        assert_eq!(ev, Some(Event::Grew));
        let (data, ev) = read_small(&f, &m, 10, None).unwrap();
        assert_eq!(data, b"0123456789");
        assert_eq!(ev, None);
    }

    #[test]
    fn sparse_files_are_mapped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sparse");
        let f = File::create(&p).unwrap();
        use std::os::unix::fs::FileExt;
        f.write_all_at(b"head", 0).unwrap();
        f.write_all_at(b"middle", 10 << 20).unwrap();
        f.set_len(20 << 20).unwrap();
        drop(f);
        let f = File::open(&p).unwrap();
        let m = f.metadata().unwrap();
        let Some(runs) = sparse_runs(&f, m.len(), m.blocks()) else {
            eprintln!("SKIP: this filesystem does not report holes");
            return;
        };
        assert_eq!(runs.first().unwrap().0, 0);
        assert_eq!(*runs.last().unwrap(), (20 << 20, 0), "trailing hole marked");
        let (data, ev) = read_small(&f, &m, m.len(), Some(&runs)).unwrap();
        assert_eq!(ev, None);
        assert_eq!(data.len() as u64, data_size(m.len(), Some(&runs)));
        assert!(data.len() < 1 << 20);
        let map = String::from_utf8_lossy(&data[..512]);
        assert!(map.starts_with(&format!("{}\n0\n", runs.len())), "{map}");
    }
}
