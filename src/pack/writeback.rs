//! Writing an export file out to its disk while it is being written.
//!
//! Left alone, the kernel holds an export's pages dirty until its writeback threshold, then
//! throttles whoever writes (the host's workload too), and the final `fsync` waits for
//! everything still dirty: half a second at the end of a 255 MB export on the test host,
//! with both cores idle. So every [`WINDOW`] written is handed to writeback at once
//! (`sync_file_range(WRITE)`), the window before it waited for and dropped from the page
//! cache (the export is never read back by this run; the host's own data should stay
//! cached instead). At most two windows are dirty, the disk works while we compress, and
//! the closing `fsync` finds little left. All of it is advice: a filesystem that refuses
//! it (some FUSE and network ones) still gets the `fsync` that makes the export durable.

use std::fs::File;
use std::os::fd::AsRawFd;

/// Bytes handed to writeback at a time.
pub const WINDOW: u64 = 8 << 20;

#[derive(Debug, Default)]
pub struct Writeback {
    /// Offset up to which writeback has been started.
    started: u64,
    /// Off once the filesystem refused: not asked again for this file.
    refused: bool,
}

impl Writeback {
    /// `written` bytes of `file` are written so far (from offset 0): start writeback of
    /// each whole window not yet started, and wait for (and drop) the window before it.
    pub fn advance(&mut self, file: &File, written: u64) {
        while !self.refused && written >= self.started + WINDOW {
            let start = self.started;
            self.started += WINDOW;
            if !sync_range(file, start, WINDOW, libc::SYNC_FILE_RANGE_WRITE) {
                self.refused = true;
                return;
            }
            if let Some(prev) = start.checked_sub(WINDOW) {
                let wait = libc::SYNC_FILE_RANGE_WAIT_BEFORE
                    | libc::SYNC_FILE_RANGE_WRITE
                    | libc::SYNC_FILE_RANGE_WAIT_AFTER;
                if sync_range(file, prev, WINDOW, wait) {
                    drop_cached(file, prev, WINDOW);
                }
            }
        }
    }
}

fn sync_range(file: &File, offset: u64, len: u64, flags: libc::c_uint) -> bool {
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return false;
    };
    // SAFETY: the descriptor is open for as long as `file` is borrowed; the call only
    // reads its arguments.
    let r = unsafe { libc::sync_file_range(file.as_raw_fd(), offset, len, flags) };
    if r != 0 {
        log::debug!(
            "early writeback of the export off: {}",
            std::io::Error::last_os_error()
        );
    }
    r == 0
}

/// Drop `len` bytes of `file` from `offset` (0: to the end) from the page cache; they must
/// be written back already, or the kernel keeps them.
pub fn drop_cached(file: &File, offset: u64, len: u64) {
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return;
    };
    // SAFETY: as above; the advice changes only what the page cache keeps of this file.
    unsafe { libc::posix_fadvise(file.as_raw_fd(), offset, len, libc::POSIX_FADV_DONTNEED) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Pages resident in the page cache for `file`'s first `len` bytes (mincore of a map).
    fn resident_pages(file: &File, len: usize) -> usize {
        let page = 4096;
        // SAFETY: a private read-only mapping of an open file, unmapped before returning;
        // mincore writes one byte per page into a vector of that size.
        unsafe {
            let p = libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            );
            assert_ne!(p, libc::MAP_FAILED);
            let mut v = vec![0u8; len.div_ceil(page)];
            assert_eq!(libc::mincore(p, len, v.as_mut_ptr()), 0);
            libc::munmap(p, len);
            v.iter().filter(|&&b| b & 1 == 1).count()
        }
    }

    /// Windows written and waited for leave the page cache; the last two stay (the one
    /// being written back and the open one), and every byte reads back.
    #[test]
    fn written_windows_leave_the_page_cache() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        // Readable too: the page count maps it.
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .unwrap();
        let mut wb = Writeback::default();
        let chunk = vec![0x5au8; 1 << 20];
        let total = 5 * WINDOW + (3 << 20);
        let mut written = 0;
        while written < total {
            f.write_all(&chunk).unwrap();
            written += chunk.len() as u64;
            wb.advance(&f, written);
        }
        if wb.refused {
            eprintln!("skipped: this filesystem refuses sync_file_range");
            return;
        }
        assert_eq!(wb.started, 5 * WINDOW);
        let pages = resident_pages(&f, total as usize);
        let per_window = (WINDOW / 4096) as usize;
        // Windows 0..=3 were waited for and dropped; 4 is in writeback, then 3 MiB open.
        // tmpfs keeps every page (it has no disk to write to), so only an upper bound
        // below the whole file is asserted where the cache can drop pages.
        let on_tmpfs = nix::sys::statfs::statfs(dir.path())
            .map(|s| s.filesystem_type() == nix::sys::statfs::TMPFS_MAGIC)
            .unwrap_or(false);
        if !on_tmpfs {
            assert!(
                pages <= 2 * per_window,
                "{pages} pages resident of {}",
                total / 4096
            );
        }
        drop(f);
        let back = std::fs::read(&path).unwrap();
        assert_eq!(back.len() as u64, total);
        assert!(back.iter().all(|&b| b == 0x5a));
    }
}
