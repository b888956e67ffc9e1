//! Comparing what the server sends during a replay with what it sent in the
//! recording, byte for byte, as the bytes arrive. Both sides stream: the
//! recorded chunks as the replay reads the file, the server's bytes as they
//! come; only what one side is ahead by is held (bounded by the caller),
//! and after a difference only its excerpt.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};
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

/// Compares a stream against recorded chunks incrementally. The recorded
/// chunks arrive as the replay reads its recordings (`expect`), the server's
/// bytes as they come (`feed`); whichever is ahead waits in a queue, and the
/// received backlog is what the caller bounds (`backlog`).
#[derive(Debug)]
pub struct Verifier {
    /// Recorded bytes not compared yet; `within` bytes of the first are.
    expected: VecDeque<Bytes>,
    within: usize,
    /// Received bytes whose recorded counterpart has not been read yet.
    backlog: BytesMut,
    /// Bytes compared equal so far.
    pos: u64,
    /// Recorded server bytes in all, and how many were handed in so far.
    expected_len: u64,
    fed: u64,
    found: Option<Divergence>,
}

impl Verifier {
    /// A verifier for a stream of `expected_len` recorded bytes.
    pub fn new(expected_len: u64) -> Self {
        Self {
            expected: VecDeque::new(),
            within: 0,
            backlog: BytesMut::new(),
            pos: 0,
            expected_len,
            fed: 0,
            found: None,
        }
    }

    /// The next recorded chunk.
    pub fn expect(&mut self, chunk: Bytes) {
        self.fed += chunk.len() as u64;
        if self.found.is_none() && !chunk.is_empty() {
            self.expected.push_back(chunk);
            self.compare();
        }
    }

    /// No more recorded chunks will come. If fewer came than the recording
    /// holds, the replay gave up comparing (the server fell too far
    /// behind): that is the divergence, and nothing more is held.
    pub fn stop_expecting(&mut self) {
        if self.found.is_none() && self.fed < self.expected_len {
            self.found = Some(Divergence {
                offset: self.pos,
                expected: self.expected_from_here(EXCERPT),
                received: self.backlog[..self.backlog.len().min(EXCERPT)].to_vec(),
                reason: format!(
                    "not compared beyond this offset: the server fell behind the recording by more than the replay reads ahead ({} of {} recorded bytes read)",
                    self.fed, self.expected_len
                ),
            });
            self.expected.clear();
            self.backlog = BytesMut::new();
        }
    }

    /// `n` recorded bytes will not be compared (an `ignore` rule left them
    /// out of both sides).
    pub fn shrink(&mut self, n: u64) {
        self.expected_len = self.expected_len.saturating_sub(n);
    }

    /// Whether received bytes wait for recorded ones not handed in yet.
    pub fn needs_expected(&self) -> bool {
        self.found.is_none()
            && !self.backlog.is_empty()
            && self.expected.is_empty()
            && self.fed < self.expected_len
    }

    /// Received bytes waiting for the recorded ones to be read.
    pub fn backlog(&self) -> usize {
        self.backlog.len()
    }

    /// Recorded bytes from the current position, up to `n`.
    fn expected_from_here(&self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n);
        let mut w = self.within;
        for b in &self.expected {
            if out.len() >= n {
                break;
            }
            let b = &b[w..];
            out.extend_from_slice(&b[..b.len().min(n - out.len())]);
            w = 0;
        }
        out
    }

    /// Feeds received bytes.
    pub fn feed(&mut self, data: &[u8]) {
        if let Some(d) = &mut self.found {
            // Complete the excerpt of what was received after the divergence.
            let take = (EXCERPT - d.received.len()).min(data.len());
            d.received.extend_from_slice(&data[..take]);
            return;
        }
        self.backlog.extend_from_slice(data);
        self.compare();
    }

    /// Compares as far as both sides go.
    fn compare(&mut self) {
        while !self.backlog.is_empty() && self.found.is_none() {
            let Some(front) = self.expected.front() else {
                if self.fed >= self.expected_len {
                    self.found = Some(Divergence {
                        offset: self.pos,
                        expected: Vec::new(),
                        received: self.backlog[..self.backlog.len().min(EXCERPT)].to_vec(),
                        reason: "server sent more than recorded".into(),
                    });
                    self.backlog = BytesMut::new();
                }
                return;
            };
            let exp = &front[self.within..];
            let n = exp.len().min(self.backlog.len());
            if let Some(i) = (0..n).find(|&i| exp[i] != self.backlog[i]) {
                self.within += i;
                self.pos += i as u64;
                self.found = Some(Divergence {
                    offset: self.pos,
                    expected: self.expected_from_here(EXCERPT),
                    received: self.backlog[i..self.backlog.len().min(i + EXCERPT)].to_vec(),
                    reason: "different bytes".into(),
                });
                // Nothing more is compared: drop what is held.
                self.expected.clear();
                self.backlog = BytesMut::new();
                return;
            }
            self.pos += n as u64;
            self.within += n;
            let _ = self.backlog.split_to(n);
            if self.within == front.len() {
                self.expected.pop_front();
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
                received: self.backlog[..self.backlog.len().min(EXCERPT)].to_vec(),
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
        let mut v = Verifier::new(chunks.iter().map(|c| c.len() as u64).sum());
        for c in chunks {
            v.expect(Bytes::from_static(c));
        }
        v
    }

    #[test]
    fn a_verifier_given_up_reports_where_it_stopped() {
        let mut x = Verifier::new(10);
        x.expect(Bytes::from_static(b"abcd"));
        x.feed(b"abcdef");
        x.stop_expecting();
        let d = x.finish().unwrap();
        assert_eq!((d.offset, d.received.as_slice()), (4, &b"ef"[..]));
        assert!(d.reason.contains("not compared beyond"), "{}", d.reason);
        x.feed(b"more");
        assert_eq!(x.backlog(), 0, "nothing is held after giving up");
        // All recorded bytes came: stopping changes nothing.
        let mut y = Verifier::new(2);
        y.expect(Bytes::from_static(b"ok"));
        y.stop_expecting();
        y.feed(b"ok");
        assert_eq!(y.finish(), None);
    }

    #[test]
    fn received_bytes_wait_for_the_recorded_ones() {
        let mut x = Verifier::new(11);
        x.feed(b"hello w");
        assert_eq!(x.backlog(), 7);
        x.expect(Bytes::from_static(b"hello "));
        assert_eq!((x.backlog(), x.matched()), (1, 6));
        x.feed(b"orld");
        x.expect(Bytes::from_static(b"world"));
        assert_eq!((x.backlog(), x.finish()), (0, None));
        x.feed(b"!");
        assert!(x.finish().unwrap().reason.contains("more"));
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
