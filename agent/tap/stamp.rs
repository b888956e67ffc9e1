//! A recording's clock: the timestamp of every message, and the sequence
//! number its segments are merged by.
//!
//! Writer lanes write in parallel, so the order of a recording is not the
//! order of one file any more. Each message is stamped as it is queued
//! (under its lane's lock, so a lane's queue is in stamp order); stamps
//! come from one atomic and never repeat, so two messages are never equal
//! and a message queued after another, on any lane, has a larger stamp. A
//! stamp is the time the proxy saw the message, moved up to one
//! nanosecond past the last stamp when that time was already handed out.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// The clock of one recording; 0 is its start.
#[derive(Debug)]
pub struct Stamp {
    start: Instant,
    last: AtomicU64,
}

impl Stamp {
    pub fn new(start: Instant) -> Self {
        Self {
            start,
            last: AtomicU64::new(0),
        }
    }

    /// The stamp of a message the proxy saw `at`: nanoseconds since the
    /// start, larger than every stamp handed out before.
    pub fn next(&self, at: Instant) -> u64 {
        let t =
            u64::try_from(at.saturating_duration_since(self.start).as_nanos()).unwrap_or(u64::MAX);
        let mut prev = self.last.load(Ordering::Relaxed);
        loop {
            let stamp = t.max(prev.saturating_add(1));
            match self
                .last
                .compare_exchange_weak(prev, stamp, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return stamp,
                Err(seen) => prev = seen,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn stamps_follow_the_clock_and_never_repeat() {
        let start = Instant::now();
        let clock = Stamp::new(start);
        let later = start + Duration::from_millis(5);
        assert_eq!(clock.next(later), 5_000_000);
        // The same instant, or an earlier one, gets the next nanosecond.
        assert_eq!(clock.next(later), 5_000_001);
        assert_eq!(clock.next(start), 5_000_002);
        assert_eq!(clock.next(later + Duration::from_millis(1)), 6_000_000);
    }

    #[test]
    fn stamps_from_many_threads_are_all_different() {
        let clock = Arc::new(Stamp::new(Instant::now()));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let c = clock.clone();
                std::thread::spawn(move || {
                    let mut mine: Vec<u64> = (0..10_000).map(|_| c.next(Instant::now())).collect();
                    // Each thread sees its own stamps rise.
                    assert!(mine.windows(2).all(|w| w[0] < w[1]));
                    mine.sort_unstable();
                    mine
                })
            })
            .collect();
        let mut all: Vec<u64> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
    }
}
