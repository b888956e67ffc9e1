//! Coordinated starts, the pure part: `--at TIME|+DUR` parsed into a local
//! deadline, the deadline turned into each agent's clock with its measured
//! offset, the agents' real start instants turned back into the local clock,
//! and the skew between them. All instants are ns since the Unix epoch.

use std::time::{Duration, UNIX_EPOCH};

use serde::Serialize;

use crate::timestamp::UnixNanos;

/// When `--at` says to start, as typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StartAt {
    /// An absolute instant (RFC 3339, UTC), ns since the Unix epoch.
    At(i64),
    /// This long after the command reads its clock (`+DUR`).
    In(Duration),
}

/// Parses `--at`: `+DUR` (humantime, e.g. `+5s`, `+1m30s`) or an RFC 3339
/// instant in UTC (`2024-05-01T12:03:04Z`, `2024-05-01 12:03:04.5`).
///
/// # Errors
/// A message for clap: the text is neither.
pub(crate) fn parse_start_at(text: &str) -> Result<StartAt, String> {
    let text = text.trim();
    if let Some(duration) = text.strip_prefix('+') {
        let duration = humantime::parse_duration(duration.trim())
            .map_err(|e| format!("{e} (expected +DUR, e.g. +5s)"))?;
        if duration.is_zero() {
            return Err("+DUR must be greater than zero".to_owned());
        }
        return Ok(StartAt::In(duration));
    }
    let at = humantime::parse_rfc3339_weak(text).map_err(|e| {
        format!("{e} (expected an RFC 3339 time in UTC such as 2024-05-01T12:03:04Z, or +DUR)")
    })?;
    let ns = at
        .duration_since(UNIX_EPOCH)
        .map_err(|_| "the time is before 1970".to_owned())?
        .as_nanos();
    Ok(StartAt::At(
        i64::try_from(ns).map_err(|_| "the time is too far ahead".to_owned())?,
    ))
}

/// Why a deadline cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ScheduleError {
    /// `--at` names an instant that has already passed.
    #[error("--at {} is in the past (now is {})", UnixNanos(*deadline).rfc3339(), UnixNanos(*now).rfc3339())]
    InThePast { deadline: i64, now: i64 },
    /// The deadline passed while reelctl was preparing the start (measuring
    /// clocks, pushing recordings).
    #[error(
        "the start time {} passed while preparing ({} late); give --at more lead time",
        UnixNanos(*deadline).rfc3339(),
        humantime::format_duration(*late)
    )]
    PassedWhilePreparing { deadline: i64, late: Duration },
}

impl StartAt {
    /// The deadline on the local clock, given the local clock `now_ns`.
    ///
    /// # Errors
    /// `InThePast` when it is not after `now_ns`.
    pub(crate) fn deadline(self, now_ns: i64) -> Result<i64, ScheduleError> {
        let deadline = match self {
            StartAt::At(at) => at,
            StartAt::In(after) => now_ns.saturating_add(nanos(after)),
        };
        if deadline <= now_ns {
            return Err(ScheduleError::InThePast {
                deadline,
                now: now_ns,
            });
        }
        Ok(deadline)
    }
}

/// Checks, right before the start requests go out, that the deadline is
/// still ahead of the local clock `now_ns`.
///
/// # Errors
/// `PassedWhilePreparing` with how late it is.
pub(crate) fn still_ahead(deadline: i64, now_ns: i64) -> Result<(), ScheduleError> {
    if deadline > now_ns {
        return Ok(());
    }
    let late = u64::try_from(i128::from(now_ns) - i128::from(deadline)).unwrap_or(u64::MAX);
    Err(ScheduleError::PassedWhilePreparing {
        deadline,
        late: Duration::from_nanos(late),
    })
}

/// The local deadline on an agent's clock: `deadline + offset`, where the
/// offset is agent clock − local clock.
pub(crate) fn agent_deadline(deadline_local_ns: i64, offset_ns: i64) -> i64 {
    deadline_local_ns.saturating_add(offset_ns)
}

/// An instant of an agent's clock on the local clock: `agent − offset`.
pub(crate) fn to_local(agent_ns: i64, offset_ns: i64) -> i64 {
    agent_ns.saturating_sub(offset_ns)
}

/// How long from the local clock `now_ns` until `deadline` (zero if passed).
pub(crate) fn wait_until(deadline: i64, now_ns: i64) -> Duration {
    let ns = i128::from(deadline) - i128::from(now_ns);
    Duration::from_nanos(u64::try_from(ns.max(0)).unwrap_or(u64::MAX))
}

/// Spread of the start instants (local clock): max − min, in µs rounded to
/// nearest. `None` when no agent started.
pub(crate) fn skew_us(started_local_ns: &[i64]) -> Option<u64> {
    let min = started_local_ns.iter().min()?;
    let max = started_local_ns.iter().max()?;
    let ns = u64::try_from(i128::from(*max) - i128::from(*min)).unwrap_or(u64::MAX);
    Some(ns.saturating_add(500) / 1000)
}

fn nanos(duration: Duration) -> i64 {
    i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX)
}

/// What a coordinated start adds to each agent's JSON data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct Coordinated {
    /// When the agent really started, on the local clock; null when it has
    /// not started (yet).
    pub(crate) started_at_local: Option<UnixNanos>,
    /// Agent clock minus local clock, as measured before the start.
    pub(crate) clock_offset_us: i64,
}

impl Coordinated {
    /// From the agent's start instant (its clock; 0 = not started) and the
    /// measured offset.
    pub(crate) fn new(started_at_agent_ns: i64, offset_ns: i64) -> Coordinated {
        let offset_us = crate::clock::Estimate {
            offset_ns,
            rtt_ns: 0,
        }
        .offset_us();
        Coordinated {
            started_at_local: (started_at_agent_ns != 0)
                .then(|| UnixNanos(to_local(started_at_agent_ns, offset_ns))),
            clock_offset_us: offset_us,
        }
    }
}

/// The skew line under a coordinated start: `start skew across N agents`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Skew {
    /// Agents whose start instant is known.
    pub(crate) agents: usize,
    /// max − min of their local start instants; `None` when none started.
    pub(crate) skew_us: Option<u64>,
}

impl Skew {
    /// The skew over every `Coordinated` that has a start instant.
    pub(crate) fn of<'a>(starts: impl IntoIterator<Item = &'a Coordinated>) -> Skew {
        let instants: Vec<i64> = starts
            .into_iter()
            .filter_map(|c| c.started_at_local.map(|t| t.0))
            .collect();
        Skew {
            agents: instants.len(),
            skew_us: skew_us(&instants),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_714_564_984_000_000_000; // 2024-05-01T12:03:04Z

    #[test]
    fn parses_times_and_offsets_from_now() {
        let cases = [
            ("+5s", StartAt::In(Duration::from_secs(5))),
            ("+ 1m 30s", StartAt::In(Duration::from_secs(90))),
            ("+250ms", StartAt::In(Duration::from_millis(250))),
            ("2024-05-01T12:03:04Z", StartAt::At(NOW)),
            ("2024-05-01 12:03:04", StartAt::At(NOW)),
            ("2024-05-01T12:03:04.5Z", StartAt::At(NOW + 500_000_000)),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_start_at(text), Ok(expected), "{text}");
        }
        for bad in [
            "",
            "+",
            "+0s",
            "+soon",
            "5s",
            "tomorrow",
            "2024-13-01T00:00:00Z",
        ] {
            assert!(parse_start_at(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn deadlines_must_be_ahead() {
        assert_eq!(
            StartAt::In(Duration::from_secs(2)).deadline(NOW),
            Ok(NOW + 2_000_000_000)
        );
        assert_eq!(StartAt::At(NOW + 1).deadline(NOW), Ok(NOW + 1));
        for past in [StartAt::At(NOW), StartAt::At(NOW - 1_000)] {
            let err = past.deadline(NOW).unwrap_err();
            assert!(err.to_string().contains("is in the past"), "{err}");
        }
        assert_eq!(still_ahead(NOW + 1, NOW), Ok(()));
        let err = still_ahead(NOW, NOW + 1_500_000_000).unwrap_err();
        assert_eq!(
            err,
            ScheduleError::PassedWhilePreparing {
                deadline: NOW,
                late: Duration::from_millis(1500)
            }
        );
        assert!(err.to_string().contains("1s 500ms late"), "{err}");
    }

    #[test]
    fn offsets_move_the_deadline_into_each_agent_clock_and_back() {
        // (local deadline, offset = agent − local, agent deadline)
        let cases = [
            (NOW, 0, NOW),
            (NOW, 3_000_000, NOW + 3_000_000), // agent 3 ms ahead
            (NOW, -250_000, NOW - 250_000),    // agent 250 µs behind
            (i64::MAX - 1, 10, i64::MAX),      // saturates
        ];
        for (deadline, offset, expected) in cases {
            let on_agent = agent_deadline(deadline, offset);
            assert_eq!(on_agent, expected, "{deadline} {offset}");
            if on_agent != i64::MAX {
                assert_eq!(to_local(on_agent, offset), deadline);
            }
        }
        assert_eq!(wait_until(NOW + 5, NOW), Duration::from_nanos(5));
        assert_eq!(wait_until(NOW - 5, NOW), Duration::ZERO);
    }

    #[test]
    fn skew_is_max_minus_min_in_microseconds() {
        assert_eq!(skew_us(&[]), None);
        assert_eq!(skew_us(&[NOW]), Some(0));
        assert_eq!(skew_us(&[NOW + 412_000, NOW, NOW + 100_000]), Some(412));
        assert_eq!(skew_us(&[NOW, NOW + 1_499]), Some(1));
        assert_eq!(skew_us(&[NOW, NOW + 1_500]), Some(2));
        assert_eq!(skew_us(&[i64::MIN, i64::MAX]), Some(u64::MAX / 1000));
    }

    #[test]
    fn coordinated_starts_are_reported_on_the_local_clock() {
        // Two agents started at the same local instant, one 2 ms ahead.
        let a = Coordinated::new(NOW, 0);
        let b = Coordinated::new(NOW + 2_000_000 + 412_000, 2_000_000);
        let never = Coordinated::new(0, -7_000);
        assert_eq!(b.started_at_local, Some(UnixNanos(NOW + 412_000)));
        assert_eq!((b.clock_offset_us, never.clock_offset_us), (2_000, -7));
        assert_eq!(never.started_at_local, None);
        assert_eq!(
            Skew::of([&a, &b, &never]),
            Skew {
                agents: 2,
                skew_us: Some(412)
            }
        );
        assert_eq!(
            Skew::of([&never]),
            Skew {
                agents: 0,
                skew_us: None
            }
        );
        let json = serde_json::to_value(b).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "started_at_local": "2024-05-01T12:03:04.000412000Z",
                "clock_offset_us": 2000
            })
        );
    }
}
