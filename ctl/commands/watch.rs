//! `reelctl watch`: follows the `Watch` stream of every selected agent at
//! once, turning events into typed updates for `output::watch`, each event
//! carrying its proxy's name (looked up with ListProxies when the stream
//! opens and when an unknown proxy shows up). A stream that ends or fails is
//! reopened with backoff, forever, until Ctrl-C or `--duration`; the printer
//! also hears each second pass (for its total line), and the caller learns
//! which agents were never reached.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use reel::proto::{self, EventKind, ListProxiesRequest, WatchRequest};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::access::Client;
use crate::args::WatchArgs;
use crate::backoff::Backoff;
use crate::error::AgentError;
use crate::event::WatchEvent;
use crate::fleet;
use crate::settings::{AgentTarget, Settings};

/// Updates buffered between the agent streams and the printer. When the
/// printer is slower, the streams stop reading and the agents report `lagged`.
const UPDATES_BOUND: usize = 1024;

/// HTTP/2 ping interval on watch connections: a stopped or vanished agent is
/// noticed within this plus the timeout even when no event flows.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);

/// Something that happened on one agent.
#[derive(Debug)]
pub(crate) struct Update {
    /// Index of the agent in `Settings::agents`.
    pub(crate) agent: usize,
    pub(crate) item: WatchItem,
}

/// An agent's event, or news about the stream itself.
#[derive(Debug)]
// Almost every item is an event: boxing it would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum WatchItem {
    /// Something the agent reported.
    Event(WatchEvent),
    /// The stream is open (again).
    Connected,
    /// The stream could not be opened, or ended; the next try is in `retry_in`.
    Disconnected {
        error: String,
        retry_in: Duration,
        /// Whether a stream was open before this (disconnected) or the
        /// attempt to open one failed (cannot connect).
        was_connected: bool,
    },
}

/// The request every agent gets: `--raw` must list every kind, because an
/// empty list means all but TRANSFER.
pub(crate) fn request(args: &WatchArgs) -> WatchRequest {
    let kinds = if args.raw {
        [
            EventKind::Connection,
            EventKind::Transfer,
            EventKind::Stats,
            EventKind::Recording,
            EventKind::Proxy,
        ]
        .map(|k| k as i32)
        .to_vec()
    } else {
        Vec::new()
    };
    WatchRequest {
        kinds,
        proxies: args.proxies.clone(),
    }
}

/// How often the printer hears that a second passed.
const SECOND: Duration = Duration::from_secs(1);

/// What a watch prints to; `output` implements it.
pub(crate) trait WatchSink {
    /// An update from one agent.
    ///
    /// # Errors
    /// Writing the output failed (a closed stdout).
    fn update(&mut self, update: Update) -> std::io::Result<()>;
    /// A second passed on our clock.
    ///
    /// # Errors
    /// Writing the output failed.
    fn second(&mut self) -> std::io::Result<()>;
}

/// How a watch ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Watched {
    /// Per agent (in `Settings::agents` order): whether its stream was
    /// ever open.
    pub(crate) reached: Vec<bool>,
}

impl Watched {
    /// The agents whose stream never opened: a watch that saw nothing of
    /// them failed for them.
    pub(crate) fn never_reached<'a>(&self, settings: &'a Settings) -> Vec<&'a AgentTarget> {
        settings
            .agents
            .iter()
            .zip(&self.reached)
            .filter(|(_, reached)| !**reached)
            .map(|(agent, _)| agent)
            .collect()
    }
}

/// Follows every agent and hands each update to `sink`, until Ctrl-C,
/// the end of `--duration`, or an error from `sink`.
///
/// # Errors
/// The first error of `sink` (a closed stdout), or a failure to install
/// the Ctrl-C handler.
pub(crate) async fn run(
    settings: &Settings,
    args: &WatchArgs,
    sink: &mut dyn WatchSink,
) -> std::io::Result<Watched> {
    let (tx, mut rx) = mpsc::channel(UPDATES_BOUND);
    let mut followers = JoinSet::new();
    let request = request(args);
    for (index, target) in settings.agents.iter().enumerate() {
        followers.spawn(follow(
            index,
            target.address.clone(),
            settings.timeout,
            request.clone(),
            tx.clone(),
        ));
    }
    drop(tx);
    let until = async {
        match args.duration {
            Some(duration) => tokio::time::sleep(duration).await,
            None => std::future::pending().await,
        }
    };
    // One listener for the whole run: a fresh `ctrl_c()` per turn of the loop
    // could miss a signal that arrives between two turns.
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(until, interrupted);
    let mut reached = vec![false; settings.agents.len()];
    let mut second = tokio::time::interval_at(tokio::time::Instant::now() + SECOND, SECOND);
    second.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let result = loop {
        tokio::select! {
            signal = &mut interrupted => break signal,
            () = &mut until => break Ok(()),
            _ = second.tick() => {
                if let Err(error) = sink.second() {
                    break Err(error);
                }
            }
            update = rx.recv() => match update {
                Some(update) => {
                    if let (WatchItem::Connected, Some(seen)) =
                        (&update.item, reached.get_mut(update.agent))
                    {
                        *seen = true;
                    }
                    if let Err(error) = sink.update(update) {
                        break Err(error);
                    }
                }
                None => break Ok(()),
            },
        }
    };
    followers.abort_all();
    result.map(|()| Watched { reached })
}

/// The names of one agent's proxies by id, so events (which carry only the
/// id) can be shown by name.
#[derive(Debug, Default)]
struct ProxyNames {
    names: HashMap<String, String>,
    /// Ids looked up and not found (a proxy already stopped): not asked
    /// about again.
    unknown: HashSet<String>,
}

impl ProxyNames {
    /// Whether `id` is a proxy id never looked up.
    fn missing(&self, id: &str) -> bool {
        !id.is_empty() && !self.names.contains_key(id) && !self.unknown.contains(id)
    }

    /// Asks the agent for its proxies (within `timeout`); on failure the
    /// names stay as they were and events show ids.
    async fn refresh(&mut self, client: &mut Client, timeout: Duration) {
        let listed =
            tokio::time::timeout(timeout, client.list_proxies(ListProxiesRequest {})).await;
        if let Ok(Ok(response)) = listed {
            for proxy in response.into_inner().proxies {
                self.names.insert(proxy.id, proxy.name);
            }
        }
    }

    /// The name of proxy `id`, looking it up once if it is new.
    async fn name(&mut self, id: &str, client: &mut Client, timeout: Duration) -> Option<String> {
        if self.missing(id) {
            self.refresh(client, timeout).await;
            if !self.names.contains_key(id) {
                self.unknown.insert(id.to_owned());
            }
        }
        self.names.get(id).filter(|name| !name.is_empty()).cloned()
    }
}

/// Keeps one agent's stream open: reconnects with backoff whenever it fails
/// to open or ends. Returns only when the printer is gone.
pub(crate) async fn follow(
    agent: usize,
    address: String,
    timeout: Duration,
    request: WatchRequest,
    updates: mpsc::Sender<Update>,
) {
    let send = |item| updates.send(Update { agent, item });
    let mut backoff = Backoff::new();
    loop {
        let (error, was_connected) = match open(&address, timeout, request.clone()).await {
            Err(error) => (error, false),
            Ok((mut client, mut stream)) => {
                backoff.reset();
                if send(WatchItem::Connected).await.is_err() {
                    return;
                }
                let mut names = ProxyNames::default();
                names.refresh(&mut client, timeout).await;
                let error = loop {
                    match stream.message().await {
                        Ok(Some(event)) => {
                            let Some(mut event) = WatchEvent::from_proto(event) else {
                                continue;
                            };
                            event.proxy_name = names.name(&event.proxy, &mut client, timeout).await;
                            if send(WatchItem::Event(event)).await.is_err() {
                                return;
                            }
                        }
                        Ok(None) => break "the agent ended the stream".to_owned(),
                        Err(status) => break AgentError::from_status(status, &address).brief(),
                    }
                };
                (error, true)
            }
        };
        let retry_in = backoff.next_delay();
        let item = WatchItem::Disconnected {
            error,
            retry_in,
            was_connected,
        };
        if send(item).await.is_err() {
            return;
        }
        tokio::time::sleep(retry_in).await;
    }
}

/// Opens the stream on a fresh connection, within the deadline; the client
/// is kept for the proxies' names.
async fn open(
    address: &str,
    timeout: Duration,
    request: WatchRequest,
) -> Result<(Client, tonic::codec::Streaming<proto::Event>), String> {
    let endpoint = fleet::endpoint(address, timeout)
        .map_err(|e| e.brief())?
        .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
        .keep_alive_timeout(timeout)
        .keep_alive_while_idle(true);
    let mut client = crate::access::client(endpoint.connect_lazy(), address);
    match tokio::time::timeout(timeout, client.watch(request)).await {
        Ok(Ok(response)) => Ok((client, response.into_inner())),
        Ok(Err(status)) => {
            let error = AgentError::from_status(status, address);
            Err(fleet::explain(address, timeout, error).await.brief())
        }
        Err(_elapsed) => Err(AgentError::Timeout {
            address: address.to_owned(),
            after: timeout,
        }
        .brief()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(raw: bool) -> WatchArgs {
        WatchArgs {
            proxies: vec!["p1".into()],
            raw,
            duration: None,
        }
    }

    #[test]
    fn raw_asks_for_every_kind() {
        assert!(request(&args(false)).kinds.is_empty());
        let kinds = request(&args(true)).kinds;
        assert_eq!(kinds.len(), 5);
        assert!(kinds.contains(&(EventKind::Transfer as i32)));
        assert_eq!(request(&args(true)).proxies, ["p1"]);
    }
}
