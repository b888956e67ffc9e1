//! One message of a direction's stream, as the framer cut it: its whole
//! wire bytes (prefix, body, delimiter) and where the body lies in them.

use std::ops::Range;

use bytes::Bytes;

/// A message: what is sent on the wire, and the body the rules' offsets
/// count in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The bytes as sent: length prefix, body, delimiter.
    wire: Bytes,
    /// The body within `wire`.
    body: Range<usize>,
    /// Cut from a stream whose framing broke (or a tail that never
    /// completed): the bytes are passed on, but no rule applies.
    unparsed: bool,
}

impl Message {
    /// A framed message. `body` must lie within `wire` (it is clamped).
    pub fn new(wire: Bytes, body: Range<usize>) -> Message {
        let end = body.end.min(wire.len());
        let start = body.start.min(end);
        Message {
            wire,
            body: start..end,
            unparsed: false,
        }
    }

    /// A whole chunk as one message, body = everything (no framing).
    pub fn chunk(wire: Bytes) -> Message {
        let body = 0..wire.len();
        Message::new(wire, body)
    }

    /// Bytes the framing could not split: passed on as they are, untouched
    /// by any rule.
    pub fn unparsed(wire: Bytes) -> Message {
        Message {
            body: 0..wire.len(),
            wire,
            unparsed: true,
        }
    }

    /// The bytes as sent.
    pub fn wire(&self) -> &Bytes {
        &self.wire
    }

    /// The body: what offsets count in.
    pub fn body(&self) -> &[u8] {
        &self.wire[self.body.clone()]
    }

    /// Where the body lies in [`Message::wire`].
    pub fn body_range(&self) -> Range<usize> {
        self.body.clone()
    }

    /// Whether the framing could not split these bytes (no rule applies).
    pub fn is_unparsed(&self) -> bool {
        self.unparsed
    }

    /// The whole wire bytes, consuming the message.
    pub fn into_wire(self) -> Bytes {
        self.wire
    }
}
