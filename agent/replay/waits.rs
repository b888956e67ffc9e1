//! What the connections of a running replay wait for, so a stuck replay
//! explains itself (`replay status`): one entry per waiting connection,
//! set when a wait starts and cleared when it ends.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use super::plan::Plan;
use super::report::Wait;

/// A connection of a pass: (pass, copy, plan index).
pub type Key = (u32, u32, usize);

/// One wait in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waiting {
    pub step: u64,
    /// The plan index of the connection whose server bytes are awaited (the
    /// waiter itself for its own).
    pub on: usize,
    pub expected: u64,
    pub received: u64,
    pub since: Instant,
}

/// The waits of a replay.
#[derive(Debug, Default)]
pub struct Waits {
    map: Mutex<HashMap<Key, Waiting>>,
}

impl Waits {
    fn map(&self) -> MutexGuard<'_, HashMap<Key, Waiting>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records that `key` waits; an ongoing wait on the same thing keeps its
    /// start.
    pub fn set(&self, key: Key, mut w: Waiting) {
        let mut map = self.map();
        if let Some(old) = map.get(&key)
            && (old.step, old.on) == (w.step, w.on)
        {
            w.since = old.since;
        }
        map.insert(key, w);
    }

    pub fn clear(&self, key: Key) {
        self.map().remove(&key);
    }

    /// The `max` longest waits, longest first.
    pub fn snapshot(&self, plan: &Plan, max: usize, now: Instant) -> Vec<Wait> {
        let mut all: Vec<(Key, Waiting)> = self.map().iter().map(|(k, w)| (*k, *w)).collect();
        all.sort_by_key(|(k, w)| (w.since, *k));
        all.into_iter()
            .take(max)
            .filter_map(|((pass, copy, conn), w)| {
                let c = plan.conns.get(conn)?;
                let on = plan.conns.get(w.on)?;
                Some(Wait {
                    recording: c.recording.to_string(),
                    rec_conn: c.rec_conn,
                    copy,
                    pass,
                    step: w.step,
                    own: w.on == conn,
                    awaited_conn: on.rec_conn,
                    expected: w.expected,
                    received: w.received,
                    waiting: now.saturating_duration_since(w.since),
                })
            })
            .collect()
    }
}
