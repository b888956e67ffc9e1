//! Verifying a UDP session: the server's datagrams against the recorded
//! ones, datagram by datagram. UDP may lose, duplicate and reorder for
//! real, so a difference is classified rather than stopping the
//! comparison: a recorded datagram that never came is missing, one that
//! came but was not recorded is extra, a missing one and an extra one in
//! the same place are a different datagram, and the same datagrams in
//! another order are reported as an order difference, not as different
//! bytes. Memory is bounded: at most `MAX_PENDING` unmatched datagrams
//! are held per side; beyond it the oldest is settled (missing or extra).

use std::collections::{BTreeMap, HashMap, VecDeque};

use bytes::Bytes;

use super::verify::{Divergence, EXCERPT};

/// Unmatched datagrams held per side before the oldest is settled.
pub const MAX_PENDING: usize = 4_096;
/// Matches remembered to place unmatched received datagrams.
pub const MAX_MATCHES: usize = 65_536;
/// Recorded datagrams read ahead of the received ones that wait for a
/// match: how far a reordered datagram may have come early.
pub const REORDER_WINDOW: usize = 64;

/// Datagrams waiting for their counterpart, by position, findable by
/// content in O(1).
#[derive(Debug, Default)]
struct Pending {
    by_pos: BTreeMap<u64, Bytes>,
    by_bytes: HashMap<Bytes, VecDeque<u64>>,
    bytes: usize,
}

impl Pending {
    fn push(&mut self, pos: u64, d: Bytes) {
        self.bytes += d.len();
        self.by_bytes.entry(d.clone()).or_default().push_back(pos);
        self.by_pos.insert(pos, d);
    }

    /// Takes the earliest datagram equal to `d`; its position.
    fn take(&mut self, d: &[u8]) -> Option<u64> {
        let q = self.by_bytes.get_mut(d)?;
        let pos = q.pop_front()?;
        if q.is_empty() {
            self.by_bytes.remove(d);
        }
        if let Some(b) = self.by_pos.remove(&pos) {
            self.bytes -= b.len();
        }
        Some(pos)
    }

    fn pop_oldest(&mut self) -> Option<(u64, Bytes)> {
        let (pos, d) = self.by_pos.pop_first()?;
        self.bytes -= d.len();
        if let Some(q) = self.by_bytes.get_mut(&d) {
            q.retain(|p| *p != pos);
            if q.is_empty() {
                self.by_bytes.remove(&d);
            }
        }
        Some((pos, d))
    }

    fn len(&self) -> usize {
        self.by_pos.len()
    }
}

/// What the comparison of a UDP session found, in datagrams.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DatagramCounts {
    pub matched: u64,
    /// Recorded, never received (lost on the replay path, or not sent).
    pub missing: u64,
    /// Received, not recorded.
    pub extra: u64,
    /// A missing and an extra one in the same place: other bytes.
    pub different: u64,
    /// Matched, but after a datagram recorded later.
    pub reordered: u64,
}

/// Compares received datagrams with recorded ones as both arrive.
#[derive(Debug)]
pub struct DatagramVerifier {
    expected: Pending,
    received: Pending,
    /// Recorded datagrams in all, and how many were handed in.
    expected_len: u64,
    fed: u64,
    arrived: u64,
    /// Highest recorded position and highest arrival matched so far: a
    /// match below either came out of order (it arrived after a datagram
    /// recorded later, or before one recorded earlier).
    high: Option<u64>,
    high_arrival: Option<u64>,
    first_reordered: Option<u64>,
    /// Recent matches, arrival -> recorded position: where an unmatched
    /// received datagram stands (`places`). Only what an unmatched one
    /// may need is kept, at most `MAX_MATCHES`.
    matches: BTreeMap<u64, u64>,
    counts: DatagramCounts,
    /// Settled early (over `MAX_PENDING`), oldest first: the first of each
    /// kind, for the divergence's excerpt.
    first_missing: Option<(u64, Bytes)>,
    first_extra: Option<(u64, Bytes)>,
    /// The replay stopped handing in recorded datagrams (server too far
    /// behind): how many had been read.
    stopped: Option<u64>,
}

impl DatagramVerifier {
    /// A verifier for `expected_len` recorded datagrams.
    pub fn new(expected_len: u64) -> Self {
        Self {
            expected: Pending::default(),
            received: Pending::default(),
            expected_len,
            fed: 0,
            arrived: 0,
            high: None,
            high_arrival: None,
            first_reordered: None,
            matches: BTreeMap::new(),
            counts: DatagramCounts::default(),
            first_missing: None,
            first_extra: None,
            stopped: None,
        }
    }

    /// Recorded datagram `pos` matched the one that arrived `arrival`-th.
    /// Matches come in recorded order (when the datagram was waiting) or
    /// in arrival order (when the recorded one was), so comparing with
    /// the highest of each seen so far finds every inversion.
    fn matched(&mut self, pos: u64, arrival: u64) {
        self.counts.matched += 1;
        let late = self.high.is_some_and(|h| h > pos);
        let early = self.high_arrival.is_some_and(|a| a > arrival);
        if late || early {
            self.counts.reordered += 1;
            self.first_reordered.get_or_insert(pos);
        }
        self.high = self.high.max(Some(pos));
        self.high_arrival = self.high_arrival.max(Some(arrival));
        self.matches.insert(arrival, pos);
        self.trim_matches();
    }

    /// Keeps the matches an unmatched received datagram may be placed
    /// after: from the one before the oldest unmatched, or only the last
    /// when none is unmatched; never more than `MAX_MATCHES`.
    fn trim_matches(&mut self) {
        let keep_from = match self.received.by_pos.keys().next() {
            Some(&oldest) => oldest.saturating_sub(1),
            None => self.matches.keys().next_back().copied().unwrap_or(0),
        };
        while let Some((&a, _)) = self.matches.first_key_value() {
            if a >= keep_from && self.matches.len() <= MAX_MATCHES {
                break;
            }
            self.matches.pop_first();
        }
    }

    /// The next recorded datagram.
    pub fn expect(&mut self, d: Bytes) {
        let pos = self.fed;
        self.fed += 1;
        if self.stopped.is_some() {
            return;
        }
        if let Some(arrival) = self.received.take(&d) {
            self.matched(pos, arrival);
            return;
        }
        self.expected.push(pos, d);
        if self.expected.len() > MAX_PENDING
            && let Some(old) = self.expected.pop_oldest()
        {
            self.counts.missing += 1;
            self.first_missing.get_or_insert(old);
        }
    }

    /// A datagram the server sent.
    pub fn feed(&mut self, d: &[u8]) {
        let at = self.arrived;
        self.arrived += 1;
        if self.stopped.is_some() {
            return;
        }
        if let Some(pos) = self.expected.take(d) {
            self.matched(pos, at);
            return;
        }
        self.received.push(at, Bytes::copy_from_slice(d));
        if self.received.len() > MAX_PENDING
            && let Some(old) = self.received.pop_oldest()
        {
            self.counts.extra += 1;
            self.first_extra.get_or_insert(old);
            self.trim_matches();
        }
    }

    /// Whether received datagrams wait for recorded ones not read yet
    /// (within `REORDER_WINDOW` of them).
    pub fn needs_expected(&self) -> bool {
        self.stopped.is_none()
            && self.fed < self.expected_len
            && self.received.len() > 0
            && self.expected.len() <= self.received.len() + REORDER_WINDOW
    }

    /// Bytes of received datagrams not matched yet.
    pub fn backlog(&self) -> usize {
        self.received.bytes
    }

    /// No more recorded datagrams will come.
    pub fn stop_expecting(&mut self) {
        if self.fed < self.expected_len && self.stopped.is_none() {
            self.stopped = Some(self.fed);
        }
    }

    /// The counts once the session is over: what is still unmatched is
    /// settled, paired in order as different datagrams.
    pub fn counts(&self) -> DatagramCounts {
        self.settle().0
    }

    /// Where each unmatched received datagram stands in the recording: one
    /// after the datagram that arrived just before it (matched, or itself
    /// placed so); unknown when that one is no longer remembered.
    fn places(&self) -> Vec<(Option<u64>, &Bytes)> {
        let mut placed: HashMap<u64, u64> = HashMap::new();
        let mut out = Vec::with_capacity(self.received.len());
        for (&arrival, d) in &self.received.by_pos {
            let place = match arrival.checked_sub(1) {
                None => Some(0),
                Some(prev) => self
                    .matches
                    .get(&prev)
                    .or_else(|| placed.get(&prev))
                    .map(|p| p + 1),
            };
            if let Some(p) = place {
                placed.insert(arrival, p);
            }
            out.push((place, d));
        }
        out
    }

    /// Settles what is unmatched: a received datagram placed where a
    /// recorded one is missing is a different datagram; the other
    /// unmatched received ones are extra, the other recorded ones missing.
    fn settle(&self) -> (DatagramCounts, Option<Divergence>) {
        let mut c = self.counts;
        let mut left: BTreeMap<u64, &Bytes> =
            self.expected.by_pos.iter().map(|(p, d)| (*p, d)).collect();
        let mut pairs: Vec<(u64, &Bytes, &Bytes)> = Vec::new();
        let mut extra: Vec<(Option<u64>, &Bytes)> = Vec::new();
        for (place, r) in self.places() {
            match place.and_then(|p| left.remove(&p).map(|e| (p, e))) {
                Some((p, e)) => pairs.push((p, e, r)),
                None => extra.push((place, r)),
            }
        }
        c.different += pairs.len() as u64;
        c.missing += left.len() as u64;
        c.extra += extra.len() as u64;
        // Recorded datagrams never read (the server sent fewer, so they
        // were not needed): never received either. Unless comparing was
        // given up: then they are not known to be missing.
        if self.stopped.is_none() {
            c.missing += self.expected_len.saturating_sub(self.fed);
        }
        let summary = format!(
            "{} of {} recorded datagrams matched: {} different, {} missing, {} extra, {} out of order",
            c.matched, self.expected_len, c.different, c.missing, c.extra, c.reordered
        );
        let div = |offset: u64, e: &[u8], r: &[u8], what: String| Divergence {
            offset,
            expected: e[..e.len().min(EXCERPT)].to_vec(),
            received: r[..r.len().min(EXCERPT)].to_vec(),
            reason: format!("{what} ({summary})"),
        };
        let first_missing = match (&self.first_missing, left.iter().next()) {
            (Some((p, d)), _) => Some((*p, d.as_ref())),
            (None, Some((p, d))) => Some((*p, d.as_ref())),
            (None, None) if c.missing > 0 => Some((self.fed, &[][..])),
            (None, None) => None,
        };
        let found = if let Some(fed) = self.stopped {
            Some(div(
                fed,
                &[],
                &[],
                format!(
                    "not compared beyond datagram {fed}: the server fell behind the recording by more than the replay reads ahead"
                ),
            ))
        } else if let Some(&(pos, e, r)) = pairs.iter().min_by_key(|p| p.0) {
            let at = e.iter().zip(r.iter()).position(|(a, b)| a != b);
            let at = at.unwrap_or(e.len().min(r.len()));
            Some(div(
                pos,
                &e[at..],
                &r[at..],
                format!(
                    "datagram {pos} differs from byte {at} ({} bytes recorded, {} received)",
                    e.len(),
                    r.len()
                ),
            ))
        } else if let Some((pos, e)) = first_missing {
            Some(div(
                pos,
                e,
                &[],
                format!("datagram {pos} missing: recorded, never received"),
            ))
        } else if c.extra > 0 {
            let (place, r) = match (&self.first_extra, extra.first()) {
                (Some((_, d)), _) => (None, d.as_ref()),
                (None, Some((p, d))) => (*p, d.as_ref()),
                (None, None) => (None, &[][..]),
            };
            let pos = place.unwrap_or(self.expected_len);
            Some(div(
                pos,
                &[],
                r,
                format!(
                    "datagram not recorded, received after datagram {}: the server sent more datagrams than recorded",
                    pos.saturating_sub(1)
                ),
            ))
        } else if c.reordered > 0 {
            let pos = self.first_reordered.unwrap_or(0);
            Some(div(
                pos,
                &[],
                &[],
                format!(
                    "order differs: datagram {pos} came out of order, same datagrams otherwise"
                ),
            ))
        } else {
            None
        };
        (c, found)
    }

    /// The first problem, with every kind counted in its reason; `None`
    /// when every recorded datagram came, in order, and nothing else.
    pub fn finish(&self) -> Option<Divergence> {
        self.settle().1
    }
}

#[cfg(test)]
mod tests;
