//! Lateness: how much later than scheduled each chunk went out. Kept as a
//! log-linear histogram of microseconds per connection and per replay, so a
//! replay of any length holds a fixed amount of memory for it, and
//! summarised as nearest-rank percentiles within 1.6 %.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Values below `2^SUB_BITS` µs get a bucket each; above, each power of two
/// is cut into `2^SUB_BITS` buckets. A bucket's midpoint is within
/// `1 / 2^(SUB_BITS + 1)` (1.6 %) of any value in it.
const SUB_BITS: u32 = 5;
const SUB: u64 = 1 << SUB_BITS;
/// Lateness told apart up to `2^TOP_BITS` µs (about 19 hours); later
/// samples share the top bucket (the max stays exact).
const TOP_BITS: u32 = 36;
/// Buckets in all: a dense window over them is at most 8 KiB.
const BUCKETS: usize = ((TOP_BITS - SUB_BITS + 1) as usize) << SUB_BITS;

/// Percentiles of a set of lateness samples, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatenessSummary {
    pub samples: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

/// Samples of one connection or of a whole replay.
///
/// Only the window of buckets between the lowest and the highest sample is
/// stored: a connection whose lateness spans a few powers of two holds a
/// few hundred bytes, and no instance exceeds `BUCKETS` counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lateness {
    samples: u64,
    min_us: u64,
    max_us: u64,
    /// Bucket index of `counts[0]`.
    first: u16,
    counts: Vec<u64>,
}

/// The bucket of a value in µs.
fn bucket(us: u64) -> usize {
    let us = us.min((1 << TOP_BITS) - 1);
    if us < SUB {
        return us as usize;
    }
    let e = 63 - us.leading_zeros();
    let group = (e - SUB_BITS + 1) as usize;
    (group << SUB_BITS) + ((us >> (e - SUB_BITS)) - SUB) as usize
}

/// The value a bucket stands for: the middle of its range.
fn midpoint(index: usize) -> u64 {
    let group = (index >> SUB_BITS) as u32;
    let sub = (index as u64) & (SUB - 1);
    if group == 0 {
        return sub;
    }
    let width = 1u64 << (group - 1);
    ((SUB + sub) << (group - 1)) + width / 2
}

impl Lateness {
    pub fn record(&mut self, late: Duration) {
        let us = u64::try_from(late.as_micros()).unwrap_or(u64::MAX);
        self.add(bucket(us), 1, us, us);
    }

    pub fn extend(&mut self, other: &Lateness) {
        if other.samples == 0 {
            return;
        }
        let first = usize::from(other.first);
        for (i, &n) in other.counts.iter().enumerate().filter(|(_, n)| **n > 0) {
            self.add(first + i, n, other.min_us, other.max_us);
        }
    }

    /// Adds `n` samples to bucket `index`, which holds values within
    /// `min_us..=max_us` of the samples they came with.
    fn add(&mut self, index: usize, n: u64, min_us: u64, max_us: u64) {
        debug_assert!(index < BUCKETS, "bucket {index} out of range");
        if self.samples == 0 {
            self.min_us = min_us;
            self.max_us = max_us;
            self.first = index as u16;
            self.counts.clear();
        } else {
            self.min_us = self.min_us.min(min_us);
            self.max_us = self.max_us.max(max_us);
        }
        self.samples += n;
        let first = usize::from(self.first);
        if self.counts.is_empty() {
            self.counts.push(0);
        }
        if index < first {
            let grow = first - index;
            self.counts.splice(0..0, std::iter::repeat_n(0, grow));
            self.first = index as u16;
        } else if index >= first + self.counts.len() {
            self.counts.resize(index - first + 1, 0);
        }
        self.counts[index - usize::from(self.first)] += n;
    }

    /// The most late sample, exact.
    pub fn max_us(&self) -> u64 {
        self.max_us
    }

    /// Nearest-rank percentiles, each within 1.6 % of an observed value
    /// (exact below 64 µs), and the exact max.
    pub fn summary(&self) -> LatenessSummary {
        if self.samples == 0 {
            return LatenessSummary::default();
        }
        LatenessSummary {
            samples: self.samples,
            p50_us: self.percentile(50),
            p99_us: self.percentile(99),
            max_us: self.max_us,
        }
    }

    fn percentile(&self, pct: u64) -> u64 {
        let rank = (pct * self.samples).div_ceil(100).max(1);
        let mut seen = 0;
        for (i, &n) in self.counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                let value = midpoint(usize::from(self.first) + i);
                return value.clamp(self.min_us, self.max_us);
            }
        }
        self.max_us
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(values: impl IntoIterator<Item = u64>) -> Lateness {
        let mut l = Lateness::default();
        for us in values {
            l.record(Duration::from_micros(us));
        }
        l
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let s = of(1..=100).summary();
        assert_eq!(
            (s.samples, s.p50_us, s.p99_us, s.max_us),
            (100, 50, 99, 100)
        );
        assert_eq!(Lateness::default().summary(), LatenessSummary::default());
    }

    #[test]
    fn every_value_lands_in_a_bucket_whose_midpoint_is_close() {
        let mut values: Vec<u64> = (0..5000).collect();
        values.extend((0..TOP_BITS).flat_map(|e| {
            let p = 1u64 << e;
            [p - 1, p, p + 1, p + p / 3]
        }));
        values.push((1 << TOP_BITS) - 1);
        for us in values {
            let i = bucket(us);
            assert!(i < BUCKETS, "{us} -> {i}");
            let mid = midpoint(i);
            let err = mid.abs_diff(us) as f64 / us.max(1) as f64;
            assert!(err <= 1.0 / 64.0, "{us}: midpoint {mid}, error {err}");
            if us < 2 * SUB {
                assert_eq!(mid, us, "exact below {}", 2 * SUB);
            }
        }
        // Buckets are in value order.
        assert!((1..BUCKETS).all(|i| midpoint(i) > midpoint(i - 1)));
    }

    #[test]
    fn percentiles_stay_within_the_bound() {
        // 1 ms .. 3 h, over seven powers of ten.
        let values: Vec<u64> = (0..10_000u64).map(|i| 1000 + i * i * 100).collect();
        let s = of(values.iter().copied()).summary();
        let mut sorted = values.clone();
        sorted.sort_unstable();
        let exact = |pct: u64| sorted[(pct * 10_000).div_ceil(100) as usize - 1];
        for (got, pct) in [(s.p50_us, 50), (s.p99_us, 99)] {
            let want = exact(pct);
            let err = got.abs_diff(want) as f64 / want as f64;
            assert!(err <= 1.0 / 64.0, "p{pct}: {got} vs {want}");
        }
        assert_eq!(s.max_us, *sorted.last().unwrap());
    }

    #[test]
    fn extend_equals_recording_everything_in_one() {
        let a = of([3, 70, 5000]);
        let b = of([1, 2_000_000, 90]);
        let mut merged = a.clone();
        merged.extend(&b);
        merged.extend(&Lateness::default());
        assert_eq!(
            merged.summary(),
            of([3, 70, 5000, 1, 2_000_000, 90]).summary()
        );
        let mut from_empty = Lateness::default();
        from_empty.extend(&b);
        assert_eq!(from_empty, b);
    }

    #[test]
    fn one_value_is_reported_exactly() {
        let s = of([123_456; 7]).summary();
        assert_eq!(
            (s.samples, s.p50_us, s.p99_us, s.max_us),
            (7, 123_456, 123_456, 123_456)
        );
    }

    #[test]
    fn huge_values_are_capped_in_buckets_not_in_max() {
        let s = of([u64::MAX, 10]).summary();
        assert_eq!(s.max_us, u64::MAX);
        assert_eq!(s.p50_us, 10);
    }

    #[test]
    fn memory_is_bounded() {
        let l = of((0..TOP_BITS + 4).map(|e| 1u64 << e));
        assert!(l.counts.len() <= BUCKETS);
        assert!(l.counts.len() * 8 <= 8 * 1024);
        // A typical connection: 100 µs .. 20 ms.
        let l = of((100..20_000).step_by(7));
        assert!(l.counts.len() * 8 < 2048, "{} buckets", l.counts.len());
    }
}
