//! The verifier a replayed connection holds: the byte-stream one for a
//! TCP connection (`verify`), the datagram one for a UDP session
//! (`verify_datagram`). The reader and `Inbound` drive either through it.

use bytes::Bytes;

use super::verify::{Divergence, Verifier};
use super::verify_datagram::{DatagramCounts, DatagramVerifier};

/// The verifier a replayed connection holds.
#[derive(Debug)]
pub enum Verify {
    /// TCP: one byte stream.
    Stream(Verifier),
    /// UDP: datagram by datagram.
    Datagrams(Box<DatagramVerifier>),
}

impl Verify {
    pub fn expect(&mut self, chunk: Bytes) {
        match self {
            Verify::Stream(v) => v.expect(chunk),
            Verify::Datagrams(v) => v.expect(chunk),
        }
    }

    pub fn feed(&mut self, data: &[u8]) {
        match self {
            Verify::Stream(v) => v.feed(data),
            Verify::Datagrams(v) => v.feed(data),
        }
    }

    /// `n` recorded bytes will not be compared (an `ignore` rule); a
    /// datagram still counts as one, so this only concerns streams.
    pub fn shrink(&mut self, n: u64) {
        if let Verify::Stream(v) = self {
            v.shrink(n);
        }
    }

    pub fn needs_expected(&self) -> bool {
        match self {
            Verify::Stream(v) => v.needs_expected(),
            Verify::Datagrams(v) => v.needs_expected(),
        }
    }

    pub fn backlog(&self) -> usize {
        match self {
            Verify::Stream(v) => v.backlog(),
            Verify::Datagrams(v) => v.backlog(),
        }
    }

    pub fn stop_expecting(&mut self) {
        match self {
            Verify::Stream(v) => v.stop_expecting(),
            Verify::Datagrams(v) => v.stop_expecting(),
        }
    }

    pub fn finish(&self) -> Option<Divergence> {
        match self {
            Verify::Stream(v) => v.finish(),
            Verify::Datagrams(v) => v.finish(),
        }
    }

    /// The datagram counts, for a UDP session.
    pub fn datagram_counts(&self) -> Option<DatagramCounts> {
        match self {
            Verify::Stream(_) => None,
            Verify::Datagrams(v) => Some(v.counts()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_verifier_is_unchanged_behind_verify() {
        let mut v = Verify::Stream(Verifier::new(4));
        v.expect(Bytes::from_static(b"ab"));
        v.feed(b"abcd");
        v.expect(Bytes::from_static(b"cd"));
        assert_eq!(v.finish(), None);
        assert_eq!(v.datagram_counts(), None);
        let mut v = Verify::Datagrams(Box::new(DatagramVerifier::new(1)));
        v.shrink(100);
        v.expect(Bytes::from_static(b"ab"));
        v.feed(b"ab");
        assert_eq!(v.finish(), None);
        assert_eq!(v.datagram_counts().map(|c| c.matched), Some(1));
    }
}
