//! Helpers of the fault tests: a server that pushes a known byte pattern,
//! proxies started with a fault profile, and the transfer events of a
//! Watch stream gathered per connection.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use reel::faults::FaultSpec;
use reel::proto as pb;
use reel::proto::reel_client::ReelClient;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tonic::transport::Channel;

/// Byte `i` of every pushed stream.
pub fn pattern_byte(i: u64) -> u8 {
    (i % 251) as u8
}

/// A server that writes the pattern to each client, `total` bytes then
/// close, or without end (`None`) until the client goes away.
pub async fn push_server(total: Option<u64>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut sent = 0u64;
                while total.is_none_or(|t| sent < t) {
                    let n = total.map_or(16 * 1024, |t| (t - sent).min(16 * 1024));
                    let chunk: Vec<u8> = (sent..sent + n).map(pattern_byte).collect();
                    if sock.write_all(&chunk).await.is_err() {
                        return;
                    }
                    sent += n;
                }
                let _ = sock.shutdown().await;
            });
        }
    });
    addr
}

/// Starts a proxy on 127.0.0.1:0 with a fault profile.
pub async fn start_faulty_proxy(
    ctl: &mut ReelClient<Channel>,
    upstream: SocketAddr,
    spec: &FaultSpec,
) -> pb::ProxyInfo {
    ctl.start_proxy(pb::StartProxyRequest {
        listen: "127.0.0.1:0".into(),
        upstream: upstream.to_string(),
        faults: Some(reel::wire::faults::profile(spec)),
        ..Default::default()
    })
    .await
    .expect("StartProxy with faults")
    .into_inner()
}

/// A Watch stream of the connection and transfer events of some proxies.
pub async fn watch_transfers(
    ctl: &mut ReelClient<Channel>,
    proxies: &[&str],
) -> tonic::Streaming<pb::Event> {
    ctl.watch(pb::WatchRequest {
        kinds: vec![
            pb::EventKind::Connection as i32,
            pb::EventKind::Transfer as i32,
        ],
        proxies: proxies.iter().map(|p| p.to_string()).collect(),
    })
    .await
    .expect("Watch")
    .into_inner()
}

/// Sends `msg` through an echo and times the round trip.
pub async fn timed_round_trip(sock: &mut tokio::net::TcpStream, msg: &[u8]) -> Duration {
    let t = std::time::Instant::now();
    assert_eq!(super::round_trip(sock, msg).await, msg);
    t.elapsed()
}

/// One transfer as the agent reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transfer {
    pub c2s: bool,
    pub bytes: u64,
    /// How long the chunk was held, as it happened.
    pub delay_us: u64,
    /// The latency the profile drew for it: the seeded schedule.
    pub drawn_us: u64,
}

/// What the events said about one connection.
#[derive(Debug, Clone, Default)]
pub struct ConnLog {
    pub proxy_id: String,
    pub client: String,
    pub transfers: Vec<Transfer>,
    pub close_reason: Option<String>,
}

impl ConnLog {
    /// The delays of the transfers in one direction, in order.
    pub fn delays_us(&self, c2s: bool) -> Vec<u64> {
        self.transfers
            .iter()
            .filter(|t| t.c2s == c2s)
            .map(|t| t.delay_us)
            .collect()
    }

    /// The drawn latencies of the transfers in one direction, in order.
    pub fn drawn_us(&self, c2s: bool) -> Vec<u64> {
        self.transfers
            .iter()
            .filter(|t| t.c2s == c2s)
            .map(|t| t.drawn_us)
            .collect()
    }
}

/// Reads events until `closed` connections have closed, within `limit`;
/// returns every connection's log by connection id. Panics on a lag: the
/// test must see every transfer.
pub async fn gather_until_closed(
    stream: &mut tonic::Streaming<pb::Event>,
    closed: usize,
    limit: Duration,
) -> BTreeMap<u64, ConnLog> {
    use pb::event::Body;
    let deadline = tokio::time::Instant::now() + limit;
    let mut conns: BTreeMap<u64, ConnLog> = BTreeMap::new();
    let mut done = 0;
    while done < closed {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let ev = tokio::time::timeout(left, stream.message())
            .await
            .unwrap_or_else(|_| panic!("only {done} of {closed} connections closed in {limit:?}"))
            .expect("watch stream failed")
            .expect("watch stream ended");
        match ev.body {
            Some(Body::ConnectionOpened(o)) => {
                let log = conns.entry(o.connection).or_default();
                log.proxy_id = ev.proxy_id;
                log.client = o.client;
            }
            Some(Body::Transfer(t)) => {
                conns
                    .entry(t.connection)
                    .or_default()
                    .transfers
                    .push(Transfer {
                        c2s: t.direction == pb::Direction::C2s as i32,
                        bytes: t.bytes,
                        delay_us: t.delay_us,
                        drawn_us: t.drawn_delay_us,
                    })
            }
            Some(Body::ConnectionClosed(c)) => {
                conns.entry(c.connection).or_default().close_reason = Some(c.reason);
                done += 1;
            }
            Some(Body::Lagged(l)) => panic!("the watch lagged: {} events missed", l.missed),
            _ => {}
        }
    }
    conns
}
