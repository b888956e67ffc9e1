//! Soak (issue 13): the agent under everything at once — 2,000 connections,
//! faults changing under them, 50 Watch subscribers of which half never
//! read, and recordings started, stopped and deleted over and over — must
//! give back every file descriptor and stop growing once the load stops.
//!
//! Behind `--ignored` (about two minutes, both cores busy):
//!   cargo test --test soak -- --ignored --nocapture
//! `REEL_SOAK_SECS` sets the load time (default 60) and `REEL_SOAK_ROUNDS`
//! how many rounds it is split into (default 3).
//!
//! The bound, as docs/RELIABILITY.md states it: after each round, once every
//! connection is closed, the agent holds the same file descriptors as before
//! the load (a slack of 8 for the runtime's own); and its resident memory
//! after the last round is within 48 MiB of what it was after the first
//! (the first round sets the level; a leak shows as growth from round to
//! round). Under glibc's malloc this failed with ~150 MiB kept resident and
//! growing while under 1 MiB was in use (heaptrack): the agent now runs on
//! jemalloc, which purges freed pages in the background.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::{RngExt, SeedableRng};
use reel::proto as pb;
use reel::proto::reel_client::ReelClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tonic::transport::Channel;

use common::*;

const CONNECTIONS: usize = 2_000;
const WATCHERS: usize = 50;
const FD_SLACK: usize = 8;
const RSS_GROWTH_LIMIT_KIB: u64 = 48 * 1024;

#[derive(Default)]
struct Tally {
    sessions: AtomicU64,
    round_trips: AtomicU64,
    /// Sessions cut by a fault (reset, limit) or refused: expected under
    /// random faults, counted so the test can show the load was real.
    cut: AtomicU64,
    recordings: AtomicU64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "soak: about two minutes of load on both cores; run with --ignored"]
async fn no_fd_or_memory_growth_after_sustained_mixed_load() {
    let secs: u64 = std::env::var("REEL_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let rounds: u32 = std::env::var("REEL_SOAK_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let round = Duration::from_secs(secs) / rounds;
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("data"));
    let pid = agent.child.id();
    let mut ctl = agent.client().await;
    let proxy = start_proxy(&mut ctl, echo_server().await).await;
    let addr = proxy_addr(&proxy);

    // Settle the runtime's own descriptors (gRPC connection, worker
    // threads) before taking the baseline.
    one_session(addr, 1, &Tally::default()).await;
    wait_idle(&ctl, 1).await;
    let fds_before = open_fds(pid);
    eprintln!(
        "before load: fds {fds_before}, rss {} KiB",
        proc_kib(pid, "VmRSS")
    );
    let tally = Arc::new(Tally::default());
    let mut rss_after = Vec::new();

    for r in 0..rounds {
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for i in 0..CONNECTIONS {
            let (stop, tally) = (stop.clone(), tally.clone());
            let seed = (u64::from(r) << 32) | i as u64;
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    one_session(addr, seed, &tally).await;
                }
            }));
        }
        let watchers = start_watchers(&agent, WATCHERS).await;
        let chaos = tokio::spawn(chaos(
            ctl.clone(),
            proxy.id.clone(),
            stop.clone(),
            tally.clone(),
            r,
        ));
        tokio::time::sleep(round).await;
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            tokio::time::timeout(Duration::from_secs(60), t)
                .await
                .expect("a client session ended within 60 s of the stop")
                .unwrap();
        }
        tokio::time::timeout(Duration::from_secs(30), chaos)
            .await
            .expect("fault and recording churn ended")
            .unwrap();
        for w in &watchers {
            w.abort();
        }
        for w in watchers {
            let _ = w.await;
        }

        settle(&ctl).await;
        let fds = open_fds(pid);
        let rss = proc_kib(pid, "VmRSS");
        eprintln!(
            "round {r}: fds {fds} (before load {fds_before}), rss {rss} KiB, sessions {}, round trips {}, cut {}, recordings {}",
            tally.sessions.load(Ordering::Relaxed),
            tally.round_trips.load(Ordering::Relaxed),
            tally.cut.load(Ordering::Relaxed),
            tally.recordings.load(Ordering::Relaxed),
        );
        assert!(
            fds <= fds_before + FD_SLACK,
            "round {r}: the agent holds {fds} fds after the load, {fds_before} before: descriptors leak"
        );
        rss_after.push(rss);
    }

    assert!(
        tally.round_trips.load(Ordering::Relaxed) > 10_000,
        "the load ran"
    );
    assert!(
        tally.recordings.load(Ordering::Relaxed) >= 3,
        "recordings churned"
    );
    let growth = rss_after.last().unwrap().saturating_sub(rss_after[0]);
    assert!(
        growth <= RSS_GROWTH_LIMIT_KIB,
        "resident memory grew {growth} KiB from round 1 to round {rounds} ({rss_after:?} KiB)"
    );
    // Still serving, and nothing panicked.
    ctl.list_proxies(pb::ListProxiesRequest {}).await.unwrap();
    assert!(!agent.log().contains("panicked"), "{}", agent.log());
}

/// One client session: connect, a few echo round trips of random sizes with
/// pauses, then a clean or abrupt close. Fault-cut sessions are counted, not
/// failed; a session is bounded by 20 s whatever the faults do.
async fn one_session(addr: std::net::SocketAddr, seed: u64, tally: &Tally) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(
        seed ^ tally
            .sessions
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9e37_79b9),
    );
    let trips = rng.random_range(1..8);
    let sizes: Vec<usize> = (0..trips).map(|_| rng.random_range(1..4096)).collect();
    let pauses: Vec<u64> = (0..trips).map(|_| rng.random_range(50..400)).collect();
    let abrupt = rng.random_bool(0.3);
    let outcome = tokio::time::timeout(Duration::from_secs(20), async {
        let mut sock = TcpStream::connect(addr).await?;
        for (n, pause) in sizes.iter().zip(&pauses) {
            let msg = vec![b'x'; *n];
            let mut back = vec![0u8; *n];
            let (mut r, mut w) = sock.split();
            let (wr, rd) = tokio::join!(w.write_all(&msg), r.read_exact(&mut back));
            wr?;
            rd?;
            tally.round_trips.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(*pause)).await;
        }
        if abrupt {
            sock.set_zero_linger()?;
        } else {
            sock.shutdown().await?;
            let mut rest = Vec::new();
            sock.read_to_end(&mut rest).await?;
        }
        std::io::Result::Ok(())
    })
    .await;
    if !matches!(outcome, Ok(Ok(()))) {
        tally.cut.fetch_add(1, Ordering::Relaxed);
        // Do not hammer a proxy that refuses or a fault that resets at once.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Subscribers: even ones drain the stream, odd ones ask for transfer
/// events and never read a single one.
async fn start_watchers(agent: &AgentProc, n: usize) -> Vec<tokio::task::JoinHandle<()>> {
    let mut held = Vec::new();
    for i in 0..n {
        let mut ctl = agent.client().await;
        let kinds = if i % 2 == 0 {
            vec![]
        } else {
            vec![
                pb::EventKind::Transfer as i32,
                pb::EventKind::Connection as i32,
            ]
        };
        let mut stream = ctl
            .watch(pb::WatchRequest {
                kinds,
                proxies: vec![],
            })
            .await
            .expect("Watch within the subscriber cap")
            .into_inner();
        held.push(tokio::spawn(async move {
            let _ctl = ctl;
            if i % 2 == 0 {
                while let Ok(Some(_)) = stream.message().await {}
            } else {
                std::future::pending::<()>().await;
            }
        }));
    }
    held
}

/// Changes the proxy's faults every 500 ms and starts, stops and deletes a
/// recording every 2 s, until told to stop; ends with no fault and no
/// recording running.
async fn chaos(
    mut ctl: ReelClient<Channel>,
    proxy: String,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
    round: u32,
) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(u64::from(round));
    let mut recording: Option<(String, Instant)> = None;
    while !stop.load(Ordering::Relaxed) {
        let faults = random_faults(&mut rng);
        ctl.update_faults(pb::UpdateFaultsRequest {
            proxy: proxy.clone(),
            faults: Some(faults),
        })
        .await
        .expect("UpdateFaults under load");
        match &recording {
            None => {
                let info = start_recording(&mut ctl, "soak").await;
                recording = Some((info.id, Instant::now()));
            }
            Some((id, since)) if since.elapsed() > Duration::from_secs(2) => {
                finish_recording(&mut ctl, id).await;
                tally.recordings.fetch_add(1, Ordering::Relaxed);
                recording = None;
            }
            Some(_) => {}
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    if let Some((id, _)) = recording {
        finish_recording(&mut ctl, &id).await;
        tally.recordings.fetch_add(1, Ordering::Relaxed);
    }
    ctl.update_faults(pb::UpdateFaultsRequest {
        proxy,
        faults: Some(pb::FaultProfile::default()),
    })
    .await
    .expect("clear faults");
}

async fn finish_recording(ctl: &mut ReelClient<Channel>, id: &str) {
    ctl.stop_recording(pb::StopRecordingRequest { id: id.into() })
        .await
        .expect("StopRecording under load");
    ctl.delete_recording(pb::DeleteRecordingRequest { id: id.into() })
        .await
        .expect("DeleteRecording of a stopped recording");
}

/// Latency, bandwidth, slicing, resets and limits, one or two at a time.
fn random_faults(rng: &mut impl RngExt) -> pb::FaultProfile {
    let mut f = pb::FaultProfile::default();
    match rng.random_range(0..6) {
        0 => {}
        1 => {
            f.latency = Some(pb::Latency {
                distribution: reel::proto::LatencyDistribution::Uniform as i32,
                min_us: 0,
                max_us: rng.random_range(1_000..30_000),
                ..Default::default()
            })
        }
        2 => f.bandwidth = rng.random_range(64_000..4_000_000),
        3 => {
            f.slice_bytes = rng.random_range(1..512);
            f.slice_pause_us = rng.random_range(0..500);
        }
        4 => f.reset_after_bytes = rng.random_range(1_000..20_000),
        _ => f.limit_bytes = rng.random_range(1_000..20_000),
    }
    if rng.random_bool(0.3) {
        f.toxicity = Some(0.5);
        f.seed = Some(rng.random());
    }
    f
}

/// Waits (bounded) until the proxy has no connection open, then a little
/// longer for closed sockets and finished tasks to be reaped.
async fn settle(ctl: &ReelClient<Channel>) {
    let mut ctl = ctl.clone();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let p = ctl
            .list_proxies(pb::ListProxiesRequest {})
            .await
            .unwrap()
            .into_inner();
        let active: u64 = p.proxies.iter().map(|p| p.active_connections).sum();
        if active == 0 {
            tokio::time::sleep(Duration::from_secs(2)).await;
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{active} connections still open 60 s after the load stopped"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("the agent's /proc fd table")
        .count()
}
