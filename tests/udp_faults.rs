//! Faults on UDP proxies (issue 16, item 4), driven with reelctl against a
//! real agent over real UDP sockets on loopback: loss with a seed inside
//! the binomial interval and the same datagrams lost by a second proxy,
//! duplication and reordering counted exactly as the client sees them, a
//! bandwidth cap that queues then drops, live `faults set`/`clear` on a
//! running session. Which fields a UDP profile takes, and keeping it across
//! a restart, are tests/udp_fault_profiles.rs.
//!
//! Datagrams carry a sequence number; the client sends them in batches and
//! waits for the agent to have read each batch (its counters, over gRPC)
//! before the next, so the kernel never drops one for a full buffer and
//! what the client sees is what the faults did.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reel::proto as pb;
use reel::proto::reel_client::ReelClient;
use tokio::net::UdpSocket;
use tonic::transport::Channel;

use common::*;

const LIMIT: Duration = Duration::from_secs(60);
/// Bytes sent before waiting for the agent: well within a socket's
/// default receive buffer (212 KiB, each datagram costing its size plus
/// about 1 KiB of kernel bookkeeping).
const BATCH_BYTES: usize = 32 * 1024;

/// The proxy's counters, read over gRPC (cheap enough to poll per batch).
async fn info(ctl: &mut ReelClient<Channel>, name: &str) -> pb::ProxyInfo {
    ctl.list_proxies(pb::ListProxiesRequest {})
        .await
        .unwrap()
        .into_inner()
        .proxies
        .into_iter()
        .find(|p| p.name == name)
        .unwrap()
}

/// Polls `ok` on the proxy's counters every 5 ms, for at most `LIMIT`.
async fn until(
    ctl: &mut ReelClient<Channel>,
    name: &str,
    what: &str,
    ok: impl Fn(&pb::ProxyInfo) -> bool,
) -> pb::ProxyInfo {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let p = info(ctl, name).await;
        if ok(&p) {
            return p;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}: {p:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn counts(p: &pb::ProxyInfo) -> pb::DatagramFaultCounts {
    p.faults_c2s.unwrap_or_default()
}

/// A client socket of the proxy: what it sends and the sequence numbers
/// that came back, in arrival order.
struct Client {
    sock: Arc<UdpSocket>,
    got: Arc<Mutex<Vec<u32>>>,
    sent: u32,
    reader: tokio::task::JoinHandle<()>,
}

impl Client {
    async fn new(proxy: &str) -> Client {
        let sock = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        sock.connect(proxy).await.unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let reader = {
            let (sock, got) = (sock.clone(), got.clone());
            tokio::spawn(async move {
                let mut buf = [0u8; 2_048];
                while let Ok(n) = sock.recv(&mut buf).await {
                    let seq = u32::from_be_bytes(buf[..4].try_into().unwrap());
                    assert!(n >= 4);
                    got.lock().unwrap().push(seq);
                }
            })
        };
        Client {
            sock,
            got,
            sent: 0,
            reader,
        }
    }

    /// Sends `n` more datagrams of `size` bytes (at least 4: the sequence
    /// number), a batch at a time, each batch read by the agent before the
    /// next goes.
    async fn send(&mut self, ctl: &mut ReelClient<Channel>, name: &str, n: u32, size: usize) {
        let end = self.sent + n;
        let batch = u32::try_from((BATCH_BYTES / (size + 1_024)).max(1)).unwrap();
        while self.sent < end {
            let batch_end = (self.sent + batch).min(end);
            for seq in self.sent..batch_end {
                let mut d = vec![0u8; size.max(4)];
                d[..4].copy_from_slice(&seq.to_be_bytes());
                self.sock.send(&d).await.unwrap();
            }
            self.sent = batch_end;
            // Each test's proxies have this one client.
            let total = u64::from(self.sent);
            until(ctl, name, "the agent to read the batch", |p| {
                p.datagrams_c2s >= total
            })
            .await;
        }
    }

    fn got(&self) -> Vec<u32> {
        self.got.lock().unwrap().clone()
    }

    fn received(&self) -> usize {
        self.got.lock().unwrap().len()
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loss_with_a_seed_is_binomial_and_a_second_proxy_loses_the_same_datagrams() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("data"));
    let a = agent.addr_str();
    let mut ctl = agent.client().await;
    let echo = udp_echo_server().await;
    let n = 20_000u32;
    let mut runs = Vec::new();
    for name in ["first", "second"] {
        let p = start_udp_with(
            &a,
            echo,
            name,
            &["--loss", "10%", "--seed", "7", "--direction", "c2s"],
        )
        .await;
        let mut client = Client::new(p["listen"].as_str().unwrap()).await;
        client.send(&mut ctl, name, n, 16).await;
        // Every datagram decided: lost, or relayed, answered and back.
        let p = until(&mut ctl, name, "every fate", |p| {
            counts(p).lost + p.datagrams_s2c == u64::from(n)
        })
        .await;
        let lost = counts(&p).lost;
        let deadline = tokio::time::Instant::now() + LIMIT;
        while (client.received() as u64) < u64::from(n) - lost {
            assert!(tokio::time::Instant::now() < deadline, "answers missing");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        runs.push((client.got(), listed(&a, name).await));
    }
    let (first, json) = &runs[0];
    let lost = json["faults_c2s"]["lost"].as_u64().unwrap();
    // 99.9 % two-sided: mean ± 3.29 sd of Binomial(20000, 0.1).
    let (mean, sd) = (2_000.0, (f64::from(n) * 0.1 * 0.9).sqrt());
    assert!(
        (lost as f64 - mean).abs() <= 3.29 * sd,
        "{lost} lost of {n}, expected {mean} ± {:.0}",
        3.29 * sd
    );
    assert_eq!(first.len() as u64, u64::from(n) - lost, "{json}");
    assert_eq!(json["datagrams_c2s"], n, "{json}");
    assert_eq!(
        json["faults_s2c"]["lost"], 0,
        "the answers were not touched"
    );
    assert_eq!(json["faults_c2s"]["duplicated"], 0, "{json}");
    assert_eq!(&runs[1].0, first, "the same seed loses the same datagrams");
    assert_eq!(runs[1].1["faults_c2s"], json["faults_c2s"]);
    // Loss only: what came back came back in order.
    assert!(first.windows(2).all(|w| w[0] < w[1]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplication_and_reordering_are_counted_as_the_client_sees_them() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("data"));
    let a = agent.addr_str();
    let mut ctl = agent.client().await;
    let echo = udp_echo_server().await;
    let p = start_udp_with(
        &a,
        echo,
        "game",
        &[
            "--duplicate",
            "5%",
            "--reorder",
            "10%:3",
            "--seed",
            "3",
            "--direction",
            "c2s",
            "--idle-timeout",
            "1s",
        ],
    )
    .await;
    let n = 5_000u32;
    let mut client = Client::new(p["listen"].as_str().unwrap()).await;
    client.send(&mut ctl, "game", n, 32).await;
    // Datagrams still held go out when the session ends idle.
    until(&mut ctl, "game", "the idle close", |p| {
        p.active_connections == 0
    })
    .await;
    let p = info(&mut ctl, "game").await;
    let expected = u64::from(n) + counts(&p).duplicated;
    let deadline = tokio::time::Instant::now() + LIMIT;
    while (client.received() as u64) < expected {
        assert!(tokio::time::Instant::now() < deadline, "answers missing");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let got = client.got();
    let json = listed(&a, "game").await;
    let mut copies = vec![0u32; n as usize];
    for &seq in &got {
        copies[seq as usize] += 1;
    }
    assert!(
        copies.iter().all(|&k| k == 1 || k == 2),
        "none lost, none tripled"
    );
    let twice = copies.iter().filter(|&&k| k == 2).count() as u64;
    let mut highest = None;
    let mut behind = 0u64;
    for &seq in &got {
        if highest.is_some_and(|h| seq < h) {
            behind += 1;
        }
        highest = highest.max(Some(seq));
    }
    let c2s = &json["faults_c2s"];
    assert!(twice > 0 && behind > 0, "{json}");
    assert_eq!(c2s["duplicated"], twice, "{json}");
    assert_eq!(c2s["reordered"], behind, "{json}");
    assert_eq!(c2s["lost"], 0, "{json}");
    assert_eq!(json["datagrams_s2c"], u64::from(n) + twice, "{json}");
    // The listing and faults show say what the profile is and did.
    let table = reelctl_async(&["-a", &a, "proxy", "ls"]).await;
    table.assert_code(0);
    assert!(table.stdout.contains("DGRAM FAULTS"), "{}", table.stdout);
    assert!(
        table
            .stdout
            .contains(&format!("c2s {twice} dup, {behind} reordered")),
        "{}",
        table.stdout
    );
    let shown = reelctl_async(&["-a", &a, "faults", "show", "game"]).await;
    shown.assert_code(0);
    assert!(
        shown
            .stdout
            .contains("direction c2s, duplicate 5%, reorder 10%:3, seed 3"),
        "{}",
        shown.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bandwidth_cap_queues_in_order_then_drops_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("data"));
    let a = agent.addr_str();
    let mut ctl = agent.client().await;
    let echo = udp_echo_server().await;
    // 200 kB/s, 1,000-byte datagrams: 65 go at once (the 64 KiB burst),
    // 1,000 more may wait, 5 ms apart; 3,000 are sent faster than that.
    let p = start_udp_with(
        &a,
        echo,
        "slow",
        &["--bandwidth", "200KB/s", "--direction", "c2s"],
    )
    .await;
    let n = 3_000u32;
    let mut client = Client::new(p["listen"].as_str().unwrap()).await;
    client.send(&mut ctl, "slow", n, 1_000).await;
    let p = until(&mut ctl, "slow", "the queue drained", |p| {
        counts(p).dropped + p.datagrams_s2c == u64::from(n)
    })
    .await;
    let dropped = counts(&p).dropped;
    assert!(dropped > 0, "{p:?}");
    let deadline = tokio::time::Instant::now() + LIMIT;
    while (client.received() as u64) < u64::from(n) - dropped {
        assert!(tokio::time::Instant::now() < deadline, "answers missing");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let got = client.got();
    assert!(got.windows(2).all(|w| w[0] < w[1]), "a queue keeps order");
    let json = listed(&a, "slow").await;
    assert_eq!(json["faults_c2s"]["dropped"], dropped, "{json}");
    assert_eq!(json["faults_s2c"]["dropped"], 0, "{json}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_set_and_clear_change_a_running_session() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("data"));
    let a = agent.addr_str();
    let mut ctl = agent.client().await;
    let echo = udp_echo_server().await;
    let p = start_udp_with(&a, echo, "live", &[]).await;
    let mut client = Client::new(p["listen"].as_str().unwrap()).await;
    let wait_back = |client: &Client, k: usize| {
        let got = client.got.clone();
        async move {
            eventually(LIMIT, "the answers", || {
                let got = got.clone();
                async move { got.lock().unwrap().len() >= k }
            })
            .await;
        }
    };
    client.send(&mut ctl, "live", 300, 8).await;
    wait_back(&client, 300).await;

    // The same session (same client socket) now loses everything it sends.
    let set = reelctl_async(&[
        "-a",
        &a,
        "faults",
        "set",
        "live",
        "--loss",
        "100%",
        "--direction",
        "c2s",
    ])
    .await;
    set.assert_code(0);
    assert!(set.stdout.contains("loss 100%"), "{}", set.stdout);
    client.send(&mut ctl, "live", 200, 8).await;
    let p = until(&mut ctl, "live", "the losses", |p| counts(p).lost == 200).await;
    assert_eq!(p.total_connections, 1, "one session throughout");
    assert_eq!(client.received(), 300);

    // Cleared: relayed untouched again.
    reelctl_async(&["-a", &a, "faults", "clear", "live"])
        .await
        .assert_code(0);
    client.send(&mut ctl, "live", 300, 8).await;
    wait_back(&client, 600).await;
    let got = client.got();
    assert_eq!(got.len(), 600);
    assert!(got[300..].iter().all(|&s| s >= 500), "{:?}", &got[300..310]);
    let p = info(&mut ctl, "live").await;
    assert_eq!(counts(&p).lost, 200);
    assert_eq!(p.total_connections, 1);
    let shown = reelctl_async(&["-a", &a, "--json", "faults", "show", "live"]).await;
    assert_eq!(only(&shown)["proxies"][0]["faults"]["summary"], "none");
}
