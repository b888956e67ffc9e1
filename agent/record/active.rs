//! A recording in progress, as the catalog holds it: identity, live
//! counters fed by its recorder thread, the queue to that thread and the
//! outcome it leaves.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use tokio::sync::oneshot;

use super::info::{RecordingInfo, RecordingStatus};
use super::recorder::{LiveFigures, StopReply};
use super::ring::Ring;
use crate::tap::Tap;

/// A recording being written.
pub(crate) struct Active {
    pub(crate) id: String,
    pub(crate) label: String,
    pub(crate) proxies: Vec<String>,
    pub(crate) started_at: SystemTime,
    pub(crate) started: Instant,
    pub(crate) agent_name: String,
    /// Each writer lane's figures.
    pub(crate) live: Vec<Arc<LiveFigures>>,
    /// The recorders' queues, for the stop request.
    pub(crate) tap: Tap,
    /// Each lane's outcome; taken by the one stop that waits for them.
    pub(crate) outcomes: Mutex<Option<Vec<oneshot::Receiver<StopReply>>>>,
    /// Set for a flight recorder: the segments it keeps.
    pub(crate) ring: Option<Arc<Ring>>,
}

impl Active {
    pub(crate) fn info(&self) -> RecordingInfo {
        let sum = |f: fn(&LiveFigures) -> &std::sync::atomic::AtomicU64| -> u64 {
            self.live.iter().map(|l| f(l).load(Ordering::Relaxed)).sum()
        };
        let failed = self.live.iter().any(|l| l.failed.load(Ordering::Relaxed));
        RecordingInfo {
            id: self.id.clone(),
            label: self.label.clone(),
            status: if failed {
                RecordingStatus::Failed
            } else {
                RecordingStatus::Recording
            },
            started_at: self.started_at,
            duration: self.started.elapsed(),
            // A flight recorder's size is what it holds, not all it wrote.
            size_bytes: match &self.ring {
                Some(ring) => ring.kept_bytes() + sum(|l| &l.open_bytes),
                None => sum(|l| &l.size_bytes),
            },
            connections: sum(|l| &l.connections),
            bytes_c2s: sum(|l| &l.bytes_c2s),
            bytes_s2c: sum(|l| &l.bytes_s2c),
            frames: sum(|l| &l.frames),
            proxies: self.proxies.clone(),
            lost_bytes: sum(|l| &l.lost_bytes),
            truncated_bytes: 0,
            error: self.live.iter().find_map(|l| l.error()),
            agent_name: self.agent_name.clone(),
            ring: self.ring.as_ref().map(|r| r.window),
        }
    }
}
