//! Analysis of long, crafted and many-connection recordings by a real agent
//! (issue 13, finding 7): a frame stamped past the recording's stop is
//! reported as corruption instead of stretching the timeline; a 50-hour
//! recording's timeline comes back in at most 1,000 rows; analysing 300,000
//! one-byte connections keeps the agent's peak RSS within a fixed bound.
//! Recordings are written with the library's writer straight into the
//! agent's data dir before it starts; every wait is bounded and the agent
//! is killed by pid when the test ends.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use reel::format::{Direction, Frame};
use serde_json::Value;

use common::known::{S, close, data, frame, open};
use common::*;

/// When the generated recordings start (wall clock).
const STARTED_UNIX_NS: i64 = 1_700_000_000_000_000_000;

/// Writes recording `id` of `frames` into `data_dir`, stopped `span_ns`
/// after its start.
fn write_recording(data_dir: &Path, id: &str, frames: impl Iterator<Item = Frame>, span_ns: u64) {
    std::fs::create_dir_all(data_dir).unwrap();
    let path = recording_path(data_dir, id);
    let ended = STARTED_UNIX_NS + span_ns as i64;
    common::known::write_recording(&path, id, frames, STARTED_UNIX_NS, ended);
}

/// `reelctl --json stats ID` against `agent`, within `limit`; the one result's data.
fn stats(agent: &AgentProc, id: &str, limit: Duration) -> Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_reelctl"));
    cmd.args([
        "-a",
        &agent.addr_str(),
        "--json",
        "--timeout",
        "120s",
        "stats",
        id,
    ])
    .env_remove("REEL_AGENTS")
    .stdin(Stdio::null());
    let out = run_bounded(&mut cmd, limit, "reelctl stats");
    let data = ok_data(&out);
    assert_eq!(data.len(), 1, "{}", out.stdout);
    data[0].clone()
}

#[test]
fn a_crafted_timestamp_is_corrupt_and_a_50_hour_timeline_is_downsampled() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    // One frame at ts = u64::MAX in a recording that ran 2 s.
    let crafted = [
        frame(1, 0, open("10.0.0.1:40001", false)),
        frame(1, S, data(Direction::C2s, b"kept")),
        frame(1, u64::MAX, data(Direction::C2s, b"crafted")),
    ];
    write_recording(&data_dir, "crafted-ts", crafted.into_iter(), 2 * S);
    // 50 hours: a message every 10 minutes, then a close.
    const HOURS: u64 = 50;
    let every = 600 * S;
    let long = std::iter::once(frame(1, 0, open("10.0.0.2:40002", false)))
        .chain((1..HOURS * 6).map(|i| frame(1, i * every, data(Direction::C2s, b"tick"))))
        .chain(std::iter::once(frame(
            1,
            HOURS * 3600 * S,
            close("client closed"),
        )));
    write_recording(&data_dir, "fifty-hours", long, HOURS * 3600 * S);
    let agent = AgentProc::start("127.0.0.1", &data_dir);

    let d = stats(&agent, "crafted-ts", Duration::from_secs(30));
    assert_eq!(d["end"]["status"], "corrupted", "{d}");
    let reason = d["end"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("18446744073709551615 ns lies past the recording's end"),
        "{reason}"
    );
    assert_eq!(
        (d["frames"].as_u64(), d["c2s"]["bytes"].as_u64()),
        (Some(2), Some(4))
    );
    assert_eq!(d["duration_ns"].as_u64(), Some(2 * S));
    assert_eq!(d["timeline"].as_array().unwrap().len(), 2);

    let d = stats(&agent, "fifty-hours", Duration::from_secs(30));
    assert_eq!(d["end"]["status"], "complete", "{d}");
    let rows = d["timeline"].as_array().unwrap();
    // 180,001 seconds in rows of 181 s.
    assert!(rows.len() <= 1000, "{} rows", rows.len());
    assert_eq!(rows[0]["seconds"].as_u64(), Some(181));
    let end = &rows[rows.len() - 1];
    assert_eq!(
        end["second"].as_u64().unwrap() + end["seconds"].as_u64().unwrap(),
        HOURS * 3600 + 1
    );
    let row_bytes: u64 = rows.iter().map(|r| r["bytes_c2s"].as_u64().unwrap()).sum();
    assert_eq!(row_bytes, 4 * (HOURS * 6 - 1));
    assert_eq!(d["c2s"]["bytes"].as_u64(), Some(row_bytes));
    assert_eq!(d["c2s"]["peak_bytes_per_sec"].as_u64(), Some(4));
    // One connection all along, closed in the last row.
    let (last, before) = rows.split_last().unwrap();
    assert!(before.iter().all(|r| r["online"] == 1));
    assert_eq!(
        (last["online"].as_u64(), last["online_peak"].as_u64()),
        (Some(0), Some(1))
    );
}

/// Connections in the many-connections recording (8.3 MiB on disk).
const CONNECTIONS: u64 = 300_000;
/// How much the agent's peak RSS may grow analysing it: the compact table is
/// ~50 MB for 300,000 connections (docs/ANALYSIS.md); a full record per
/// connection took 343 MB.
const ANALYSIS_GROWTH_BOUND_KIB: u64 = 80 * 1024;

#[test]
fn analysing_300000_connections_keeps_the_agent_within_80_mib() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let frames = (1..=CONNECTIONS).flat_map(|c| {
        let ts = c * 1000;
        let client = format!(
            "10.{}.{}.{}:{}",
            c >> 16 & 255,
            c >> 8 & 255,
            c & 255,
            40_000
        );
        [
            frame(c, ts, open(&client, false)),
            frame(c, ts + 1, data(Direction::C2s, b"x")),
            frame(c, ts + 2, close("client closed")),
        ]
    });
    write_recording(&data_dir, "many-conns", frames, CONNECTIONS * 1000 + 3);
    let agent = AgentProc::start("127.0.0.1", &data_dir);
    let pid = agent.child.id();
    let before_kib = proc_kib(pid, "VmHWM");

    let d = stats(&agent, "many-conns", Duration::from_secs(180));
    let peak_kib = proc_kib(pid, "VmHWM");
    eprintln!(
        "analysis of {CONNECTIONS} connections: agent peak RSS {} MiB, {} MiB before",
        peak_kib / 1024,
        before_kib / 1024
    );
    assert_eq!(d["connections"]["total"].as_u64(), Some(CONNECTIONS));
    assert_eq!(d["c2s"]["bytes"].as_u64(), Some(CONNECTIONS));
    assert_eq!(d["top_connections"].as_array().unwrap().len(), 10);
    assert!(
        peak_kib - before_kib < ANALYSIS_GROWTH_BOUND_KIB,
        "analysing {CONNECTIONS} connections raised the agent's peak RSS by {} MiB; \
         the bound is {} MiB",
        (peak_kib - before_kib) / 1024,
        ANALYSIS_GROWTH_BOUND_KIB / 1024
    );
}
