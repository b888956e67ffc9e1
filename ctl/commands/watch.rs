//! `reelctl watch`: follows the `Watch` stream of every selected agent at
//! once, turning events into typed updates for `output::watch`. A stream that
//! ends or fails is reopened with backoff, forever, until Ctrl-C or
//! `--duration`.

use std::time::Duration;

use reel::proto::{self, EventKind, WatchRequest};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::args::WatchArgs;
use crate::backoff::Backoff;
use crate::error::AgentError;
use crate::event::WatchEvent;
use crate::fleet;
use crate::settings::Settings;

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

/// Follows every agent and hands each update to `on_update`, until Ctrl-C,
/// the end of `--duration`, or an error from `on_update`.
///
/// # Errors
/// The first error of `on_update` (a closed stdout), or a failure to
/// install the Ctrl-C handler.
pub(crate) async fn run<F>(
    settings: &Settings,
    args: &WatchArgs,
    mut on_update: F,
) -> std::io::Result<()>
where
    F: FnMut(Update) -> std::io::Result<()>,
{
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
    let result = loop {
        tokio::select! {
            signal = &mut interrupted => break signal,
            () = &mut until => break Ok(()),
            update = rx.recv() => match update {
                Some(update) => {
                    if let Err(error) = on_update(update) {
                        break Err(error);
                    }
                }
                None => break Ok(()),
            },
        }
    };
    followers.abort_all();
    result
}

/// Keeps one agent's stream open: reconnects with backoff whenever it fails
/// to open or ends. Returns only when the printer is gone.
async fn follow(
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
            Ok(mut stream) => {
                backoff.reset();
                if send(WatchItem::Connected).await.is_err() {
                    return;
                }
                let error = loop {
                    match stream.message().await {
                        Ok(Some(event)) => {
                            if let Some(event) = WatchEvent::from_proto(event)
                                && send(WatchItem::Event(event)).await.is_err()
                            {
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

/// Opens the stream on a fresh connection, within the deadline.
async fn open(
    address: &str,
    timeout: Duration,
    request: WatchRequest,
) -> Result<tonic::codec::Streaming<proto::Event>, String> {
    let endpoint = fleet::endpoint(address, timeout)
        .map_err(|e| e.brief())?
        .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
        .keep_alive_timeout(timeout)
        .keep_alive_while_idle(true);
    let mut client = crate::access::client(endpoint.connect_lazy(), address);
    match tokio::time::timeout(timeout, client.watch(request)).await {
        Ok(Ok(response)) => Ok(response.into_inner()),
        Ok(Err(status)) => Err(AgentError::from_status(status, address).brief()),
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
