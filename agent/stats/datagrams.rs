//! Datagram size distribution of one direction (UDP sessions' DATAGRAM
//! frames): a histogram of sizes, so the percentiles are exact values that
//! were observed, in memory proportional to the number of distinct sizes
//! (at most one entry per possible size, 65,536 for real UDP), not to the
//! number of datagrams.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::percentile::nearest_rank;

/// Sizes of the datagrams of one direction, in payload bytes (IP and UDP
/// headers not counted).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DatagramSizes {
    /// Smallest datagram.
    pub min: u64,
    /// Mean size: the direction's datagram bytes over its datagrams.
    pub avg: f64,
    /// Median (nearest rank).
    pub p50: u64,
    /// 95th percentile (nearest rank).
    pub p95: u64,
    /// 99th percentile (nearest rank).
    pub p99: u64,
    /// Largest datagram.
    pub max: u64,
}

/// Accumulates [`DatagramSizes`] as datagrams go by.
#[derive(Debug, Clone, Default)]
pub(crate) struct SizeHistogram {
    /// Size → how many datagrams had it.
    sizes: BTreeMap<u64, u64>,
    /// Datagrams counted.
    count: u64,
    /// Their bytes.
    bytes: u64,
}

impl SizeHistogram {
    /// One datagram of `size` bytes.
    pub(crate) fn add(&mut self, size: u64) {
        *self.sizes.entry(size).or_default() += 1;
        self.count += 1;
        self.bytes = self.bytes.saturating_add(size);
    }

    /// The distribution; `None` without datagrams.
    pub(crate) fn finish(&self) -> Option<DatagramSizes> {
        if self.count == 0 {
            return None;
        }
        let at = |pct| {
            let rank = nearest_rank(self.count, pct);
            let mut seen = 0;
            for (&size, &n) in &self.sizes {
                seen += n;
                if seen >= rank {
                    return size;
                }
            }
            0
        };
        Some(DatagramSizes {
            min: self.sizes.keys().next().copied().unwrap_or_default(),
            avg: self.bytes as f64 / self.count as f64,
            p50: at(50),
            p95: at(95),
            p99: at(99),
            max: self.sizes.keys().next_back().copied().unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_observed_sizes_by_nearest_rank() {
        let mut h = SizeHistogram::default();
        assert_eq!(h.finish(), None);
        // 1..=100 bytes, one datagram each: rank k is size k.
        for size in (1..=100).rev() {
            h.add(size);
        }
        let s = h.finish().unwrap();
        assert_eq!((s.min, s.p50, s.p95, s.p99, s.max), (1, 50, 95, 99, 100));
        assert_eq!(s.avg, 50.5);

        // 98 small and 2 large: p99 (rank 99) is large, p95 small.
        let mut h = SizeHistogram::default();
        for _ in 0..98 {
            h.add(20);
        }
        h.add(1400);
        h.add(1400);
        let s = h.finish().unwrap();
        assert_eq!(
            (s.min, s.p50, s.p95, s.p99, s.max),
            (20, 20, 20, 1400, 1400)
        );
    }
}
