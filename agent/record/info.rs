//! What a listing says about a recording, whether it is being written, was
//! finished cleanly, or was recovered after a crash.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::format::{End, Footer, Header, Index, Scan};

pub use crate::domain::{RecordingInfo, RecordingStatus};

/// Who this agent is, as written into every recording's header.
#[derive(Debug, Clone)]
pub struct AgentIdentity {
    pub name: String,
    pub id: String,
}

/// Converts a Unix-epoch nanosecond count (negative before 1970).
pub fn unix_ns_to_time(ns: i64) -> SystemTime {
    if ns >= 0 {
        UNIX_EPOCH + Duration::from_nanos(ns as u64)
    } else {
        UNIX_EPOCH - Duration::from_nanos(ns.unsigned_abs())
    }
}

/// Nanoseconds since the Unix epoch, saturating.
pub fn time_to_unix_ns(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_nanos()).unwrap_or(i64::MAX),
    }
}

fn base(header: &Header) -> RecordingInfo {
    RecordingInfo {
        id: header.id.clone(),
        label: header.label.clone(),
        status: RecordingStatus::Complete,
        started_at: unix_ns_to_time(header.started_at_unix_ns),
        duration: Duration::ZERO,
        size_bytes: 0,
        connections: 0,
        bytes_c2s: 0,
        bytes_s2c: 0,
        frames: 0,
        proxies: header.proxies.iter().map(|p| p.id.clone()).collect(),
        lost_bytes: 0,
        truncated_bytes: 0,
        error: None,
        agent_name: header.agent_name.clone(),
        ring: None,
    }
}

/// Info of a file that ended with its footer.
pub(crate) fn from_footer(header: &Header, footer: &Footer, size_bytes: u64) -> RecordingInfo {
    let s = &footer.summary;
    RecordingInfo {
        status: if footer.error.is_some() {
            RecordingStatus::Failed
        } else {
            RecordingStatus::Complete
        },
        // From start to stop, not to the last frame: an idle tail is part of it.
        duration: Duration::from_nanos(s.last_ts_ns).max(Duration::from_nanos(
            footer
                .ended_unix_ns
                .saturating_sub(header.started_at_unix_ns)
                .max(0) as u64,
        )),
        size_bytes,
        connections: s.connections,
        bytes_c2s: s.bytes_c2s,
        bytes_s2c: s.bytes_s2c,
        frames: s.frames,
        lost_bytes: s.lost_bytes,
        error: footer.error.clone(),
        ..base(header)
    }
}

/// Info of a segmented recording from its index (here, or in the store):
/// as its merged footer says, or `recovered` with what was cut when a
/// crash cut it short and a restart indexed it (`complete` false).
pub(crate) fn from_index(index: &Index) -> RecordingInfo {
    let mut info = from_footer(&index.header, &index.footer, index.size());
    if !index.complete {
        info.status = RecordingStatus::Recovered;
        info.truncated_bytes = index.footer.truncated_bytes;
    }
    info
}

/// Info of a file read frame by frame (no usable footer).
pub(crate) fn from_scan(scan: &Scan) -> RecordingInfo {
    if let End::Complete(footer) = &scan.end {
        // The footer says how it ended; the totals are what was read (a
        // crafted footer's counts are not repeated in listings).
        let footer = Footer {
            summary: scan.summary.clone(),
            ..footer.clone()
        };
        return from_footer(&scan.header, &footer, scan.file_size);
    }
    let s = &scan.summary;
    let (truncated_bytes, error) = match &scan.end {
        End::Truncated { cut_bytes, .. } => (*cut_bytes, None),
        End::Corrupted {
            offset,
            reason,
            valid_bytes,
        } => (
            scan.file_size.saturating_sub(*valid_bytes),
            Some(format!("corrupted frame at offset {offset}: {reason}")),
        ),
        End::Complete(_) => (0, None),
    };
    RecordingInfo {
        status: RecordingStatus::Recovered,
        duration: Duration::from_nanos(s.last_ts_ns),
        size_bytes: scan.file_size,
        connections: s.connections,
        bytes_c2s: s.bytes_c2s,
        bytes_s2c: s.bytes_s2c,
        frames: s.frames,
        lost_bytes: s.lost_bytes,
        truncated_bytes,
        error,
        ..base(&scan.header)
    }
}
