//! What a replay is asked to do, validated before anything starts.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::error::{Error, Result};
use crate::faults::FaultSpec;
use crate::rewrite::Rules;

/// Slowest and fastest accepted `speed`.
pub const SPEED_RANGE: (f64, f64) = (0.01, 100.0);
/// Most copies of each connection (`multiply`).
pub const MAX_MULTIPLY: u32 = 10_000;
/// Most passes over the recordings (`loops`).
pub const MAX_LOOPS: u32 = 1_000_000;
/// Default wait for server bytes in `reactive` and `causal` modes before it
/// counts as a divergence and the replay goes on.
pub const DEFAULT_SERVER_TIMEOUT: Duration = Duration::from_secs(5);

/// How the client side is driven. Serialized by its `as_str` name (report
/// files keep it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Each chunk at its recorded offset, scaled by `speed`.
    Timed,
    /// No waiting; per-connection order only.
    Fast,
    /// Per connection: a chunk waits for the server bytes that preceded it.
    Reactive,
    /// Across connections: every recorded happens-before is kept.
    Causal,
}

impl Mode {
    pub fn parse(s: &str) -> Result<Mode> {
        match s {
            "" | "timed" => Ok(Mode::Timed),
            "fast" => Ok(Mode::Fast),
            "reactive" => Ok(Mode::Reactive),
            "causal" => Ok(Mode::Causal),
            other => Err(Error::invalid(
                "mode",
                format!(
                    "{} is not one of timed, fast, reactive, causal",
                    crate::error::echo(other)
                ),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Timed => "timed",
            Mode::Fast => "fast",
            Mode::Reactive => "reactive",
            Mode::Causal => "causal",
        }
    }
}

/// A replay request, engine side.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    pub recordings: Vec<String>,
    /// host:port for every connection; `None` = each connection's recorded upstream.
    pub target: Option<String>,
    pub mode: Mode,
    pub speed: f64,
    /// `reactive`/`causal` without pacing (as fast as the server answers).
    pub unpaced: bool,
    pub loops: u32,
    pub multiply: u32,
    pub verify: bool,
    pub max_idle: Option<Duration>,
    /// (index, count): replay only this agent's share of the connections.
    pub shard: Option<(u32, u32)>,
    pub start_at: Option<SystemTime>,
    pub server_timeout: Duration,
    /// Network conditions applied to the replayed connections.
    pub faults: FaultSpec,
    /// Session rewriting (docs/REWRITE.md); `None` replays bytes as recorded.
    pub rules: Option<Arc<Rules>>,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        Self {
            recordings: Vec::new(),
            target: None,
            mode: Mode::Timed,
            speed: 1.0,
            unpaced: false,
            loops: 1,
            multiply: 1,
            verify: false,
            max_idle: None,
            shard: None,
            start_at: None,
            server_timeout: DEFAULT_SERVER_TIMEOUT,
            faults: FaultSpec::default(),
            rules: None,
        }
    }
}

impl ReplayOptions {
    /// # Errors
    /// `InvalidArgument` naming the first field out of range.
    pub fn validate(&self) -> Result<()> {
        if self.recordings.is_empty() {
            return Err(Error::invalid("recordings", "name at least one recording"));
        }
        let (lo, hi) = SPEED_RANGE;
        if !self.speed.is_finite() || self.speed < lo || self.speed > hi {
            return Err(Error::invalid(
                "speed",
                format!("{} is outside {lo}..={hi}", self.speed),
            ));
        }
        if self.loops == 0 || self.loops > MAX_LOOPS {
            return Err(Error::invalid(
                "loops",
                format!("{} is outside 1..={MAX_LOOPS}", self.loops),
            ));
        }
        if self.multiply == 0 || self.multiply > MAX_MULTIPLY {
            return Err(Error::invalid(
                "multiply",
                format!("{} is outside 1..={MAX_MULTIPLY}", self.multiply),
            ));
        }
        if let Some((i, n)) = self.shard
            && (n == 0 || i >= n)
        {
            return Err(Error::invalid(
                "shard",
                format!("index {i} is not below count {n}"),
            ));
        }
        if self.max_idle == Some(Duration::ZERO) {
            return Err(Error::invalid("max_idle", "must be positive"));
        }
        if let Err(errors) = self.faults.validate() {
            let reason = errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; ");
            return Err(Error::invalid("faults", reason));
        }
        // Refused rather than ignored: a replay's faults are the TCP ones.
        let udp_only = self.faults.datagram.set_fields();
        if !udp_only.is_empty() {
            return Err(Error::invalid(
                "faults",
                format!(
                    "{} act on a UDP proxy; a replay does not apply them",
                    udp_only.join(", ")
                ),
            ));
        }
        if self.server_timeout.is_zero() {
            return Err(Error::invalid("server_timeout", "must be positive"));
        }
        Ok(())
    }

    /// Refuses a start more than `MAX_SCHEDULE_AHEAD` after `now`, as
    /// recordings do: a replay scheduled far ahead would hold its plan and
    /// a report all that time.
    ///
    /// # Errors
    /// `InvalidArgument` naming `start_at`.
    pub fn check_start(&self, now: SystemTime) -> Result<()> {
        self.start_at
            .map_or(Ok(()), |at| crate::record::check_start_at(at, now))
    }

    /// Whether chunks wait for their scheduled instant.
    pub fn paced(&self) -> bool {
        match self.mode {
            Mode::Timed => true,
            Mode::Fast => false,
            Mode::Reactive | Mode::Causal => !self.unpaced,
        }
    }

    /// Wall time from the replay's start to a recorded offset.
    pub fn scaled(&self, ts_ns: u64) -> Duration {
        Duration::from_nanos((ts_ns as f64 / self.speed) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> ReplayOptions {
        ReplayOptions {
            recordings: vec!["r".into()],
            ..ReplayOptions::default()
        }
    }

    #[test]
    fn speed_must_be_in_range() {
        for bad in [0.0, -1.0, 0.001, 101.0, f64::NAN] {
            let o = ReplayOptions {
                speed: bad,
                ..opts()
            };
            let e = o.validate().unwrap_err().to_string();
            assert!(e.starts_with("invalid speed"), "{bad}: {e}");
        }
        ReplayOptions {
            speed: 2.0,
            ..opts()
        }
        .validate()
        .unwrap();
    }

    #[test]
    fn scaling_is_anchored_not_summed() {
        let o = ReplayOptions {
            speed: 2.0,
            ..opts()
        };
        assert_eq!(o.scaled(3_000_000_000), Duration::from_millis(1500));
    }

    #[test]
    fn other_fields_are_checked() {
        assert!(ReplayOptions { loops: 0, ..opts() }.validate().is_err());
        assert!(
            ReplayOptions {
                multiply: 0,
                ..opts()
            }
            .validate()
            .is_err()
        );
        assert!(
            ReplayOptions {
                shard: Some((2, 2)),
                ..opts()
            }
            .validate()
            .is_err()
        );
        assert!(
            ReplayOptions {
                recordings: vec![],
                ..opts()
            }
            .validate()
            .is_err()
        );
        assert!(Mode::parse("bogus").is_err());
        let lossy = ReplayOptions {
            faults: crate::faults::FaultSpec {
                datagram: crate::faults::DatagramFields {
                    duplicate: Some(0.1),
                    ..Default::default()
                },
                ..Default::default()
            },
            ..opts()
        };
        let e = lossy.validate().unwrap_err().to_string();
        assert!(e.contains("duplicate act on a UDP proxy"), "{e}");
    }

    #[test]
    fn a_start_more_than_an_hour_ahead_is_refused() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let at = |secs| ReplayOptions {
            start_at: Some(now + Duration::from_secs(secs)),
            ..opts()
        };
        opts().check_start(now).unwrap();
        at(3600).check_start(now).unwrap();
        let e = at(7200).check_start(now).unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid start_at: 2027-01-15T10:00:00.000Z is more than 3600s ahead"
        );
        // A start in the past starts now.
        ReplayOptions {
            start_at: Some(now - Duration::from_secs(10)),
            ..opts()
        }
        .check_start(now)
        .unwrap();
        assert_eq!(Mode::parse("causal").unwrap(), Mode::Causal);
    }
}
