//! What a wait for server bytes counts. Without rules, or with rules that
//! do not frame the stream, it counts bytes, as the proxy saw them. When
//! the rules give a `[framing]`, it counts whole messages: a live server
//! whose answers change length (a token of another length, a longer
//! nonce) still sends the same number of messages, so a wait neither
//! stalls on bytes that never come nor goes early.

use bytes::Bytes;

use crate::rewrite::{Framer, Framing, Message};

/// The framing waits count in: `None` counts bytes.
pub fn framing_of(rules: Option<&crate::rewrite::Rules>) -> Option<Framing> {
    rules
        .map(|r| r.framing().clone())
        .filter(|f| !matches!(f, Framing::Chunks))
}

/// Counts one direction's units and cuts it into messages.
#[derive(Debug)]
pub struct Counter {
    framer: Option<Framer>,
    total: u64,
}

impl Counter {
    pub fn new(framing: Option<&Framing>) -> Self {
        Self {
            framer: framing.map(Framer::new),
            total: 0,
        }
    }

    /// Counts `bytes` and returns the messages they complete: with framing
    /// the framer's, without it the chunk itself.
    pub fn push(&mut self, bytes: &Bytes) -> Vec<Message> {
        match &mut self.framer {
            Some(f) => {
                let msgs = f.push(bytes);
                self.total += msgs.len() as u64;
                msgs
            }
            None => {
                self.total += bytes.len() as u64;
                vec![Message::chunk(bytes.clone())]
            }
        }
    }

    /// Counts `bytes` when their messages are not needed.
    pub fn count(&mut self, bytes: &[u8]) {
        match &mut self.framer {
            Some(f) => self.total += f.push(bytes).len() as u64,
            None => self.total += bytes.len() as u64,
        }
    }

    /// Messages passed on unparsed (the framing broke, or a tail).
    pub fn unparsed(&self) -> u64 {
        self.framer.as_ref().map_or(0, Framer::unparsed)
    }

    /// Units so far.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// What is left of an incomplete message (sent as it is at the end).
    pub fn take_pending(&mut self) -> Option<Message> {
        self.framer.as_mut().and_then(Framer::take_pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rewrite::Rules;

    #[test]
    fn bytes_without_framing_messages_with_it() {
        let mut c = Counter::new(None);
        assert_eq!(c.push(&Bytes::from_static(b"hello")).len(), 1);
        assert_eq!(c.total(), 5);
        let rules = Rules::parse("[framing]\ndelimiter = \"\\n\"\n").unwrap();
        let f = framing_of(Some(&rules));
        let mut c = Counter::new(f.as_ref());
        assert!(c.push(&Bytes::from_static(b"HELLO x")).is_empty());
        assert_eq!(c.push(&Bytes::from_static(b"yz\nA\nB")).len(), 2);
        assert_eq!(c.total(), 2);
        assert!(c.take_pending().is_some(), "B is pending");
        assert_eq!(framing_of(Some(&Rules::parse("").unwrap())), None);
    }
}
