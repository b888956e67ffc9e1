//! The listening socket's loop: every datagram goes to its client's
//! session, a new client gets one (within the cap), and nothing one session
//! does (a full queue, a dead upstream) holds the others back.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::debug;

use super::counters::UdpCounters;
use super::observer::UdpObserver;
use super::session::{Session, SessionConfig};
use super::spec::{FaultPlan, UdpSpec};
use crate::error::{Error, Result};

/// Largest datagram UDP can carry over IPv4 (65,535 less the headers);
/// reading into a buffer this big never truncates one.
const MAX_DATAGRAM: usize = 65_535;

/// Datagrams read in one turn of the loop once the socket is readable.
const DRAIN: usize = 64;

/// Client datagrams queued for one session before more are dropped.
const SESSION_QUEUE: usize = 1_024;

/// A running UDP proxy.
pub struct UdpProxy {
    /// The bound address (the real port when 0 was asked for).
    pub listen: SocketAddr,
    pub counters: Arc<UdpCounters>,
    /// The faults in force; each session watches it.
    faults: watch::Sender<FaultPlan>,
    cancel: CancellationToken,
    tasks: TaskTracker,
}

impl UdpProxy {
    /// Binds `spec.listen` and starts relaying.
    ///
    /// # Errors
    /// `Bind` naming the address when it cannot be bound.
    pub async fn start(spec: UdpSpec, observer: Arc<dyn UdpObserver>) -> Result<UdpProxy> {
        let socket = UdpSocket::bind(spec.listen.as_str())
            .await
            .map_err(|source| Error::Bind {
                addr: format!("udp {}", spec.listen),
                source,
            })?;
        let listen = socket
            .local_addr()
            .map_err(|e| Error::io(format!("udp {}", spec.listen), e))?;
        let counters = Arc::new(UdpCounters::default());
        let cancel = CancellationToken::new();
        let tasks = TaskTracker::new();
        let faults = watch::Sender::new(spec.plan());
        let relay = Relay {
            faults: faults.subscribe(),
            socket: Arc::new(socket),
            spec: Arc::new(spec),
            counters: counters.clone(),
            observer,
            cancel: cancel.clone(),
            tasks: tasks.clone(),
            sessions: HashMap::new(),
            opened: 0,
        };
        tasks.spawn(relay.run());
        Ok(UdpProxy {
            listen,
            counters,
            faults,
            cancel,
            tasks,
        })
    }

    /// Replaces the faults: new sessions start with them, running ones
    /// follow from now on (see `DatagramFaults::update`). Never waits.
    pub fn set_faults(&self, plan: FaultPlan) {
        self.faults.send_replace(plan);
    }

    /// Tells the proxy to stop without waiting: its sessions end (reason
    /// `stopped`) and the socket closes shortly after.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Stops the proxy: every session ends (reason `stopped`) and the
    /// socket is closed once this returns.
    pub async fn stop(&self) {
        self.cancel.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }
}

impl Drop for UdpProxy {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

struct Relay {
    socket: Arc<UdpSocket>,
    spec: Arc<UdpSpec>,
    counters: Arc<UdpCounters>,
    observer: Arc<dyn UdpObserver>,
    cancel: CancellationToken,
    tasks: TaskTracker,
    sessions: HashMap<SocketAddr, mpsc::Sender<Bytes>>,
    faults: watch::Receiver<FaultPlan>,
    /// Sessions opened so far: a session's draws follow its place in this
    /// proxy's order, so the same seed and traffic give the same fates on
    /// a fresh proxy whatever else the agent did (session ids are
    /// agent-wide).
    opened: u64,
}

impl Relay {
    async fn run(mut self) {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let (ended_tx, mut ended_rx) = mpsc::unbounded_channel::<SocketAddr>();
        loop {
            tokio::select! {
                _ = self.cancel.cancelled() => break,
                Some(client) = ended_rx.recv() => {
                    // A session that ended; a new one may already have
                    // taken its place if the client came back meanwhile.
                    if self.sessions.get(&client).is_some_and(mpsc::Sender::is_closed) {
                        self.sessions.remove(&client);
                    }
                }
                got = self.socket.recv_from(&mut buf) => match got {
                    Ok((n, client)) => {
                        let datagram = Bytes::copy_from_slice(&buf[..n]);
                        self.deliver(client, datagram, &ended_tx).await;
                        // What else is waiting goes in the same turn, without
                        // another pass through the select.
                        for _ in 0..DRAIN {
                            let Ok((n, client)) = self.socket.try_recv_from(&mut buf) else {
                                break;
                            };
                            let datagram = Bytes::copy_from_slice(&buf[..n]);
                            self.deliver(client, datagram, &ended_tx).await;
                        }
                    }
                    // ICMP errors from earlier sends to clients show up
                    // here on some systems; the socket is still fine.
                    Err(e) => debug!(listen = %self.spec.listen, error = %e, "UDP receive failed"),
                },
            }
        }
    }

    async fn deliver(
        &mut self,
        client: SocketAddr,
        datagram: Bytes,
        ended: &mpsc::UnboundedSender<SocketAddr>,
    ) {
        if let Some(tx) = self.sessions.get(&client) {
            match tx.try_send(datagram) {
                Ok(()) => return,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    self.counters.dropped_c2s.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                // Ended while the datagram was on its way: open anew.
                Err(mpsc::error::TrySendError::Closed(d)) => {
                    self.sessions.remove(&client);
                    return Box::pin(self.deliver(client, d, ended)).await;
                }
            }
        }
        if self.counters.sessions_active.load(Ordering::Relaxed) >= self.spec.max_sessions {
            self.counters
                .sessions_refused
                .fetch_add(1, Ordering::Relaxed);
            return;
        }
        // Its upstream socket's descriptor, held until the session ends.
        let Some(fd) = self.spec.fds.try_take(1) else {
            self.counters
                .sessions_refused
                .fetch_add(1, Ordering::Relaxed);
            return;
        };
        let id = self.spec.session_ids.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(SESSION_QUEUE);
        let ordinal = self.opened;
        self.opened += 1;
        let config = SessionConfig {
            id,
            ordinal,
            client,
            listen: self.socket.clone(),
            spec: self.spec.clone(),
            counters: self.counters.clone(),
            observer: self.observer.clone(),
            faults: self.faults.clone(),
            cancel: self.cancel.child_token(),
        };
        // Counted before the task runs so the cap holds for a burst of
        // new clients.
        self.counters
            .sessions_active
            .fetch_add(1, Ordering::Relaxed);
        self.counters.sessions_total.fetch_add(1, Ordering::Relaxed);
        let ended = ended.clone();
        self.tasks.spawn(async move {
            Session::run(config, rx).await;
            drop(fd);
            let _ = ended.send(client);
        });
        if tx.try_send(datagram).is_ok() {
            self.sessions.insert(client, tx);
        }
    }
}
