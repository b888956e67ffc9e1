//! The rules at work on one replayed connection: learn captured values
//! from recorded and live messages, say which values a client message
//! still waits for, rewrite client messages, list the bytes `--verify`
//! skips, and count all of it per rule.
//!
//! The replay drives it in recording order: each recorded message goes to
//! [`ConnRewriter::recorded`] when the replay reaches it, each message the
//! live server sends to [`ConnRewriter::live`], each recorded client
//! message through [`ConnRewriter::needs`] (reactive and causal modes wait
//! until it is empty) and then [`ConnRewriter::rewrite_c2s`] to get the
//! bytes to send.

use std::ops::Range;
use std::sync::Arc;

use super::apply::{Outcome, apply, head, rebuild};
use super::captures::{SharedCaptures, Side, Slot, Value};
use super::locate::applies;
use super::message::Message;
use super::rules::{Field, Rules, Scope};
use super::stats::Stats;
use crate::format::Direction;

/// The rewriting state of one connection.
#[derive(Debug)]
pub struct ConnRewriter {
    rules: Arc<Rules>,
    /// `scope = "replay"` values, shared with the replay's other connections.
    shared: Arc<SharedCaptures>,
    /// This connection's values, by slot (the replay-scope ones stay empty).
    slots: Vec<Slot>,
    stats: Stats,
    /// `rules check`: there is no live server, so the recorded values stand
    /// in for the live ones (a rewrite then writes what was recorded).
    dry_run: bool,
}

impl ConnRewriter {
    /// A connection with nothing captured yet.
    pub fn new(rules: Arc<Rules>, shared: Arc<SharedCaptures>) -> ConnRewriter {
        ConnRewriter {
            slots: vec![Slot::default(); rules.slots.len()],
            stats: Stats::new(&rules),
            rules,
            shared,
            dry_run: false,
        }
    }

    /// A connection for a dry run: live values are the recorded ones.
    pub(crate) fn dry_run(rules: Arc<Rules>, shared: Arc<SharedCaptures>) -> ConnRewriter {
        ConnRewriter {
            dry_run: true,
            ..ConnRewriter::new(rules, shared)
        }
    }

    /// The rules it applies.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// The counts so far (add [`Framer::unparsed`](super::Framer::unparsed)
    /// to `unparsed` yourself).
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// What capture `name` holds on this connection (a replay-scope name:
    /// for the replay); `None` for an unknown name.
    pub fn values(&self, name: &str) -> Option<Slot> {
        let index = self.rules.slots.iter().position(|s| s.name == name)?;
        Some(self.slot(index))
    }

    fn slot(&self, index: usize) -> Slot {
        match self.rules.slots.get(index).map(|s| s.scope) {
            Some(Scope::Replay) => self.shared.with(index, |s| s.clone()),
            _ => self.slots.get(index).cloned().unwrap_or_default(),
        }
    }

    fn learn_into(&mut self, index: usize, side: Side, value: Value) {
        match self.rules.slots.get(index).map(|s| s.scope) {
            Some(Scope::Replay) => self.shared.with(index, |s| s.learn(side, value)),
            _ => {
                if let Some(slot) = self.slots.get_mut(index) {
                    slot.learn(side, value);
                }
            }
        }
    }

    /// A recorded message of `dir`, in recording order: learns the recorded
    /// values of the captures it matches.
    pub fn recorded(&mut self, dir: Direction, msg: &Message) {
        self.learn(Side::Recorded, dir, msg);
    }

    /// A live message of `dir` (for `s2c`, bytes the live server sent; for
    /// a `c2s` capture, the rewritten message as sent): learns the live
    /// values of the captures it matches.
    pub fn live(&mut self, dir: Direction, msg: &Message) {
        self.learn(Side::Live, dir, msg);
    }

    fn learn(&mut self, side: Side, dir: Direction, msg: &Message) {
        if msg.is_unparsed() {
            return;
        }
        let rules = Arc::clone(&self.rules);
        let body = msg.body();
        for (i, capture) in rules.captures.iter().enumerate() {
            if !applies(capture.direction, capture.when.as_ref(), dir, body) {
                continue;
            }
            let found = capture.field.locate(body).map(|range| {
                let int = match &capture.field {
                    Field::Int(f) => f.int.read(&body[range.clone()]),
                    Field::Raw { .. } | Field::Regex(_) => None,
                };
                Value {
                    bytes: body[range].to_vec(),
                    int,
                }
            });
            let stats = &mut self.stats.capture[i];
            stats.matched += 1;
            let Some(value) = found else {
                stats.missed += 1;
                continue;
            };
            match side {
                Side::Recorded => stats.learned_recorded += 1,
                Side::Live => stats.learned_live += 1,
            }
            self.learn_into(capture.slot, side, value);
        }
    }

    /// The capture names a recorded client message needs whose live value
    /// is not known yet: never seen, or (per-connection captures) seen
    /// fewer times than the recording had given it so far, so a renewed
    /// token is waited for too. Empty when the message can go out.
    pub fn needs(&self, msg: &Message) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        if msg.is_unparsed() || self.dry_run {
            return names;
        }
        for rewrite in &self.rules.rewrites {
            if !applies(
                rewrite.direction,
                rewrite.when.as_ref(),
                Direction::C2s,
                msg.body(),
            ) {
                continue;
            }
            let Some(info) = self.rules.slots.get(rewrite.slot) else {
                continue;
            };
            let slot = self.slot(rewrite.slot);
            let behind = info.scope == Scope::Connection && slot.live_seen < slot.recorded_seen;
            if (slot.live.is_none() || behind) && !names.contains(&info.name.as_str()) {
                names.push(&info.name);
            }
        }
        names
    }

    /// Whether [`ConnRewriter::needs`] is not empty.
    pub fn waits(&self, msg: &Message) -> bool {
        !self.needs(msg).is_empty()
    }

    /// A recorded client message as it must go out: each matching rewrite
    /// in file order (a value not known, or a field not there, keeps the
    /// recorded bytes and counts a miss), then the length prefix rewritten
    /// when the body length changed, then the checksums recomputed.
    /// Unparsed messages go out as they are.
    pub fn rewrite_c2s(&mut self, msg: &Message) -> Message {
        if msg.is_unparsed() {
            return msg.clone();
        }
        let rules = Arc::clone(&self.rules);
        let mut body = msg.body().to_vec();
        let mut applied: Vec<(usize, u64)> = Vec::new();
        for (i, rewrite) in rules.rewrites.iter().enumerate() {
            if !applies(
                rewrite.direction,
                rewrite.when.as_ref(),
                Direction::C2s,
                &body,
            ) {
                continue;
            }
            let slot = self.slot(rewrite.slot);
            let live = if self.dry_run {
                slot.recorded.as_ref()
            } else {
                slot.live.as_ref()
            };
            let stats = &mut self.stats.rewrite[i];
            stats.matched += 1;
            match apply(rewrite, &mut body, slot.recorded.as_ref(), live) {
                Outcome::Applied(n) => {
                    stats.applied += n;
                    applied.push((i, n));
                }
                Outcome::Missed => stats.missed += 1,
                Outcome::Absent => {}
            }
        }
        let new_head = match head(&rules.framing, msg, body.len()) {
            Some(h) => h.into_owned(),
            None => {
                // The new length cannot be written: the message goes out
                // as recorded, and its rewrites count as missed.
                for (i, n) in applied {
                    let stats = &mut self.stats.rewrite[i];
                    stats.applied -= n;
                    stats.missed += 1;
                }
                body = msg.body().to_vec();
                msg.wire()[..msg.body_range().start].to_vec()
            }
        };
        for (i, checksum) in rules.checksums.iter().enumerate() {
            if !applies(
                checksum.direction,
                checksum.when.as_ref(),
                Direction::C2s,
                &body,
            ) {
                continue;
            }
            let stats = &mut self.stats.checksum[i];
            stats.matched += 1;
            match checksum.compute(&body) {
                Some((at, value)) if checksum.at.int.write(value, &mut body[at.clone()]) => {
                    stats.checksums_fixed += 1;
                }
                _ => stats.missed += 1,
            }
        }
        if new_head == msg.wire()[..msg.body_range().start] && body == msg.body() {
            return msg.clone();
        }
        rebuild(msg, &new_head, &body)
    }

    /// The byte ranges of `msg`'s wire bytes that `--verify` must not
    /// compare (a message of `dir`, recorded or live: the same rules).
    pub fn ignored(&mut self, dir: Direction, msg: &Message) -> Vec<Range<usize>> {
        let mut ranges = Vec::new();
        if msg.is_unparsed() {
            return ranges;
        }
        let rules = Arc::clone(&self.rules);
        let (body, start) = (msg.body(), msg.body_range().start);
        for (i, ignore) in rules.ignores.iter().enumerate() {
            if !applies(ignore.direction, ignore.when.as_ref(), dir, body) {
                continue;
            }
            let stats = &mut self.stats.ignore[i];
            stats.matched += 1;
            match ignore.field.locate(body) {
                Some(range) => {
                    stats.bytes_ignored += range.len() as u64;
                    ranges.push(start + range.start..start + range.end);
                }
                None => stats.missed += 1,
            }
        }
        ranges
    }
}
