//! The timeline: DATA and DATAGRAM bytes, DATA chunks and datagrams
//! bucketed by the second of their timestamp, online connections per second, and the per-second peak and
//! p95 rates; reported as at most [`MAX_TIMELINE_ROWS`] rows, each covering
//! the same whole number of seconds, so the answer has the same bounded size
//! for a minute or a year of recording.
//!
//! Memory is one 40-byte bucket per second of recording, capped at
//! [`MAX_TIMELINE_SECONDS`] (7 days, ~23 MiB); online counts are derived at
//! the end from the connections' open and close instants, so they do not
//! depend on frame order.

use serde::{Deserialize, Serialize};

use super::percentile::percentile;
use crate::format::Direction;

/// Nanoseconds per second.
pub const NS_PER_SEC: u64 = 1_000_000_000;

/// Longest span kept second by second (7 days, ~23 MiB of buckets). Frames
/// later than this still count in every total, but in no row's bytes and in
/// no per-second figure (`timeline_clipped_frames` counts them).
pub const MAX_TIMELINE_SECONDS: u64 = 7 * 24 * 3600;

/// Most rows a timeline has: longer recordings get rows of several seconds,
/// so the analysis fits in any message (~100 KiB of JSON at most).
pub const MAX_TIMELINE_ROWS: u64 = 1000;

/// One row of the timeline: `seconds` whole seconds from second `second`,
/// i.e. `ts_ns` in `[second × 10⁹, (second + seconds) × 10⁹)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecondStats {
    /// First second of the row, from the recording's start.
    pub second: u64,
    /// Seconds the row covers: 1 unless the recording is longer than
    /// [`MAX_TIMELINE_ROWS`] seconds (the last row may be shorter).
    #[serde(default = "one")]
    pub seconds: u64,
    /// DATA and DATAGRAM payload bytes client→server in this row.
    pub bytes_c2s: u64,
    /// DATA and DATAGRAM payload bytes server→client in this row.
    pub bytes_s2c: u64,
    /// DATA frames client→server in this row.
    pub chunks_c2s: u64,
    /// DATA frames server→client in this row.
    pub chunks_s2c: u64,
    /// Connections online at the end of this row.
    pub online: u64,
    /// Most connections online at any instant within this row.
    pub online_peak: u64,
    /// DATAGRAM frames client→server in this row.
    #[serde(default)]
    pub datagrams_c2s: u64,
    /// DATAGRAM frames server→client in this row.
    #[serde(default)]
    pub datagrams_s2c: u64,
}

/// The width of rows written before rows had one.
fn one() -> u64 {
    1
}

/// Bytes, chunks and datagrams of one second, index 0 = c2s, 1 = s2c.
/// Datagrams are u32 (saturating) to keep the bucket at 40 bytes: 4 billion
/// datagrams in one second is past any link.
#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    bytes: [u64; 2],
    chunks: [u64; 2],
    datagrams: [u32; 2],
}

/// Index of a direction in two-element arrays: c2s 0, s2c 1.
pub(crate) fn dir_index(dir: Direction) -> usize {
    match dir {
        Direction::C2s => 0,
        Direction::S2c => 1,
    }
}

/// Accumulates the per-second buckets as DATA frames go by.
#[derive(Debug, Default)]
pub(crate) struct Timeline {
    /// Bucket `s` is second `s`; grown on demand up to the cap.
    buckets: Vec<Bucket>,
    /// DATA and DATAGRAM frames later than the cap.
    clipped: u64,
}

/// What [`Timeline::finish`] computes.
#[derive(Debug, Default)]
pub(crate) struct TimelineFigures {
    /// The rows.
    pub(crate) rows: Vec<SecondStats>,
    /// Most connections online at once over the whole recording.
    pub(crate) peak_online: u64,
    /// Seconds the timeline covers (0 without frames): every second up to
    /// the end of the recording and the one of its last frame,
    /// `max(⌈duration / 1 s⌉, ⌊last ts / 1 s⌋ + 1)`.
    pub(crate) seconds: u64,
    /// Largest bytes in one second, per direction.
    pub(crate) peak_bytes: [u64; 2],
    /// 95th percentile of the bytes of each second, per direction.
    pub(crate) p95_bytes: [u64; 2],
    /// Most datagrams in one second, per direction.
    pub(crate) peak_datagrams: [u64; 2],
}

/// The connections' open and close instants, each sorted ascending (a close
/// is never before its open).
#[derive(Debug, Default)]
pub(crate) struct Instants {
    pub(crate) opens: Vec<u64>,
    pub(crate) closes: Vec<u64>,
}

impl Timeline {
    /// Counts one DATA frame of `len` bytes.
    pub(crate) fn data(&mut self, ts_ns: u64, dir: Direction, len: u64) {
        if let Some(bucket) = self.bucket(ts_ns) {
            bucket.bytes[dir_index(dir)] += len;
            bucket.chunks[dir_index(dir)] += 1;
        }
    }

    /// Counts one DATAGRAM frame of `len` bytes.
    pub(crate) fn datagram(&mut self, ts_ns: u64, dir: Direction, len: u64) {
        if let Some(bucket) = self.bucket(ts_ns) {
            bucket.bytes[dir_index(dir)] += len;
            let n = &mut bucket.datagrams[dir_index(dir)];
            *n = n.saturating_add(1);
        }
    }

    /// The bucket of `ts_ns`'s second, grown to; `None` (and one more
    /// clipped frame) past the cap.
    fn bucket(&mut self, ts_ns: u64) -> Option<&mut Bucket> {
        let second = ts_ns / NS_PER_SEC;
        if second >= MAX_TIMELINE_SECONDS {
            self.clipped += 1;
            return None;
        }
        let index = second as usize;
        if self.buckets.len() <= index {
            self.buckets.resize(index + 1, Bucket::default());
        }
        Some(&mut self.buckets[index])
    }

    /// DATA and DATAGRAM frames that fell past [`MAX_TIMELINE_SECONDS`].
    pub(crate) fn clipped(&self) -> u64 {
        self.clipped
    }

    /// The figures of a recording lasting `duration_ns` whose last frame is
    /// at `last_ts_ns` (no rows when `frames` is false), with online counts
    /// from `instants`.
    pub(crate) fn finish(
        self,
        frames: bool,
        duration_ns: u64,
        last_ts_ns: u64,
        instants: &Instants,
    ) -> TimelineFigures {
        if !frames {
            return TimelineFigures::default();
        }
        let seconds = duration_ns
            .div_ceil(NS_PER_SEC)
            .max(last_ts_ns / NS_PER_SEC + 1);
        let step = seconds.div_ceil(MAX_TIMELINE_ROWS);
        let rows = seconds.div_ceil(step);

        let mut out = Vec::with_capacity(rows as usize);
        let mut online = Online::new(instants);
        for row in 0..rows {
            let first = row * step;
            let width = step.min(seconds - first);
            let end_ns = (first + width).checked_mul(NS_PER_SEC);
            let peak = online.advance(end_ns);
            let mut sum = Bucket::default();
            let mut datagrams = [0u64; 2];
            for bucket in self.seconds(first, width) {
                for (i, n) in datagrams.iter_mut().enumerate() {
                    sum.bytes[i] += bucket.bytes[i];
                    sum.chunks[i] += bucket.chunks[i];
                    *n += u64::from(bucket.datagrams[i]);
                }
            }
            out.push(SecondStats {
                second: first,
                seconds: width,
                bytes_c2s: sum.bytes[0],
                bytes_s2c: sum.bytes[1],
                chunks_c2s: sum.chunks[0],
                chunks_s2c: sum.chunks[1],
                online: online.running,
                online_peak: peak,
                datagrams_c2s: datagrams[0],
                datagrams_s2c: datagrams[1],
            });
        }
        // Instants past the last row (timestamps past the duration) still
        // count in the peak.
        online.advance(None);

        // Per-second figures over the seconds kept (every second, up to the cap).
        let kept = seconds.min(MAX_TIMELINE_SECONDS);
        let mut peak_bytes = [0; 2];
        let mut p95_bytes = [0; 2];
        let mut peak_datagrams = [0; 2];
        for i in 0..2 {
            peak_datagrams[i] = self
                .buckets
                .iter()
                .take(kept as usize)
                .map(|b| u64::from(b.datagrams[i]))
                .max()
                .unwrap_or(0);
            let mut per_second: Vec<u64> = (0..kept)
                .map(|s| self.buckets.get(s as usize).map_or(0, |b| b.bytes[i]))
                .collect();
            peak_bytes[i] = per_second.iter().copied().max().unwrap_or(0);
            p95_bytes[i] = percentile(&mut per_second, 95);
        }
        TimelineFigures {
            rows: out,
            peak_online: online.peak,
            seconds,
            peak_bytes,
            p95_bytes,
            peak_datagrams,
        }
    }

    /// The buckets of seconds `first .. first + width` that exist.
    fn seconds(&self, first: u64, width: u64) -> &[Bucket] {
        let len = self.buckets.len() as u64;
        let start = first.min(len) as usize;
        let end = first.saturating_add(width).min(len) as usize;
        &self.buckets[start..end]
    }
}

/// Walks the open and close instants in time order. At equal instants opens
/// come before closes, so a connection open for 0 ns still counts and the
/// count never dips below 0.
struct Online<'a> {
    instants: &'a Instants,
    next_open: usize,
    next_close: usize,
    /// Connections online now.
    running: u64,
    /// Most online at once so far.
    peak: u64,
}

impl<'a> Online<'a> {
    fn new(instants: &'a Instants) -> Self {
        Online {
            instants,
            next_open: 0,
            next_close: 0,
            running: 0,
            peak: 0,
        }
    }

    /// Applies every instant before `end_ns` (every one left when `None`);
    /// returns the most online at once from the previous end to this one.
    fn advance(&mut self, end_ns: Option<u64>) -> u64 {
        let (opens, closes) = (&self.instants.opens, &self.instants.closes);
        let before = |t: &&u64| end_ns.is_none_or(|end| **t < end);
        let mut peak = self.running;
        loop {
            let open = opens.get(self.next_open).filter(before);
            let close = closes.get(self.next_close).filter(before);
            match (open, close) {
                (Some(o), Some(c)) if o <= c => self.open(),
                (Some(_), None) => self.open(),
                (_, Some(_)) => {
                    self.running = self.running.saturating_sub(1);
                    self.next_close += 1;
                }
                (None, None) => break,
            }
            peak = peak.max(self.running);
        }
        self.peak = self.peak.max(peak);
        peak
    }

    fn open(&mut self) {
        self.running += 1;
        self.next_open += 1;
    }
}

#[cfg(test)]
mod tests;
