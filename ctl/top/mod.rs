//! `reelctl top`: a full-screen live dashboard of the selected agents. The
//! loop owns the model and the terminal and waits on four things at once:
//! the agents' Watch streams (`commands::watch::follow`, which reconnects
//! with backoff), the results of short unary calls (`fetch`), key presses
//! (crossterm's event stream) and a one-second tick (the clock of the
//! sparklines and durations, and the moment to poll what Watch does not
//! carry). The terminal is restored on every way out: a normal quit, an
//! error (the guard's drop), a panic (ratatui's hook) and SIGTERM/SIGHUP.

mod agents;
mod fetch;
mod keys;
mod model;
mod panels;
mod render;
#[cfg(test)]
mod tests;

use std::io::{self, IsTerminal};
use std::time::Duration;

use crossterm::event::{Event, EventStream};
use ratatui::DefaultTerminal;
use reel::proto::{EventKind, WatchRequest};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_stream::StreamExt;

use crate::commands::watch::{self, Update, WatchItem};
use crate::exit::Exit;
use crate::fleet::AgentClient;
use crate::output;
use crate::settings::Settings;

use fetch::Fetched;
use model::{Action, Mode, Model};

/// Watch updates buffered between the agents' streams and the loop.
const UPDATES_BOUND: usize = 1024;
/// Fetch results buffered for the loop.
const FETCHED_BOUND: usize = 64;
/// Updates applied before the screen is drawn again (a burst after a
/// reconnect is drawn once, not once per event).
const UPDATES_PER_DRAW: usize = 256;
/// The tick: sparklines and durations move once a second.
const SECOND: Duration = Duration::from_secs(1);
/// Ticks between two lists of recordings in progress (their size).
const RECORDINGS_EVERY: u64 = 2;

/// What `top` says when stdout is not a terminal.
const NOT_A_TERMINAL: &str = "reelctl top needs a terminal on stdout; \
     use `reelctl watch` (or `reelctl watch --json`) for a stream of lines";

/// Runs the dashboard until q, Ctrl-C or a signal.
///
/// # Errors
/// The terminal could not be set up, read or drawn.
pub(crate) async fn run(settings: &Settings) -> io::Result<Exit> {
    if !io::stdout().is_terminal() {
        output::print_error(&NOT_A_TERMINAL);
        return Ok(Exit::Usage);
    }
    let mut screen = Screen::open()?;
    show(settings, &mut screen.terminal).await
}

/// The terminal in raw mode on the alternate screen; restored on drop.
struct Screen {
    terminal: DefaultTerminal,
}

impl Screen {
    /// Enters raw mode and the alternate screen; ratatui's panic hook
    /// restores the terminal before a panic message is printed.
    fn open() -> io::Result<Screen> {
        match ratatui::try_init() {
            Ok(terminal) => Ok(Screen { terminal }),
            Err(error) => {
                ratatui::restore();
                Err(error)
            }
        }
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

/// The kinds `top` shows: no per-chunk transfers, no connection events
/// (the per-second stats count connections).
fn request() -> WatchRequest {
    WatchRequest {
        kinds: [
            EventKind::Stats,
            EventKind::Recording,
            EventKind::Proxy,
            EventKind::Replay,
        ]
        .map(|k| k as i32)
        .to_vec(),
        proxies: Vec::new(),
    }
}

/// Our clock in Unix ms.
fn now_ms() -> i64 {
    crate::clock::now_unix_ns() / 1_000_000
}

/// Unary calls in flight, so a slow agent never piles up polls.
struct InFlight {
    recordings: Vec<bool>,
    lateness: Vec<bool>,
    connections: bool,
}

async fn show(settings: &Settings, terminal: &mut DefaultTerminal) -> io::Result<Exit> {
    let labels = settings.agents.iter().map(|a| a.label()).collect();
    let mut model = Model::new(labels, now_ms());
    let (tx, mut updates) = mpsc::channel(UPDATES_BOUND);
    let mut followers = JoinSet::new();
    for (index, target) in settings.agents.iter().enumerate() {
        followers.spawn(watch::follow(
            index,
            target.address.clone(),
            settings.timeout,
            request(),
            tx.clone(),
        ));
    }
    drop(tx);
    // Settings checked every address: `None` only for one that makes no URI.
    let clients: Vec<Option<AgentClient>> = settings
        .agents
        .iter()
        .map(|t| AgentClient::new(&t.address, settings.timeout).ok())
        .collect();
    let (fetched_tx, mut fetched) = mpsc::channel(FETCHED_BOUND);
    let mut fetches = JoinSet::new();
    let mut in_flight = InFlight {
        recordings: vec![false; clients.len()],
        lateness: vec![false; clients.len()],
        connections: false,
    };
    let spawn = |fetches: &mut JoinSet<()>, agent: usize, call: Call| {
        let Some(Some(client)) = clients.get(agent) else {
            return;
        };
        let (client, tx) = (client.clone(), fetched_tx.clone());
        match call {
            Call::Recordings => fetches.spawn(fetch::recordings(agent, client, tx)),
            Call::Lateness(ids) => fetches.spawn(fetch::lateness(agent, client, ids, tx)),
            Call::Connections(key) => fetches.spawn(fetch::connections(key, client, tx)),
            Call::Start(key) => fetches.spawn(fetch::start_recording(key, client, tx)),
            Call::Stop(id) => fetches.spawn(fetch::stop_recording(agent, id, client, tx)),
        };
    };
    let mut keys = EventStream::new();
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + SECOND, SECOND);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ticks: u64 = 0;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    let result = loop {
        if let Err(error) = terminal.draw(|frame| render::draw(frame, &model)) {
            break Err(error);
        }
        tokio::select! {
            Some(first) = updates.recv() => {
                let mut next = Some(first);
                let mut applied = 0;
                while let Some(Update { agent, item }) = next {
                    if matches!(item, WatchItem::Connected)
                        && !in_flight.recordings.get(agent).copied().unwrap_or(true)
                    {
                        in_flight.recordings[agent] = true;
                        spawn(&mut fetches, agent, Call::Recordings);
                    }
                    model.update(agent, item);
                    applied += 1;
                    next = if applied < UPDATES_PER_DRAW { updates.try_recv().ok() } else { None };
                }
            }
            Some(done) = fetched.recv() => apply(&mut model, &mut in_flight, done),
            _ = tick.tick() => {
                ticks += 1;
                model.tick(now_ms());
                for (agent, view) in model.agents.iter().enumerate() {
                    if ticks.is_multiple_of(RECORDINGS_EVERY)
                        && !view.recordings.is_empty()
                        && !in_flight.recordings[agent]
                    {
                        in_flight.recordings[agent] = true;
                        spawn(&mut fetches, agent, Call::Recordings);
                    }
                    let running: Vec<String> = view
                        .replays
                        .values()
                        .filter(|r| r.running())
                        .map(|r| r.progress.id.clone())
                        .collect();
                    if !running.is_empty() && !in_flight.lateness[agent] {
                        in_flight.lateness[agent] = true;
                        spawn(&mut fetches, agent, Call::Lateness(running));
                    }
                }
                if let Mode::Details(details) = &model.mode
                    && !in_flight.connections
                {
                    in_flight.connections = true;
                    let key = details.key.clone();
                    spawn(&mut fetches, key.agent, Call::Connections(key));
                }
            }
            event = keys.next() => match event {
                Some(Ok(Event::Key(key))) => {
                    let action = keys::map(key, model.typing()).and_then(|k| model.press(k));
                    match action {
                        Some(Action::Quit) => break Ok(Exit::Success),
                        Some(Action::StartRecording(key)) => {
                            spawn(&mut fetches, key.agent, Call::Start(key));
                        }
                        Some(Action::StopRecording { agent, recording }) => {
                            spawn(&mut fetches, agent, Call::Stop(recording));
                        }
                        Some(Action::ListConnections(key)) => {
                            in_flight.connections = true;
                            spawn(&mut fetches, key.agent, Call::Connections(key));
                        }
                        None => {}
                    }
                }
                // A resize or focus change: drawn again at the top.
                Some(Ok(_)) => {}
                Some(Err(error)) => break Err(error),
                None => break Ok(Exit::Success),
            },
            _ = &mut interrupted => break Ok(Exit::Success),
            _ = terminate.recv() => break Ok(Exit::Success),
            _ = hangup.recv() => break Ok(Exit::Success),
        }
    };
    followers.abort_all();
    fetches.abort_all();
    result
}

/// A unary call for `fetch`.
enum Call {
    Recordings,
    Lateness(Vec<String>),
    Connections(model::ProxyKey),
    Start(model::ProxyKey),
    Stop(String),
}

/// A fetch's result into the model; its in-flight mark cleared.
fn apply(model: &mut Model, in_flight: &mut InFlight, done: Fetched) {
    match done {
        Fetched::Recordings { agent, list } => {
            if let Some(mark) = in_flight.recordings.get_mut(agent) {
                *mark = false;
            }
            if let Some(list) = list {
                model.recordings_listed(agent, list);
            }
        }
        Fetched::Lateness { agent, late } => {
            if let Some(mark) = in_flight.lateness.get_mut(agent) {
                *mark = false;
            }
            for (id, p99_us) in late {
                model.replay_lateness(agent, &id, p99_us);
            }
        }
        Fetched::Connections { key, listed } => {
            in_flight.connections = false;
            model.connections_listed(&key, listed);
        }
        Fetched::Recorded {
            agent,
            verb,
            result,
        } => model.recorded(agent, verb, result),
    }
}
