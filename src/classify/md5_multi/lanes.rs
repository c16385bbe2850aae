//! One thread's lanes: up to `L` streams are open at once, each with its own buffer; every
//! pass of the kernel takes the same number of whole 64-byte blocks from each busy lane. A
//! lane whose stream ends gets its final padding block(s) appended like any data, and once
//! those are hashed its digest is read out of the state and the lane takes the next stream.
//! When no stream is left to start and too few lanes are busy for the vector kernel to pay,
//! the rest is finished with the scalar compression function (md-5's own assembly).

use std::io::{self, Read};

use super::State;

/// Per-lane read buffer: 8 lanes x 64 KiB stay within a core's L2, like the single 256 KiB
/// buffer of the one-file-at-a-time path.
pub const LANE_BUF: usize = 64 * 1024;

/// MD5's initial state (RFC 1321, 3.3).
const IV: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];

/// A compression function over `L` lanes.
pub trait Kernel<const L: usize>: Copy {
    /// With nothing left to start and fewer busy lanes than this, scalar is faster (one
    /// vector pass costs about as much as this many scalar blocks; measured, see bench/).
    const SCALAR_BELOW: usize;
    /// `data[l]` holds at least `64 * blocks` bytes; all of them are hashed into lane `l`.
    fn compress(self, state: &mut State<L>, data: [&[u8]; L], blocks: usize);
}

struct Stream<S> {
    id: usize,
    src: S,
    /// Unhashed bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    /// Bytes read from `src` so far.
    total: u64,
    eof: bool,
    /// The final padding is in the buffer: the stream ends when it is hashed.
    padded: bool,
}

struct Slot<S> {
    buf: Box<[u8]>,
    stream: Option<Stream<S>>,
}

/// Appends MD5's padding to `tail` message bytes at the start of `buf`: 0x80, zeros, and the
/// message length in bits (little endian, modulo 2^64). Returns the padded length (64 or 128).
fn pad(buf: &mut [u8], tail: usize, total: u64) -> usize {
    debug_assert!(tail < 64);
    let end = if tail < 56 { 64 } else { 128 };
    buf[tail] = 0x80;
    buf[tail + 1..end - 8].fill(0);
    buf[end - 8..end].copy_from_slice(&total.wrapping_mul(8).to_le_bytes());
    end
}

impl<S: Read> Slot<S> {
    /// Makes at least one whole block available (data, or the final padding). `Ok(false)`
    /// when the stream is finished: everything including the padding has been hashed.
    fn refill(&mut self) -> io::Result<bool> {
        let Some(st) = self.stream.as_mut() else {
            return Ok(false);
        };
        if st.end - st.start >= 64 {
            return Ok(true);
        }
        if st.padded {
            // Padding ends on a block boundary, so a padded stream is either whole blocks
            // or done.
            return Ok(st.end > st.start);
        }
        self.buf.copy_within(st.start..st.end, 0);
        st.end -= st.start;
        st.start = 0;
        while st.end < 64 && !st.eof {
            match st.src.read(&mut self.buf[st.end..]) {
                Ok(0) => st.eof = true,
                Ok(n) => {
                    st.end += n;
                    st.total += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if st.end < 64 {
            st.end = pad(&mut self.buf, st.end, st.total);
            st.padded = true;
        }
        Ok(true)
    }
}

fn digest_of(s: [u32; 4]) -> [u8; 16] {
    let mut out = [0; 16];
    for (o, w) in out.chunks_exact_mut(4).zip(s) {
        o.copy_from_slice(&w.to_le_bytes());
    }
    out
}

fn column<const L: usize>(state: &State<L>, l: usize) -> [u32; 4] {
    [state[0][l], state[1][l], state[2][l], state[3][l]]
}

/// Hashes every stream `next` hands out (an id and a reader), `L` at a time, and calls
/// `done` with each one's id, reader and MD5 (or the read error that ended it).
pub fn run<const L: usize, K: Kernel<L>, S: Read>(
    kernel: K,
    mut next: impl FnMut() -> Option<(usize, S)>,
    mut done: impl FnMut(usize, S, io::Result<[u8; 16]>),
) {
    let mut slots: [Slot<S>; L] = std::array::from_fn(|_| Slot {
        buf: vec![0; LANE_BUF].into_boxed_slice(),
        stream: None,
    });
    let mut state: State<L> = [[0; L]; 4];
    let mut exhausted = false;
    loop {
        // Every lane: finish a stream that ended, start the next, make a block available.
        let mut busy = 0;
        for (l, slot) in slots.iter_mut().enumerate() {
            loop {
                if slot.stream.is_none() {
                    if exhausted {
                        break;
                    }
                    let Some((id, src)) = next() else {
                        exhausted = true;
                        break;
                    };
                    slot.stream = Some(Stream {
                        id,
                        src,
                        start: 0,
                        end: 0,
                        total: 0,
                        eof: false,
                        padded: false,
                    });
                    for (word, iv) in state.iter_mut().zip(IV) {
                        word[l] = iv;
                    }
                }
                let r = slot.refill();
                if let Ok(true) = r {
                    busy += 1;
                    break;
                }
                let Some(st) = slot.stream.take() else { break };
                done(st.id, st.src, r.map(|_| digest_of(column(&state, l))));
            }
        }
        if busy == 0 {
            return;
        }
        if exhausted && busy < K::SCALAR_BELOW {
            for (l, slot) in slots.iter_mut().enumerate() {
                if slot.stream.is_some() {
                    let r = finish_scalar(slot, column(&state, l));
                    if let Some(st) = slot.stream.take() {
                        done(st.id, st.src, r);
                    }
                }
            }
            return;
        }
        let blocks = slots
            .iter()
            .filter_map(|s| s.stream.as_ref().map(|st| (st.end - st.start) / 64))
            .min()
            .unwrap_or(0);
        let data: [&[u8]; L] = std::array::from_fn(|l| {
            let slot = &slots[l];
            // Idle lanes hash whatever their buffer holds; their state is never read.
            let start = slot.stream.as_ref().map_or(0, |st| st.start);
            &slot.buf[start..start + blocks * 64]
        });
        kernel.compress(&mut state, data, blocks);
        for slot in &mut slots {
            if let Some(st) = slot.stream.as_mut() {
                st.start += blocks * 64;
            }
        }
    }
}

/// The rest of one lane's stream through the scalar compression function.
fn finish_scalar<S: Read>(slot: &mut Slot<S>, mut s: [u32; 4]) -> io::Result<[u8; 16]> {
    while slot.refill()? {
        let Some(st) = slot.stream.as_mut() else {
            break;
        };
        let whole = (st.end - st.start) / 64 * 64;
        for block in slot.buf[st.start..st.start + whole].chunks_exact(64) {
            let block: &[u8; 64] = block.try_into().map_err(io::Error::other)?;
            md5_asm::compress(&mut s, std::slice::from_ref(block));
        }
        st.start += whole;
    }
    Ok(digest_of(s))
}
