//! Compiles proto/reel/v1 with protox (pure Rust, no system protoc) and writes the
//! descriptor set that the reflection service serves.
//!
//! The messages reelctl prints as JSON derive `serde::Serialize` here, with
//! the few fields whose JSON differs from their wire form (enum words,
//! instants, hex bytes, empty strings as null) pointing at `wire::json`:
//! the generated type is then the one description of what reelctl shows,
//! instead of a field-by-field copy of it in reelctl.

/// Messages serialized as they are.
const SERIALIZED: &[&str] = &[
    "ProxyInfo",
    "DatagramFaultCounts",
    "Lateness",
    "Divergence",
    "ReplayConnection",
    "Relaxation",
    "ReplayWait",
    "OmittedConnections",
    "ReplayReport",
    "RuleCount",
    "RecordingInfo",
    "ConnectionOpened",
    "ConnectionClosed",
    "Transfer",
    "ProxyStats",
    "RecordingEvent",
    "ProxyEvent",
    "ReplayProgress",
    "Lagged",
];

/// Oneofs serialized as they are: (path, attributes). A Watch event's body
/// is flat JSON, `"kind"` naming the variant beside the body's own fields.
const ONEOFS: &[(&str, &str)] = &[(
    "Event.body",
    r#"#[derive(serde::Serialize)] #[serde(tag = "kind", rename_all = "snake_case")]"#,
)];

/// Fields whose JSON is not their wire form: (message.field, serde attribute).
const FIELDS: &[(&str, &str)] = &[
    (
        "RecordingInfo.status",
        r#"#[serde(serialize_with = "crate::wire::json::recording_status")]"#,
    ),
    (
        "RecordingInfo.started_at_unix_ms",
        r#"#[serde(rename = "started_at", serialize_with = "crate::wire::json::instant_ms")]"#,
    ),
    (
        "RecordingInfo.location",
        r#"#[serde(serialize_with = "crate::wire::json::recording_location")]"#,
    ),
    // The same instant as started_at, to the nanosecond, for coordination.
    ("RecordingInfo.started_at_unix_ns", "#[serde(skip)]"),
    // Only a flight recorder has a window.
    (
        "RecordingInfo.ring_ms",
        r#"#[serde(skip_serializing_if = "crate::wire::json::is_zero")]"#,
    ),
    (
        "RecordingInfo.error",
        r#"#[serde(serialize_with = "crate::wire::json::empty_as_null")]"#,
    ),
    (
        "Transfer.direction",
        r#"#[serde(serialize_with = "crate::wire::json::direction")]"#,
    ),
    (
        "RecordingEvent.phase",
        r#"#[serde(serialize_with = "crate::wire::json::recording_phase")]"#,
    ),
    (
        "ProxyEvent.phase",
        r#"#[serde(serialize_with = "crate::wire::json::proxy_phase")]"#,
    ),
    (
        "ReplayProgress.state",
        r#"#[serde(serialize_with = "crate::wire::json::replay_state")]"#,
    ),
    // reelctl shows the fault profile read into the engine's terms.
    ("ProxyInfo.faults", "#[serde(skip)]"),
    (
        "ProxyInfo.started_at_unix_ms",
        r#"#[serde(rename = "started_at", serialize_with = "crate::wire::json::instant_ms")]"#,
    ),
    (
        "Divergence.expected",
        r#"#[serde(serialize_with = "crate::wire::json::hex")]"#,
    ),
    (
        "Divergence.received",
        r#"#[serde(serialize_with = "crate::wire::json::hex")]"#,
    ),
    (
        "ReplayConnection.error",
        r#"#[serde(serialize_with = "crate::wire::json::empty_as_null")]"#,
    ),
    (
        "ReplayConnection.lateness",
        r#"#[serde(serialize_with = "crate::wire::json::or_default")]"#,
    ),
    (
        "Relaxation.reason",
        r#"#[serde(serialize_with = "crate::wire::json::relax_reason")]"#,
    ),
    (
        "RuleCount.table",
        r#"#[serde(serialize_with = "crate::wire::json::rule_table")]"#,
    ),
    (
        "ReplayReport.state",
        r#"#[serde(serialize_with = "crate::wire::json::replay_state")]"#,
    ),
    (
        "ReplayReport.mode",
        r#"#[serde(serialize_with = "crate::wire::json::replay_mode")]"#,
    ),
    (
        "ReplayReport.scheduled_start_unix_ns",
        r#"#[serde(rename = "scheduled_start", serialize_with = "crate::wire::json::instant_ns")]"#,
    ),
    (
        "ReplayReport.started_at_unix_ns",
        r#"#[serde(rename = "started_at", serialize_with = "crate::wire::json::instant_ns")]"#,
    ),
    (
        "ReplayReport.lateness",
        r#"#[serde(serialize_with = "crate::wire::json::or_default")]"#,
    ),
    (
        "ReplayReport.omitted",
        r#"#[serde(serialize_with = "crate::wire::json::or_default")]"#,
    ),
    (
        "ReplayReport.error",
        r#"#[serde(serialize_with = "crate::wire::json::empty_as_null")]"#,
    ),
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    let fds = protox::compile(["reel/v1/reel.proto"], ["proto"])?;
    std::fs::write(
        out.join("reel_descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;
    let mut config = tonic_prost_build::configure()
        .build_server(true)
        .build_client(true);
    for message in SERIALIZED {
        config =
            config.type_attribute(format!(".reel.v1.{message}"), "#[derive(serde::Serialize)]");
    }
    for (oneof, attributes) in ONEOFS {
        config = config.type_attribute(format!(".reel.v1.{oneof}"), attributes);
    }
    for (field, attribute) in FIELDS {
        config = config.field_attribute(format!(".reel.v1.{field}"), attribute);
    }
    config.compile_fds(fds)?;
    // compile_fds emits no rerun lines of its own.
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
