//! A bandwidth cap for datagrams: a token bucket (the TCP side's
//! `bucket::TokenBucket`) in front of a bounded queue, as on a router's
//! outgoing link. A datagram over the rate waits its turn; one that finds
//! the queue full is dropped, as a router drops at the tail.

use std::collections::VecDeque;
use std::time::Instant;

use super::super::bucket::TokenBucket;

/// Datagrams one direction of one session may have waiting for the rate
/// before more are dropped: netem's default `limit` and Linux's default
/// `txqueuelen`, so a cap behaves like a `tc` rate on a stock interface.
pub const QUEUE_LIMIT: usize = 1_000;

/// The rate and the instants at which the datagrams waiting for it leave.
#[derive(Debug, Clone)]
pub(super) struct RateQueue {
    bucket: TokenBucket,
    /// When each queued datagram leaves, in order (the bucket's debt only
    /// grows while they wait, so these are increasing).
    leaving: VecDeque<Instant>,
}

impl RateQueue {
    pub(super) fn new(rate: u64, now: Instant) -> RateQueue {
        RateQueue {
            bucket: TokenBucket::new(rate, now),
            leaving: VecDeque::new(),
        }
    }

    /// A new rate for what comes next; queued datagrams keep their turn.
    pub(super) fn set_rate(&mut self, rate: u64) {
        self.bucket.set_rate(rate);
    }

    /// When a datagram of `len` bytes arriving at `now` leaves, or `None`
    /// when the queue is full and it is dropped (it costs no tokens then).
    pub(super) fn depart(&mut self, len: usize, now: Instant) -> Option<Instant> {
        while self.leaving.front().is_some_and(|t| *t <= now) {
            self.leaving.pop_front();
        }
        if self.leaving.len() >= QUEUE_LIMIT {
            return None;
        }
        let wait = self.bucket.take(len, now);
        if wait.is_zero() {
            return Some(now);
        }
        let at = now + wait;
        self.leaving.push_back(at);
        Some(at)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_burst_past_the_rate_queues_then_drops_at_the_bound() {
        let t0 = Instant::now();
        // 10,000 B/s: the bucket's burst is one second's worth (its floor
        // is 64 KiB or the rate, whichever is less).
        let mut q = RateQueue::new(10_000, t0);
        let fates: Vec<Option<Instant>> = (0..2_000).map(|_| q.depart(100, t0)).collect();
        let at_once = fates.iter().filter(|f| **f == Some(t0)).count();
        let queued = fates.iter().filter(|f| f.is_some_and(|t| t > t0)).count();
        let dropped = fates.iter().filter(|f| f.is_none()).count();
        assert_eq!(at_once, 100, "the burst goes at once");
        assert_eq!(queued, QUEUE_LIMIT);
        assert_eq!(dropped, 2_000 - 100 - QUEUE_LIMIT);
        // The last queued leaves when the rate says: 1,000 × 100 B at
        // 10 kB/s.
        let last = fates.iter().flatten().max().copied().unwrap_or(t0);
        assert_eq!((last - t0).as_secs_f64().round(), 10.0);
        // Once the queue has drained, datagrams are taken again.
        assert!(q.depart(100, t0 + Duration::from_secs(11)).is_some());
    }
}
