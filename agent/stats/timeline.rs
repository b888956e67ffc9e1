//! The per-second timeline: DATA bytes and chunks bucketed by the second of
//! their timestamp, and the number of online connections per second.
//!
//! Memory is one small bucket per second of recording (32 bytes), capped at
//! [`MAX_TIMELINE_SECONDS`]; online counts are derived at the end from the
//! connections' open/close instants, so they do not depend on frame order.

use serde::{Deserialize, Serialize};

use crate::format::Direction;

/// Nanoseconds per second.
pub const NS_PER_SEC: u64 = 1_000_000_000;

/// Longest timeline kept (7 days, ~19 MiB of buckets). Frames later than
/// this still count in every total but in no timeline row.
pub const MAX_TIMELINE_SECONDS: u64 = 7 * 24 * 3600;

/// One second of the timeline: second `s` covers `ts_ns` in
/// `[s × 10⁹, (s + 1) × 10⁹)` from the recording's start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecondStats {
    /// Second index from the recording's start.
    pub second: u64,
    /// DATA payload bytes client→server in this second.
    pub bytes_c2s: u64,
    /// DATA payload bytes server→client in this second.
    pub bytes_s2c: u64,
    /// DATA frames client→server in this second.
    pub chunks_c2s: u64,
    /// DATA frames server→client in this second.
    pub chunks_s2c: u64,
    /// Connections online at the end of this second.
    pub online: u64,
    /// Most connections online at any instant within this second.
    pub online_peak: u64,
}

/// When one connection was online: from its first frame to its CLOSE, or to
/// the end of the recording when it has none (`close_ns` = `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Interval {
    /// Timestamp of the connection's first frame.
    pub(crate) open_ns: u64,
    /// Timestamp of its CLOSE frame, if any.
    pub(crate) close_ns: Option<u64>,
}

/// Bytes and chunks of one second, index 0 = c2s, 1 = s2c.
#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    bytes: [u64; 2],
    chunks: [u64; 2],
}

/// Index of a direction in two-element arrays: c2s 0, s2c 1.
pub(crate) fn dir_index(dir: Direction) -> usize {
    match dir {
        Direction::C2s => 0,
        Direction::S2c => 1,
    }
}

/// The online count after an open (+1) or close (-1) event.
fn step(running: u64, delta: i8) -> u64 {
    if delta > 0 {
        running + 1
    } else {
        running.saturating_sub(1)
    }
}

/// Accumulates the per-second buckets as DATA frames go by.
#[derive(Debug, Default)]
pub(crate) struct Timeline {
    /// Bucket `s` is second `s`; grown on demand up to the cap.
    buckets: Vec<Bucket>,
    /// DATA frames later than the cap.
    clipped: u64,
}

impl Timeline {
    /// Counts one DATA frame of `len` bytes.
    pub(crate) fn data(&mut self, ts_ns: u64, dir: Direction, len: u64) {
        let second = ts_ns / NS_PER_SEC;
        if second >= MAX_TIMELINE_SECONDS {
            self.clipped += 1;
            return;
        }
        let index = second as usize;
        if self.buckets.len() <= index {
            self.buckets.resize(index + 1, Bucket::default());
        }
        let bucket = &mut self.buckets[index];
        bucket.bytes[dir_index(dir)] += len;
        bucket.chunks[dir_index(dir)] += 1;
    }

    /// DATA frames that fell past [`MAX_TIMELINE_SECONDS`].
    pub(crate) fn clipped(&self) -> u64 {
        self.clipped
    }

    /// The rows for a recording whose last frame is at `last_ts_ns` (none
    /// when `frames` is false), with online counts from `intervals`; and the
    /// peak number of connections online at once over the whole recording.
    pub(crate) fn finish(
        self,
        frames: bool,
        last_ts_ns: u64,
        intervals: &[Interval],
    ) -> (Vec<SecondStats>, u64) {
        let rows = if frames {
            (last_ts_ns / NS_PER_SEC + 1).min(MAX_TIMELINE_SECONDS)
        } else {
            0
        };
        // (ts, delta): at equal ts opens (+1) sort before closes (-1), so a
        // connection open for 0 ns still counts and the count never dips below 0.
        let mut events: Vec<(u64, i8)> = Vec::with_capacity(intervals.len() * 2);
        for interval in intervals {
            events.push((interval.open_ns, 1));
            if let Some(close) = interval.close_ns {
                events.push((close.max(interval.open_ns), -1));
            }
        }
        events.sort_unstable_by_key(|&(ts, delta)| (ts, -delta));

        let mut out = Vec::with_capacity(rows as usize);
        let mut running: u64 = 0;
        let mut overall_peak = 0;
        let mut next = 0;
        for second in 0..rows {
            let end = (second + 1) * NS_PER_SEC;
            let mut peak = running;
            while let Some(&(ts, delta)) = events.get(next) {
                if ts >= end {
                    break;
                }
                running = step(running, delta);
                peak = peak.max(running);
                next += 1;
            }
            overall_peak = overall_peak.max(peak);
            let bucket = self
                .buckets
                .get(second as usize)
                .copied()
                .unwrap_or_default();
            out.push(SecondStats {
                second,
                bytes_c2s: bucket.bytes[0],
                bytes_s2c: bucket.bytes[1],
                chunks_c2s: bucket.chunks[0],
                chunks_s2c: bucket.chunks[1],
                online: running,
                online_peak: peak,
            });
        }
        // Events past the last row (clipped timeline) still count in the peak.
        for &(_, delta) in &events[next..] {
            running = step(running, delta);
            overall_peak = overall_peak.max(running);
        }
        (out, overall_peak)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = NS_PER_SEC;

    #[test]
    fn buckets_and_online_counts() {
        let mut t = Timeline::default();
        t.data(100, Direction::C2s, 5);
        t.data(S - 1, Direction::C2s, 1);
        t.data(2 * S, Direction::S2c, 7);
        let intervals = [
            // open 0.5 s, closed 2.5 s
            Interval {
                open_ns: S / 2,
                close_ns: Some(2 * S + S / 2),
            },
            // open and closed inside second 1
            Interval {
                open_ns: S + 1,
                close_ns: Some(S + 2),
            },
            // open at 1.5 s, never closed
            Interval {
                open_ns: S + S / 2,
                close_ns: None,
            },
        ];
        let (rows, peak) = t.finish(true, 3 * S, &intervals);
        let got: Vec<_> = rows
            .iter()
            .map(|r| {
                (
                    r.second,
                    r.bytes_c2s,
                    r.bytes_s2c,
                    r.chunks_c2s,
                    r.chunks_s2c,
                    r.online,
                    r.online_peak,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (0, 6, 0, 2, 0, 1, 1),
                (1, 0, 0, 0, 0, 2, 2),
                (2, 0, 7, 0, 1, 1, 2),
                (3, 0, 0, 0, 0, 1, 1),
            ]
        );
        assert_eq!(peak, 2);
    }

    #[test]
    fn zero_length_connection_counts_in_the_peak() {
        let t = Timeline::default();
        let intervals = [Interval {
            open_ns: 5,
            close_ns: Some(5),
        }];
        let (rows, peak) = t.finish(true, 5, &intervals);
        assert_eq!((rows[0].online, rows[0].online_peak, peak), (0, 1, 1));
    }

    #[test]
    fn frames_past_the_cap_are_clipped() {
        let mut t = Timeline::default();
        t.data(MAX_TIMELINE_SECONDS * S, Direction::C2s, 1);
        assert_eq!(t.clipped(), 1);
        let (rows, _) = t.finish(true, MAX_TIMELINE_SECONDS * S, &[]);
        assert_eq!(rows.len() as u64, MAX_TIMELINE_SECONDS);
        assert!(Timeline::default().finish(false, 0, &[]).0.is_empty());
    }
}
