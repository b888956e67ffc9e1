//! A fault profile as people read it, in the same syntax `parse` accepts:
//! `latency 500ms..800ms both, bandwidth 64 KiB/s, toxicity 0.5, seed 7`.
//! Used by reelctl's human output and the agent's logs.

use std::fmt;
use std::time::Duration;

use super::spec::{FaultSpec, Latency, Slicer};

/// `800ms`, `2s`, `1500ms`, `250us`: exact, and accepted by `parse::duration`.
pub fn duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        return format!("{}s", d.as_secs());
    }
    if d.as_nanos().is_multiple_of(1_000_000) {
        return format!("{}ms", d.as_millis());
    }
    if d.as_nanos().is_multiple_of(1_000) {
        return format!("{}us", d.as_micros());
    }
    format!("{}ns", d.as_nanos())
}

/// `64 KiB`, `1 MB`, `1500 B`: exact (the largest unit dividing it), and
/// accepted by `parse::size`.
pub fn size(n: u64) -> String {
    const UNITS: [(u64, &str); 6] = [
        (1 << 30, "GiB"),
        (1 << 20, "MiB"),
        (1 << 10, "KiB"),
        (1_000_000_000, "GB"),
        (1_000_000, "MB"),
        (1_000, "KB"),
    ];
    if n == 0 {
        return "0 B".to_owned();
    }
    UNITS
        .iter()
        .find(|(unit, _)| n.is_multiple_of(*unit))
        .map_or_else(
            || format!("{n} B"),
            |(unit, name)| format!("{} {name}", n / unit),
        )
}

/// `64 KiB/s`: accepted by `parse::rate`.
pub fn rate(bytes_per_sec: u64) -> String {
    format!("{}/s", size(bytes_per_sec))
}

impl fmt::Display for Latency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Latency::Fixed(d) => f.write_str(&duration(d)),
            Latency::Uniform(lo, hi) => write!(f, "{}..{}", duration(lo), duration(hi)),
            Latency::Normal(mean, sd) => {
                write!(f, "normal:{},{}", duration(mean), duration(sd))
            }
        }
    }
}

impl fmt::Display for Slicer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&size(self.size as u64))?;
        if !self.pause.is_zero() {
            write!(f, ":{}", duration(self.pause))?;
        }
        Ok(())
    }
}

impl FaultSpec {
    /// Whether any fault is set (toxicity and seed aside).
    fn any_fault(&self) -> bool {
        !FaultSpec {
            toxicity: 1.0,
            ..self.clone()
        }
        .is_none()
    }

    /// Whether a fault that follows `directions` is set.
    fn directional(&self) -> bool {
        self.latency.is_some()
            || self.reset_after_bytes.is_some()
            || self.limit_bytes.is_some()
            || self.black_hole
            || self.slicer.is_some()
            || !self.datagram.is_none()
    }
}

/// `none`, or the faults set, comma-separated, in the order of the flags.
/// The direction follows the latency (or comes first without one); toxicity
/// shows when below 1, the seed when set.
impl fmt::Display for FaultSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.any_fault() {
            return f.write_str("none");
        }
        let mut items: Vec<String> = Vec::new();
        let dir = self.directions.as_str();
        match self.latency {
            Some(l) => items.push(format!("latency {l} {dir}")),
            None if self.directional() && dir != "both" => items.push(format!("direction {dir}")),
            None => {}
        }
        if let Some(r) = self.bandwidth {
            items.push(format!("bandwidth {}", rate(r)));
        }
        if let Some(r) = self.proxy_bandwidth {
            items.push(format!("proxy bandwidth {}", rate(r)));
        }
        if let Some(n) = self.reset_after_bytes {
            items.push(format!("reset after {}", size(n)));
        }
        if let Some(d) = self.reset_after {
            items.push(format!("reset after {}", duration(d)));
        }
        if self.black_hole {
            match self.black_hole_close_after {
                Some(d) => items.push(format!("black hole (close after {})", duration(d))),
                None => items.push("black hole".to_owned()),
            }
        }
        if let Some(d) = self.slow_close {
            items.push(format!("slow close {}", duration(d)));
        }
        if let Some(s) = self.slicer {
            items.push(format!("slice {s}"));
        }
        if let Some(n) = self.limit_bytes {
            items.push(format!("limit {}", size(n)));
        }
        if let Some(d) = self.connect_delay {
            items.push(format!("connect delay {}", duration(d)));
        }
        if !self.datagram.is_none() {
            items.push(self.datagram.to_string());
        }
        if self.toxicity < 1.0 {
            items.push(format!("toxicity {}", self.toxicity));
        }
        if let Some(seed) = self.seed {
            items.push(format!("seed {seed}"));
        }
        f.write_str(&items.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::{Directions, parse};

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn values_read_back_through_parse() {
        for d in [
            ms(0),
            ms(800),
            ms(2000),
            ms(1500),
            Duration::from_micros(250),
        ] {
            assert_eq!(parse::duration(&duration(d)).unwrap(), d, "{d:?}");
        }
        for n in [0, 1500, 65_536, 1_000_000, 3 << 30, 100_001] {
            assert_eq!(parse::size(&size(n)).unwrap(), n, "{n}");
            assert_eq!(parse::rate(&rate(n)).unwrap(), n, "{n}");
        }
        for l in ["50ms", "500ms..800ms", "normal:100ms,20ms", "0s..2s"] {
            let lat = parse::latency(l).unwrap();
            assert_eq!(lat.to_string(), l);
        }
        assert_eq!(size(65_536), "64 KiB");
        assert_eq!(size(2_000_000), "2 MB");
        assert_eq!(parse::slicer("16:2ms").unwrap().to_string(), "16 B:2ms");
    }

    #[test]
    fn profiles_read_compactly() {
        assert_eq!(FaultSpec::default().to_string(), "none");
        let s = FaultSpec {
            latency: Some(Latency::Uniform(ms(500), ms(800))),
            bandwidth: Some(65_536),
            toxicity: 0.5,
            seed: Some(7),
            ..FaultSpec::default()
        };
        assert_eq!(
            s.to_string(),
            "latency 500ms..800ms both, bandwidth 64 KiB/s, toxicity 0.5, seed 7"
        );
        let s = FaultSpec {
            directions: Directions::parse("s2c").unwrap(),
            reset_after_bytes: Some(100_000),
            black_hole: true,
            black_hole_close_after: Some(ms(300)),
            ..FaultSpec::default()
        };
        assert_eq!(
            s.to_string(),
            "direction s2c, reset after 100 KB, black hole (close after 300ms)"
        );
        // Toxicity 0 spares every connection, but the faults are still shown.
        let s = FaultSpec {
            latency: Some(Latency::Fixed(ms(5))),
            toxicity: 0.0,
            ..FaultSpec::default()
        };
        assert_eq!(s.to_string(), "latency 5ms both, toxicity 0");
    }
}
