//! A proxy's fault profile: what to do to its connections' traffic. Plain
//! values, validated with field-level errors, shared by live proxies, the
//! config file, the standalone delay mode and replay.

use std::time::Duration;

use crate::format::Direction;

pub use super::limits::MAX_DURATION;

/// How long each chunk is held back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Latency {
    Fixed(Duration),
    /// Uniform in [min, max]: TcpDelay's `-D min -D max`.
    Uniform(Duration, Duration),
    /// Normal(mean, sd), clamped at zero.
    Normal(Duration, Duration),
}

/// Which directions a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Directions {
    pub c2s: bool,
    pub s2c: bool,
}

/// A direction word that is none of the accepted ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not one of c2s, s2c, both")]
pub struct UnknownDirections(pub String);

impl Directions {
    pub const BOTH: Directions = Directions {
        c2s: true,
        s2c: true,
    };

    pub fn has(self, dir: Direction) -> bool {
        match dir {
            Direction::C2s => self.c2s,
            Direction::S2c => self.s2c,
        }
    }

    pub fn parse(s: &str) -> Result<Directions, UnknownDirections> {
        match s {
            "" | "both" => Ok(Directions::BOTH),
            "c2s" | "upstream" => Ok(Directions {
                c2s: true,
                s2c: false,
            }),
            "s2c" | "downstream" => Ok(Directions {
                c2s: false,
                s2c: true,
            }),
            other => Err(UnknownDirections(other.to_string())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match (self.c2s, self.s2c) {
            (true, true) => "both",
            (true, false) => "c2s",
            (false, true) => "s2c",
            (false, false) => "none",
        }
    }
}

impl Default for Directions {
    fn default() -> Self {
        Self::BOTH
    }
}

/// Split chunks into pieces of `size` bytes with `pause` between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slicer {
    pub size: usize,
    pub pause: Duration,
}

/// Everything that can be done to a connection. `Default` is no fault.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultSpec {
    pub latency: Option<Latency>,
    /// Directions for latency, reset/limit after bytes, black hole and slicer.
    pub directions: Directions,
    /// Bytes per second per connection and direction.
    pub bandwidth: Option<u64>,
    /// Bytes per second per direction, shared by all the proxy's connections.
    pub proxy_bandwidth: Option<u64>,
    /// Reset (RST) both sides once this many bytes went through a direction.
    pub reset_after_bytes: Option<u64>,
    /// Reset (RST) both sides this long after the connection opened.
    pub reset_after: Option<Duration>,
    /// Stop forwarding (bytes are read and dropped).
    pub black_hole: bool,
    /// With `black_hole`: close the connection this long after it began.
    pub black_hole_close_after: Option<Duration>,
    /// Hold a close (FIN) back this long before passing it on.
    pub slow_close: Option<Duration>,
    pub slicer: Option<Slicer>,
    /// Close (FIN) both sides once this many bytes went through a direction.
    pub limit_bytes: Option<u64>,
    /// Wait this long before connecting upstream.
    pub connect_delay: Option<Duration>,
    /// Fraction of connections affected, decided once per connection at accept.
    pub toxicity: f64,
    /// Same seed and same traffic give the same schedule; `None` is random.
    pub seed: Option<u64>,
    /// Loss, duplication, reordering: UDP proxies only (`faults::udp`).
    pub datagram: super::datagram_fields::DatagramFields,
}

impl Default for FaultSpec {
    fn default() -> Self {
        Self {
            latency: None,
            directions: Directions::BOTH,
            bandwidth: None,
            proxy_bandwidth: None,
            reset_after_bytes: None,
            reset_after: None,
            black_hole: false,
            black_hole_close_after: None,
            slow_close: None,
            slicer: None,
            limit_bytes: None,
            connect_delay: None,
            toxicity: 1.0,
            seed: None,
            datagram: super::datagram_fields::DatagramFields::default(),
        }
    }
}

/// A field that is out of range, with why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FieldError {
    pub field: &'static str,
    pub reason: String,
}

fn err(field: &'static str, reason: impl Into<String>) -> FieldError {
    FieldError {
        field,
        reason: reason.into(),
    }
}

impl FaultSpec {
    /// Whether this profile changes nothing: no fault set, or toxicity 0.
    pub fn is_none(&self) -> bool {
        self.toxicity == 0.0
            || (self.latency.is_none()
                && self.bandwidth.is_none()
                && self.proxy_bandwidth.is_none()
                && self.reset_after_bytes.is_none()
                && self.reset_after.is_none()
                && !self.black_hole
                && self.slow_close.is_none()
                && self.slicer.is_none()
                && self.limit_bytes.is_none()
                && self.connect_delay.is_none()
                && self.datagram.is_none())
    }

    /// Whether data in `dir` needs the shaping path (held, paced or cut).
    pub fn shapes(&self, dir: Direction) -> bool {
        let on = self.directions.has(dir);
        (on && (self.latency.is_some()
            || self.slicer.is_some()
            || self.black_hole
            || self.reset_after_bytes.is_some()
            || self.limit_bytes.is_some()))
            || self.bandwidth.is_some()
            || self.proxy_bandwidth.is_some()
    }

    /// Checks every field; reports the first problem of each.
    ///
    /// # Errors
    /// The fields out of range, each with a reason.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        match self.latency {
            Some(Latency::Uniform(lo, hi)) if lo > hi => errors.push(err(
                "latency",
                format!("min {lo:?} is greater than max {hi:?}"),
            )),
            _ => {}
        }
        // The same cap as typed durations (`MAX_DURATION`), so a
        // profile sent over gRPC in microseconds is held to it too.
        let max = MAX_DURATION;
        let latencies = match self.latency {
            Some(Latency::Fixed(d)) => vec![d],
            Some(Latency::Uniform(a, b) | Latency::Normal(a, b)) => vec![a, b],
            None => Vec::new(),
        };
        if latencies.iter().any(|d| *d > max) {
            errors.push(err("latency", "longer than a year"));
        }
        for (field, d) in [
            ("reset_after", self.reset_after),
            ("black_hole_close_after", self.black_hole_close_after),
            ("slow_close", self.slow_close),
            ("connect_delay", self.connect_delay),
        ] {
            if d.is_some_and(|d| d > max) {
                errors.push(err(field, "longer than a year"));
            }
        }
        if self.slicer.is_some_and(|s| s.pause > max) {
            errors.push(err("slice", "pause longer than a year"));
        }
        if !(0.0..=1.0).contains(&self.toxicity) || self.toxicity.is_nan() {
            errors.push(err(
                "toxicity",
                format!("{} is outside [0, 1]", self.toxicity),
            ));
        }
        if self.bandwidth == Some(0) {
            errors.push(err("bandwidth", "must be positive (bytes/s)"));
        }
        if self.proxy_bandwidth == Some(0) {
            errors.push(err("proxy_bandwidth", "must be positive (bytes/s)"));
        }
        if let Some(s) = self.slicer
            && s.size == 0
        {
            errors.push(err("slice", "piece size must be positive"));
        }
        if self.black_hole_close_after.is_some() && !self.black_hole {
            errors.push(err("black_hole_close_after", "needs black_hole"));
        }
        for (field, reason) in self.datagram.validate() {
            errors.push(err(field, reason));
        }
        if !self.directions.c2s && !self.directions.s2c {
            errors.push(err("direction", "choose c2s, s2c or both"));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_beyond_a_year_are_refused_whatever_their_source() {
        let year = super::super::parse::MAX_DURATION;
        let long = year + Duration::from_secs(1);
        let spec = FaultSpec {
            latency: Some(Latency::Uniform(Duration::ZERO, long)),
            connect_delay: Some(long),
            ..FaultSpec::default()
        };
        let errors = spec.validate().unwrap_err();
        let fields: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert!(fields.iter().any(|e| e.contains("latency")), "{fields:?}");
        assert!(
            fields.iter().any(|e| e.contains("connect_delay")),
            "{fields:?}"
        );
        let ok = FaultSpec {
            connect_delay: Some(year),
            ..FaultSpec::default()
        };
        assert!(ok.validate().is_ok());
    }

    use super::*;

    #[test]
    fn default_is_no_fault_and_toxicity_zero_is_none() {
        assert!(FaultSpec::default().is_none());
        let lat = FaultSpec {
            latency: Some(Latency::Fixed(Duration::from_millis(5))),
            ..FaultSpec::default()
        };
        assert!(!lat.is_none());
        assert!(
            FaultSpec {
                toxicity: 0.0,
                ..lat
            }
            .is_none()
        );
    }

    #[test]
    fn validation_names_each_field() {
        let bad = FaultSpec {
            latency: Some(Latency::Uniform(
                Duration::from_millis(9),
                Duration::from_millis(1),
            )),
            toxicity: 1.5,
            bandwidth: Some(0),
            ..FaultSpec::default()
        };
        let fields: Vec<_> = bad
            .validate()
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["latency", "toxicity", "bandwidth"]);
    }

    #[test]
    fn shaping_follows_directions() {
        let s = FaultSpec {
            latency: Some(Latency::Fixed(Duration::from_millis(5))),
            directions: Directions::parse("s2c").unwrap(),
            ..FaultSpec::default()
        };
        assert!(s.shapes(Direction::S2c));
        assert!(!s.shapes(Direction::C2s));
    }
}
