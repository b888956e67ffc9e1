//! What a wait for server bytes counts. Without rules, or with rules that
//! do not frame the stream, it counts bytes, as the proxy saw them. When
//! the rules give a `[framing]`, it counts whole messages: a live server
//! whose answers change length (a token of another length, a longer
//! nonce) still sends the same number of messages, so a wait neither
//! stalls on bytes that never come nor goes early. A UDP session counts
//! datagrams whatever the rules say: one datagram is one message.

use bytes::Bytes;

use crate::domain::Transport;
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
    /// Each push is one unit and one message (a UDP datagram).
    datagrams: bool,
    total: u64,
}

impl Counter {
    pub fn new(framing: Option<&Framing>) -> Self {
        Self {
            framer: framing.map(Framer::new),
            datagrams: false,
            total: 0,
        }
    }

    /// A counter of datagrams: every push is one whole message, so the
    /// rules' framing never applies across datagram boundaries.
    pub fn datagrams() -> Self {
        Self {
            framer: None,
            datagrams: true,
            total: 0,
        }
    }

    /// The counter for a connection of `transport`.
    pub fn for_transport(transport: Transport, framing: Option<&Framing>) -> Self {
        match transport {
            Transport::Udp => Self::datagrams(),
            Transport::Tcp => Self::new(framing),
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
                self.total += self.unit(bytes);
                vec![Message::chunk(bytes.clone())]
            }
        }
    }

    /// What an unframed push counts: one datagram, or its bytes.
    fn unit(&self, bytes: &[u8]) -> u64 {
        if self.datagrams {
            1
        } else {
            bytes.len() as u64
        }
    }

    /// Counts `bytes` when their messages are not needed.
    pub fn count(&mut self, bytes: &[u8]) {
        match &mut self.framer {
            Some(f) => self.total += f.push(bytes).len() as u64,
            None => self.total += self.unit(bytes),
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

    #[test]
    fn a_udp_session_counts_datagrams_whatever_the_framing() {
        let rules = Rules::parse("[framing]\ndelimiter = \"\\n\"\n").unwrap();
        let f = framing_of(Some(&rules));
        let mut c = Counter::for_transport(Transport::Udp, f.as_ref());
        assert_eq!(c.push(&Bytes::from_static(b"no newline")).len(), 1);
        let msgs = c.push(&Bytes::from_static(b"A\nB\n"));
        assert_eq!(msgs.len(), 1, "one datagram, one message");
        assert_eq!(msgs[0].wire().as_ref(), b"A\nB\n");
        c.count(b"");
        assert_eq!(c.total(), 3, "an empty datagram counts too");
        assert!(c.take_pending().is_none());
    }
}
