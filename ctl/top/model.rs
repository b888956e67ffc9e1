//! The dashboard's whole state, fed by watch items, fetched lists, ticks and
//! key presses; no I/O. A key press may ask the runtime for an action
//! (quit, start or stop a recording, fetch a proxy's connections).

use std::cmp::Reverse;

use crate::commands::watch::WatchItem;
use reel::proto::RecordingInfo;

use super::agents::{AgentView, ProxyView};
use super::keys::Key;

/// What the proxies are ordered by within each agent (`s` cycles).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SortBy {
    /// Name, A to Z.
    Name,
    /// Online connections, most first.
    Connections,
    /// Client-to-server bytes per second, most first.
    C2s,
    /// Server-to-client bytes per second, most first.
    S2c,
}

impl SortBy {
    fn next(self) -> SortBy {
        match self {
            SortBy::Name => SortBy::Connections,
            SortBy::Connections => SortBy::C2s,
            SortBy::C2s => SortBy::S2c,
            SortBy::S2c => SortBy::Name,
        }
    }

    /// The column's heading word.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SortBy::Name => "name",
            SortBy::Connections => "conns",
            SortBy::C2s => "c2s/s",
            SortBy::S2c => "s2c/s",
        }
    }
}

/// One line of the main table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Row {
    /// An agent (index in the selection).
    Agent(usize),
    /// A proxy of an agent, by id.
    Proxy(usize, String),
}

/// A proxy, by its agent's index and its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProxyKey {
    pub(crate) agent: usize,
    pub(crate) proxy: String,
}

/// A question waiting for y or n.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Confirm {
    StartRecording(ProxyKey),
    StopRecording { key: ProxyKey, recording: String },
}

/// One open connection in a proxy's details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConnectionRow {
    pub(crate) id: u64,
    pub(crate) client: String,
    pub(crate) opened_at_ms: i64,
    pub(crate) bytes_c2s: u64,
    pub(crate) bytes_s2c: u64,
}

/// The details pane of one proxy: its busiest connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Details {
    pub(crate) key: ProxyKey,
    /// Busiest first; `None` until the first list arrives.
    pub(crate) connections: Option<Vec<ConnectionRow>>,
    /// Why the last list failed.
    pub(crate) error: Option<String>,
}

/// What the keyboard is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Moving over the table.
    Browse,
    /// Typing the filter.
    Filter,
    /// Waiting for y/n.
    Confirm(Confirm),
    /// Showing a proxy's details.
    Details(Details),
}

/// What the runtime should do after a key press.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    Quit,
    StartRecording(ProxyKey),
    StopRecording {
        agent: usize,
        recording: String,
    },
    /// Fetch the connections of the proxy whose details just opened.
    ListConnections(ProxyKey),
}

/// The dashboard.
#[derive(Debug, Clone)]
pub(crate) struct Model {
    /// In the order the agents were selected.
    pub(crate) agents: Vec<AgentView>,
    /// Index into `rows()`.
    pub(crate) selected: usize,
    pub(crate) sort: SortBy,
    /// Case-insensitive text a proxy's or agent's name must contain.
    pub(crate) filter: String,
    pub(crate) mode: Mode,
    /// The last thing worth telling (an action's result).
    pub(crate) notice: Option<String>,
    /// Our clock (Unix ms), from the last tick.
    pub(crate) now_ms: i64,
}

impl Model {
    pub(crate) fn new(labels: Vec<String>, now_ms: i64) -> Model {
        Model {
            agents: labels.into_iter().map(AgentView::new).collect(),
            selected: 0,
            sort: SortBy::Name,
            filter: String::new(),
            mode: Mode::Browse,
            notice: None,
            now_ms,
        }
    }

    /// An item of agent `agent`'s stream.
    pub(crate) fn update(&mut self, agent: usize, item: WatchItem) {
        let now = self.now_ms;
        if let Some(view) = self.agents.get_mut(agent) {
            view.apply(item, now);
        }
        self.clamp();
    }

    /// Agent `agent`'s recordings, listed.
    pub(crate) fn recordings_listed(&mut self, agent: usize, list: Vec<RecordingInfo>) {
        if let Some(view) = self.agents.get_mut(agent) {
            view.recordings_listed(list);
        }
    }

    /// A recording started or stopped from the keyboard, or why not.
    pub(crate) fn recorded(
        &mut self,
        agent: usize,
        verb: &str,
        result: Result<RecordingInfo, String>,
    ) {
        match result {
            Ok(recording) => {
                let done = if verb == "start" {
                    "started"
                } else {
                    "stopped"
                };
                self.notify(format!("recording {} {done}", recording.id));
                if let Some(view) = self.agents.get_mut(agent) {
                    view.recording(recording);
                }
            }
            Err(error) => self.notify(format!("cannot {verb} the recording: {error}")),
        }
    }

    /// Replay `id`'s p99 lateness, from its report.
    pub(crate) fn replay_lateness(&mut self, agent: usize, id: &str, p99_us: u64) {
        if let Some(replay) = self
            .agents
            .get_mut(agent)
            .and_then(|a| a.replays.get_mut(id))
        {
            replay.late_p99_us = Some(p99_us);
        }
    }

    /// A proxy's open connections (or why they could not be listed), for
    /// its details if they are still open.
    pub(crate) fn connections_listed(
        &mut self,
        key: &ProxyKey,
        listed: Result<Vec<ConnectionRow>, String>,
    ) {
        let Mode::Details(details) = &mut self.mode else {
            return;
        };
        if details.key != *key {
            return;
        }
        match listed {
            Ok(mut connections) => {
                connections.sort_by_key(|c| Reverse(c.bytes_c2s.saturating_add(c.bytes_s2c)));
                details.connections = Some(connections);
                details.error = None;
            }
            Err(error) => details.error = Some(error),
        }
    }

    /// A second passed: the clock moves, ended replays age out.
    pub(crate) fn tick(&mut self, now_ms: i64) {
        self.now_ms = now_ms;
        for agent in &mut self.agents {
            agent.expire(now_ms);
        }
        self.clamp();
    }

    /// Something to tell the user (an action's result).
    pub(crate) fn notify(&mut self, notice: String) {
        self.notice = Some(notice);
    }

    /// Whether keys are text (the filter is being typed).
    pub(crate) fn typing(&self) -> bool {
        self.mode == Mode::Filter
    }

    /// The lines of the main table, in order: each agent whose label or
    /// one of whose proxies matches the filter, then its matching proxies
    /// (all of them when the agent's label matches) in the sort order.
    pub(crate) fn rows(&self) -> Vec<Row> {
        let needle = self.filter.to_lowercase();
        let matches = |text: &str| needle.is_empty() || text.to_lowercase().contains(&needle);
        let mut rows = Vec::new();
        for (index, agent) in self.agents.iter().enumerate() {
            let agent_matches = matches(&agent.label);
            let mut proxies: Vec<&ProxyView> = agent
                .proxies
                .values()
                .filter(|p| agent_matches || matches(p.label()) || matches(&p.id))
                .collect();
            if !agent_matches && proxies.is_empty() {
                continue;
            }
            match self.sort {
                SortBy::Name => proxies.sort_by(|a, b| a.label().cmp(b.label())),
                SortBy::Connections => proxies.sort_by_key(|p| Reverse(p.stats.active_connections)),
                SortBy::C2s => proxies.sort_by_key(|p| Reverse(p.stats.bytes_c2s_per_sec)),
                SortBy::S2c => proxies.sort_by_key(|p| Reverse(p.stats.bytes_s2c_per_sec)),
            }
            rows.push(Row::Agent(index));
            rows.extend(proxies.into_iter().map(|p| Row::Proxy(index, p.id.clone())));
        }
        rows
    }

    /// The proxy under the cursor, if the cursor is on a proxy.
    pub(crate) fn selected_proxy(&self) -> Option<ProxyKey> {
        match self.rows().into_iter().nth(self.selected)? {
            Row::Proxy(agent, proxy) => Some(ProxyKey { agent, proxy }),
            Row::Agent(_) => None,
        }
    }

    /// A key press; the action the runtime should take, if any.
    pub(crate) fn press(&mut self, key: Key) -> Option<Action> {
        if key == Key::Interrupt {
            return Some(Action::Quit);
        }
        // A notice is read by the next key press.
        self.notice = None;
        match std::mem::replace(&mut self.mode, Mode::Browse) {
            Mode::Browse => self.browse(key),
            Mode::Filter => {
                self.mode = Mode::Filter;
                match key {
                    Key::Enter => self.mode = Mode::Browse,
                    Key::Esc => {
                        self.filter.clear();
                        self.mode = Mode::Browse;
                    }
                    Key::Backspace => {
                        self.filter.pop();
                    }
                    Key::Char(c) => self.filter.push(c),
                    _ => {}
                }
                self.clamp();
                None
            }
            Mode::Confirm(confirm) => match key {
                Key::Char('y' | 'Y') => Some(match confirm {
                    Confirm::StartRecording(key) => Action::StartRecording(key),
                    Confirm::StopRecording { key, recording } => Action::StopRecording {
                        agent: key.agent,
                        recording,
                    },
                }),
                Key::Char('n' | 'N') | Key::Esc | Key::Quit => {
                    self.notify("nothing changed".to_owned());
                    None
                }
                _ => {
                    self.mode = Mode::Confirm(confirm);
                    None
                }
            },
            Mode::Details(details) => match key {
                Key::Esc | Key::Enter | Key::Quit => None,
                _ => {
                    self.mode = Mode::Details(details);
                    None
                }
            },
        }
    }

    /// A key while moving over the table.
    fn browse(&mut self, key: Key) -> Option<Action> {
        match key {
            Key::Quit => return Some(Action::Quit),
            Key::Up => self.selected = self.selected.saturating_sub(1),
            Key::Down => self.selected = self.selected.saturating_add(1),
            Key::Sort => self.sort = self.sort.next(),
            Key::Filter => self.mode = Mode::Filter,
            Key::Esc => self.filter.clear(),
            Key::Enter => match self.selected_proxy() {
                Some(key) => {
                    self.mode = Mode::Details(Details {
                        key: key.clone(),
                        connections: None,
                        error: None,
                    });
                    return Some(Action::ListConnections(key));
                }
                None => self.notify("select a proxy to see its connections".to_owned()),
            },
            Key::Record => match self.selected_proxy() {
                Some(key) => {
                    let recording = self
                        .agents
                        .get(key.agent)
                        .and_then(|a| a.recording_of(&key.proxy))
                        .map(|r| r.id.clone());
                    self.mode = Mode::Confirm(match recording {
                        Some(recording) => Confirm::StopRecording { key, recording },
                        None => Confirm::StartRecording(key),
                    });
                }
                None => self.notify("select a proxy to record".to_owned()),
            },
            Key::Interrupt | Key::Backspace | Key::Char(_) => {}
        }
        self.clamp();
        None
    }

    /// Keeps the cursor on a row after rows came or went.
    fn clamp(&mut self) {
        let rows = self.rows().len();
        self.selected = self.selected.min(rows.saturating_sub(1));
    }
}
