//! Lateness: how much later than scheduled each chunk went out. Kept as raw
//! microsecond samples per connection and summarised as percentiles.

use std::time::Duration;

/// Percentiles of a set of lateness samples, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LatenessSummary {
    pub samples: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

/// Samples of one connection or of a whole replay.
#[derive(Debug, Clone, Default)]
pub struct Lateness {
    samples_us: Vec<u64>,
}

impl Lateness {
    pub fn record(&mut self, late: Duration) {
        self.samples_us
            .push(u64::try_from(late.as_micros()).unwrap_or(u64::MAX));
    }

    pub fn extend(&mut self, other: &Lateness) {
        self.samples_us.extend_from_slice(&other.samples_us);
    }

    /// Nearest-rank percentiles.
    pub fn summary(&self) -> LatenessSummary {
        if self.samples_us.is_empty() {
            return LatenessSummary::default();
        }
        let mut s = self.samples_us.clone();
        s.sort_unstable();
        let rank = |p: f64| {
            let i = ((p * s.len() as f64).ceil() as usize).clamp(1, s.len());
            s[i - 1]
        };
        LatenessSummary {
            samples: s.len() as u64,
            p50_us: rank(0.50),
            p99_us: rank(0.99),
            max_us: s[s.len() - 1],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let mut l = Lateness::default();
        for us in 1..=100 {
            l.record(Duration::from_micros(us));
        }
        let s = l.summary();
        assert_eq!(
            (s.samples, s.p50_us, s.p99_us, s.max_us),
            (100, 50, 99, 100)
        );
        assert_eq!(Lateness::default().summary(), LatenessSummary::default());
    }
}
