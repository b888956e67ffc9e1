//! Comparing what the server sends during a replay with what it sent in the
//! recording, byte for byte, as the bytes arrive: no copy of the received
//! stream is kept, only the first point where it differs.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Bytes shown on each side of a divergence.
pub const EXCERPT: usize = 16;

/// Where a connection's server bytes first differ from the recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Divergence {
    /// Offset in the connection's server-to-client stream.
    pub offset: u64,
    /// Recorded bytes from `offset` (up to `EXCERPT`).
    pub expected: Vec<u8>,
    /// Received bytes from `offset` (up to `EXCERPT`).
    pub received: Vec<u8>,
    /// "different bytes", "server sent more", "server sent less".
    pub reason: String,
}

/// Compares a stream against recorded chunks incrementally.
#[derive(Debug)]
pub struct Verifier {
    expected: Vec<Bytes>,
    /// Position in `expected`: chunk index and offset inside it.
    chunk: usize,
    within: usize,
    pos: u64,
    expected_len: u64,
    found: Option<Divergence>,
}

impl Verifier {
    pub fn new(expected: Vec<Bytes>) -> Self {
        let expected_len = expected.iter().map(|b| b.len() as u64).sum();
        Self {
            expected,
            chunk: 0,
            within: 0,
            pos: 0,
            expected_len,
            found: None,
        }
    }

    /// Expected bytes from the current position, up to `n`.
    fn expected_from_here(&self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n);
        let (mut c, mut w) = (self.chunk, self.within);
        while out.len() < n && c < self.expected.len() {
            let b = &self.expected[c][w..];
            let take = b.len().min(n - out.len());
            out.extend_from_slice(&b[..take]);
            c += 1;
            w = 0;
        }
        out
    }

    /// Feeds received bytes.
    pub fn feed(&mut self, mut data: &[u8]) {
        if let Some(d) = &mut self.found {
            // Complete the excerpt of what was received after the divergence.
            let take = (EXCERPT - d.received.len()).min(data.len());
            d.received.extend_from_slice(&data[..take]);
            return;
        }
        while !data.is_empty() {
            if self.chunk >= self.expected.len() {
                self.found = Some(Divergence {
                    offset: self.pos,
                    expected: Vec::new(),
                    received: data[..data.len().min(EXCERPT)].to_vec(),
                    reason: "server sent more than recorded".into(),
                });
                return;
            }
            let exp = &self.expected[self.chunk][self.within..];
            let n = exp.len().min(data.len());
            if let Some(i) = (0..n).find(|&i| exp[i] != data[i]) {
                self.within += i;
                self.pos += i as u64;
                self.found = Some(Divergence {
                    offset: self.pos,
                    expected: self.expected_from_here(EXCERPT),
                    received: data[i..data.len().min(i + EXCERPT)].to_vec(),
                    reason: "different bytes".into(),
                });
                return;
            }
            self.pos += n as u64;
            self.within += n;
            data = &data[n..];
            if self.within == self.expected[self.chunk].len() {
                self.chunk += 1;
                self.within = 0;
            }
        }
    }

    /// Bytes received so far that matched.
    pub fn matched(&self) -> u64 {
        self.pos
    }

    /// The first divergence, counting a stream that ended short of the
    /// recording as one.
    pub fn finish(&self) -> Option<Divergence> {
        if let Some(d) = &self.found {
            return Some(d.clone());
        }
        if self.pos < self.expected_len {
            return Some(Divergence {
                offset: self.pos,
                expected: self.expected_from_here(EXCERPT),
                received: Vec::new(),
                reason: format!(
                    "server sent less than recorded ({} of {} bytes)",
                    self.pos, self.expected_len
                ),
            });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(chunks: &[&'static [u8]]) -> Verifier {
        Verifier::new(chunks.iter().map(|c| Bytes::from_static(c)).collect())
    }

    #[test]
    fn same_bytes_in_other_chunking_match() {
        let mut x = v(&[b"hello ", b"world"]);
        x.feed(b"hel");
        x.feed(b"lo wo");
        x.feed(b"rld");
        assert_eq!(x.finish(), None);
        assert_eq!(x.matched(), 11);
    }

    #[test]
    fn first_difference_is_located_with_excerpts() {
        let mut x = v(&[b"+OK\r\n", b":42\r\n"]);
        x.feed(b"+OK\r\n:4");
        x.feed(b"3\r\nmore");
        let d = x.finish().unwrap();
        assert_eq!(d.offset, 7);
        assert_eq!(d.expected, b"2\r\n");
        assert_eq!(d.received, b"3\r\nmore");
        assert_eq!(d.reason, "different bytes");
    }

    #[test]
    fn short_and_long_streams_diverge() {
        let mut x = v(&[b"abc"]);
        x.feed(b"ab");
        let d = x.finish().unwrap();
        assert_eq!((d.offset, d.expected.as_slice()), (2, &b"c"[..]));
        assert!(d.reason.contains("less"));

        let mut x = v(&[b"abc"]);
        x.feed(b"abcdef");
        let d = x.finish().unwrap();
        assert_eq!((d.offset, d.received.as_slice()), (3, &b"def"[..]));
        assert!(d.reason.contains("more"));
    }
}
