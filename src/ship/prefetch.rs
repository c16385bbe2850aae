//! Reading ahead for `upload --from`: a thread reads and hashes chunk N+1 while chunk N is on
//! the wire, so the time between two chunks is the server's answer only, not a read and a
//! BLAKE3 of 8 MiB as well. Two buffers go round (one in flight, one being filled); a chunk
//! read ahead for an offset the server did not end up at (a retry, a conflict) is dropped
//! and the right one read in its place.

use std::io::{Read, Seek, SeekFrom};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::thread::{Scope, ScopedJoinHandle};

/// One chunk, read and hashed.
pub struct Chunk {
    pub offset: u64,
    pub data: Vec<u8>,
    /// Hex BLAKE3 of `data` (the chunk header's value).
    pub blake3: String,
}

struct Job {
    offset: u64,
    len: usize,
    buf: Vec<u8>,
}

pub struct Prefetch<'scope> {
    jobs: Option<Sender<Job>>,
    done: Receiver<std::io::Result<Chunk>>,
    /// The job asked for and not yet taken.
    pending: Option<(u64, usize)>,
    spare: Vec<Vec<u8>>,
    worker: Option<ScopedJoinHandle<'scope, ()>>,
}

fn read_chunk<R: Read + Seek>(r: &mut R, job: Job) -> std::io::Result<Chunk> {
    let Job {
        offset,
        len,
        mut buf,
    } = job;
    buf.resize(len, 0);
    r.seek(SeekFrom::Start(offset))?;
    r.read_exact(&mut buf)?;
    let blake3 = blake3::hash(&buf).to_hex().to_string();
    Ok(Chunk {
        offset,
        data: buf,
        blake3,
    })
}

impl<'scope> Prefetch<'scope> {
    /// Start the reading thread on `reader` inside `scope`.
    pub fn start<'env, R>(scope: &'scope Scope<'scope, 'env>, mut reader: R) -> Prefetch<'scope>
    where
        R: Read + Seek + Send + 'scope,
    {
        let (jobs, todo) = channel::<Job>();
        let (tell, done) = channel();
        let worker = scope.spawn(move || {
            for job in todo {
                if tell.send(read_chunk(&mut reader, job)).is_err() {
                    break;
                }
            }
        });
        Prefetch {
            jobs: Some(jobs),
            done,
            pending: None,
            spare: Vec::new(),
            worker: Some(worker),
        }
    }

    fn ask(&mut self, offset: u64, len: usize) -> std::io::Result<()> {
        let buf = self.spare.pop().unwrap_or_default();
        let gone = || std::io::Error::other("the reading thread stopped");
        self.jobs
            .as_ref()
            .ok_or_else(gone)?
            .send(Job { offset, len, buf })
            .map_err(|_| gone())?;
        self.pending = Some((offset, len));
        Ok(())
    }

    fn take(&mut self) -> std::io::Result<Chunk> {
        self.pending = None;
        self.done
            .recv()
            .map_err(|_| std::io::Error::other("the reading thread stopped"))?
    }

    /// Start reading `len` bytes at `offset` in the background (if nothing is pending).
    pub fn ahead(&mut self, offset: u64, len: usize) -> std::io::Result<()> {
        if self.pending.is_some() || len == 0 {
            return Ok(());
        }
        self.ask(offset, len)
    }

    /// The chunk of `len` bytes at `offset`: the one read ahead if it is that one.
    pub fn get(&mut self, offset: u64, len: usize) -> std::io::Result<Chunk> {
        match self.pending {
            Some(p) if p == (offset, len) => self.take(),
            Some(_) => {
                if let Ok(c) = self.take() {
                    self.spare.push(c.data);
                }
                self.ask(offset, len)?;
                self.take()
            }
            None => {
                self.ask(offset, len)?;
                self.take()
            }
        }
    }

    /// Give a sent chunk's buffer back for the next read.
    pub fn recycle(&mut self, buf: Vec<u8>) {
        if self.spare.len() < 2 {
            self.spare.push(buf);
        }
    }
}

impl Drop for Prefetch<'_> {
    fn drop(&mut self) {
        // Closing the job channel ends the thread after its current read.
        self.jobs = None;
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_read_ahead_or_on_demand_are_the_file_bytes() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::thread::scope(|s| {
            let mut p = Prefetch::start(s, std::io::Cursor::new(data.clone()));
            let a = p.get(0, 4000).unwrap();
            assert_eq!(a.data, data[..4000]);
            assert_eq!(a.blake3, blake3::hash(&data[..4000]).to_hex().as_str());
            p.ahead(4000, 4000).unwrap();
            p.recycle(a.data);
            let b = p.get(4000, 4000).unwrap();
            assert_eq!((b.offset, &b.data[..]), (4000, &data[4000..8000]));
            // Read ahead for an offset that did not come: the right bytes anyway.
            p.ahead(8000, 4000).unwrap();
            let c = p.get(6000, 3000).unwrap();
            assert_eq!(c.data, data[6000..9000]);
            assert_eq!(c.blake3, blake3::hash(&data[6000..9000]).to_hex().as_str());
            // Past the end: an error, not a short chunk.
            assert!(p.get(99_000, 4000).is_err());
        });
    }
}
