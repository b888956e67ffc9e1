//! Live histograms the data path can feed at the cost of two relaxed atomic
//! adds: fixed bucket bounds, one counter per bucket, no lock and no
//! allocation. The metrics exporter reads a [`HistogramSnapshot`] at scrape
//! time; nothing here knows about Prometheus.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (inclusive, in microseconds) of the buckets: from 100 µs,
/// where a delay stops being noise, to a minute, beyond any fault profile
/// or lateness worth telling apart; later samples go to the overflow
/// bucket. Changing them changes the exported `le` labels (dashboards).
pub const BOUNDS_US: [u64; 18] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000, 30_000_000, 60_000_000,
];

/// Buckets in all: one per bound plus the overflow.
const BUCKETS: usize = BOUNDS_US.len() + 1;

/// Counts of durations, shared by the tasks that record them.
#[derive(Debug, Default)]
pub struct AtomicHistogram {
    /// Samples per bucket (not cumulative); the last is the overflow.
    counts: [AtomicU64; BUCKETS],
    /// Sum of every sample in microseconds (saturating per sample).
    sum_us: AtomicU64,
}

/// What a histogram held at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistogramSnapshot {
    /// Samples per bucket: above the previous bound, at or below this one
    /// of [`BOUNDS_US`] (not cumulative).
    pub buckets: [u64; BOUNDS_US.len()],
    /// Every sample, the overflow included.
    pub count: u64,
    pub sum_us: u64,
}

impl HistogramSnapshot {
    /// No sample at all (a proxy kind that never delays).
    pub fn empty() -> HistogramSnapshot {
        HistogramSnapshot {
            buckets: [0; BOUNDS_US.len()],
            count: 0,
            sum_us: 0,
        }
    }
}

impl AtomicHistogram {
    /// Counts one sample. Two relaxed adds: callable from any hot path.
    pub fn record(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let i = BOUNDS_US.partition_point(|&b| b < us);
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// The counts as of now. The total is taken from the buckets read, so
    /// the snapshot agrees with itself even while samples come in (the sum
    /// may be a few samples ahead or behind).
    pub fn snapshot(&self) -> HistogramSnapshot {
        let buckets: [u64; BOUNDS_US.len()] =
            std::array::from_fn(|i| self.counts[i].load(Ordering::Relaxed));
        let count = buckets.iter().sum::<u64>() + self.counts[BUCKETS - 1].load(Ordering::Relaxed);
        HistogramSnapshot {
            buckets,
            count,
            sum_us: self.sum_us.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_land_in_the_first_bucket_whose_bound_holds_them() {
        let h = AtomicHistogram::default();
        for us in [0, 100, 101, 250, 999_999, 1_000_000, 61_000_000] {
            h.record(Duration::from_micros(us));
        }
        let s = h.snapshot();
        assert_eq!(s.count, 7);
        assert_eq!(s.buckets[0], 2, "0 and 100 are <= 100");
        assert_eq!(s.buckets[1], 2, "101 and 250 are <= 250");
        let one_s = BOUNDS_US.iter().position(|&b| b == 1_000_000).unwrap();
        assert_eq!(s.buckets[one_s], 2, "999 999 and 1 000 000");
        assert_eq!(s.buckets.iter().sum::<u64>(), 6, "61 s overflows");
        assert_eq!(s.sum_us, 100 + 101 + 250 + 999_999 + 1_000_000 + 61_000_000);
    }

    #[test]
    fn bounds_increase() {
        assert!(BOUNDS_US.windows(2).all(|w| w[0] < w[1]));
    }
}
