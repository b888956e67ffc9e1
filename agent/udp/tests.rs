//! UDP proxies over real loopback sockets: datagrams relayed byte- and
//! boundary-exact for many sessions at once, sessions ending idle or
//! stopped (and told so), the session cap, a dead upstream counted, and
//! faults applied per direction.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use rand::{RngExt, SeedableRng};
use tokio::net::UdpSocket;
use tokio::time::timeout;

use super::*;
use crate::domain::Direction;
use crate::faults::datagram::{DatagramSpec, Loss};
use crate::tap::ConnMeta;

const LIMIT: Duration = Duration::from_secs(10);

/// What the observer heard, in order.
#[derive(Default)]
struct Heard {
    opened: Mutex<Vec<u64>>,
    closed: Mutex<Vec<(u64, CloseReason, SessionTotals)>>,
    datagrams: Mutex<Vec<(u64, Direction, Bytes)>>,
}

impl UdpObserver for Heard {
    fn session_opened(&self, s: &ConnMeta) {
        self.opened.lock().unwrap().push(s.id);
    }
    fn session_closed(&self, s: &ConnMeta, reason: CloseReason, totals: SessionTotals) {
        self.closed.lock().unwrap().push((s.id, reason, totals));
    }
    fn datagram(&self, s: &ConnMeta, dir: Direction, payload: &Bytes) {
        self.datagrams
            .lock()
            .unwrap()
            .push((s.id, dir, payload.clone()));
    }
}

async fn echo_server() -> SocketAddr {
    crate::fixtures::udp_echo_server().await.unwrap()
}

async fn proxy(spec: UdpSpec) -> (UdpProxy, Arc<Heard>) {
    let heard = Arc::new(Heard::default());
    let p = UdpProxy::start(spec, heard.clone()).await.unwrap();
    (p, heard)
}

fn spec(upstream: SocketAddr) -> UdpSpec {
    UdpSpec::new("127.0.0.1:0", upstream.to_string())
}

async fn client(proxy: SocketAddr) -> UdpSocket {
    let c = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    c.connect(proxy).await.unwrap();
    c
}

async fn eventually(what: &str, check: impl Fn() -> bool) {
    timeout(LIMIT, async {
        while !check() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_sessions_are_relayed_byte_and_boundary_exact() {
    let (p, heard) = proxy(spec(echo_server().await)).await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let plans: Vec<Vec<Vec<u8>>> = (0..20)
        .map(|_| {
            (0..rng.random_range(5..40))
                .map(|_| {
                    let len = rng.random_range(1..=1_400);
                    (0..len).map(|_| rng.random()).collect()
                })
                .collect()
        })
        .collect();
    let tasks: Vec<_> = plans
        .iter()
        .cloned()
        .map(|plan| {
            let to = p.listen;
            tokio::spawn(async move {
                let c = client(to).await;
                let mut buf = vec![0u8; 2_000];
                for d in &plan {
                    // One at a time: loopback UDP keeps them, and each echo
                    // must be the same datagram, not a merge or a split.
                    c.send(d).await.unwrap();
                    let n = timeout(LIMIT, c.recv(&mut buf)).await.unwrap().unwrap();
                    assert_eq!(&buf[..n], &d[..]);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let datagrams: u64 = plans.iter().map(|p| p.len() as u64).sum();
    let bytes: u64 = plans.iter().flatten().map(|d| d.len() as u64).sum();
    let t = p.counters.totals();
    assert_eq!(t.sessions_total, 20);
    assert_eq!(t.sessions_active, 20);
    assert_eq!((t.datagrams_c2s, t.datagrams_s2c), (datagrams, datagrams));
    assert_eq!((t.bytes_c2s, t.bytes_s2c), (bytes, bytes));
    assert_eq!(heard.opened.lock().unwrap().len(), 20);
    // The observer saw every datagram, boundaries and all.
    let (seen, c2s_bytes) = {
        let seen = heard.datagrams.lock().unwrap();
        let c2s: u64 = seen
            .iter()
            .filter(|(_, d, _)| *d == Direction::C2s)
            .map(|(_, _, b)| b.len() as u64)
            .sum();
        (seen.len() as u64, c2s)
    };
    assert_eq!(seen, 2 * datagrams);
    assert_eq!(c2s_bytes, bytes);
    p.stop().await;
    assert_eq!(p.counters.totals().sessions_active, 0);
    let closed = heard.closed.lock().unwrap();
    assert_eq!(closed.len(), 20);
    assert!(closed.iter().all(|(_, r, _)| *r == CloseReason::Stopped));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_session_ends_and_says_so_and_a_new_one_opens_after() {
    let mut s = spec(echo_server().await);
    s.idle_timeout = Duration::from_millis(200);
    let (p, heard) = proxy(s).await;
    let c = client(p.listen).await;
    let mut buf = [0u8; 16];
    c.send(b"hello").await.unwrap();
    timeout(LIMIT, c.recv(&mut buf)).await.unwrap().unwrap();
    eventually("the idle close", || {
        !heard.closed.lock().unwrap().is_empty()
    })
    .await;
    {
        let closed = heard.closed.lock().unwrap();
        let (id, reason, totals) = closed[0];
        assert_eq!((id, reason), (1, CloseReason::Idle));
        assert_eq!((totals.datagrams_c2s, totals.datagrams_s2c), (1, 1));
        assert_eq!((totals.bytes_c2s, totals.bytes_s2c), (5, 5));
    }
    assert_eq!(p.counters.totals().sessions_active, 0);
    c.send(b"again").await.unwrap();
    let n = timeout(LIMIT, c.recv(&mut buf)).await.unwrap().unwrap();
    assert_eq!(&buf[..n], b"again");
    let t = p.counters.totals();
    assert_eq!((t.sessions_total, t.sessions_active), (2, 1));
    assert_eq!(heard.opened.lock().unwrap()[1], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_past_the_session_cap_are_refused_and_counted() {
    let mut s = spec(echo_server().await);
    s.max_sessions = 2;
    let (p, _heard) = proxy(s).await;
    let mut buf = [0u8; 16];
    let mut admitted = Vec::new();
    for _ in 0..2 {
        let c = client(p.listen).await;
        c.send(b"in").await.unwrap();
        timeout(LIMIT, c.recv(&mut buf)).await.unwrap().unwrap();
        admitted.push(c);
    }
    let third = client(p.listen).await;
    third.send(b"out").await.unwrap();
    eventually("the refusal", || p.counters.totals().sessions_refused == 1).await;
    assert!(
        timeout(Duration::from_millis(300), third.recv(&mut buf))
            .await
            .is_err(),
        "a refused client gets no answer"
    );
    let t = p.counters.totals();
    assert_eq!((t.sessions_active, t.sessions_total), (2, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_upstream_is_counted_not_hidden() {
    // A port nothing listens on: the kernel answers ICMP port unreachable.
    let dead = {
        let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        s.local_addr().unwrap()
    };
    let (p, _heard) = proxy(spec(dead)).await;
    let c = client(p.listen).await;
    for _ in 0..5 {
        c.send(b"anyone?").await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eventually("the unreachable upstream counted", || {
        p.counters.totals().upstream_unreachable > 0
    })
    .await;
    assert_eq!(p.counters.totals().datagrams_c2s, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loss_on_one_direction_drops_exactly_what_the_seed_says() {
    let run = |seed| async move {
        let mut s = spec(echo_server().await);
        s.seed = Some(seed);
        s.c2s = DatagramSpec {
            loss: Some(Loss::Random(0.5)),
            ..DatagramSpec::default()
        };
        let (p, _heard) = proxy(s).await;
        let c = client(p.listen).await;
        for i in 0u32..200 {
            c.send(&i.to_be_bytes()).await.unwrap();
        }
        // Every datagram decided: lost, or relayed and answered.
        eventually("every datagram's fate", || {
            let t = p.counters.totals();
            t.lost + t.datagrams_s2c == 200
        })
        .await;
        let mut got = Vec::new();
        let mut buf = [0u8; 8];
        while let Ok(Ok(n)) = timeout(Duration::from_millis(200), c.recv(&mut buf)).await {
            got.push(u32::from_be_bytes(buf[..n].try_into().unwrap()));
        }
        p.stop().await;
        (got, p.counters.totals())
    };
    let (a, ta) = run(9).await;
    let (b, _) = run(9).await;
    assert_eq!(a, b, "the same seed loses the same datagrams");
    assert_eq!(ta.datagrams_c2s, 200);
    assert_eq!(ta.lost, 200 - a.len() as u64);
    assert!((60..140).contains(&a.len()), "{} of 200 came back", a.len());
    assert_eq!(
        ta.datagrams_s2c,
        a.len() as u64,
        "the answers were not touched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_take_a_descriptor_from_the_agents_budget() {
    let mut s = spec(echo_server().await);
    // One descriptor left for the data path: one session.
    s.fds = crate::fds::FdBudget::new(Some(101), 100).unwrap();
    let budget = s.fds.clone();
    s.idle_timeout = Duration::from_millis(300);
    let (p, _heard) = proxy(s).await;
    let mut buf = [0u8; 8];
    let first = client(p.listen).await;
    first.send(b"one").await.unwrap();
    timeout(LIMIT, first.recv(&mut buf)).await.unwrap().unwrap();
    assert_eq!(budget.in_use(), 1);
    let second = client(p.listen).await;
    second.send(b"two").await.unwrap();
    eventually("the refusal", || p.counters.totals().sessions_refused == 1).await;
    // Once the first session ends idle, its descriptor is back.
    eventually("the descriptor back", || budget.in_use() == 0).await;
    second.send(b"two").await.unwrap();
    let n = timeout(LIMIT, second.recv(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf[..n], b"two");
}
