//! Writing an export file out to its disk while it is being written.
//!
//! Left alone, the kernel holds an export's pages dirty until its writeback threshold, then
//! throttles whoever writes (the host's workload too), and the final `fsync` waits for
//! everything still dirty: half a second at the end of a 255 MB export on the test host,
//! with both cores idle. So every [`WINDOW`] written is handed to writeback at once
//! (`sync_file_range(WRITE)`), and a thread of its own (`export-flush`) waits for it and
//! drops it from the page cache (the export is never read back by this run; the host's own
//! data should stay cached instead). At most [`QUEUED`] + 2 windows are dirty, the disk
//! works while we compress, and the closing `fsync` finds little left.
//!
//! Written back is not yet durable: `sync_file_range` neither commits the file's metadata
//! nor flushes the disk's own write cache, and a final `fsync` that does both for a whole
//! export took 0.32 s on the test host with only the last 8 MiB unwritten (it grows with
//! the bytes since the last flush, as a virtual disk's host-side cache does). So the same
//! thread `fdatasync`s every [`FLUSH_EVERY`] windows: the closing `fsync` took 0.02 s.
//! The waiting is all on that thread, so the packing thread (which feeds the compressions)
//! waits for the disk only when it is slower than compression, not once per window.
//!
//! Writeback is advice: a filesystem that refuses it (some FUSE and network ones) still
//! gets the `fsync` that makes the export durable. An I/O error it reports is not advice:
//! the kernel reports a writeback error once per open file, so one seen here might not be
//! seen again by the final `fsync`; [`Writeback::finish`] hands it on.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::mpsc;
use std::thread::JoinHandle;

/// Bytes handed to writeback at a time.
pub const WINDOW: u64 = 8 << 20;
/// Windows written back between two `fdatasync`s: a flush per 32 MiB (seven for a 230 MB
/// export) keeps the final one short without asking a disk shared with the host's workload
/// to empty its cache for every window.
pub const FLUSH_EVERY: u64 = 4;
/// Windows waiting for the flusher before the writer waits for it in turn.
pub const QUEUED: usize = 1;

#[derive(Debug, Default)]
pub struct Writeback {
    /// Offset up to which writeback has been started.
    started: u64,
    /// Off once the filesystem refused, the flusher stopped, or finished.
    off: bool,
    /// Started with the first window.
    flusher: Option<Flusher>,
    /// An error the flusher met, kept for [`Writeback::finish`].
    failed: Option<std::io::Error>,
}

/// The `export-flush` thread: waits for each window handed to it, drops it from the page
/// cache, and `fdatasync`s a duplicate of the descriptor every [`FLUSH_EVERY`] windows.
#[derive(Debug)]
struct Flusher {
    windows: mpsc::SyncSender<u64>,
    done: JoinHandle<std::io::Result<()>>,
}

impl Flusher {
    fn start(file: &File) -> std::io::Result<Flusher> {
        // A `dup`: the same open file description, so an error its calls see is one the
        // final fsync may not see again — the thread returns it.
        let file = file.try_clone()?;
        let (windows, handed) = mpsc::sync_channel::<u64>(QUEUED);
        let done = std::thread::Builder::new()
            .name("export-flush".into())
            .spawn(move || {
                for start in handed {
                    let wait = libc::SYNC_FILE_RANGE_WAIT_BEFORE
                        | libc::SYNC_FILE_RANGE_WRITE
                        | libc::SYNC_FILE_RANGE_WAIT_AFTER;
                    if !sync_range(&file, start, WINDOW, wait)? {
                        return Ok(());
                    }
                    drop_cached(&file, start, WINDOW);
                    if (start / WINDOW + 1) % FLUSH_EVERY == 0 {
                        file.sync_data()?;
                    }
                }
                Ok(())
            })?;
        Ok(Flusher { windows, done })
    }

    /// Wait for the windows handed over so far; the error that stopped it, if one did.
    fn stop(self) -> std::io::Result<()> {
        drop(self.windows);
        self.done
            .join()
            .map_err(|_| std::io::Error::other("the export's flusher thread panicked"))?
    }
}

impl Writeback {
    /// `written` bytes of `file` are written so far (from offset 0): start writeback of
    /// each whole window not yet started, and hand it to the flusher. Waits only while the
    /// flusher is [`QUEUED`] windows behind.
    pub fn advance(&mut self, file: &File, written: u64) {
        while !self.off && written >= self.started + WINDOW {
            let start = self.started;
            self.started += WINDOW;
            match sync_range(file, start, WINDOW, libc::SYNC_FILE_RANGE_WRITE) {
                Ok(true) => {}
                Ok(false) => self.off = true,
                Err(e) => self.stop_with(Some(e)),
            }
            if self.off {
                return;
            }
            if self.flusher.is_none() {
                match Flusher::start(file) {
                    Ok(f) => self.flusher = Some(f),
                    Err(e) => {
                        // No thread: the closing fsync does all of it, as without this.
                        log::debug!("export flusher not started: {e}");
                        self.off = true;
                        return;
                    }
                }
            }
            if let Some(f) = &self.flusher {
                if f.windows.send(start).is_err() {
                    // It stopped: refused (no error), or failed.
                    self.stop_flusher();
                }
            }
        }
    }

    /// Off from now on; the flusher waited for, and its error (or `error`) kept.
    fn stop_with(&mut self, error: Option<std::io::Error>) {
        self.off = true;
        if self.failed.is_none() {
            self.failed = error;
        }
    }

    fn stop_flusher(&mut self) {
        let error = self.flusher.take().and_then(|f| f.stop().err());
        self.stop_with(error);
    }

    /// Wait for the flusher; an error it met (the disk refused data already written)
    /// fails the export, since the final `fsync` may no longer report it.
    pub fn finish(&mut self) -> std::io::Result<()> {
        self.stop_flusher();
        self.failed.take().map_or(Ok(()), Err)
    }
}

/// `Ok(false)`: this file's filesystem does not do it (advice refused); `Err`: an I/O error.
fn sync_range(file: &File, offset: u64, len: u64, flags: libc::c_uint) -> std::io::Result<bool> {
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return Ok(false);
    };
    // SAFETY: the descriptor is open for as long as `file` is borrowed; the call only
    // reads its arguments.
    let r = unsafe { libc::sync_file_range(file.as_raw_fd(), offset, len, flags) };
    if r == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EINVAL | libc::ESPIPE | libc::ENOSYS | libc::EOPNOTSUPP) => {
            log::debug!("early writeback of the export off: {e}");
            Ok(false)
        }
        _ => Err(e),
    }
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
        if wb.off {
            eprintln!("skipped: this filesystem refuses sync_file_range");
            return;
        }
        assert_eq!(wb.started, 5 * WINDOW);
        assert!(wb.flusher.is_some(), "no flusher for five windows");
        // Waits for the flusher: windows 0..=4 are written back and dropped, flushed at
        // window 3; the last 3 MiB were never a whole window.
        wb.finish().unwrap();
        assert!(wb.flusher.is_none());
        let pages = resident_pages(&f, total as usize);
        // tmpfs keeps every page (it has no disk to write to), so the bound is asserted
        // only where the cache can drop pages.
        let on_tmpfs = nix::sys::statfs::statfs(dir.path())
            .map(|s| s.filesystem_type() == nix::sys::statfs::TMPFS_MAGIC)
            .unwrap_or(false);
        if !on_tmpfs {
            assert!(
                pages <= (3 << 20) / 4096,
                "{pages} pages resident of {}",
                total / 4096
            );
        }
        drop(f);
        let back = std::fs::read(&path).unwrap();
        assert_eq!(back.len() as u64, total);
        assert!(back.iter().all(|&b| b == 0x5a));
    }

    /// An error from the kernel is not lost on the flusher's thread, nor taken for a
    /// refusal: `finish` reports it (the final fsync may not, on the same open file
    /// description). An `O_PATH` descriptor makes every call fail with EBADF, a real error
    /// on the paths an EIO would take: on the writer's side (starting writeback) and on the
    /// flusher's (waiting for it). A pipe is a refusal (ESPIPE): nothing to report.
    #[test]
    fn errors_reach_finish_and_refusals_do_not() {
        use std::os::unix::fs::OpenOptionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        std::fs::write(&path, vec![1u8; (WINDOW as usize) * 2]).unwrap();
        let o_path = || {
            std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_PATH)
                .open(&path)
                .unwrap()
        };

        let mut wb = Writeback::default();
        wb.advance(&o_path(), 2 * WINDOW);
        assert!(wb.off);
        let err = wb.finish().unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EBADF), "{err}");

        let flusher = Flusher::start(&o_path()).unwrap();
        flusher.windows.send(0).unwrap();
        let mut wb = Writeback {
            flusher: Some(flusher),
            ..Writeback::default()
        };
        let err = wb.finish().unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EBADF), "{err}");

        let (read_end, write_end) = nix::unistd::pipe().unwrap();
        let pipe = File::from(write_end);
        let mut wb = Writeback::default();
        wb.advance(&pipe, 2 * WINDOW);
        assert!(wb.off && wb.flusher.is_none());
        wb.finish().unwrap();
        drop(read_end);
    }
}
