//! The unary calls `top` makes besides Watch, each a short task whose
//! result comes back to the loop as a `Fetched`: the recordings list (at
//! connect, and for the size of recordings in progress, which Watch does
//! not stream), replays' lateness (not in their progress events), a
//! proxy's open connections (its details), and recordings started or
//! stopped with `r`. Every task sends exactly one result, failed or not,
//! so the loop's in-flight marks are always cleared.

use reel::proto::{GetReplayRequest, ListConnectionsRequest, StartRecordingRequest};
use tokio::sync::mpsc;

use reel::proto::RecordingInfo;

use crate::commands::record;
use crate::fleet::AgentClient;

use super::model::{ConnectionRow, ProxyKey};

/// A result for the loop.
#[derive(Debug)]
pub(crate) enum Fetched {
    /// Agent `agent`'s recordings; `None` when the list failed (kept as it was).
    Recordings {
        agent: usize,
        list: Option<Vec<RecordingInfo>>,
    },
    /// The p99 lateness of some of agent `agent`'s replays.
    Lateness {
        agent: usize,
        late: Vec<(String, u64)>,
    },
    /// A proxy's open connections.
    Connections {
        key: ProxyKey,
        listed: Result<Vec<ConnectionRow>, String>,
    },
    /// A recording started or stopped from the keyboard, or why not.
    Recorded {
        agent: usize,
        /// "start" or "stop".
        verb: &'static str,
        result: Result<RecordingInfo, String>,
    },
}

/// Lists agent `index`'s recordings.
pub(crate) async fn recordings(index: usize, agent: AgentClient, tx: mpsc::Sender<Fetched>) {
    let list = record::list_on(&agent).await.ok();
    let _ = tx.send(Fetched::Recordings { agent: index, list }).await;
}

/// Reads the lateness of replays `ids` from their reports.
pub(crate) async fn lateness(
    index: usize,
    agent: AgentClient,
    ids: Vec<String>,
    tx: mpsc::Sender<Fetched>,
) {
    let mut late = Vec::new();
    for id in ids {
        let request = GetReplayRequest { id: id.clone() };
        let report = agent
            .unary(|mut client| async move { client.get_replay(request).await })
            .await;
        if let Some(lateness) = report.ok().and_then(|r| r.lateness) {
            late.push((id, lateness.p99_us));
        }
    }
    let _ = tx.send(Fetched::Lateness { agent: index, late }).await;
}

/// Lists the open connections of proxy `key`.
pub(crate) async fn connections(key: ProxyKey, agent: AgentClient, tx: mpsc::Sender<Fetched>) {
    let request = ListConnectionsRequest {
        proxy: key.proxy.clone(),
    };
    let listed = agent
        .unary(|mut client| async move { client.list_connections(request).await })
        .await
        .map(|response| {
            response
                .connections
                .into_iter()
                .map(|c| ConnectionRow {
                    id: c.id,
                    client: c.client,
                    opened_at_ms: c.opened_at_unix_ms,
                    bytes_c2s: c.bytes_c2s,
                    bytes_s2c: c.bytes_s2c,
                })
                .collect()
        })
        .map_err(|e| e.brief());
    let _ = tx.send(Fetched::Connections { key, listed }).await;
}

/// Starts recording proxy `key` alone (as `reelctl record start --proxy`).
pub(crate) async fn start_recording(key: ProxyKey, agent: AgentClient, tx: mpsc::Sender<Fetched>) {
    let request = StartRecordingRequest {
        proxies: vec![key.proxy.clone()],
        label: String::new(),
        start_at_unix_ns: 0,
        ring_ms: 0,
    };
    let result = agent
        .unary(|mut client| async move { client.start_recording(request).await })
        .await
        .map_err(|e| e.brief());
    let _ = tx
        .send(Fetched::Recorded {
            agent: key.agent,
            verb: "start",
            result,
        })
        .await;
}

/// Stops recording `id` (as `reelctl record stop ID`).
pub(crate) async fn stop_recording(
    index: usize,
    id: String,
    agent: AgentClient,
    tx: mpsc::Sender<Fetched>,
) {
    let result = record::stop_on(&agent, id).await.map_err(|e| e.brief());
    let _ = tx
        .send(Fetched::Recorded {
            agent: index,
            verb: "stop",
            result,
        })
        .await;
}
