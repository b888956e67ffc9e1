//! A token bucket: the pure arithmetic behind bandwidth caps. Bytes are
//! spent as they go; a deficit becomes a wait.

use std::time::{Duration, Instant};

/// Burst allowed after idleness: 50 ms worth of the rate, at least one
/// 64 KiB chunk, so a cap smooths traffic without stalling small messages.
const BURST_SECS: f64 = 0.05;
const MIN_BURST: f64 = 64.0 * 1024.0;

#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    /// May go negative: a debt paid back by waiting.
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(rate: u64, now: Instant) -> Self {
        let rate = rate as f64;
        let burst = (rate * BURST_SECS).max(MIN_BURST.min(rate));
        Self {
            rate,
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Changes the rate, keeping the current balance.
    pub fn set_rate(&mut self, rate: u64) {
        self.rate = rate as f64;
        self.burst = (self.rate * BURST_SECS).max(MIN_BURST.min(self.rate));
    }

    /// Spends `n` bytes at `now`; returns how long to wait before sending
    /// them so the long-run rate holds.
    pub fn take(&mut self, n: usize, now: Instant) -> Duration {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now.max(self.last);
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.tokens -= n as f64;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            // Checked: a zero rate gives infinity, and `from_secs_f64`
            // panics on it; a year is "never" for a connection.
            Duration::try_from_secs_f64(-self.tokens / self.rate)
                .map_or(super::limits::MAX_DURATION, |d| {
                    d.min(super::limits::MAX_DURATION)
                })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_run_rate_holds() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(100_000, t0);
        // Send 1 MB in 10 KB pieces as fast as allowed: about 10 s.
        let mut now = t0;
        for _ in 0..100 {
            now += b.take(10_000, now);
        }
        let secs = now.duration_since(t0).as_secs_f64();
        assert!((9.0..=10.1).contains(&secs), "{secs}");
    }

    #[test]
    fn idle_time_refills_only_up_to_the_burst() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(1000, t0);
        let later = t0 + Duration::from_secs(60);
        assert_eq!(b.take(1000, later), Duration::ZERO);
        assert!(b.take(1000, later) > Duration::from_millis(900));
    }
}
