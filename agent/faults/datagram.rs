//! Network conditions for datagrams (issue 16): loss, independent or in
//! bursts (the Gilbert–Elliott model as netem defines it), duplication,
//! reordering within a window, latency with jitter, and a bandwidth cap
//! with a bounded queue (`queue`). This is the pure
//! decision for one direction of one session: datagrams in, datagrams out
//! with the instant each is due; the UDP relay does the sending. With a seed,
//! the same traffic gets the same fate datagram for datagram.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rand::RngExt;
use rand::rngs::StdRng;

use super::random::draw;
use super::spec::Latency;

mod queue;
pub use queue::QUEUE_LIMIT;
use queue::RateQueue;

/// What the faults need to know of a datagram: its size, for the rate.
pub trait Datagram: Clone {
    fn size(&self) -> usize;
}

impl Datagram for bytes::Bytes {
    fn size(&self) -> usize {
        self.len()
    }
}

pub use super::datagram_fields::{GilbertElliott, Loss, Reorder};

/// The conditions of one direction.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DatagramSpec {
    pub loss: Option<Loss>,
    /// Share of datagrams sent twice.
    pub duplicate: f64,
    pub reorder: Option<Reorder>,
    /// Each datagram's own delay: datagrams overtake each other when their
    /// delays differ, as on a real path, unless `keep_order`.
    pub latency: Option<Latency>,
    pub keep_order: bool,
    /// Bytes per second; datagrams over it wait in a queue of at most
    /// [`QUEUE_LIMIT`], and past that are dropped.
    pub bandwidth: Option<u64>,
}

/// What the faults did, for counters and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DatagramCounts {
    pub seen: u64,
    pub lost: u64,
    pub duplicated: u64,
    /// Held back and sent after at least one datagram that followed them:
    /// what a receiver sees out of order. (One held and then sent with
    /// nothing behind it, at idle or a profile change, is only late.)
    pub reordered: u64,
    /// Dropped because the bandwidth queue was full.
    pub dropped: u64,
}

impl DatagramCounts {
    /// What happened since `earlier`, a reading of the same counts.
    pub fn since(self, earlier: DatagramCounts) -> DatagramCounts {
        DatagramCounts {
            seen: self.seen - earlier.seen,
            lost: self.lost - earlier.lost,
            duplicated: self.duplicated - earlier.duplicated,
            reordered: self.reordered - earlier.reordered,
            dropped: self.dropped - earlier.dropped,
        }
    }
}

/// The state of one direction of one session.
pub struct DatagramFaults<T> {
    spec: DatagramSpec,
    rng: StdRng,
    bad: bool,
    /// Held datagrams, with how many more must pass before each goes and
    /// whether one has passed it yet.
    held: VecDeque<(T, u32, bool)>,
    /// With `keep_order`: when the last datagram sent is due.
    last_due: Option<Instant>,
    /// With `bandwidth`: made at the first datagram, kept across updates.
    rate: Option<RateQueue>,
    counts: DatagramCounts,
}

impl<T: Datagram> DatagramFaults<T> {
    pub fn new(spec: DatagramSpec, rng: StdRng) -> DatagramFaults<T> {
        DatagramFaults {
            spec,
            rng,
            bad: false,
            held: VecDeque::new(),
            last_due: None,
            rate: None,
            counts: DatagramCounts::default(),
        }
    }

    /// Follows a new profile from the next datagram on (a live update).
    /// Draws go on from the same generator unless `rng` is given (the seed
    /// changed). Datagrams held for reordering go at once when the new
    /// profile does not reorder; those already due keep their instant.
    pub fn update(
        &mut self,
        spec: DatagramSpec,
        rng: Option<StdRng>,
        now: Instant,
    ) -> Vec<(T, Instant)> {
        self.spec = spec;
        if let Some(rng) = rng {
            self.rng = rng;
        }
        match (spec.bandwidth, self.rate.as_mut()) {
            (None, _) => self.rate = None,
            (Some(r), Some(q)) => q.set_rate(r),
            (Some(_), None) => {}
        }
        if !spec.keep_order {
            self.last_due = None;
        }
        if spec.loss.is_none() {
            self.bad = false;
        }
        if spec.reorder.is_none() {
            self.flush(now)
        } else {
            Vec::new()
        }
    }

    pub fn counts(&self) -> DatagramCounts {
        self.counts
    }

    /// Whether this direction leaves datagrams alone now (no fault set,
    /// nothing held): then the datagram is counted seen and the caller
    /// sends it at once, without `admit`'s queueing.
    pub fn pass_through(&mut self) -> bool {
        if self.held.is_empty() && self.spec == DatagramSpec::default() {
            self.counts.seen += 1;
            true
        } else {
            false
        }
    }

    /// Decides the fate of a datagram that arrived at `now`: what to send,
    /// each with its due instant, in sending order (possibly nothing).
    pub fn admit(&mut self, datagram: T, now: Instant) -> Vec<(T, Instant)> {
        self.counts.seen += 1;
        if self.lost() {
            self.counts.lost += 1;
            return Vec::new();
        }
        if let Some(window) = self.held_for() {
            self.held.push_back((datagram, window, false));
            return Vec::new();
        }
        let mut out = Vec::new();
        if self.spec.duplicate > 0.0 && self.rng.random_bool(self.spec.duplicate.min(1.0)) {
            self.counts.duplicated += 1;
            self.send(datagram.clone(), now, &mut out);
        }
        self.send(datagram, now, &mut out);
        // This datagram passed the held ones: those it was the last of go.
        let mut kept = VecDeque::with_capacity(self.held.len());
        for (d, left, _) in std::mem::take(&mut self.held) {
            if left <= 1 {
                self.counts.reordered += 1;
                self.send(d, now, &mut out);
            } else {
                kept.push_back((d, left - 1, true));
            }
        }
        self.held = kept;
        out
    }

    /// The session went idle or closes: what is still held goes now.
    pub fn flush(&mut self, now: Instant) -> Vec<(T, Instant)> {
        let held: Vec<(T, u32, bool)> = self.held.drain(..).collect();
        let mut out = Vec::with_capacity(held.len());
        for (d, _, passed) in held {
            if passed {
                self.counts.reordered += 1;
            }
            self.send(d, now, &mut out);
        }
        out
    }

    /// Puts a datagram on the way out at `now`: through the rate's queue
    /// (or dropped at it), then its latency.
    fn send(&mut self, d: T, now: Instant, out: &mut Vec<(T, Instant)>) {
        let mut leaves = now;
        if let Some(rate) = self.spec.bandwidth {
            let queue = self.rate.get_or_insert_with(|| RateQueue::new(rate, now));
            match queue.depart(d.size(), now) {
                Some(at) => leaves = at,
                None => {
                    self.counts.dropped += 1;
                    return;
                }
            }
        }
        let due = self.due(leaves);
        out.push((d, due));
    }

    fn lost(&mut self) -> bool {
        match self.spec.loss {
            None => false,
            Some(Loss::Random(p)) => p > 0.0 && self.rng.random_bool(p.min(1.0)),
            Some(Loss::Bursts(ge)) => {
                // netem's order (`loss_gilb_ell` in sch_netem.c): the state
                // moves for the next datagram, and this one's fate is drawn
                // with the loss of the state it arrived in.
                let loss = if self.bad { ge.bad_loss } else { ge.good_loss };
                let flip = if self.bad { ge.r } else { ge.p };
                if flip > 0.0 && self.rng.random_bool(flip.min(1.0)) {
                    self.bad = !self.bad;
                }
                loss > 0.0 && self.rng.random_bool(loss.min(1.0))
            }
        }
    }

    /// How many later datagrams a datagram is held for, if it is.
    fn held_for(&mut self) -> Option<u32> {
        let r = self.spec.reorder?;
        if r.window == 0 || r.probability <= 0.0 || !self.rng.random_bool(r.probability.min(1.0)) {
            return None;
        }
        Some(self.rng.random_range(1..=r.window))
    }

    fn due(&mut self, now: Instant) -> Instant {
        let delay = self
            .spec
            .latency
            .map_or(Duration::ZERO, |l| draw(&l, &mut self.rng));
        let mut due = now + delay;
        if self.spec.keep_order {
            if let Some(last) = self.last_due {
                due = due.max(last);
            }
            self.last_due = Some(due);
        }
        due
    }
}

#[cfg(test)]
mod tests;
