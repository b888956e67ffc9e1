//! The standalone delay mode (`reel-agent delay`, after the seed's
//! `TcpDelay.py`): one proxy in the foreground, no control service, no
//! recordings. Every chunk, each way, is held uniformly between two delays
//! (the fault engine's `Uniform` latency on both directions, so order is
//! kept), and every transfer is logged from the event bus:
//! `127.0.0.1:50522 > 127.0.0.1:15630 c2s 0.035 KB (delayed 612.3 ms)`.
//! `--udp` does the same for datagrams (`udp`).

mod udp;

pub use udp::{UdpDelayProxy, start_udp};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::config::SHUTDOWN_GRACE;
use crate::error::Result;
use crate::events::{Delivery, EventBody, EventBus, Filter, Subscription};
use crate::faults::{Directions, FaultSpec, Latency};
use crate::format::Direction;
use crate::proxy::{Proxies, ProxySpec};

/// What `reel-agent delay` runs.
#[derive(Debug, Clone)]
pub struct DelayOptions {
    /// host:port to bind (`--bind` and `-L`).
    pub listen: String,
    /// host:port of the server (`-H` and `-P`).
    pub upstream: String,
    /// The delay of each chunk: fixed (one `-D`) or uniform (two).
    pub latency: Latency,
    /// Reproducible draws; `None` is random.
    pub seed: Option<u64>,
}

impl DelayOptions {
    /// The fault profile: the latency on both directions, nothing else.
    pub fn faults(&self) -> FaultSpec {
        FaultSpec {
            latency: Some(self.latency),
            directions: Directions::BOTH,
            seed: self.seed,
            ..FaultSpec::default()
        }
    }
}

/// A delay proxy that is listening.
pub struct DelayProxy {
    proxies: Proxies,
    tracker: TaskTracker,
    /// Every event of the proxy, transfers included; not counted against
    /// the Watch limit.
    events: Subscription,
    listen: SocketAddr,
}

/// Binds and starts the proxy; the events of its connections are taken
/// from the start, so none goes unlogged.
///
/// # Errors
/// `InvalidArgument` for a malformed address or latency, `Bind` when the
/// address cannot be bound.
pub async fn start(options: &DelayOptions, cancel: CancellationToken) -> Result<DelayProxy> {
    let bus = EventBus::new();
    let events = bus.subscribe(Filter::everything());
    let tracker = TaskTracker::new();
    let proxies = Proxies::new(bus, tracker.clone(), cancel);
    let info = proxies
        .start(ProxySpec {
            listen: options.listen.clone(),
            upstream: options.upstream.clone(),
            name: Some("delay".to_owned()),
            faults: options.faults(),
            ..ProxySpec::default()
        })
        .await?;
    info!(listen = %info.listen, upstream = %info.upstream, faults = %info.faults, "delay proxy ready");
    Ok(DelayProxy {
        proxies,
        tracker,
        events,
        listen: info.listen,
    })
}

impl DelayProxy {
    /// The bound address (the real port when 0 was asked for).
    pub fn listen(&self) -> SocketAddr {
        self.listen
    }

    /// Logs every event until `cancel` fires, then stops the proxy and logs
    /// its connections closing, for at most `SHUTDOWN_GRACE`.
    ///
    /// # Cancel safety
    /// Meant to be awaited to completion; `cancel` is how it ends.
    pub async fn run(mut self, cancel: CancellationToken) {
        let mut log = Log::default();
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                r = self.events.recv() => if !log.received(r) { break },
            }
        }
        self.proxies.stop_all();
        self.tracker.close();
        let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
            let wait = self.tracker.wait();
            tokio::pin!(wait);
            loop {
                tokio::select! {
                    () = &mut wait => break,
                    r = self.events.recv() => if !log.received(r) { break },
                }
            }
        })
        .await;
        if drained.is_err() {
            warn!("connections still open after the shutdown grace period");
        }
        info!("delay proxy stopped");
    }
}

/// The connections seen open, for naming both ends of a transfer.
#[derive(Debug, Default)]
struct Log {
    conns: HashMap<u64, (SocketAddr, String)>,
}

impl Log {
    /// Logs one received event; false when the bus is gone.
    fn received(&mut self, r: Option<Delivery>) -> bool {
        match r {
            Some(Delivery::Event(event)) => {
                for line in self.lines(&event.body) {
                    match line {
                        Line::Info(text) => info!("{text}"),
                        Line::Warn(text) => warn!("{text}"),
                    }
                }
                true
            }
            Some(Delivery::Missed(n)) => {
                warn!("lagged: {n} events were not logged");
                true
            }
            None => false,
        }
    }

    /// The log lines for one event, seed style.
    fn lines(&mut self, body: &EventBody) -> Vec<Line> {
        match body {
            EventBody::ConnectionOpened {
                conn,
                client,
                upstream,
            } => {
                self.conns.insert(*conn, (*client, upstream.clone()));
                vec![Line::Info(format!(
                    "{client} > {upstream} toServer connected"
                ))]
            }
            EventBody::Transfer {
                conn,
                dir,
                bytes,
                delay,
                ..
            } => {
                let (from, to) = match self.conns.get(conn) {
                    Some((client, upstream)) => match dir {
                        Direction::C2s => (client.to_string(), upstream.clone()),
                        Direction::S2c => (upstream.clone(), client.to_string()),
                    },
                    None => (format!("conn {conn}"), "?".to_owned()),
                };
                vec![Line::Info(format!(
                    "{from} > {to} {} {} KB{}",
                    dir.as_str(),
                    kilobytes(*bytes),
                    delayed(*delay)
                ))]
            }
            EventBody::ConnectionClosed {
                conn,
                client,
                upstream,
                reason,
                ..
            } => match self.conns.remove(conn) {
                Some(_) => vec![
                    Line::Info(format!("{client} fromClient closed")),
                    Line::Info(format!("{upstream} toServer closed ({reason})")),
                ],
                None => vec![Line::Warn(format!(
                    "{client} toServer not connected: {reason}"
                ))],
            },
            _ => Vec::new(),
        }
    }
}

/// One line for the log, at its level.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Line {
    Info(String),
    Warn(String),
}

/// Bytes as the seed printed them: `34` → `0.034`.
fn kilobytes(n: u64) -> String {
    format!("{}.{:03}", n / 1000, n % 1000)
}

/// ` (delayed 612.3 ms)`, or nothing for a chunk not held.
fn delayed(d: Duration) -> String {
    if d.is_zero() {
        String::new()
    } else {
        format!(" (delayed {:.1} ms)", d.as_secs_f64() * 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn lines_follow_the_seed() {
        let mut log = Log::default();
        let client = addr("10.6.10.140:11942");
        let up = "127.0.0.1:15630".to_owned();
        let opened = log.lines(&EventBody::ConnectionOpened {
            conn: 3,
            client,
            upstream: up.clone(),
        });
        assert_eq!(
            opened,
            [Line::Info(
                "10.6.10.140:11942 > 127.0.0.1:15630 toServer connected".into()
            )]
        );
        let transfer = |dir, bytes, ms| EventBody::Transfer {
            conn: 3,
            dir,
            bytes,
            delay: Duration::from_millis(ms),
            drawn: Duration::from_millis(ms),
        };
        assert_eq!(
            log.lines(&transfer(Direction::C2s, 35, 612)),
            [Line::Info(
                "10.6.10.140:11942 > 127.0.0.1:15630 c2s 0.035 KB (delayed 612.0 ms)".into()
            )]
        );
        assert_eq!(
            log.lines(&transfer(Direction::S2c, 611, 0)),
            [Line::Info(
                "127.0.0.1:15630 > 10.6.10.140:11942 s2c 0.611 KB".into()
            )]
        );
        let closed = log.lines(&EventBody::ConnectionClosed {
            conn: 3,
            client,
            upstream: up.clone(),
            reason: "client closed".into(),
            bytes_c2s: 35,
            bytes_s2c: 611,
            duration: Duration::from_secs(1),
        });
        assert_eq!(
            closed,
            [
                Line::Info("10.6.10.140:11942 fromClient closed".into()),
                Line::Info("127.0.0.1:15630 toServer closed (client closed)".into()),
            ]
        );
        assert!(log.conns.is_empty());
    }

    #[test]
    fn a_failed_upstream_connect_is_a_warning() {
        let mut log = Log::default();
        let lines = log.lines(&EventBody::ConnectionClosed {
            conn: 9,
            client: addr("127.0.0.1:5000"),
            upstream: "127.0.0.1:1".into(),
            reason: "upstream connect failed: refused".into(),
            bytes_c2s: 0,
            bytes_s2c: 0,
            duration: Duration::ZERO,
        });
        assert_eq!(
            lines,
            [Line::Warn(
                "127.0.0.1:5000 toServer not connected: upstream connect failed: refused".into()
            )]
        );
    }

    #[test]
    fn faults_are_the_latency_both_ways() {
        let lo = Duration::from_millis(500);
        let hi = Duration::from_millis(800);
        let o = DelayOptions {
            listen: "127.0.0.1:0".into(),
            upstream: "127.0.0.1:1".into(),
            latency: Latency::Uniform(lo, hi),
            seed: None,
        };
        let f = o.faults();
        assert_eq!(f.latency, Some(Latency::Uniform(lo, hi)));
        assert_eq!(f.directions, Directions::BOTH);
        assert_eq!(f.to_string(), "latency 500ms..800ms both");
    }
}
