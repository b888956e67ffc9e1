//! Splits one direction's byte stream into messages whatever the chunk
//! boundaries: a message split over several chunks waits for the rest,
//! several messages in one chunk come out one by one.
//!
//! When the stream stops following the framing (a length prefix beyond
//! [`MAX_MESSAGE`], a varint that never ends, no delimiter within the cap),
//! the framer records a [`FramingError`] and from then on passes bytes on
//! unparsed: what was pending plus the chunk that broke it as one message,
//! then each later chunk as one message. Nothing is lost and nothing
//! panics; the caller counts [`Framer::unparsed`].

use bytes::BytesMut;

use super::error::FramingError;
use super::int::Prefix;
use super::message::Message;
use super::rules::Framing;

/// Largest message body (and delimited message) the framer accepts: far
/// beyond any game message, and it bounds what one connection may hold
/// pending.
pub const MAX_MESSAGE: usize = 16 * 1024 * 1024;

/// The framing state of one direction of one connection.
#[derive(Debug)]
pub struct Framer {
    framing: Framing,
    /// Bytes of a message not yet complete.
    pending: BytesMut,
    /// Delimiter framing: bytes of `pending` already searched, so a long
    /// message arriving in small chunks is searched once.
    searched: usize,
    /// Set when the framing broke; bytes pass unparsed from then on.
    broken: Option<FramingError>,
    /// Messages handed on unparsed.
    unparsed: u64,
}

impl Framer {
    /// A framer for `framing` (see [`Rules::framing`](super::Rules::framing)).
    pub fn new(framing: &Framing) -> Framer {
        let framing = match framing {
            // Rules never hold one; a hand-made empty delimiter would match
            // everywhere, so it means no framing.
            Framing::Delimiter(d) if d.is_empty() => Framing::Chunks,
            other => other.clone(),
        };
        Framer {
            framing,
            pending: BytesMut::new(),
            searched: 0,
            broken: None,
            unparsed: 0,
        }
    }

    /// The complete messages `bytes` finish, in order; the start of an
    /// incomplete one stays pending.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Message> {
        if bytes.is_empty() {
            return Vec::new();
        }
        if self.broken.is_some() {
            self.unparsed += 1;
            return vec![Message::unparsed(bytes.to_vec().into())];
        }
        if self.framing == Framing::Chunks {
            return vec![Message::chunk(bytes.to_vec().into())];
        }
        self.pending.extend_from_slice(bytes);
        let mut out = Vec::new();
        loop {
            match self.next_message() {
                Ok(Some(message)) => out.push(message),
                Ok(None) => break,
                Err(error) => {
                    self.broken = Some(error);
                    self.unparsed += 1;
                    let rest = self.pending.split().freeze();
                    out.push(Message::unparsed(rest));
                    break;
                }
            }
        }
        out
    }

    /// Cuts the next complete message off `pending`, if there is one.
    fn next_message(&mut self) -> Result<Option<Message>, FramingError> {
        match &self.framing {
            Framing::Chunks => Ok(None),
            Framing::Length { prefix, adjust } => {
                let (value, head) = match prefix.read(&self.pending) {
                    Prefix::Value(value, head) => (value, head),
                    Prefix::Incomplete => return Ok(None),
                    Prefix::Endless => {
                        return Err(FramingError::VarintTooLong {
                            max: super::int::MAX_VARINT_BYTES,
                        });
                    }
                };
                let length = i128::from(value) + i128::from(*adjust);
                if length < 0 {
                    return Err(FramingError::NegativeLength {
                        value,
                        adjust: *adjust,
                    });
                }
                if length > MAX_MESSAGE as i128 {
                    return Err(FramingError::TooLong {
                        length: u64::try_from(length).unwrap_or(u64::MAX),
                        max: MAX_MESSAGE as u64,
                    });
                }
                // Below MAX_MESSAGE, so it fits.
                let total = head + length as usize;
                if self.pending.len() < total {
                    return Ok(None);
                }
                let wire = self.pending.split_to(total).freeze();
                Ok(Some(Message::new(wire, head..total)))
            }
            Framing::Delimiter(delimiter) => {
                let from = self
                    .searched
                    .saturating_sub(delimiter.len().saturating_sub(1));
                let found = memchr::memmem::find(&self.pending[from..], delimiter);
                match found {
                    Some(at) => {
                        let body = from + at;
                        let total = body + delimiter.len();
                        let wire = self.pending.split_to(total).freeze();
                        self.searched = 0;
                        Ok(Some(Message::new(wire, 0..body)))
                    }
                    None if self.pending.len() > MAX_MESSAGE => Err(FramingError::NoDelimiter {
                        max: MAX_MESSAGE as u64,
                    }),
                    None => {
                        self.searched = self.pending.len();
                        Ok(None)
                    }
                }
            }
        }
    }

    /// Bytes of a message not yet complete.
    pub fn pending(&self) -> &[u8] {
        &self.pending
    }

    /// Hands on the pending bytes as one unparsed message (at the end of
    /// the stream: a message that never completed), or `None`.
    pub fn take_pending(&mut self) -> Option<Message> {
        if self.pending.is_empty() {
            return None;
        }
        self.searched = 0;
        self.unparsed += 1;
        let rest = self.pending.split().freeze();
        Some(Message::unparsed(rest))
    }

    /// Why the framing broke, once it has.
    pub fn error(&self) -> Option<&FramingError> {
        self.broken.as_ref()
    }

    /// Messages handed on unparsed so far (after a break, and by
    /// [`Framer::take_pending`]).
    pub fn unparsed(&self) -> u64 {
        self.unparsed
    }
}
