//! The export's tar stream cut into zstd frames that each end on an entry boundary.
//!
//! A frame is compressed on the rayon pool as soon as it is closed, while the caller goes on
//! filling the next one; finished frames are written in the order they were closed, so the
//! bytes depend only on the entries, never on which thread finished first. At most
//! [`Frames::max_in_flight`] frames are out at once, which bounds the memory.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::mpsc;

use zstd::zstd_safe::CParameter;

use super::container::{CountingWriter, FrameInfo};
use super::source::Event;
use super::tar_header;

/// A frame is closed at the first entry boundary past this many tar bytes.
const FRAME_TARGET: usize = 8 << 20;
/// Worker threads of the streaming encoder: fixed, so the output does not depend on the host.
const STREAM_WORKERS: u32 = 2;
/// Frames out for compression at most, whatever the pool's size: each holds up to
/// [`FRAME_TARGET`] raw bytes and as much again compressed.
const MAX_IN_FLIGHT: usize = 8;

/// A closed frame, compressed (or not: `result`) and on its way back to the writer.
struct Compressed {
    seq: u64,
    raw: Vec<u8>,
    out: Vec<u8>,
    first_entry: u64,
    entries: u64,
    tar_offset: u64,
    result: std::io::Result<()>,
}

pub struct Frames<'a, W: Write> {
    out: &'a mut CountingWriter<W>,
    level: i32,
    pending: Vec<u8>,
    pending_first: u64,
    pending_entries: u64,
    /// Sequence number of the next frame to close, and of the next to write.
    next_seq: u64,
    next_write: u64,
    done_tx: mpsc::Sender<Compressed>,
    done_rx: mpsc::Receiver<Compressed>,
    /// Compressed, waiting for an earlier frame to be written first.
    ready: BTreeMap<u64, Compressed>,
    max_in_flight: usize,
    frames: Vec<FrameInfo>,
    entries: u64,
    tar_offset: u64,
    /// Emptied frame buffers (raw tar, compressed), reused: under musl's malloc every fresh
    /// multi-MiB `Vec` is a new mmap whose pages all fault in again, and is unmapped on drop.
    spare_raw: Vec<Vec<u8>>,
    spare_out: Vec<Vec<u8>>,
}

thread_local! {
    /// One compression context per worker thread, reused across frames.
    static COMPRESSOR: std::cell::RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> =
        const { std::cell::RefCell::new(None) };
}

/// Compress `raw` into `out` (emptied first; grown to zstd's bound if it is smaller).
fn compress_frame(raw: &[u8], level: i32, out: &mut Vec<u8>) -> std::io::Result<()> {
    out.clear();
    out.reserve(zstd::zstd_safe::compress_bound(raw.len()));
    COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|(l, _)| *l != level) {
            let mut c = zstd::bulk::Compressor::new(level)?;
            c.set_parameter(CParameter::ChecksumFlag(true))?;
            *slot = Some((level, c));
        }
        match slot.as_mut() {
            Some((_, c)) => c.compress_to_buffer(raw, out).map(|_| ()),
            None => Err(std::io::Error::other("no compressor")),
        }
    })
}

impl<'a, W: Write> Frames<'a, W> {
    pub fn new(out: &'a mut CountingWriter<W>, level: i32) -> Self {
        let (done_tx, done_rx) = mpsc::channel();
        Frames {
            out,
            level,
            pending: Vec::with_capacity(FRAME_TARGET + (1 << 20)),
            pending_first: 0,
            pending_entries: 0,
            next_seq: 0,
            next_write: 0,
            done_tx,
            done_rx,
            ready: BTreeMap::new(),
            // One per worker keeps them all busy; one more is being filled meanwhile.
            max_in_flight: (rayon::current_num_threads() + 1).clamp(2, MAX_IN_FLIGHT),
            frames: Vec::new(),
            entries: 0,
            tar_offset: 0,
            spare_raw: Vec::new(),
            spare_out: Vec::new(),
        }
    }

    /// Frames handed out and not yet written.
    fn in_flight(&self) -> usize {
        (self.next_seq - self.next_write) as usize
    }

    /// Hand the open frame to the pool; write whatever is finished, waiting only while too
    /// many frames are out.
    fn close_pending(&mut self) -> std::io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let fresh = self
            .spare_raw
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(FRAME_TARGET + (1 << 20)));
        let raw = std::mem::replace(&mut self.pending, fresh);
        let mut job = Compressed {
            seq: self.next_seq,
            first_entry: self.pending_first,
            entries: self.pending_entries,
            tar_offset: self.tar_offset - raw.len() as u64,
            raw,
            out: self.spare_out.pop().unwrap_or_default(),
            result: Ok(()),
        };
        self.next_seq += 1;
        self.pending_first = self.entries;
        self.pending_entries = 0;
        let (level, tx) = (self.level, self.done_tx.clone());
        rayon::spawn(move || {
            job.result = compress_frame(&job.raw, level, &mut job.out);
            // The writer gone (it failed, and returned) leaves nothing to tell.
            let _ = tx.send(job);
        });
        self.write_finished(self.max_in_flight)
    }

    /// Write finished frames in order until at most `keep` are out.
    fn write_finished(&mut self, keep: usize) -> std::io::Result<()> {
        loop {
            while let Ok(c) = self.done_rx.try_recv() {
                self.ready.insert(c.seq, c);
            }
            while let Some(c) = self.ready.remove(&self.next_write) {
                self.write_frame(c)?;
            }
            if self.in_flight() <= keep {
                return Ok(());
            }
            // `done_tx` is held here too, so this only fails if a job was lost.
            let c = self
                .done_rx
                .recv()
                .map_err(|_| std::io::Error::other("a frame's compression was lost"))?;
            self.ready.insert(c.seq, c);
        }
    }

    fn write_frame(&mut self, c: Compressed) -> std::io::Result<()> {
        c.result?;
        let offset = self.out.written;
        self.out.write_all(&c.out)?;
        self.frames.push(FrameInfo {
            offset,
            length: c.out.len() as u64,
            first_entry: c.first_entry,
            entries: c.entries,
            tar_offset: c.tar_offset,
            tar_length: c.raw.len() as u64,
        });
        self.next_write += 1;
        let (mut raw, out) = (c.raw, c.out);
        raw.clear();
        self.spare_raw.push(raw);
        self.spare_out.push(out);
        Ok(())
    }

    /// Append one member: its header, data and padding.
    pub fn add(&mut self, header: &[u8], data: &[u8]) -> std::io::Result<()> {
        if self.pending.is_empty() {
            self.pending_first = self.entries;
        }
        let pad = tar_header::padding(data.len() as u64);
        self.pending.extend_from_slice(header);
        self.pending.extend_from_slice(data);
        self.pending.resize(self.pending.len() + pad, 0);
        self.tar_offset += (header.len() + data.len() + pad) as u64;
        self.entries += 1;
        self.pending_entries += 1;
        if self.pending.len() >= FRAME_TARGET {
            self.close_pending()?;
        } else {
            // Keep the output moving while a batch is assembled.
            self.write_finished(self.max_in_flight)?;
        }
        Ok(())
    }

    /// Close the open frame, then write every frame that is out.
    fn flush(&mut self) -> std::io::Result<()> {
        self.close_pending()?;
        self.write_finished(0)
    }

    /// A large member in a frame of its own, streamed: header, `write_data`, padding.
    pub fn stream(
        &mut self,
        header: &[u8],
        data_size: u64,
        write_data: impl FnOnce(&mut dyn Write) -> std::io::Result<Option<Event>>,
    ) -> std::io::Result<(Option<Event>, String)> {
        self.flush()?;
        let offset = self.out.written;
        let mut enc = zstd::stream::Encoder::new(&mut *self.out, self.level)?;
        enc.include_checksum(true)?;
        enc.multithread(STREAM_WORKERS)?;
        enc.write_all(header)?;
        let mut tee = CountingWriter::new(&mut enc);
        let event = write_data(&mut tee)?;
        let (digest, written) = (tee.hasher.finalize(), tee.written);
        if written != data_size {
            return Err(std::io::Error::other(format!(
                "wrote {written} data bytes for a header that says {data_size}"
            )));
        }
        let pad = tar_header::padding(data_size);
        enc.write_all(&vec![0u8; pad])?;
        enc.finish()?;
        let tar_length = header.len() as u64 + data_size + pad as u64;
        self.frames.push(FrameInfo {
            offset,
            length: self.out.written - offset,
            first_entry: self.entries,
            entries: 1,
            tar_offset: self.tar_offset,
            tar_length,
        });
        self.tar_offset += tar_length;
        self.entries += 1;
        self.pending_first = self.entries;
        Ok((event, digest.to_hex().to_string()))
    }

    /// End the tar stream, write every frame; (frames, entries, tar bytes).
    pub fn finish(mut self) -> std::io::Result<(Vec<FrameInfo>, u64, u64)> {
        if self.pending.is_empty() {
            self.pending_first = self.entries;
        }
        self.pending.extend_from_slice(&tar_header::END);
        self.tar_offset += tar_header::END.len() as u64;
        self.flush()?;
        Ok((self.frames, self.entries, self.tar_offset))
    }
}
