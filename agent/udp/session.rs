//! One client's session: a connected upstream socket, the two directions'
//! faults, datagrams waiting for their due instant, and the idle timer.
//! Datagrams are counted as they arrive; what the faults then do to them is
//! counted apart (lost, duplicated, reordered).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::counters::UdpCounters;
use super::observer::{CloseReason, SessionTotals, UdpObserver};
use super::spec::{FaultPlan, UdpSpec};
use crate::domain::{Direction, Transport};
use crate::faults::datagram::DatagramFaults;
use crate::faults::random::{rng, stream_of};
use crate::tap::{ConnMeta, TapKind, tell_all};

/// Largest datagram a session reads from its upstream.
const MAX_DATAGRAM: usize = 65_535;

/// Client datagrams taken from the queue in one turn of the session's loop
/// once one arrived (fewer wake-ups under load, still fair to upstream).
const DRAIN: usize = 32;

pub(super) struct SessionConfig {
    pub id: u64,
    /// Its place among the proxy's sessions, for reproducible draws.
    pub ordinal: u64,
    pub client: SocketAddr,
    pub listen: Arc<UdpSocket>,
    pub spec: Arc<UdpSpec>,
    pub counters: Arc<UdpCounters>,
    pub observer: Arc<dyn UdpObserver>,
    /// The proxy's faults: read when the session opens, followed after.
    pub faults: watch::Receiver<FaultPlan>,
    pub cancel: CancellationToken,
}

/// A datagram waiting for its due instant; the heap's order is by instant,
/// then by arrival, so equal instants keep their order.
struct Due {
    at: Instant,
    seq: u64,
    dir: Direction,
    payload: Bytes,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Due {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

pub(super) struct Session {
    cfg: SessionConfig,
    /// The session as recordings see it (a UDP connection).
    meta: Arc<ConnMeta>,
    upstream: UdpSocket,
    c2s: DatagramFaults<Bytes>,
    s2c: DatagramFaults<Bytes>,
    /// The seed the faults draw from, to tell when an update changes it.
    seed: Option<u64>,
    waiting: BinaryHeap<Reverse<Due>>,
    seq: u64,
    totals: SessionTotals,
}

impl Session {
    /// Runs the session until it is idle for the timeout or the proxy
    /// stops; the queue holds the datagram that opened it.
    pub(super) async fn run(cfg: SessionConfig, rx: mpsc::Receiver<Bytes>) {
        let opened = Instant::now();
        let session = match Session::open(cfg).await {
            Ok(s) => s,
            Err((cfg, why)) => {
                warn!(client = %cfg.client, upstream = %cfg.spec.upstream, error = %why,
                      "UDP session could not reach its upstream");
                cfg.counters
                    .upstream_unreachable
                    .fetch_add(1, Ordering::Relaxed);
                cfg.counters.sessions_active.fetch_sub(1, Ordering::Relaxed);
                return;
            }
        };
        session.relay(rx, opened).await;
    }

    async fn open(cfg: SessionConfig) -> Result<Session, (SessionConfig, String)> {
        let (socket, upstream) = match super::connect::connected_socket(&cfg.spec.upstream).await {
            Ok(s) => s,
            Err(e) => return Err((cfg, e.to_string())),
        };
        let mut cfg = cfg;
        let plan = *cfg.faults.borrow_and_update();
        let seed = plan.seed;
        let c2s = DatagramFaults::new(plan.c2s, rng(seed, cfg.ordinal, stream_of(Direction::C2s)));
        let s2c = DatagramFaults::new(plan.s2c, rng(seed, cfg.ordinal, stream_of(Direction::S2c)));
        let mut meta = ConnMeta::new(cfg.id, cfg.spec.proxy_id.clone(), cfg.client, upstream);
        meta.transport = Transport::Udp;
        let meta = Arc::new(meta);
        cfg.observer.session_opened(&meta);
        let taps = cfg.spec.taps.register(&meta);
        tell_all(&taps, &meta, meta.opened, || TapKind::Open).await;
        Ok(Session {
            cfg,
            meta,
            upstream: socket,
            c2s,
            s2c,
            seed,
            waiting: BinaryHeap::new(),
            seq: 0,
            totals: SessionTotals::default(),
        })
    }

    async fn relay(mut self, mut rx: mpsc::Receiver<Bytes>, opened: Instant) {
        let idle = self.cfg.spec.idle_timeout;
        let mut last_seen = Instant::now();
        let mut buf = vec![0u8; MAX_DATAGRAM];
        // One idle timer for the session's life: it is moved only when it
        // fires before the session is really idle, so a datagram costs the
        // timer wheel nothing.
        let idle_timer = tokio::time::sleep_until((last_seen + idle).into());
        tokio::pin!(idle_timer);
        let reason = loop {
            let next_due = self.waiting.peek().map(|Reverse(d)| d.at);
            tokio::select! {
                _ = self.cfg.cancel.cancelled() => break CloseReason::Stopped,
                _ = &mut idle_timer => {
                    // Idle counts from the last datagram or the last one due
                    // out, so a held datagram is never cut off by the timer.
                    let latest_due = self.waiting.iter().map(|Reverse(d)| d.at).max();
                    let idle_at = latest_due.map_or(last_seen, |d| d.max(last_seen)) + idle;
                    if Instant::now() >= idle_at {
                        break CloseReason::Idle;
                    }
                    idle_timer.as_mut().reset(idle_at.into());
                }
                _ = tokio::time::sleep_until(next_due.unwrap_or(last_seen).into()), if next_due.is_some() => {
                    self.send_due(Instant::now()).await;
                }
                Ok(()) = self.cfg.faults.changed() => self.refault(Instant::now()).await,
                got = rx.recv() => match got {
                    Some(d) => {
                        last_seen = Instant::now();
                        self.arrived(Direction::C2s, d, last_seen).await;
                        // What queued meanwhile goes in the same turn.
                        for _ in 0..DRAIN {
                            let Ok(d) = rx.try_recv() else { break };
                            self.arrived(Direction::C2s, d, last_seen).await;
                        }
                    }
                    // The relay is gone: the proxy stopped.
                    None => break CloseReason::Stopped,
                },
                got = self.upstream.recv(&mut buf) => match got {
                    Ok(n) => {
                        last_seen = Instant::now();
                        let d = Bytes::copy_from_slice(&buf[..n]);
                        self.arrived(Direction::S2c, d, last_seen).await;
                    }
                    Err(e) => self.send_failed(Direction::C2s, &e),
                },
            }
        };
        if reason == CloseReason::Idle {
            let now = Instant::now();
            self.release_held(now);
            self.send_due(Instant::now() + idle).await;
        }
        self.close(reason, opened).await;
    }

    /// A datagram came in from `dir`'s sender: count it, tell the observer,
    /// then let the faults decide what goes out and when.
    async fn arrived(&mut self, dir: Direction, d: Bytes, now: Instant) {
        self.cfg.counters.relayed(dir, d.len());
        match dir {
            Direction::C2s => self.totals.datagrams_c2s += 1,
            Direction::S2c => self.totals.datagrams_s2c += 1,
        }
        self.meta.add_bytes(dir, d.len() as u64);
        self.cfg.observer.datagram(&self.meta, dir, &d);
        let taps = self.cfg.spec.taps.taps();
        tell_all(&taps, &self.meta, now, || TapKind::Datagram(dir, d.clone())).await;
        let faults = match dir {
            Direction::C2s => &mut self.c2s,
            Direction::S2c => &mut self.s2c,
        };
        if faults.pass_through() {
            // No fault in this direction: straight out, no queue.
            self.send_one(dir, &d).await;
            return;
        }
        let before = faults.counts();
        let out = faults.admit(d, now);
        // Counted live, so listings and metrics show loss as it happens.
        self.cfg
            .counters
            .add_faults(dir, faults.counts().since(before));
        self.schedule(dir, out);
        self.send_due(now).await;
    }

    /// The proxy's faults changed: both directions follow from now on, with
    /// generators seeded anew when the seed changed.
    async fn refault(&mut self, now: Instant) {
        let plan = *self.cfg.faults.borrow_and_update();
        let reseed = plan.seed != self.seed;
        self.seed = plan.seed;
        for dir in [Direction::C2s, Direction::S2c] {
            let fresh = reseed.then(|| rng(plan.seed, self.cfg.ordinal, stream_of(dir)));
            let (faults, spec) = match dir {
                Direction::C2s => (&mut self.c2s, plan.c2s),
                Direction::S2c => (&mut self.s2c, plan.s2c),
            };
            let before = faults.counts();
            let out = faults.update(spec, fresh, now);
            self.cfg
                .counters
                .add_faults(dir, faults.counts().since(before));
            self.schedule(dir, out);
        }
        self.send_due(now).await;
    }

    /// Queues what the faults let out, each until its due instant.
    fn schedule(&mut self, dir: Direction, out: Vec<(Bytes, Instant)>) {
        for (payload, at) in out {
            self.seq += 1;
            self.waiting.push(Reverse(Due {
                at,
                seq: self.seq,
                dir,
                payload,
            }));
        }
    }

    /// Sends every datagram due by `now`, in due order.
    async fn send_due(&mut self, now: Instant) {
        while self.waiting.peek().is_some_and(|Reverse(d)| d.at <= now) {
            let Some(Reverse(d)) = self.waiting.pop() else {
                break;
            };
            self.send_one(d.dir, &d.payload).await;
        }
    }

    /// Sends one datagram on its way: to the upstream, or to the client.
    async fn send_one(&self, dir: Direction, payload: &Bytes) {
        let sent = match dir {
            Direction::C2s => self.upstream.send(payload).await,
            Direction::S2c => self.cfg.listen.send_to(payload, self.cfg.client).await,
        };
        if let Err(e) = sent {
            self.send_failed(dir, &e);
        }
    }

    /// Held datagrams (reordering) go out when the session ends idle.
    fn release_held(&mut self, now: Instant) {
        for dir in [Direction::C2s, Direction::S2c] {
            let faults = match dir {
                Direction::C2s => &mut self.c2s,
                Direction::S2c => &mut self.s2c,
            };
            // A flush can meet a full bandwidth queue: counted as dropped.
            let before = faults.counts();
            let out = faults.flush(now);
            self.cfg
                .counters
                .add_faults(dir, faults.counts().since(before));
            self.schedule(dir, out);
        }
    }

    fn send_failed(&self, dir: Direction, e: &std::io::Error) {
        if dir == Direction::C2s && e.kind() == ErrorKind::ConnectionRefused {
            // ICMP port unreachable, reported on the connected socket.
            self.cfg
                .counters
                .upstream_unreachable
                .fetch_add(1, Ordering::Relaxed);
        } else {
            debug!(client = %self.cfg.client, dir = dir.as_str(), error = %e, "UDP send failed");
        }
    }

    async fn close(mut self, reason: CloseReason, opened: Instant) {
        let taps = self.cfg.spec.taps.unregister(self.meta.id);
        tell_all(&taps, &self.meta, Instant::now(), || {
            TapKind::Close(reason.as_str().to_owned())
        })
        .await;
        self.cfg
            .counters
            .sessions_active
            .fetch_sub(1, Ordering::Relaxed);
        self.totals.duration = opened.elapsed();
        self.totals.bytes_c2s = self.meta.bytes_c2s();
        self.totals.bytes_s2c = self.meta.bytes_s2c();
        self.cfg
            .observer
            .session_closed(&self.meta, reason, self.totals);
    }
}
