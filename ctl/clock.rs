//! Clock offset of an agent, measured NTP-style over GetInfo: for each sample,
//! t0 = local wall clock before the call, t3 = after it, and the agent's
//! `now_unix_ns` read in between; offset = agent − (t0 + t3) / 2 and
//! rtt = t3 − t0. The sample with the smallest rtt wins: its midpoint is the
//! least uncertain. Coordinated starts use the offset to turn a shared
//! deadline into each agent's clock.
//!
//! Several agents are measured at once from reelctl's one thread. Begun
//! together, their samples go in lockstep: every round trip then includes
//! reelctl's work on the other agents' calls, split unevenly between its two
//! halves, and so does the smallest one. On one host that put three agents'
//! offsets up to 90 µs apart (their true offsets are zero). So the i-th
//! agent's samples begin `i × STAGGER` after the first agent's (a few slots,
//! reused): a nearby agent takes its samples back to back in well under a
//! slot, alone; a distant one is bounded by its round trip anyway.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reel::proto::{AgentInfo, GetInfoRequest};

use crate::error::AgentError;
use crate::fleet::{self, AgentClient, Report};
use crate::settings::Settings;

/// Round trips taken per measurement.
pub(crate) const SAMPLES: usize = 5;

/// Delay between the starts of two agents' measurements (see the module
/// doc): two of tokio's 1 ms ticks, so a slot ends before the next begins.
pub(crate) const STAGGER: Duration = Duration::from_millis(2);

/// Slots used before agent i reuses slot `i % STAGGER_SLOTS`: bounds what
/// staggering adds to a large fleet's measurement (at most 14 ms).
pub(crate) const STAGGER_SLOTS: u32 = 8;

/// When the measurement of the `index`-th agent begins, after the first.
pub(crate) fn stagger(index: usize) -> Duration {
    let slot = u32::try_from(index % STAGGER_SLOTS as usize).unwrap_or(0);
    STAGGER * slot
}

/// One GetInfo round trip, all times in ns since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sample {
    /// Local wall clock just before the call (t0).
    pub(crate) sent_ns: i64,
    /// The agent's wall clock while it answered.
    pub(crate) agent_ns: i64,
    /// Local wall clock just after the answer (t3).
    pub(crate) received_ns: i64,
}

/// The best estimate from a set of samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Estimate {
    /// Agent clock minus local clock: positive when the agent is ahead.
    pub(crate) offset_ns: i64,
    /// Round trip of the sample the offset comes from; the offset is exact
    /// within ±rtt/2.
    pub(crate) rtt_ns: u64,
}

impl Estimate {
    /// The offset in microseconds, rounded to nearest.
    pub(crate) fn offset_us(&self) -> i64 {
        let ns = i128::from(self.offset_ns);
        clamp_i64((ns + 500 * ns.signum()) / 1000)
    }

    /// The round trip in microseconds, rounded to nearest.
    pub(crate) fn rtt_us(&self) -> u64 {
        self.rtt_ns.saturating_add(500) / 1000
    }
}

/// The estimate from the sample with the smallest round trip (the first one
/// on ties). Samples whose clock went backwards (t3 < t0) are skipped.
/// `None` when no sample is usable.
pub(crate) fn estimate(samples: &[Sample]) -> Option<Estimate> {
    samples
        .iter()
        .filter(|s| s.received_ns >= s.sent_ns)
        .min_by_key(|s| i128::from(s.received_ns) - i128::from(s.sent_ns))
        .map(|s| {
            let (t0, t3) = (i128::from(s.sent_ns), i128::from(s.received_ns));
            let midpoint = (t0 + t3).div_euclid(2);
            Estimate {
                offset_ns: clamp_i64(i128::from(s.agent_ns) - midpoint),
                rtt_ns: u64::try_from(t3 - t0).unwrap_or(u64::MAX),
            }
        })
}

fn clamp_i64(value: i128) -> i64 {
    i64::try_from(value).unwrap_or(if value < 0 { i64::MIN } else { i64::MAX })
}

/// A duration in ns, saturated to `i64::MAX` (292 years).
fn nanos_i64(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX)
}

/// Local wall clock in ns since the Unix epoch (negative before it).
pub(crate) fn now_unix_ns() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(since) => nanos_i64(since),
        Err(before) => nanos_i64(before.duration()).saturating_neg(),
    }
}

/// Takes `SAMPLES` GetInfo round trips one after the other, each under the
/// agent's deadline, and returns the last answer with the clock estimate.
/// `index` is the agent's place among the agents measured together: the
/// first sample waits for its `stagger`. t3 is t0 plus the monotonic elapsed
/// time, so a wall-clock step during a call cannot make a round trip
/// negative.
///
/// # Errors
/// The first failed call.
pub(crate) async fn measure(
    agent: &AgentClient,
    index: usize,
) -> Result<(AgentInfo, Estimate), AgentError> {
    tokio::time::sleep(stagger(index)).await;
    let mut samples = Vec::with_capacity(SAMPLES);
    let mut last = None;
    for _ in 0..SAMPLES {
        let sent_ns = now_unix_ns();
        let started = Instant::now();
        let info = agent
            .unary(|mut client| async move { client.get_info(GetInfoRequest {}).await })
            .await?;
        let elapsed = nanos_i64(started.elapsed());
        samples.push(Sample {
            sent_ns,
            agent_ns: info.now_unix_ns,
            received_ns: sent_ns.saturating_add(elapsed),
        });
        last = Some(info);
    }
    match (last, estimate(&samples)) {
        (Some(info), Some(estimate)) => Ok((info, estimate)),
        _ => Err(AgentError::Internal("no clock sample taken".to_owned())),
    }
}

/// Measures the clock of every agent whose `previous` step succeeded,
/// concurrently but staggered, passing that step's value along.
pub(crate) async fn measure_all<S: Send + 'static>(
    settings: &Settings,
    previous: Report<S>,
) -> Report<(S, Option<Estimate>)> {
    fleet::then_all(
        settings,
        fleet::indexed(previous),
        |agent, (index, value)| async move {
            let (_info, estimate) = measure(&agent, index).await?;
            Ok((value, Some(estimate)))
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(sent_ns: i64, agent_ns: i64, received_ns: i64) -> Sample {
        Sample {
            sent_ns,
            agent_ns,
            received_ns,
        }
    }

    #[test]
    fn offset_is_agent_minus_midpoint() {
        let cases = [
            // agent exactly at the midpoint: no offset
            (sample(1_000, 1_500, 2_000), 0, 1_000),
            // agent 10 µs ahead
            (sample(1_000, 11_500, 2_000), 10_000, 1_000),
            // agent 3 ms behind
            (sample(5_000_000, 2_000_500, 5_001_000), -3_000_000, 1_000),
            // zero round trip
            (sample(7, 7, 7), 0, 0),
        ];
        for (s, offset_ns, rtt_ns) in cases {
            let e = estimate(&[s]).unwrap();
            assert_eq!((e.offset_ns, e.rtt_ns), (offset_ns, rtt_ns), "{s:?}");
        }
    }

    #[test]
    fn smallest_round_trip_wins() {
        let samples = [
            sample(0, 900, 1_000),       // rtt 1000, offset 400
            sample(2_000, 2_150, 2_200), // rtt 200, offset 50
            sample(3_000, 4_000, 3_200), // rtt 200 again: later tie loses
            sample(5_000, 9_000, 5_800), // rtt 800
        ];
        let e = estimate(&samples).unwrap();
        assert_eq!(
            e,
            Estimate {
                offset_ns: 50,
                rtt_ns: 200
            }
        );
    }

    #[test]
    fn backwards_samples_are_skipped() {
        assert_eq!(estimate(&[]), None);
        assert_eq!(estimate(&[sample(10, 5, 9)]), None);
        let e = estimate(&[sample(10, 5, 9), sample(10, 20, 30)]).unwrap();
        assert_eq!(
            e,
            Estimate {
                offset_ns: 0,
                rtt_ns: 20
            }
        );
    }

    #[test]
    fn extreme_clocks_do_not_overflow() {
        let e = estimate(&[sample(i64::MAX - 10, i64::MIN, i64::MAX)]).unwrap();
        assert_eq!(e.offset_ns, i64::MIN);
        let e = estimate(&[sample(i64::MIN, i64::MAX, i64::MIN + 2)]).unwrap();
        assert_eq!(e.offset_ns, i64::MAX);
    }

    #[test]
    fn agents_measured_together_take_their_own_slots() {
        let slots: Vec<u128> = (0..10).map(|i| stagger(i).as_millis()).collect();
        assert_eq!(slots, [0, 2, 4, 6, 8, 10, 12, 14, 0, 2]);
    }

    #[test]
    fn microseconds_round_to_nearest() {
        let e = |offset_ns, rtt_ns| Estimate { offset_ns, rtt_ns };
        assert_eq!(e(1_499, 1_500).offset_us(), 1);
        assert_eq!(e(1_500, 0).offset_us(), 2);
        assert_eq!(e(-1_500, 0).offset_us(), -2);
        assert_eq!(e(-1_499, 0).offset_us(), -1);
        assert_eq!(e(0, 1_500).rtt_us(), 2);
        assert_eq!(e(0, 1_499).rtt_us(), 1);
    }
}
