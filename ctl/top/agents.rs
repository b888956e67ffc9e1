//! What `top` knows of one agent, fed only by its Watch stream (and the
//! recordings list when the stream opens): its link, its proxies with their
//! last minute of traffic, its recordings in progress and its replays.
//! Plain data, no I/O: the instant comes in with each call.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use reel::domain::ReplayState;
use reel::proto::{
    ProxyStats, RecordingEvent, RecordingInfo, RecordingStatus, ReplayProgress, proxy_event,
};

use crate::commands::watch::WatchItem;
use crate::event::{EventBody, WatchEvent};

/// Seconds of traffic a sparkline covers.
pub(crate) const HISTORY_SECONDS: usize = 60;

/// How long an ended replay stays on screen, so its last figures can be read.
const ENDED_REPLAY_KEPT_MS: i64 = 60_000;

/// The state of an agent's Watch stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Link {
    /// Not reached yet.
    Connecting,
    /// The stream is open.
    Up,
    /// The stream failed or ended; the next try is `retry_in` later.
    Down { error: String, retry_in: Duration },
}

/// One proxy's latest per-second figures and the last minute of traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProxyView {
    pub(crate) id: String,
    /// The proxy's name when reelctl could look it up.
    pub(crate) name: Option<String>,
    /// The last stats event (all zero before the first).
    pub(crate) stats: ProxyStats,
    /// Bytes per second both ways, oldest first, at most `HISTORY_SECONDS`:
    /// one entry per stats event (the agent sends one a second).
    pub(crate) history: VecDeque<u64>,
}

impl ProxyView {
    fn new(id: &str) -> ProxyView {
        ProxyView {
            id: id.to_owned(),
            name: None,
            stats: ProxyStats::default(),
            history: VecDeque::with_capacity(HISTORY_SECONDS),
        }
    }

    /// The name shown: the proxy's name, else its id.
    pub(crate) fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }
}

/// A replay as its progress events tell it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ReplayView {
    /// The last progress event.
    pub(crate) progress: ReplayProgress,
    /// The p99 of how late sends were, from the replay's report (the
    /// progress event does not carry it); `None` until fetched.
    pub(crate) late_p99_us: Option<u64>,
    /// Our clock (Unix ms) when it was seen ended; `None` while it runs.
    pub(crate) ended_ms: Option<i64>,
}

impl ReplayView {
    /// Whether the replay still runs (or waits for its start).
    pub(crate) fn running(&self) -> bool {
        self.ended_ms.is_none()
    }

    /// The state's word (`running`, `finished`...).
    pub(crate) fn state(&self) -> &'static str {
        reel::wire::json::replay_state_word(self.progress.state)
    }

    /// Client bytes sent out of those planned, in percent.
    pub(crate) fn percent(&self) -> u64 {
        (self.progress.bytes_sent.saturating_mul(100))
            .checked_div(self.progress.expected_sent)
            .unwrap_or(0)
            .min(100)
    }
}

/// Everything shown about one agent.
#[derive(Debug, Clone)]
pub(crate) struct AgentView {
    /// `name (address)` or the address.
    pub(crate) label: String,
    pub(crate) link: Link,
    /// By proxy id.
    pub(crate) proxies: BTreeMap<String, ProxyView>,
    /// Recordings in progress, by id.
    pub(crate) recordings: BTreeMap<String, RecordingInfo>,
    /// By replay id.
    pub(crate) replays: BTreeMap<String, ReplayView>,
    /// Events this agent dropped for us because we read too slowly.
    pub(crate) lagged: u64,
}

impl AgentView {
    pub(crate) fn new(label: String) -> AgentView {
        AgentView {
            label,
            link: Link::Connecting,
            proxies: BTreeMap::new(),
            recordings: BTreeMap::new(),
            replays: BTreeMap::new(),
            lagged: 0,
        }
    }

    /// Applies one item of the agent's stream; `now_ms` is our clock.
    pub(crate) fn apply(&mut self, item: WatchItem, now_ms: i64) {
        match item {
            WatchItem::Connected => {
                // A new stream restates everything: proxies come back with
                // their next stats, recordings with the list fetched now.
                self.link = Link::Up;
                self.proxies.clear();
                self.recordings.clear();
                self.replays.clear();
            }
            WatchItem::Disconnected {
                error, retry_in, ..
            } => self.link = Link::Down { error, retry_in },
            WatchItem::Event(event) => self.event(event, now_ms),
        }
    }

    fn event(&mut self, event: WatchEvent, now_ms: i64) {
        let WatchEvent {
            proxy,
            proxy_name,
            body,
            ..
        } = event;
        match body {
            EventBody::Stats(stats) => {
                let view = self.proxy(&proxy, proxy_name);
                if view.history.len() == HISTORY_SECONDS {
                    view.history.pop_front();
                }
                view.history.push_back(
                    stats
                        .bytes_c2s_per_sec
                        .saturating_add(stats.bytes_s2c_per_sec),
                );
                view.stats = stats;
            }
            EventBody::Proxy(event) => {
                if event.phase == proxy_event::Phase::Stopped as i32 {
                    self.proxies.remove(&proxy);
                } else {
                    self.proxy(&proxy, proxy_name);
                }
            }
            EventBody::Recording(RecordingEvent {
                recording: Some(recording),
                ..
            }) => self.recording(recording),
            EventBody::Replay(progress) => {
                let ended = !matches!(
                    reel::wire::replay::state(progress.state),
                    Some(ReplayState::Scheduled | ReplayState::Running)
                );
                let view = self
                    .replays
                    .entry(progress.id.clone())
                    .or_insert_with(|| ReplayView {
                        progress: progress.clone(),
                        late_p99_us: None,
                        ended_ms: None,
                    });
                view.progress = progress;
                if ended && view.ended_ms.is_none() {
                    view.ended_ms = Some(now_ms);
                }
            }
            EventBody::Lagged(lagged) => self.lagged = self.lagged.saturating_add(lagged.missed),
            EventBody::Recording(RecordingEvent {
                recording: None, ..
            })
            | EventBody::ConnectionOpened(_)
            | EventBody::ConnectionClosed(_)
            | EventBody::Transfer(_) => {}
        }
    }

    /// The proxy `id`, added when new; its name kept up to date.
    fn proxy(&mut self, id: &str, name: Option<String>) -> &mut ProxyView {
        let view = self
            .proxies
            .entry(id.to_owned())
            .or_insert_with(|| ProxyView::new(id));
        if name.is_some() {
            view.name = name;
        }
        view
    }

    /// A recording's news: kept while it records, dropped when it ends.
    pub(crate) fn recording(&mut self, recording: RecordingInfo) {
        if recording.status == RecordingStatus::Recording as i32 {
            self.recordings.insert(recording.id.clone(), recording);
        } else {
            self.recordings.remove(&recording.id);
        }
    }

    /// The agent's list of recordings (at connect, and while some record):
    /// the ones in progress replace what we had.
    pub(crate) fn recordings_listed(&mut self, list: Vec<RecordingInfo>) {
        self.recordings = list
            .into_iter()
            .filter(|r| r.status == RecordingStatus::Recording as i32)
            .map(|r| (r.id.clone(), r))
            .collect();
    }

    /// Forgets replays that ended more than a minute ago.
    pub(crate) fn expire(&mut self, now_ms: i64) {
        self.replays.retain(|_, replay| {
            replay
                .ended_ms
                .is_none_or(|ended| now_ms.saturating_sub(ended) < ENDED_REPLAY_KEPT_MS)
        });
    }

    /// The recording in progress on proxy `id`, if any.
    pub(crate) fn recording_of(&self, proxy: &str) -> Option<&RecordingInfo> {
        self.recordings
            .values()
            .find(|r| r.proxies.iter().any(|p| p == proxy))
    }

    /// Open connections over every proxy.
    pub(crate) fn active(&self) -> u64 {
        self.proxies
            .values()
            .map(|p| p.stats.active_connections)
            .sum()
    }

    /// Bytes per second client to server, over every proxy.
    pub(crate) fn c2s_per_sec(&self) -> u64 {
        self.proxies
            .values()
            .map(|p| p.stats.bytes_c2s_per_sec)
            .sum()
    }

    /// Bytes per second server to client, over every proxy.
    pub(crate) fn s2c_per_sec(&self) -> u64 {
        self.proxies
            .values()
            .map(|p| p.stats.bytes_s2c_per_sec)
            .sum()
    }
}
