//! How reel.v1 messages look as JSON where that differs from their wire
//! form: enums as the engine's words, instants as RFC 3339 (none when 0),
//! bytes as hex, an empty error as null, an absent sub-message as its
//! defaults. build.rs points the generated types' serde attributes here, so
//! reelctl prints the generated types themselves instead of copying them
//! field by field into views of its own.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Serialize, Serializer};

use crate::proto as pb;
use crate::replay::{Mode, RuleTable};

/// Last second RFC 3339 can show (end of year 9999).
const MAX_SECONDS: u64 = 253_402_300_799;

/// `2024-05-01T12:03:04.123456789Z`; clamped to 1970..=9999 rather than
/// failing on an instant a broken clock or a crafted answer carries.
pub fn rfc3339_ns(ns: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_nanos(u64::try_from(ns).unwrap_or(0));
    humantime::format_rfc3339_nanos(at).to_string()
}

/// `2024-05-01T12:03:04.123Z`, clamped as [`rfc3339_ns`].
pub fn rfc3339_ms(ms: i64) -> String {
    humantime::format_rfc3339_millis(ms_time(ms)).to_string()
}

/// `2024-05-01 12:03:04` (UTC), for tables.
pub fn date_time_ms(ms: i64) -> String {
    let text = humantime::format_rfc3339_seconds(ms_time(ms)).to_string();
    text.trim_end_matches('Z').replacen('T', " ", 1)
}

fn ms_time(ms: i64) -> SystemTime {
    let ms = u64::try_from(ms).unwrap_or(0).min(MAX_SECONDS * 1000);
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// The word of a report's state; "unknown" for one this build does not know.
pub fn replay_state_word(value: i32) -> &'static str {
    super::replay::state(value).map_or("unknown", crate::domain::ReplayState::as_str)
}

/// The word of a recording's status; "unknown" for one this build does not know.
pub fn recording_status_word(value: i32) -> &'static str {
    super::recording::status(value).map_or("unknown", crate::domain::RecordingStatus::as_str)
}

/// Where a recording lives: "local", "store" or "both"; "local" from an
/// agent older than the store, "unknown" for a value this build does not know.
pub fn recording_location_word(value: i32) -> &'static str {
    use crate::proto::RecordingLocation as L;
    match L::try_from(value) {
        Ok(L::Unspecified | L::Local) => "local",
        Ok(L::Store) => "store",
        Ok(L::Both) => "both",
        Err(_) => "unknown",
    }
}

/// The word of a report's mode; "unknown" for one this build does not know.
pub fn replay_mode_word(value: i32) -> &'static str {
    super::replay::mode(value).map_or("unknown", Mode::as_str)
}

/// The word of a relaxation's reason; "unknown" for one this build does not know.
pub fn relax_reason_word(value: i32) -> &'static str {
    super::replay::relax_reason(value).map_or("unknown", |r| r.as_str())
}

/// The word of a rule count's table; "unknown" for one this build does not know.
pub fn rule_table_word(value: i32) -> &'static str {
    super::replay::rule_table(value).map_or("unknown", RuleTable::as_str)
}

/// The word of a transfer's direction: "c2s", "s2c" or "unknown".
pub fn direction_word(value: i32) -> &'static str {
    match pb::Direction::try_from(value) {
        Ok(pb::Direction::C2s) => "c2s",
        Ok(pb::Direction::S2c) => "s2c",
        _ => "unknown",
    }
}

/// The word of a recording event's phase: "started", "stopped", "failed"
/// or "unknown".
pub fn recording_phase_word(value: i32) -> &'static str {
    use pb::recording_event::Phase;
    match Phase::try_from(value) {
        Ok(Phase::Started) => "started",
        Ok(Phase::Stopped) => "stopped",
        Ok(Phase::Failed) => "failed",
        _ => "unknown",
    }
}

/// The word of a proxy event's phase: "started", "stopped" or "unknown".
pub fn proxy_phase_word(value: i32) -> &'static str {
    use pb::proxy_event::Phase;
    match Phase::try_from(value) {
        Ok(Phase::Started) => "started",
        Ok(Phase::Stopped) => "stopped",
        _ => "unknown",
    }
}

/// For `skip_serializing_if`: a count that is 0 means "not this kind"
/// (`ring_ms` of a recording that is no flight recorder).
#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde passes a reference"
)]
pub(crate) fn is_zero(n: &u64) -> bool {
    *n == 0
}

pub(crate) fn direction<S: Serializer>(value: &i32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(direction_word(*value))
}

pub(crate) fn recording_phase<S: Serializer>(value: &i32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(recording_phase_word(*value))
}

pub(crate) fn proxy_phase<S: Serializer>(value: &i32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(proxy_phase_word(*value))
}

pub(crate) fn replay_state<S: Serializer>(value: &i32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(replay_state_word(*value))
}

pub(crate) fn recording_status<S: Serializer>(value: &i32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(recording_status_word(*value))
}

pub(crate) fn recording_location<S: Serializer>(value: &i32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(recording_location_word(*value))
}

pub(crate) fn replay_mode<S: Serializer>(value: &i32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(replay_mode_word(*value))
}

pub(crate) fn relax_reason<S: Serializer>(value: &i32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(relax_reason_word(*value))
}

pub(crate) fn rule_table<S: Serializer>(value: &i32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(rule_table_word(*value))
}

/// An instant in ns since the epoch; 0 (unset) as null.
pub(crate) fn instant_ns<S: Serializer>(ns: &i64, s: S) -> Result<S::Ok, S::Error> {
    match *ns {
        0 => s.serialize_none(),
        ns => s.serialize_str(&rfc3339_ns(ns)),
    }
}

/// An instant in ms since the epoch; 0 (unset) as null.
pub(crate) fn instant_ms<S: Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
    match *ms {
        0 => s.serialize_none(),
        ms => s.serialize_str(&rfc3339_ms(ms)),
    }
}

pub(crate) fn hex<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::rewrite::hex(bytes))
}

pub(crate) fn empty_as_null<S: Serializer>(text: &str, s: S) -> Result<S::Ok, S::Error> {
    match text {
        "" => s.serialize_none(),
        text => s.serialize_str(text),
    }
}

/// A sub-message proto3 leaves out when all its fields are zero.
pub(crate) fn or_default<T, S>(value: &Option<T>, s: S) -> Result<S::Ok, S::Error>
where
    T: Serialize + Default,
    S: Serializer,
{
    match value {
        Some(v) => v.serialize(s),
        None => T::default().serialize(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants() {
        assert_eq!(rfc3339_ms(1_714_564_984_123), "2024-05-01T12:03:04.123Z");
        assert_eq!(
            rfc3339_ns(1_714_564_984_123_456_789),
            "2024-05-01T12:03:04.123456789Z"
        );
        assert_eq!(date_time_ms(1_714_564_984_123), "2024-05-01 12:03:04");
    }

    #[test]
    fn out_of_range_instants_are_clamped_not_panics() {
        assert_eq!(rfc3339_ms(-5), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(i64::MAX), "9999-12-31T23:59:59.000Z");
        assert_eq!(rfc3339_ns(i64::MIN), "1970-01-01T00:00:00.000000000Z");
        assert!(rfc3339_ns(i64::MAX).starts_with("2262-"));
    }

    #[test]
    fn a_report_as_json() {
        let report = pb::ReplayReport {
            id: "r1".into(),
            state: pb::ReplayState::Finished as i32,
            mode: pb::ReplayMode::Causal as i32,
            started_at_unix_ns: 1_714_564_984_123_456_789,
            connections: vec![pb::ReplayConnection {
                error: "refused".into(),
                divergence: Some(pb::Divergence {
                    expected: vec![0xab, 0x01],
                    ..Default::default()
                }),
                ..Default::default()
            }],
            relaxed: vec![pb::Relaxation {
                reason: pb::RelaxReason::Stalled as i32,
                ..Default::default()
            }],
            rules: vec![pb::RuleCount {
                table: 77,
                ..Default::default()
            }],
            ..Default::default()
        };
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["state"], "finished");
        assert_eq!(json["mode"], "causal");
        assert_eq!(json["scheduled_start"], serde_json::Value::Null);
        assert_eq!(json["started_at"], "2024-05-01T12:03:04.123456789Z");
        assert_eq!(json["error"], serde_json::Value::Null);
        assert_eq!(json["lateness"]["p99_us"], 0);
        assert_eq!(json["omitted"]["count"], 0);
        let conn = &json["connections"][0];
        assert_eq!(conn["error"], "refused");
        assert_eq!(conn["divergence"]["expected"], "ab01");
        assert_eq!(conn["lateness"]["samples"], 0);
        assert_eq!(json["relaxed"][0]["reason"], "stalled");
        assert_eq!(json["rules"][0]["table"], "unknown");
    }
}
