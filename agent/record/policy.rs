//! When the recorder writes, flushes, syncs and checks free space: a plain
//! function of the clock and what is pending, with no I/O, so every rule is
//! a unit test instead of a timing experiment. The recorder thread
//! (`recorder.rs`) only carries out what it returns.

use std::time::{Duration, Instant};

/// Longest time a frame may sit in the recorder's buffer before it is handed
/// to the OS (`kill -9` of the agent then loses nothing older).
pub const RECORDER_FLUSH_INTERVAL: Duration = Duration::from_millis(100);
/// Longest time between fsyncs while a recording has unsynced data: what a
/// power loss can take.
pub const RECORDER_SYNC_INTERVAL: Duration = Duration::from_secs(1);
/// Staged bytes the recorder writes at once, even mid-batch, so the byte
/// budget flows back to the proxies in steps of this size rather than one
/// whole queue at a time.
pub const RECORDER_WRITE_BYTES: usize = 1024 * 1024;

/// What the recorder has in hand after staging a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    /// Messages of the current batch not yet staged.
    pub batch_left: bool,
    /// Messages waiting in the queue behind the batch.
    pub queued: bool,
    /// Bytes staged and not yet written.
    pub staged_bytes: usize,
}

/// What to do with staged frames now. Each step includes the ones before
/// it: a sync flushes, a flush writes what is staged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteStep {
    /// Keep staging: the batch goes on and little is staged.
    Stage,
    /// Write what is staged (one vectored write), keep the file's buffer.
    Write,
    /// Hand everything to the OS.
    Flush,
    /// Hand everything to the OS and make it durable.
    Sync,
}

/// The recorder's clock-driven state.
#[derive(Debug, Clone)]
pub struct Policy {
    last_flush: Instant,
    last_sync: Instant,
    last_space_check: Instant,
    /// Frames staged or written since the last sync.
    dirty: bool,
    /// Shortest time between two flushes made because the recorder is
    /// about to wait.
    idle_gap: Duration,
}

impl Policy {
    pub fn new(now: Instant) -> Self {
        Self {
            last_flush: now,
            last_sync: now,
            last_space_check: now,
            dirty: false,
            idle_gap: Duration::ZERO,
        }
    }

    /// Flushes made because the recorder is about to wait come at most
    /// every `gap` (the interval's flush still comes every
    /// `RECORDER_FLUSH_INTERVAL`, and the tick wakes an idle recorder for
    /// it). For sinks whose flush costs a device write (`O_DIRECT`
    /// segments), which a recorder keeping up with a bulk flow would
    /// otherwise make after every message.
    pub fn with_idle_gap(mut self, gap: Duration) -> Self {
        self.idle_gap = gap;
        self
    }

    /// Whether to read the filesystem's free space now: at most once per
    /// sync interval, since statvfs on every message would cost more than
    /// the write.
    pub fn space_check_due(&mut self, now: Instant) -> bool {
        if now.duration_since(self.last_space_check) >= RECORDER_SYNC_INTERVAL {
            self.last_space_check = now;
            return true;
        }
        false
    }

    /// Frames were staged.
    pub fn staged(&mut self) {
        self.dirty = true;
    }

    /// What to do after a message, given what is pending. Nothing when no
    /// frame was staged since the last sync. A sync comes at most every
    /// `RECORDER_SYNC_INTERVAL`; a flush when the recorder is about to wait
    /// (nothing left in the batch or the queue) or the last one is
    /// `RECORDER_FLUSH_INTERVAL` old; a write at the end of a batch or once
    /// `RECORDER_WRITE_BYTES` are staged.
    pub fn step(&mut self, now: Instant, p: Pending) -> Option<WriteStep> {
        if !self.dirty {
            return None;
        }
        if now.duration_since(self.last_sync) >= RECORDER_SYNC_INTERVAL {
            self.last_sync = now;
            self.last_flush = now;
            self.dirty = false;
            return Some(WriteStep::Sync);
        }
        let since = now.duration_since(self.last_flush);
        if (!p.batch_left && !p.queued && since >= self.idle_gap)
            || since >= RECORDER_FLUSH_INTERVAL
        {
            self.last_flush = now;
            return Some(WriteStep::Flush);
        }
        if !p.batch_left || p.staged_bytes >= RECORDER_WRITE_BYTES {
            return Some(WriteStep::Write);
        }
        Some(WriteStep::Stage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUSY: Pending = Pending {
        batch_left: true,
        queued: true,
        staged_bytes: 10,
    };

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn nothing_staged_nothing_to_do() {
        let t0 = Instant::now();
        let mut p = Policy::new(t0);
        assert_eq!(p.step(t0 + ms(5_000), BUSY), None);
    }

    #[test]
    fn mid_batch_it_stages_until_a_megabyte_or_the_batch_end() {
        let t0 = Instant::now();
        let mut p = Policy::new(t0);
        p.staged();
        assert_eq!(p.step(t0 + ms(1), BUSY), Some(WriteStep::Stage));
        let big = Pending {
            staged_bytes: RECORDER_WRITE_BYTES,
            ..BUSY
        };
        assert_eq!(p.step(t0 + ms(2), big), Some(WriteStep::Write));
        let batch_end = Pending {
            batch_left: false,
            ..BUSY
        };
        assert_eq!(p.step(t0 + ms(3), batch_end), Some(WriteStep::Write));
    }

    #[test]
    fn about_to_wait_it_flushes_so_kill_9_loses_nothing() {
        let t0 = Instant::now();
        let mut p = Policy::new(t0);
        p.staged();
        let idle = Pending {
            batch_left: false,
            queued: false,
            staged_bytes: 1,
        };
        assert_eq!(p.step(t0 + ms(1), idle), Some(WriteStep::Flush));
    }

    #[test]
    fn with_an_idle_gap_it_flushes_an_idle_lane_at_most_every_gap() {
        let t0 = Instant::now();
        let mut p = Policy::new(t0).with_idle_gap(ms(20));
        let idle = Pending {
            batch_left: false,
            queued: false,
            staged_bytes: 1,
        };
        p.staged();
        assert_eq!(p.step(t0 + ms(20), idle), Some(WriteStep::Flush));
        // Idle again 5 ms later: written into the sink, not flushed.
        p.staged();
        assert_eq!(p.step(t0 + ms(25), idle), Some(WriteStep::Write));
        // The tick that wakes the idle recorder finds the gap passed.
        assert_eq!(p.step(t0 + ms(40), idle), Some(WriteStep::Flush));
    }

    #[test]
    fn under_constant_load_it_flushes_every_interval_and_syncs_every_second() {
        let t0 = Instant::now();
        let mut p = Policy::new(t0);
        let mut flushes = 0;
        let mut syncs = Vec::new();
        // A message every millisecond for 2.5 s, never idle.
        for i in 1..=2_500u64 {
            p.staged();
            match p.step(t0 + ms(i), BUSY) {
                Some(WriteStep::Flush) => flushes += 1,
                Some(WriteStep::Sync) => syncs.push(i),
                _ => {}
            }
        }
        assert_eq!(syncs, vec![1_000, 2_000]);
        // 100 ms apart, restarted by each sync: 9 between syncs, 5 after.
        assert_eq!(flushes, 9 + 9 + 5);
    }

    #[test]
    fn a_sync_clears_dirt_until_more_is_staged() {
        let t0 = Instant::now();
        let mut p = Policy::new(t0);
        p.staged();
        assert_eq!(
            p.step(t0 + RECORDER_SYNC_INTERVAL, BUSY),
            Some(WriteStep::Sync)
        );
        assert_eq!(p.step(t0 + RECORDER_SYNC_INTERVAL * 3, BUSY), None);
    }

    #[test]
    fn free_space_is_read_once_per_sync_interval() {
        let t0 = Instant::now();
        let mut p = Policy::new(t0);
        assert!(!p.space_check_due(t0 + ms(999)));
        assert!(p.space_check_due(t0 + ms(1_000)));
        assert!(!p.space_check_due(t0 + ms(1_500)));
        assert!(p.space_check_due(t0 + ms(2_000)));
    }
}
