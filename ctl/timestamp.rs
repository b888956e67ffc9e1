//! Wall-clock instants from the agents (ns or ms since the Unix epoch, UTC)
//! and how they print: RFC 3339 in JSON (formatted as `reel::wire::json`
//! formats the agent's own messages), `HH:MM:SS` in watch lines.

use serde::{Serialize, Serializer};

/// An instant in ns since the Unix epoch, UTC. Serializes as RFC 3339 with
/// nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct UnixNanos(pub(crate) i64);

/// An instant in ms since the Unix epoch, UTC. Serializes as RFC 3339 with
/// milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct UnixMillis(pub(crate) i64);

impl UnixNanos {
    /// `2024-05-01T12:03:04.123456789Z`.
    pub(crate) fn rfc3339(self) -> String {
        reel::wire::json::rfc3339_ns(self.0)
    }

    /// `12:03:04` (UTC).
    pub(crate) fn hms(self) -> String {
        let (h, m, s, _) = self.clock();
        format!("{h:02}:{m:02}:{s:02}")
    }

    /// `12:03:04.123` (UTC).
    pub(crate) fn hms_millis(self) -> String {
        let (h, m, s, ms) = self.clock();
        format!("{h:02}:{m:02}:{s:02}.{ms:03}")
    }

    /// `2024-05-01 12:03:04` (UTC), for tables.
    pub(crate) fn date_time(self) -> String {
        UnixMillis(self.0.div_euclid(1_000_000)).date_time()
    }

    fn clock(self) -> (i64, i64, i64, i64) {
        let secs = self.0.div_euclid(1_000_000_000);
        let ms = self.0.rem_euclid(1_000_000_000) / 1_000_000;
        let day = secs.rem_euclid(86_400);
        (day / 3600, day % 3600 / 60, day % 60, ms)
    }
}

impl UnixMillis {
    /// `2024-05-01T12:03:04.123Z`.
    pub(crate) fn rfc3339(self) -> String {
        reel::wire::json::rfc3339_ms(self.0)
    }

    /// `2024-05-01 12:03:04` (UTC), for tables.
    pub(crate) fn date_time(self) -> String {
        reel::wire::json::date_time_ms(self.0)
    }
}

impl Serialize for UnixNanos {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.rfc3339())
    }
}

impl Serialize for UnixMillis {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339() {
        assert_eq!(
            UnixMillis(1_714_564_984_123).rfc3339(),
            "2024-05-01T12:03:04.123Z"
        );
        assert_eq!(
            UnixNanos(1_714_564_984_123_456_789).rfc3339(),
            "2024-05-01T12:03:04.123456789Z"
        );
        assert_eq!(
            UnixMillis(1_714_564_984_123).date_time(),
            "2024-05-01 12:03:04"
        );
    }

    #[test]
    fn out_of_range_instants_are_clamped_not_panics() {
        assert_eq!(UnixMillis(-5).rfc3339(), "1970-01-01T00:00:00.000Z");
        assert_eq!(UnixMillis(i64::MAX).rfc3339(), "9999-12-31T23:59:59.000Z");
        assert_eq!(
            UnixNanos(i64::MIN).rfc3339(),
            "1970-01-01T00:00:00.000000000Z"
        );
        assert!(UnixNanos(i64::MAX).rfc3339().starts_with("2262-"));
    }

    #[test]
    fn clock_of_day() {
        let at = UnixNanos(1_714_564_984_123_456_789);
        assert_eq!(at.hms(), "12:03:04");
        assert_eq!(at.hms_millis(), "12:03:04.123");
        assert_eq!(UnixNanos(-1_000_000).hms_millis(), "23:59:59.999");
    }

    #[test]
    fn serializes_as_strings() {
        let json = serde_json::to_string(&UnixMillis(0)).unwrap();
        assert_eq!(json, "\"1970-01-01T00:00:00.000Z\"");
    }
}
