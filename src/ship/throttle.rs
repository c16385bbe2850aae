//! `--bwlimit RATE`: a token bucket shared by every request of one upload, applied while the
//! body is read (not per chunk), so the link sees a steady rate instead of bursts.

use std::io::Read;
use std::time::{Duration, Instant};

pub struct Bucket {
    rate: u64,
    /// Bytes allowed now; refilled at `rate` per second, at most a tenth of a second's worth
    /// (so pauses between requests do not turn into bursts).
    tokens: f64,
    last: Instant,
}

impl Bucket {
    pub fn new(rate: u64) -> Bucket {
        Bucket {
            rate: rate.max(1),
            tokens: 0.0,
            last: Instant::now(),
        }
    }

    /// Block until `n` bytes may go; returns how many may go now (≤ n).
    pub fn take(&mut self, n: usize) -> usize {
        loop {
            let now = Instant::now();
            let add = now.duration_since(self.last).as_secs_f64() * self.rate as f64;
            self.tokens = (self.tokens + add).min((self.rate as f64 / 10.0).max(1.0));
            self.last = now;
            if self.tokens >= 1.0 {
                let grant = (self.tokens as usize).min(n).max(1);
                self.tokens -= grant as f64;
                return grant;
            }
            let wait = (1.0 - self.tokens) / self.rate as f64;
            std::thread::sleep(Duration::from_secs_f64(wait.max(0.001)));
        }
    }
}

/// A body reader that takes tokens from a bucket before handing out bytes.
pub struct Throttled<'a> {
    pub data: &'a [u8],
    pub bucket: &'a mut Bucket,
}

impl Read for Throttled<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.data.is_empty() {
            return Ok(0);
        }
        let n = self
            .bucket
            .take(buf.len().min(self.data.len()).min(64 << 10));
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_never_grants_more_than_asked_and_refills() {
        let mut b = Bucket::new(1_000_000);
        let mut got = 0;
        while got < 300_000 {
            let g = b.take(100_000);
            assert!((1..=100_000).contains(&g));
            got += g;
        }
        let data = vec![5u8; 10_000];
        let mut out = Vec::new();
        Throttled {
            data: &data,
            bucket: &mut b,
        }
        .read_to_end(&mut out)
        .unwrap();
        assert_eq!(out, data);
    }
}
