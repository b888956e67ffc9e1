//! Message size statistics of one direction, with framing: a histogram of
//! sizes (exact percentiles in memory proportional to the number of distinct
//! sizes, not of messages) and the bytes framing could not account for.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::percentile::nearest_rank;

/// Messages of one direction, over every connection.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MessageStats {
    /// Complete messages.
    pub count: u64,
    /// Bytes in complete messages (headers included).
    pub bytes: u64,
    /// Smallest message size; 0 when there is none.
    pub min: u64,
    /// Mean message size (`bytes / count`); 0 when there is none.
    pub avg: f64,
    /// 95th percentile of message sizes (nearest rank); 0 when there is none.
    pub p95: u64,
    /// Largest message size; 0 when there is none.
    pub max: u64,
    /// Bytes of messages still incomplete when their stream ended.
    pub incomplete_bytes: u64,
    /// Bytes that were not framed: streams of mid-session connections, and
    /// every byte after a loss or a framing error in its stream.
    pub unframed_bytes: u64,
    /// Streams in which a length field was invalid (framing stopped there).
    pub framing_errors: u64,
}

/// Accumulates [`MessageStats`] as messages complete.
#[derive(Debug, Clone, Default)]
pub(crate) struct MessageStatsBuilder {
    /// Message size → how many messages had it.
    sizes: BTreeMap<u64, u64>,
    /// The totals that need no histogram.
    stats: MessageStats,
}

impl MessageStatsBuilder {
    /// One complete message of `size` bytes.
    pub(crate) fn message(&mut self, size: u64) {
        *self.sizes.entry(size).or_default() += 1;
        self.stats.count += 1;
        self.stats.bytes += size;
    }

    /// Bytes left in an incomplete message at the end of a stream.
    pub(crate) fn incomplete(&mut self, bytes: u64) {
        self.stats.incomplete_bytes += bytes;
    }

    /// Bytes that framing skipped.
    pub(crate) fn unframed(&mut self, bytes: u64) {
        self.stats.unframed_bytes += bytes;
    }

    /// A stream broke the spec.
    pub(crate) fn framing_error(&mut self) {
        self.stats.framing_errors += 1;
    }

    /// The final figures.
    pub(crate) fn finish(self) -> MessageStats {
        let mut stats = self.stats;
        if stats.count == 0 {
            return stats;
        }
        stats.min = self.sizes.keys().next().copied().unwrap_or_default();
        stats.max = self.sizes.keys().next_back().copied().unwrap_or_default();
        stats.avg = stats.bytes as f64 / stats.count as f64;
        let rank = nearest_rank(stats.count, 95);
        let mut seen = 0;
        for (&size, &n) in &self.sizes {
            seen += n;
            if seen >= rank {
                stats.p95 = size;
                break;
            }
        }
        stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_gives_exact_figures() {
        let mut b = MessageStatsBuilder::default();
        // 19 messages of 10 bytes and one of 1000: p95 is rank 19 → 10.
        for _ in 0..19 {
            b.message(10);
        }
        b.message(1000);
        b.incomplete(3);
        b.unframed(4);
        b.framing_error();
        let s = b.finish();
        assert_eq!(
            s,
            MessageStats {
                count: 20,
                bytes: 1190,
                min: 10,
                avg: 59.5,
                p95: 10,
                max: 1000,
                incomplete_bytes: 3,
                unframed_bytes: 4,
                framing_errors: 1,
            }
        );
    }

    #[test]
    fn no_messages_gives_zeros() {
        assert_eq!(
            MessageStatsBuilder::default().finish(),
            MessageStats::default()
        );
    }
}
