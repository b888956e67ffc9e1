//! The recording of known contents the analysis tests share (from
//! `crate::fixtures`), and helpers to write and analyse it.

use crate::format::Frame;
use crate::stats::*;

pub(super) use crate::fixtures::{S, STARTED_UNIX_NS, data, frame, msg, open};

/// The recording file of `frames`, finished with footer and trailer; it
/// stops at its last frame.
pub(super) fn recording(frames: &[Frame]) -> Vec<u8> {
    let last = frames.iter().map(|f| f.ts_ns).max().unwrap_or(0);
    recording_until(frames, STARTED_UNIX_NS + last as i64)
}

/// The recording file of `frames`, stopped at `ended_unix_ns`.
pub(super) fn recording_until(frames: &[Frame], ended_unix_ns: i64) -> Vec<u8> {
    crate::fixtures::recording_bytes("stats-test", frames, ended_unix_ns).unwrap()
}

/// The hand-worked sample, described in `fixtures::known_frames`.
pub(super) use crate::fixtures::known_frames as sample;

pub(super) fn analyze(frames: &[Frame], options: AnalyzeOptions) -> Analysis {
    analyze_reader(std::io::Cursor::new(recording(frames)), options).unwrap()
}

pub(super) fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9 * b.abs().max(1.0)
}
