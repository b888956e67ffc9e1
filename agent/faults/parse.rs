//! Reading fault values as people write them: `500ms..800ms`, `64KiB/s`,
//! `normal:100ms,20ms`. Shared by reelctl's flags and the agent's config
//! file so both accept exactly the same syntax.

use std::time::Duration;

use super::spec::{Latency, Slicer};

pub use super::spec::MAX_DURATION;

/// Why a fault value as typed is refused; the text names the value and,
/// where it helps, shows what would be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("{0:?} is not a number")]
    NotANumber(String),
    #[error("{0:?} is negative")]
    Negative(String),
    #[error("{0:?} is out of range (at most 365 days)")]
    TooLong(String),
    #[error("{0:?} is out of range")]
    OutOfRange(String),
    /// Not of the kind asked for; `example` shows some that are.
    #[error("{value:?} is not a {kind} (e.g. {example})")]
    NotA {
        value: String,
        kind: &'static str,
        example: &'static str,
    },
    #[error("{0:?} is less than 1ms")]
    UnderOneMilli(String),
    #[error("{0:?}: normal needs MEAN,SD (e.g. normal:100ms,20ms)")]
    NormalNeedsTwo(String),
    #[error("min {min:?} is greater than max {max:?}")]
    MinAboveMax { min: Duration, max: Duration },
    #[error("{value:?}: unknown unit {unit:?} (B, KB, KiB, MB, MiB, GB, GiB)")]
    UnknownUnit { value: String, unit: String },
    #[error("{0:?}: piece size must be positive")]
    EmptyPiece(String),
}

fn not_a(value: &str, kind: &'static str, example: &'static str) -> ValueError {
    ValueError::NotA {
        value: value.to_string(),
        kind,
        example,
    }
}

/// A duration: `250ms`, `2s`, `1m30s` (humantime), or plain seconds as a
/// decimal (`0.5`), as TcpDelay's `-D` took them; at most [`MAX_DURATION`].
///
/// # Errors
/// Not a duration, negative, NaN or longer than [`MAX_DURATION`].
pub fn duration(s: &str) -> Result<Duration, ValueError> {
    let s = s.trim();
    let d = match humantime::parse_duration(s) {
        Ok(d) => d,
        Err(human) => match s.parse::<f64>() {
            Ok(secs) if secs.is_nan() => return Err(ValueError::NotANumber(s.to_string())),
            Ok(secs) if secs < 0.0 => return Err(ValueError::Negative(s.to_string())),
            // Checked: `from_secs_f64` panics on values past `Duration::MAX`.
            Ok(secs) => Duration::try_from_secs_f64(secs).map_err(|_| too_long(s))?,
            Err(_) if human == humantime::DurationError::NumberOverflow => {
                return Err(too_long(s));
            }
            Err(_) => return Err(not_a(s, "duration", "250ms, 2s, 0.5")),
        },
    };
    if d > MAX_DURATION {
        return Err(too_long(s));
    }
    Ok(d)
}

fn too_long(s: &str) -> ValueError {
    ValueError::TooLong(s.to_string())
}

/// A duration of at least 1 ms, for the faults the control protocol
/// carries in milliseconds (reset after, black hole close, slow close,
/// connect delay), where 0 means off.
pub fn millis(s: &str) -> Result<Duration, ValueError> {
    let d = duration(s)?;
    if d < Duration::from_millis(1) {
        return Err(ValueError::UnderOneMilli(s.trim().to_string()));
    }
    Ok(d)
}

/// `50ms` (fixed), `500ms..800ms` (uniform), `normal:100ms,20ms`.
pub fn latency(s: &str) -> Result<Latency, ValueError> {
    let s = s.trim();
    if let Some(rest) = s.strip_prefix("normal:") {
        let (mean, sd) = rest
            .split_once(',')
            .ok_or_else(|| ValueError::NormalNeedsTwo(s.to_string()))?;
        return Ok(Latency::Normal(duration(mean)?, duration(sd)?));
    }
    if let Some((lo, hi)) = s.split_once("..") {
        let (lo, hi) = (duration(lo)?, duration(hi)?);
        if lo > hi {
            return Err(ValueError::MinAboveMax { min: lo, max: hi });
        }
        return Ok(Latency::Uniform(lo, hi));
    }
    Ok(Latency::Fixed(duration(s)?))
}

/// A byte count: `1500`, `16KiB`, `2MB`, `1GiB`.
pub fn size(s: &str) -> Result<u64, ValueError> {
    let t = s.trim();
    if t.starts_with('-') {
        return Err(ValueError::Negative(s.to_string()));
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| not_a(s, "size", "1500, 16KiB, 2MB"))?;
    let mult: f64 = match unit.trim() {
        "" | "B" | "b" => 1.0,
        "K" | "KB" | "kB" | "k" => 1e3,
        "KiB" | "Ki" => 1024.0,
        "M" | "MB" => 1e6,
        "MiB" | "Mi" => 1024.0 * 1024.0,
        "G" | "GB" => 1e9,
        "GiB" | "Gi" => 1024.0 * 1024.0 * 1024.0,
        other => {
            return Err(ValueError::UnknownUnit {
                value: s.to_string(),
                unit: other.to_string(),
            });
        }
    };
    let v = n * mult;
    if !v.is_finite() || v < 0.0 || v > u64::MAX as f64 {
        return Err(ValueError::OutOfRange(s.to_string()));
    }
    Ok(v as u64)
}

/// A rate in bytes per second: `64KiB/s`, `1MB/s`, `8Mbit/s`, `1000`.
pub fn rate(s: &str) -> Result<u64, ValueError> {
    let t = s.trim();
    if t.starts_with('-') {
        return Err(ValueError::Negative(s.to_string()));
    }
    let body = t
        .strip_suffix("/s")
        .or_else(|| t.strip_suffix("ps"))
        .unwrap_or(t);
    for (suffix, bits) in [
        ("kbit", 1e3),
        ("Kbit", 1e3),
        ("Mbit", 1e6),
        ("Gbit", 1e9),
        ("bit", 1.0),
    ] {
        if let Some(num) = body.strip_suffix(suffix) {
            let n: f64 = num
                .trim()
                .parse()
                .map_err(|_| not_a(s, "rate", "64KiB/s, 8Mbit/s"))?;
            let v = n * bits / 8.0;
            // `as u64` would turn a negative or NaN rate into 0 silently.
            if !v.is_finite() || v < 0.0 || v > u64::MAX as f64 {
                return Err(ValueError::OutOfRange(s.to_string()));
            }
            return Ok(v as u64);
        }
    }
    size(body).map_err(|_| not_a(s, "rate", "64KiB/s, 1MB/s, 8Mbit/s"))
}

/// `SIZE` or `SIZE:PAUSE`, e.g. `64` or `16B:2ms`.
pub fn slicer(s: &str) -> Result<Slicer, ValueError> {
    let (sz, pause) = match s.split_once(':') {
        Some((a, b)) => (a, duration(b)?),
        None => (s, Duration::ZERO),
    };
    let size = size(sz)? as usize;
    if size == 0 {
        return Err(ValueError::EmptyPiece(s.to_string()));
    }
    Ok(Slicer { size, pause })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn latencies() {
        assert_eq!(latency("50ms").unwrap(), Latency::Fixed(ms(50)));
        assert_eq!(
            latency("500ms..800ms").unwrap(),
            Latency::Uniform(ms(500), ms(800))
        );
        assert_eq!(
            latency("0.5..0.8").unwrap(),
            Latency::Uniform(ms(500), ms(800))
        );
        assert_eq!(
            latency("normal:100ms,20ms").unwrap(),
            Latency::Normal(ms(100), ms(20))
        );
        assert_eq!(
            latency("800ms..500ms").unwrap_err().to_string(),
            "min 800ms is greater than max 500ms"
        );
        assert!(latency("soon").is_err());
        assert!(latency("-1").is_err());
    }

    #[test]
    fn huge_durations_are_errors_not_panics() {
        for text in [
            "1e20",
            "inf",
            "1e400",
            "NaN",
            "366d",
            "99999999999999999999999s",
            "1e20..2e20",
        ] {
            assert!(latency(text).is_err(), "{text}");
        }
        assert!(
            duration("1e20")
                .unwrap_err()
                .to_string()
                .contains("out of range")
        );
        assert_eq!(duration("365d").unwrap(), MAX_DURATION);
        assert!(millis("1e20").is_err());
        assert!(slicer("16:1e20").is_err());
    }

    #[test]
    fn millis_are_at_least_one() {
        assert_eq!(millis("250ms").unwrap(), ms(250));
        assert_eq!(millis("0.001").unwrap(), ms(1));
        assert!(
            millis("500us")
                .unwrap_err()
                .to_string()
                .contains("less than 1ms")
        );
        assert!(millis("0").is_err());
    }

    #[test]
    fn sizes_and_rates() {
        assert_eq!(size("1500").unwrap(), 1500);
        assert_eq!(size("16KiB").unwrap(), 16384);
        assert_eq!(size("2MB").unwrap(), 2_000_000);
        assert_eq!(rate("64KiB/s").unwrap(), 65536);
        assert_eq!(rate("8Mbit/s").unwrap(), 1_000_000);
        assert_eq!(rate("1000").unwrap(), 1000);
        assert!(rate("fast").is_err());
        assert!(
            rate("-64KiB/s")
                .unwrap_err()
                .to_string()
                .contains("negative")
        );
        assert!(
            rate("-8Mbit/s")
                .unwrap_err()
                .to_string()
                .contains("negative")
        );
        assert!(rate("-8 Mbit/s").is_err());
        assert!(size("-1").unwrap_err().to_string().contains("negative"));
        assert_eq!(rate("64 KiB/s").unwrap(), 65536);
        assert!(
            size("12XB")
                .unwrap_err()
                .to_string()
                .contains("unknown unit")
        );
    }

    #[test]
    fn slicers() {
        assert_eq!(
            slicer("16:2ms").unwrap(),
            Slicer {
                size: 16,
                pause: ms(2)
            }
        );
        assert_eq!(
            slicer("1KiB").unwrap(),
            Slicer {
                size: 1024,
                pause: Duration::ZERO
            }
        );
        assert!(slicer("0").is_err());
    }
}
