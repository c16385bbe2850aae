//! Streaming a live export straight to the server (`livescan upload` without `--from`): the
//! export is written into a [`ChunkSink`], which sends each full chunk as it fills and keeps
//! only the chunk in flight in memory — no temporary file on the host. A failed chunk is
//! retried from the server's committed offset, which is always inside the chunk still held.
//! (A restarted agent cannot resume a live stream: a re-scan gives other bytes, so it starts
//! a new scan.)

use std::io::Write;
use std::time::Duration;

use super::upload::UploadOptions;
use super::{ShipError, UploadTarget};
use crate::uforge::Scan;

pub struct ChunkSink<'a> {
    target: &'a dyn UploadTarget,
    scan: &'a Scan,
    opts: &'a UploadOptions,
    /// Bytes not yet committed, starting at `base`.
    buf: Vec<u8>,
    base: u64,
    pub sent: u64,
    pub retries: u32,
    /// The error that stopped the stream, kept with its kind for the exit code.
    pub failure: Option<ShipError>,
    progress: &'a mut (dyn FnMut(u64, u64) + Send),
}

impl<'a> ChunkSink<'a> {
    pub fn new(
        target: &'a dyn UploadTarget,
        scan: &'a Scan,
        opts: &'a UploadOptions,
        progress: &'a mut (dyn FnMut(u64, u64) + Send),
    ) -> ChunkSink<'a> {
        ChunkSink {
            target,
            scan,
            opts,
            buf: Vec::with_capacity(opts.chunk_size),
            base: 0,
            sent: 0,
            retries: 0,
            failure: None,
            progress,
        }
    }

    /// Send `buf[..len]` (with `finish` on the last one) until the server has it — and, for
    /// the last chunk, until the server reports the scan complete.
    fn send(&mut self, len: usize, finish: Option<&str>) -> Result<(), ShipError> {
        let end = self.base + len as u64;
        let mut failures = 0u32;
        loop {
            if super::interrupt::interrupted() {
                let _ = self.target.cancel(self.scan);
                return Err(ShipError::Interrupted(
                    "the scan is marked cancelled on the server".into(),
                ));
            }
            let data = &self.buf[..(end - self.base) as usize];
            self.sent += data.len() as u64;
            let mut complete = false;
            let digest = blake3::hash(data).to_hex();
            let committed =
                match self
                    .target
                    .send_chunk(self.scan, self.base, data, digest.as_str(), finish)
                {
                    Ok(state) => {
                        complete = state.complete;
                        state.committed
                    }
                    Err(ShipError::Conflict(c)) => c,
                    Err(ShipError::Complete) if finish.is_some() => {
                        complete = true;
                        end
                    }
                    Err(ShipError::Retryable(m)) => {
                        failures += 1;
                        self.retries += 1;
                        if failures > self.opts.retries {
                            return Err(ShipError::Retryable(format!(
                                "giving up after {failures} attempts at byte {}: {m}",
                                self.base
                            )));
                        }
                        let wait = self
                            .opts
                            .backoff
                            .saturating_mul(1 << failures.min(6))
                            .min(Duration::from_secs(30));
                        log::warn!(
                            "overlay at byte {}: {m}; retrying in {:.1} s",
                            self.base,
                            wait.as_secs_f64()
                        );
                        std::thread::sleep(wait);
                        match self.target.overlay_state(self.scan) {
                            Ok(s) => {
                                complete = s.complete;
                                s.committed
                            }
                            Err(_) => self.base,
                        }
                    }
                    // The last chunk's answer may have been lost after the server completed.
                    Err(e) if finish.is_some() => match self.target.overlay_state(self.scan) {
                        Ok(s) if s.complete => {
                            complete = true;
                            s.committed
                        }
                        _ => return Err(e),
                    },
                    Err(e) => return Err(e),
                };
            if committed < self.base || committed > end {
                return Err(ShipError::Rejected(format!(
                    "the server reports {committed} bytes committed, outside the chunk held ({}..{end})",
                    self.base
                )));
            }
            self.buf.drain(..(committed - self.base) as usize);
            self.base = committed;
            (self.progress)(committed, 0);
            if committed == end && (finish.is_none() || complete) {
                return Ok(());
            }
        }
    }

    /// Send what is left as the last chunk, announcing the export's digest.
    pub fn finish(mut self, digest: &str) -> Result<(u64, u64, u32), ShipError> {
        if let Some(f) = self.failure.take() {
            return Err(f);
        }
        let len = self.buf.len();
        self.send(len, Some(digest))?;
        Ok((self.base, self.sent, self.retries))
    }
}

impl Write for ChunkSink<'_> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.failure.is_some() {
            return Err(std::io::Error::other("the upload already failed"));
        }
        self.buf.extend_from_slice(data);
        // Keep at least one byte back: the final chunk must carry the `final` flag.
        while self.buf.len() > self.opts.chunk_size {
            if let Err(e) = self.send(self.opts.chunk_size, None) {
                let msg = e.to_string();
                self.failure = Some(e);
                return Err(std::io::Error::other(msg));
            }
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
