//! Human formats for numbers: byte sizes (KiB/MiB), rates, durations
//! (`1m23s`), clock offsets and skews, the seed tool's `0.034 KB`, and hex
//! excerpts of bytes. Counted nouns are in `plural`.

const BINARY_UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];

/// Lost bytes: a sum of LOSS frames saturates at `u64::MAX` rather than
/// wrapping (a crafted file can claim any amount), and says so.
pub(crate) fn lost_bytes(n: u64) -> String {
    if n == u64::MAX {
        format!("{} (saturated)", bytes(n))
    } else {
        bytes(n)
    }
}

/// `512 B`, `12.3 KiB`, `4.0 MiB`.
pub(crate) fn bytes(n: u64) -> String {
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    // 1023.95 would print as "1024.0": move up a unit first.
    while value >= 1023.95 && unit < BINARY_UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", BINARY_UNITS[unit])
}

/// `12.3 KiB/s`.
pub(crate) fn rate(bytes_per_sec: u64) -> String {
    format!("{}/s", bytes(bytes_per_sec))
}

/// Bytes as the seed tool printed them: thousands with three decimals,
/// `34` → `0.034`.
pub(crate) fn kilobytes(n: u64) -> String {
    format!("{}.{:03}", n / 1000, n % 1000)
}

/// `350ms`, `42s`, `1m23s`, `2h05m`, `3d04h`: at most two units.
pub(crate) fn duration_ms(ms: u64) -> String {
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let s = ms / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86_400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// A short wait: `200ms`, `5s`, `1.6s`.
pub(crate) fn delay(duration: std::time::Duration) -> String {
    let ms = duration.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.1}s", duration.as_secs_f64())
    }
}

/// A signed clock offset: `+250us`, `-1.234ms`, `+2.500s`.
pub(crate) fn offset_us(us: i64) -> String {
    let sign = if us < 0 { '-' } else { '+' };
    format!("{sign}{}", micros(us.unsigned_abs()))
}

/// A round trip: `250us`, `1.234ms`, `2.500s`.
pub(crate) fn micros(us: u64) -> String {
    match us {
        0..1000 => format!("{us}us"),
        1000..1_000_000 => format!("{:.3}ms", us as f64 / 1e3),
        _ => format!("{:.3}s", us as f64 / 1e6),
    }
}

/// A start skew: `412µs`, `1.234ms`, `2.500s`.
pub(crate) fn skew_us(us: u64) -> String {
    match us {
        0..1000 => format!("{us}µs"),
        1000..1_000_000 => format!("{:.3}ms", us as f64 / 1e3),
        _ => format!("{:.3}s", us as f64 / 1e6),
    }
}

/// Bytes as spaced hex and printable ASCII: `6f 6b 0a  |ok.|`; `(none)`
/// when empty.
pub(crate) fn hex_excerpt(data: &[u8]) -> String {
    if data.is_empty() {
        return "(none)".to_owned();
    }
    let hex: Vec<String> = data.iter().map(|b| format!("{b:02x}")).collect();
    let ascii: String = data
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                char::from(b)
            } else {
                '.'
            }
        })
        .collect();
    format!("{}  |{ascii}|", hex.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn byte_sizes() {
        let cases = [
            (0, "0 B"),
            (1023, "1023 B"),
            (1024, "1.0 KiB"),
            (12_595, "12.3 KiB"),
            (1_048_575, "1.0 MiB"),
            (4 * 1024 * 1024, "4.0 MiB"),
            (3 * 1024 * 1024 * 1024 / 2, "1.5 GiB"),
            (u64::MAX, "16.0 EiB"),
        ];
        for (n, text) in cases {
            assert_eq!(bytes(n), text, "{n}");
        }
        assert_eq!(rate(4096), "4.0 KiB/s");
    }

    #[test]
    fn seed_kilobytes() {
        assert_eq!(kilobytes(34), "0.034");
        assert_eq!(kilobytes(0), "0.000");
        assert_eq!(kilobytes(611), "0.611");
        assert_eq!(kilobytes(12_345), "12.345");
    }

    #[test]
    fn durations() {
        let cases = [
            (0, "0ms"),
            (350, "350ms"),
            (1_000, "1s"),
            (59_999, "59s"),
            (60_000, "1m00s"),
            (83_000, "1m23s"),
            (3_599_000, "59m59s"),
            (3_600_000, "1h00m"),
            (7_500_000, "2h05m"),
            (86_400_000, "1d00h"),
            (273_600_000, "3d04h"),
        ];
        for (ms, text) in cases {
            assert_eq!(duration_ms(ms), text, "{ms}");
        }
    }

    #[test]
    fn delays() {
        assert_eq!(delay(Duration::from_millis(200)), "200ms");
        assert_eq!(delay(Duration::from_millis(1600)), "1.6s");
        assert_eq!(delay(Duration::from_secs(5)), "5s");
    }

    #[test]
    fn offsets_and_round_trips() {
        assert_eq!(offset_us(0), "+0us");
        assert_eq!(offset_us(250), "+250us");
        assert_eq!(offset_us(-1_234), "-1.234ms");
        assert_eq!(offset_us(2_500_000), "+2.500s");
        assert_eq!(offset_us(i64::MIN), "-9223372036854.775s");
        assert_eq!(micros(999), "999us");
    }

    #[test]
    fn skews() {
        assert_eq!(skew_us(0), "0µs");
        assert_eq!(skew_us(412), "412µs");
        assert_eq!(skew_us(1_234), "1.234ms");
        assert_eq!(skew_us(2_500_000), "2.500s");
    }

    #[test]
    fn hex_excerpts() {
        assert_eq!(hex_excerpt(b""), "(none)");
        assert_eq!(hex_excerpt(b"ok\n"), "6f 6b 0a  |ok.|");
        assert_eq!(hex_excerpt(b"a b\xff"), "61 20 62 ff  |a b.|");
    }
}
