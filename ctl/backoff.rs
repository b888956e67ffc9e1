//! Reconnect delays for watch streams: exponential from 200 ms, doubling to
//! at most 5 s, back to the start after a successful connect.

use std::time::Duration;

/// First delay after a failure.
pub(crate) const BACKOFF_START: Duration = Duration::from_millis(200);
/// Largest delay between two attempts.
pub(crate) const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// The delay before the next reconnect attempt.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    /// The delay `next` hands out next.
    next: Duration,
}

impl Backoff {
    pub(crate) fn new() -> Backoff {
        Backoff {
            next: BACKOFF_START,
        }
    }

    /// The delay to wait now; the following one doubles, up to the maximum.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (delay * 2).min(BACKOFF_MAX);
        delay
    }

    /// Called after a successful connect: the next failure waits the least.
    pub(crate) fn reset(&mut self) {
        self.next = BACKOFF_START;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_the_cap_and_resets() {
        let mut backoff = Backoff::new();
        let delays: Vec<u64> = (0..8)
            .map(|_| backoff.next_delay().as_millis() as u64)
            .collect();
        assert_eq!(delays, [200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
        backoff.reset();
        assert_eq!(backoff.next_delay(), BACKOFF_START);
        assert_eq!(backoff.next_delay(), Duration::from_millis(400));
    }
}
