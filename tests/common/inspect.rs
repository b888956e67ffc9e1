//! Reading what agents wrote and sent: recording files frame by frame,
//! Watch events, each wait bounded, and a process's memory figures.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reel::format::{Direction, End, Frame, FrameBody, Next, OpenInfo, Source, SourceReader};
use reel::proto as pb;

/// A `kB` figure (`VmRSS`, `VmHWM`: the kernel's peak RSS) of a process's
/// /proc status.
pub fn proc_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/status: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// Path of a recording in a data directory: its segments' directory, or
/// the single file of an uploaded one.
pub fn recording_path(data_dir: &Path, id: &str) -> PathBuf {
    let dir = data_dir.join(format!("{id}.segments"));
    if dir.is_dir() {
        dir
    } else {
        data_dir.join(format!("{id}.reel"))
    }
}

/// A recording's bytes, to tell whether it changed: its file, or each of
/// its segments and index, by name.
pub fn recording_snapshot(path: &Path) -> Vec<(String, Vec<u8>)> {
    if !path.is_dir() {
        return vec![(String::new(), std::fs::read(path).expect("read recording"))];
    }
    let mut all: Vec<(String, Vec<u8>)> = std::fs::read_dir(path)
        .expect("list recording")
        .flatten()
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name, std::fs::read(e.path()).expect("read segment"))
        })
        .collect();
    all.sort();
    all
}

/// Bytes a recording takes on disk (all its segments).
pub fn recording_size(path: &Path) -> u64 {
    recording_snapshot(path)
        .iter()
        .filter(|(n, _)| n.ends_with(".reel") || n.is_empty())
        .map(|(_, b)| b.len() as u64)
        .sum()
}

/// The footer of a finished recording: a file's own, or the merged one in
/// a segmented recording's index.
pub fn recording_footer(path: &Path) -> reel::format::Footer {
    if path.is_dir() {
        return reel::format::Index::read(path)
            .expect("read index")
            .expect("the recording has an index")
            .footer;
    }
    reel::format::read_footer(path)
        .expect("read footer")
        .expect("footer written")
        .1
}

/// A full scan of a recording: a file's, or its segments' surveyed and
/// merged.
pub fn scan_recording(path: &Path) -> reel::format::Scan {
    let scan = if path.is_dir() {
        reel::format::survey_dir(path)
    } else {
        reel::format::scan_file(path)
    };
    scan.unwrap_or_else(|e| panic!("scan {}: {e}", path.display()))
}

/// Whether a recording was finished cleanly: a file's footer, a segmented
/// recording's index.
pub fn is_finished(path: &Path) -> bool {
    if path.is_dir() {
        reel::format::Index::read(path)
            .expect("read index")
            .is_some()
    } else {
        reel::format::read_footer(path)
            .expect("read footer")
            .is_some()
    }
}

/// Every frame of a recording (a file, or a directory of segments merged),
/// and how it ends.
pub fn read_recording(path: &Path) -> (reel::format::Header, Vec<Frame>, End) {
    let mut reader = SourceReader::open(&Source::from_path(path))
        .unwrap_or_else(|e| panic!("open recording {}: {e}", path.display()));
    let mut frames = Vec::new();
    let end = loop {
        match reader.next().expect("read recording") {
            Next::Frame(f) => frames.push(f),
            Next::End(end) => break end,
        }
    };
    (reader.header().clone(), frames, end)
}

/// The OPEN frame of the connection whose client address is `client`.
pub fn open_of<'a>(frames: &'a [Frame], client: &str) -> (u64, &'a OpenInfo) {
    frames
        .iter()
        .find_map(|f| match &f.body {
            FrameBody::Open(o) if o.client == client => Some((f.conn, o)),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no OPEN frame for client {client}"))
}

/// Payload bytes of one connection in one direction, in file order.
pub fn payload_of(frames: &[Frame], conn: u64, dir: Direction) -> Vec<u8> {
    let mut out = Vec::new();
    for f in frames.iter().filter(|f| f.conn == conn) {
        if let FrameBody::Data { dir: d, payload } = &f.body
            && *d == dir
        {
            out.extend_from_slice(payload);
        }
    }
    out
}

/// The next event of a Watch stream, within `limit`.
pub async fn next_event(stream: &mut tonic::Streaming<pb::Event>, limit: Duration) -> pb::Event {
    tokio::time::timeout(limit, stream.message())
        .await
        .unwrap_or_else(|_| panic!("no event within {limit:?}"))
        .expect("watch stream failed")
        .expect("watch stream ended")
}

/// Reads events until one satisfies `want`, within `limit` overall.
pub async fn wait_event(
    stream: &mut tonic::Streaming<pb::Event>,
    limit: Duration,
    what: &str,
    mut want: impl FnMut(&pb::Event) -> bool,
) -> pb::Event {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let ev = tokio::time::timeout(left, stream.message())
            .await
            .unwrap_or_else(|_| panic!("timed out after {limit:?} waiting for {what}"))
            .expect("watch stream failed")
            .unwrap_or_else(|| panic!("watch stream ended while waiting for {what}"));
        if want(&ev) {
            return ev;
        }
    }
}
