//! The client side of a connection replayed with rules: recorded client
//! chunks are cut into messages and each goes out rewritten (the live
//! values of its captures in place of the recorded ones, length prefix and
//! checksums fixed); recorded server chunks, taken in log order, teach the
//! recorded values. In `reactive` and `causal` modes a message that needs a
//! value the live server has not sent yet waits for it (bounded by
//! `--server-timeout`); in `timed` and `fast` it goes out with the recorded
//! value, counted as a missed rewrite.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::inbound::Shared;
use super::units::{Counter, framing_of};
use crate::format::{Direction, Transport};
use crate::rewrite::{ConnRewriter, Message, Rules, SharedCaptures, Stats};

/// Rules at work on the client side of one connection.
pub struct Outbound {
    rewriter: Shared,
    /// Recorded client messages, and recorded server messages.
    c2s: Counter,
    s2c: Counter,
    /// Bumped by the reader when it learned live values.
    learned: watch::Receiver<u64>,
}

/// What the reader of the same connection needs: the rules, the shared
/// rewriter and the signal to send when it learned live values.
pub type ForReader = (Arc<Rules>, Shared, watch::Sender<u64>);

impl Outbound {
    /// `transport`: a UDP session's messages are its datagrams, whatever
    /// the rules' framing says.
    pub fn new(
        rules: Arc<Rules>,
        shared: Arc<SharedCaptures>,
        transport: Transport,
    ) -> (Self, ForReader) {
        let framing = framing_of(Some(&rules));
        let rewriter = Arc::new(Mutex::new(ConnRewriter::new(rules.clone(), shared)));
        let (tx, rx) = watch::channel(0);
        let me = Self {
            rewriter: rewriter.clone(),
            c2s: Counter::for_transport(transport, framing.as_ref()),
            s2c: Counter::for_transport(transport, framing.as_ref()),
            learned: rx,
        };
        (me, (rules, rewriter, tx))
    }

    fn lock(&self) -> MutexGuard<'_, ConnRewriter> {
        self.rewriter.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Recorded server bytes, in log order: their recorded values.
    pub fn recorded_server(&mut self, chunk: &Bytes) {
        let msgs = self.s2c.push(chunk);
        let mut rw = self.lock();
        for m in &msgs {
            rw.recorded(Direction::S2c, m);
        }
    }

    /// The client messages a recorded chunk completes.
    pub fn messages(&mut self, chunk: &Bytes) -> Vec<Message> {
        self.c2s.push(chunk)
    }

    /// The rest of an incomplete client message, sent as it is when the
    /// client stops sending.
    pub fn flush(&mut self) -> Option<Bytes> {
        self.c2s.take_pending().map(|m| m.wire().clone())
    }

    pub fn needs(&self, m: &Message) -> bool {
        self.lock().waits(m)
    }

    /// Waits until the live values `m` needs are known; false when they
    /// did not come within `timeout` (or the server closed first).
    pub async fn wait_values(
        &mut self,
        m: &Message,
        timeout: Duration,
        cancel: &CancellationToken,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if !self.needs(m) {
                return true;
            }
            tokio::select! {
                _ = cancel.cancelled() => return false,
                _ = tokio::time::sleep_until(deadline) => return false,
                r = self.learned.changed() => if r.is_err() {
                    return !self.needs(m);
                },
            }
        }
    }

    /// `m` as it must go out.
    pub fn rewrite(&mut self, m: &Message, out: &mut BytesMut) {
        let mut rw = self.lock();
        rw.recorded(Direction::C2s, m);
        let sent = rw.rewrite_c2s(m);
        rw.live(Direction::C2s, &sent);
        out.extend_from_slice(sent.wire());
    }

    /// What the rules did on this connection, with the client and
    /// recorded server messages that did not parse.
    pub fn stats(&self) -> Stats {
        let mut s = self.lock().stats().clone();
        s.unparsed += self.c2s.unparsed() + self.s2c.unparsed();
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::inbound::Inbound;

    /// The test game's rules without their u16 length framing: on UDP the
    /// datagram is the message, offsets count from its first byte.
    fn udp_rules() -> Arc<Rules> {
        let text = include_str!("../../tests/rules/game_session.toml")
            .replace("[framing]\nlength = \"u16be\"\n", "");
        Arc::new(Rules::parse(&text).unwrap())
    }

    fn login(token: &[u8; 8]) -> Bytes {
        let mut b = vec![0x02];
        b.extend_from_slice(token);
        b.extend_from_slice(&7u32.to_be_bytes());
        Bytes::from(b)
    }

    fn action(token: &[u8; 8], seq: u32) -> Vec<u8> {
        let mut b = vec![0x03];
        b.extend_from_slice(token);
        b.extend_from_slice(&seq.to_be_bytes());
        b.extend_from_slice(b"jump");
        let crc = crc32fast::hash(&b);
        b.extend_from_slice(&crc.to_le_bytes());
        b
    }

    #[test]
    fn on_udp_each_datagram_is_one_message_rewritten_whole() {
        let (mut ob, for_reader) = Outbound::new(udp_rules(), Arc::default(), Transport::Udp);
        let mut inbound = Inbound::new((Transport::Udp, None), Some(for_reader), None);
        ob.recorded_server(&login(b"RECORDED"));
        inbound.received(&login(b"LIVETOKN"));
        assert_eq!(inbound.units(), 1, "one server datagram");
        // Two actions in one datagram would be two messages with framing;
        // here the datagram is one message, rewritten as a whole.
        let msgs = ob.messages(&Bytes::from(action(b"RECORDED", 8)));
        assert_eq!(msgs.len(), 1);
        assert!(!ob.needs(&msgs[0]), "the live token is known");
        let mut out = BytesMut::new();
        ob.rewrite(&msgs[0], &mut out);
        assert_eq!(
            &out[..],
            &action(b"LIVETOKN", 8)[..],
            "token and CRC rewritten"
        );
        assert_eq!(ob.flush(), None, "no partial message on UDP");
    }
}
