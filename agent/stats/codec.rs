//! Streaming message deframer: bytes of one direction of one connection go in,
//! in chunks split anywhere, and the sizes of complete messages come out.
//!
//! It is the seed's "stream buffering and framing" without the copying: to
//! know where messages end only the length field has to be kept, so the
//! state is a few bytes whatever the message sizes. Pure: no I/O, no clock.

use super::error::FramingError;
use super::framing::{FramingSpec, LengthPrefix};

/// Splits one byte stream into messages according to a [`FramingSpec`].
#[derive(Debug, Clone)]
pub struct Deframer {
    /// The layout of the messages.
    spec: FramingSpec,
    /// Bytes of the current, not yet complete message seen so far.
    pending: u64,
    /// Bytes of the length field collected so far (the first `width`).
    field: [u8; 4],
    /// Bytes still to come in the current body, once the header is complete.
    body_left: Option<u64>,
    /// The length field and adjust that broke the spec, once one did; every
    /// later feed repeats the error. (Two numbers, not the error itself:
    /// a deframer per stream of every connection must stay small.)
    failed: Option<(u64, i64)>,
}

impl Deframer {
    /// A deframer at the start of a stream.
    pub fn new(spec: FramingSpec) -> Self {
        Deframer {
            spec,
            pending: 0,
            field: [0; 4],
            body_left: None,
            failed: None,
        }
    }

    /// Bytes of the incomplete message at the end of what was fed so far.
    pub fn pending(&self) -> u64 {
        self.pending
    }

    /// Whether the stream broke the spec (framing stopped there).
    pub fn is_failed(&self) -> bool {
        self.failed.is_some()
    }

    /// Consumes the next bytes of the stream and calls `on_message` with the
    /// size of every message they complete, in order.
    ///
    /// # Errors
    /// [`FramingError::NegativeLength`] when a length field is invalid; the
    /// deframer is then failed and returns the same error on every call.
    pub fn feed(&mut self, data: &[u8], on_message: impl FnMut(u64)) -> Result<(), FramingError> {
        if let Some((length, adjust)) = self.failed {
            return Err(FramingError::NegativeLength { length, adjust });
        }
        let result = match self.spec {
            FramingSpec::Line => {
                self.feed_lines(data, on_message);
                Ok(())
            }
            FramingSpec::Length(prefix) => self.feed_length(prefix, data, on_message),
        };
        if let Err(FramingError::NegativeLength { length, adjust }) = &result {
            self.failed = Some((*length, *adjust));
        }
        result
    }

    fn feed_lines(&mut self, mut data: &[u8], mut on_message: impl FnMut(u64)) {
        while let Some(i) = data.iter().position(|&b| b == b'\n') {
            on_message(self.pending + i as u64 + 1);
            self.pending = 0;
            data = &data[i + 1..];
        }
        self.pending += data.len() as u64;
    }

    fn feed_length(
        &mut self,
        prefix: LengthPrefix,
        mut data: &[u8],
        mut on_message: impl FnMut(u64),
    ) -> Result<(), FramingError> {
        let header_len = prefix.header_len();
        let offset = u64::from(prefix.offset);
        let width = u64::from(prefix.width.bytes());
        loop {
            match self.body_left {
                None => {
                    // `pending` < header_len here, so the difference fits in usize
                    // whenever it is smaller than `data.len()`.
                    let take = (header_len - self.pending).min(data.len() as u64) as usize;
                    let (head, rest) = data.split_at(take);
                    // Copy the part of `head` that falls inside the field.
                    let start = self.pending;
                    let end = start + take as u64;
                    let lo = start.max(offset);
                    let hi = end.min(offset + width);
                    if lo < hi {
                        let src = &head[(lo - start) as usize..(hi - start) as usize];
                        self.field[(lo - offset) as usize..(hi - offset) as usize]
                            .copy_from_slice(src);
                    }
                    self.pending = end;
                    data = rest;
                    if self.pending < header_len {
                        return Ok(());
                    }
                    let length = prefix.decode(&self.field[..width as usize]);
                    let body = i128::from(length) + i128::from(prefix.adjust);
                    let Ok(body) = u64::try_from(body) else {
                        return Err(FramingError::NegativeLength {
                            length,
                            adjust: prefix.adjust,
                        });
                    };
                    self.body_left = Some(body);
                }
                Some(0) => {
                    on_message(self.pending);
                    self.pending = 0;
                    self.body_left = None;
                    if data.is_empty() {
                        return Ok(());
                    }
                }
                Some(left) => {
                    if data.is_empty() {
                        return Ok(());
                    }
                    let take = left.min(data.len() as u64);
                    self.pending += take;
                    self.body_left = Some(left - take);
                    data = &data[take as usize..];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(spec: &str, chunks: &[&[u8]]) -> (Vec<u64>, u64) {
        let mut d = Deframer::new(spec.parse().unwrap());
        let mut out = Vec::new();
        for chunk in chunks {
            d.feed(chunk, |n| out.push(n)).unwrap();
        }
        (out, d.pending())
    }

    /// A stream of messages in each spec, and the sizes it holds.
    fn streams() -> Vec<(&'static str, Vec<u8>, Vec<u64>)> {
        let mut u16be = Vec::new();
        for body in [&b"abc"[..], b"", b"hello world", b"z"] {
            u16be.extend_from_slice(&(body.len() as u16).to_be_bytes());
            u16be.extend_from_slice(body);
        }
        // offset=3 header, u32le field counting the whole message.
        let mut u32le = Vec::new();
        for body in [&b"xy"[..], b"", b"0123456789"] {
            u32le.extend_from_slice(b"HDR");
            u32le.extend_from_slice(&(body.len() as u32 + 7).to_le_bytes());
            u32le.extend_from_slice(body);
        }
        // u16le field counting the body plus a 2-byte trailer.
        let mut u16le = Vec::new();
        for body in [&b"q"[..], b"rst"] {
            u16le.extend_from_slice(&(body.len() as u16).to_le_bytes());
            u16le.extend_from_slice(body);
            u16le.extend_from_slice(b"\r\n");
        }
        vec![
            ("u16be", u16be, vec![5, 2, 13, 3]),
            ("u32le,offset=3,adjust=-7", u32le, vec![9, 7, 17]),
            ("u16le,adjust=2", u16le, vec![5, 7]),
            ("u32be", vec![0, 0, 0, 0, 0, 0, 0, 1, 9], vec![4, 5]),
            ("line", b"ab\n\nlong line\n".to_vec(), vec![3, 1, 10]),
        ]
    }

    #[test]
    fn whole_stream_yields_every_message() {
        for (spec, bytes, expected) in streams() {
            assert_eq!(sizes(spec, &[&bytes]), (expected, 0), "{spec}");
        }
    }

    #[test]
    fn every_split_into_three_chunks_gives_the_same_messages() {
        for (spec, bytes, expected) in streams() {
            for i in 0..=bytes.len() {
                for j in i..=bytes.len() {
                    let chunks = [&bytes[..i], &bytes[i..j], &bytes[j..]];
                    assert_eq!(
                        sizes(spec, &chunks),
                        (expected.clone(), 0),
                        "{spec} split at {i},{j}"
                    );
                }
            }
            let singles: Vec<&[u8]> = bytes.chunks(1).collect();
            assert_eq!(sizes(spec, &singles), (expected, 0), "{spec} byte by byte");
        }
    }

    #[test]
    fn incomplete_tail_is_pending_at_every_cut() {
        for (spec, bytes, expected) in streams() {
            let ends: Vec<u64> = expected
                .iter()
                .scan(0, |acc, n| {
                    *acc += n;
                    Some(*acc)
                })
                .collect();
            for cut in 0..=bytes.len() as u64 {
                let (done, pending) = sizes(spec, &[&bytes[..cut as usize]]);
                let complete = ends.iter().take_while(|&&e| e <= cut).count();
                assert_eq!(done, expected[..complete], "{spec} cut {cut}");
                let consumed = if complete == 0 { 0 } else { ends[complete - 1] };
                assert_eq!(pending, cut - consumed, "{spec} cut {cut}");
            }
        }
    }

    #[test]
    fn negative_length_fails_and_stays_failed() {
        let mut d = Deframer::new("u16be,adjust=-5".parse().unwrap());
        let mut out = Vec::new();
        d.feed(&[0, 6, 1], |n| out.push(n)).unwrap();
        let err = d.feed(&[0, 4], |n| out.push(n)).unwrap_err();
        assert_eq!(
            err,
            FramingError::NegativeLength {
                length: 4,
                adjust: -5
            }
        );
        assert_eq!(out, [3]);
        assert!(d.is_failed());
        assert_eq!(d.feed(b"more", |_| {}).unwrap_err(), err);
    }
}
