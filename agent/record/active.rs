//! A recording in progress, as the catalog holds it: identity, live
//! counters fed by its recorder thread, the queue to that thread and the
//! outcome it leaves.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use tokio::sync::oneshot;

use super::info::{AgentIdentity, RecordingInfo, RecordingStatus, time_to_unix_ns};
use super::recorder::{LiveFigures, StopReply};
use crate::format::{Header, ProxyMeta};
use crate::tap::Tap;

/// A recording being written.
pub(crate) struct Active {
    pub(crate) id: String,
    pub(crate) label: String,
    pub(crate) proxies: Vec<String>,
    pub(crate) started_at: SystemTime,
    pub(crate) started: Instant,
    pub(crate) agent_name: String,
    pub(crate) live: Arc<LiveFigures>,
    /// The recorder's queue, for the stop request.
    pub(crate) tap: Tap,
    /// The recorder's outcome; taken by the one stop that waits for it.
    pub(crate) outcome: Mutex<Option<oneshot::Receiver<StopReply>>>,
}

impl Active {
    pub(crate) fn info(&self) -> RecordingInfo {
        let l = &self.live;
        let failed = l.failed.load(Ordering::Relaxed);
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
            size_bytes: l.size_bytes.load(Ordering::Relaxed),
            connections: l.connections.load(Ordering::Relaxed),
            bytes_c2s: l.bytes_c2s.load(Ordering::Relaxed),
            bytes_s2c: l.bytes_s2c.load(Ordering::Relaxed),
            frames: l.frames.load(Ordering::Relaxed),
            proxies: self.proxies.clone(),
            lost_bytes: l.lost_bytes.load(Ordering::Relaxed),
            truncated_bytes: 0,
            error: l.error(),
            agent_name: self.agent_name.clone(),
        }
    }
}

pub(crate) fn header_of(active: &Active, agent: &AgentIdentity) -> Header {
    Header {
        id: active.id.clone(),
        label: active.label.clone(),
        agent_name: agent.name.clone(),
        agent_id: agent.id.clone(),
        started_at_unix_ns: time_to_unix_ns(active.started_at),
        proxies: active
            .proxies
            .iter()
            .map(|p| ProxyMeta {
                id: p.clone(),
                ..ProxyMeta::default()
            })
            .collect(),
    }
}
