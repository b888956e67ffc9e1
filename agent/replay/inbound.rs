//! What a replayed connection does with the bytes its server sends: count
//! them in the units waits use (bytes, or messages with framing rules),
//! learn the live values of the rules' captures, and feed the verifier;
//! and the recorded server bytes, framed and masked the same way, for the
//! verifier to compare against. Bytes an `ignore` rule names are left out
//! of both sides, so a server that chooses them anew each run compares
//! equal.

use std::ops::Range;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::watch;

use super::units::Counter;
use super::verifier::Verify;
use crate::format::{Direction, Transport};
use crate::rewrite::{ConnRewriter, Framing, Message, Rules, SharedCaptures};

/// The rules at work on one connection, shared by its script (client side)
/// and its reader (server side).
pub type Shared = Arc<Mutex<ConnRewriter>>;

/// The server side of one connection.
pub struct Inbound {
    units: Counter,
    rewriter: Option<Shared>,
    /// Bumped after live values were learned: the script waits on it.
    learned: Option<watch::Sender<u64>>,
    pub verifier: Option<Verify>,
    /// For verify with rules: the recorded chunks framed, and a rewriter
    /// that finds their ignored ranges (its counts are not reported: the
    /// live side counts).
    recorded: Option<(Counter, ConnRewriter)>,
}

fn lock(r: &Shared) -> std::sync::MutexGuard<'_, ConnRewriter> {
    r.lock().unwrap_or_else(|e| e.into_inner())
}

/// `msg`'s wire bytes without `ranges`, and how many bytes were left out.
fn masked(msg: &Message, ranges: &[Range<usize>]) -> (Vec<u8>, u64) {
    let wire = msg.wire();
    if ranges.is_empty() {
        return (wire.to_vec(), 0);
    }
    let mut keep = vec![true; wire.len()];
    for r in ranges {
        for k in &mut keep[r.start.min(wire.len())..r.end.min(wire.len())] {
            *k = false;
        }
    }
    let out: Vec<u8> = wire
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(b, _)| *b)
        .collect();
    let removed = (wire.len() - out.len()) as u64;
    (out, removed)
}

impl Inbound {
    /// `framing`: the units waits count in (a UDP session: datagrams,
    /// whatever it says); `rewriter`: the rules and this connection's
    /// rewriter, if any; `verifier`: when verifying.
    pub fn new(
        (transport, framing): (Transport, Option<&Framing>),
        rewriter: Option<(Arc<Rules>, Shared, watch::Sender<u64>)>,
        verifier: Option<Verify>,
    ) -> Self {
        let recorded = match (&rewriter, &verifier) {
            (Some((rules, _, _)), Some(_)) => Some((
                Counter::for_transport(transport, framing),
                ConnRewriter::new(rules.clone(), Arc::new(SharedCaptures::default())),
            )),
            _ => None,
        };
        let rewriter = rewriter.map(|(_, r, l)| (r, l));
        let (rewriter, learned) = match rewriter {
            Some((r, l)) => (Some(r), Some(l)),
            None => (None, None),
        };
        Self {
            units: Counter::for_transport(transport, framing),
            rewriter,
            learned,
            verifier,
            recorded,
        }
    }

    /// Units received so far.
    pub fn units(&self) -> u64 {
        self.units.total()
    }

    /// Bytes the live server sent.
    pub fn received(&mut self, bytes: &[u8]) {
        let Some(rw) = &self.rewriter else {
            self.units.count(bytes);
            if let Some(v) = &mut self.verifier {
                v.feed(bytes);
            }
            return;
        };
        let msgs = self.units.push(&Bytes::copy_from_slice(bytes));
        if msgs.is_empty() {
            return;
        }
        {
            let mut rw = lock(rw);
            for m in &msgs {
                rw.live(Direction::S2c, m);
                if let Some(v) = &mut self.verifier {
                    let ranges = rw.ignored(Direction::S2c, m);
                    v.feed(&masked(m, &ranges).0);
                }
            }
        }
        if let Some(l) = &self.learned {
            l.send_modify(|n| *n += 1);
        }
    }

    /// A recorded server chunk, for the verifier.
    pub fn expect(&mut self, chunk: Bytes) {
        let Some(v) = &mut self.verifier else {
            return;
        };
        let Some((counter, masker)) = &mut self.recorded else {
            v.expect(chunk);
            return;
        };
        for m in counter.push(&chunk) {
            let ranges = masker.ignored(Direction::S2c, &m);
            let (bytes, removed) = masked(&m, &ranges);
            v.shrink(removed);
            v.expect(Bytes::from(bytes));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignored_ranges_are_left_out() {
        let m = Message::new(Bytes::from_static(b"\x00\x05hello"), 2..7);
        let ranges = vec![3..5, 6..6];
        assert_eq!(masked(&m, &ranges), (b"\x00\x05hlo".to_vec(), 2));
        assert_eq!(masked(&m, &[]), (b"\x00\x05hello".to_vec(), 0));
    }
}
