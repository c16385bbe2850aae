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
//!
//! Written back is not yet durable: `sync_file_range` neither commits the file's metadata
//! nor flushes the disk's own write cache, and a final `fsync` that does both for a whole
//! export took 0.3 s on the test host with only the last 8 MiB unwritten (it grows with
//! the bytes since the last flush, as a virtual disk's host-side cache does). So every
//! [`FLUSH_EVERY`] windows a thread of its own calls `fdatasync` while compression goes
//! on, and the closing `fsync` has one stretch left to flush: 0.30 s → 0.02 s there.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::mpsc;
use std::thread::JoinHandle;

/// Bytes handed to writeback at a time.
pub const WINDOW: u64 = 8 << 20;
/// Windows written back between two `fdatasync`s of the flusher thread: a flush per
/// 32 MiB (seven for a 230 MB export) keeps the final one short without asking a disk
/// shared with the host's workload to empty its cache for every window.
pub const FLUSH_EVERY: u64 = 4;

#[derive(Debug, Default)]
pub struct Writeback {
    /// Offset up to which writeback has been started.
    started: u64,
    /// Off once the filesystem refused: not asked again for this file.
    refused: bool,
    /// Started at the first flush; `None` before, and once it stopped.
    flusher: Option<Flusher>,
    /// No more flushes: the thread could not start, or a flush failed.
    flush_off: bool,
    /// The flusher's error, kept for [`Writeback::finish`].
    failed: Option<std::io::Error>,
}

/// A thread that `fdatasync`s a duplicate of the export's descriptor on request.
#[derive(Debug)]
struct Flusher {
    /// Room for one request: one asked while the last is still running is merged into it.
    ask: mpsc::SyncSender<()>,
    done: JoinHandle<std::io::Result<()>>,
}

impl Flusher {
    fn start(file: &File) -> std::io::Result<Flusher> {
        // A `dup`: the same open file description, so an error the flusher's fdatasync
        // reports is not reported again to the final fsync — it is handed on by `finish`.
        let file = file.try_clone()?;
        let (ask, asked) = mpsc::sync_channel::<()>(1);
        let done = std::thread::Builder::new()
            .name("export-flush".into())
            .spawn(move || {
                for () in asked {
                    file.sync_data()?;
                }
                Ok(())
            })?;
        Ok(Flusher { ask, done })
    }

    /// Wait for the flushes asked so far; the first error, if one failed.
    fn stop(self) -> std::io::Result<()> {
        drop(self.ask);
        self.done
            .join()
            .map_err(|_| std::io::Error::other("the export's flusher thread panicked"))?
    }
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
                    if (prev / WINDOW + 1) % FLUSH_EVERY == 0 {
                        self.ask_flush(file);
                    }
                }
            }
        }
    }

    /// Have the flusher make everything written back so far durable, without waiting.
    fn ask_flush(&mut self, file: &File) {
        if self.flush_off {
            return;
        }
        if self.flusher.is_none() {
            match Flusher::start(file) {
                Ok(f) => self.flusher = Some(f),
                Err(e) => {
                    // No thread: the closing fsync does all of it, as it did before.
                    log::debug!("export flusher not started: {e}");
                    self.flush_off = true;
                    return;
                }
            }
        }
        let Some(flusher) = &self.flusher else { return };
        match flusher.ask.try_send(()) {
            // A flush is already asked for: the one it starts covers this window too.
            Ok(()) | Err(mpsc::TrySendError::Full(())) => {}
            // It stopped: it failed, and `stop` says why.
            Err(mpsc::TrySendError::Disconnected(())) => {
                self.flush_off = true;
                if let Some(f) = self.flusher.take() {
                    self.failed = f.stop().err();
                }
            }
        }
    }

    /// Wait for the flusher; an error it met (the disk refused data already written)
    /// fails the export, since the final `fsync` may no longer report it.
    pub fn finish(&mut self) -> std::io::Result<()> {
        self.flush_off = true;
        if let Some(f) = self.flusher.take() {
            f.stop()?;
        }
        match self.failed.take() {
            Some(e) => Err(e),
            None => Ok(()),
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
        // Window 3 was the fourth written back: the flusher runs, and finished cleanly.
        assert!(wb.flusher.is_some(), "no flush was asked for");
        wb.finish().unwrap();
        assert!(wb.flusher.is_none());
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

    /// A flush that fails is not lost on the flusher's thread: `finish` reports it (the
    /// final fsync may not, on the same open file description). fdatasync of a pipe is
    /// EINVAL; of a regular file it succeeds.
    #[test]
    fn a_failed_flush_fails_finish() {
        let (read_end, write_end) = nix::unistd::pipe().unwrap();
        let pipe = File::from(write_end);
        let mut wb = Writeback::default();
        wb.ask_flush(&pipe);
        let err = wb.finish().unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "{err}");
        // Asked again once finished: nothing more is started.
        wb.ask_flush(&pipe);
        assert!(wb.flusher.is_none());
        drop(read_end);

        let dir = tempfile::tempdir().unwrap();
        let f = File::create(dir.path().join("x")).unwrap();
        let mut wb = Writeback::default();
        wb.ask_flush(&f);
        wb.ask_flush(&f);
        wb.finish().unwrap();
    }
}
