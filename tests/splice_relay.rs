//! The zero-copy relay, exactness: while nothing needs a connection's
//! bytes they move socket to socket through a pipe per direction
//! (`splice`), and every byte of 50 concurrent clients still arrives
//! exactly, is counted, and is recorded exactly once a recording starts,
//! even in the middle of live connections. The pipes themselves (when a
//! flow gets one, half-close, faults, `--no-splice`) are tests/splice_pipes.rs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use reel::format::{Direction, End};
use reel::proto as pb;
use reel::proto::reel_client::ReelClient;
use tokio::sync::Barrier;
use tonic::transport::Channel;

use common::exact::{Seen, exact_clients};
use common::*;

const CLIENTS: usize = 50;
/// Longest the clients of one test may take, all together.
const CLIENTS_TIMEOUT: Duration = Duration::from_secs(120);

/// Checks one client's echo through the proxy came back exact.
fn assert_exact(seen: &Seen) {
    assert!(
        seen.sent == seen.received,
        "echo through the proxy is exact for {} ({} bytes sent, {} received)",
        seen.local,
        seen.sent.len(),
        seen.received.len()
    );
}

/// Runs `CLIENTS` clients at once, each echo checked exact.
async fn fifty_clients(proxy: SocketAddr) -> Vec<Seen> {
    let seen = exact_clients(proxy, CLIENTS).await;
    seen.iter().for_each(assert_exact);
    seen
}

/// Where `part` lies in `whole` as one contiguous run, if it does.
fn offset_in(whole: &[u8], part: &[u8]) -> Option<usize> {
    if part.is_empty() {
        return Some(0);
    }
    let head = &part[..part.len().min(64)];
    memchr::memmem::find_iter(whole, head).find(|&at| whole[at..].starts_with(part))
}

/// Stops recording `id`, which must have ended complete.
async fn stop_complete(ctl: &mut ReelClient<Channel>, id: &str) -> pb::RecordingInfo {
    let done = common::stop_recording(ctl, id).await;
    assert_eq!(done.status, pb::RecordingStatus::Complete as i32);
    done
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_clients_are_relayed_and_counted_exactly_while_splicing() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("data"));
    let mut ctl = agent.client().await;
    let proxy = start_proxy(&mut ctl, echo_server().await).await;

    let seen = fifty_clients(proxy_addr(&proxy)).await;
    wait_idle(&ctl, CLIENTS as u64).await;
    let total: u64 = seen.iter().map(|s| s.sent.len() as u64).sum();
    assert_eq!(proxy_bytes(&mut ctl).await, (total, total));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_clients_are_recorded_byte_exact_with_splice_on() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let agent = AgentProc::start("127.0.0.1", &data);
    let mut ctl = agent.client().await;
    let proxy = start_proxy(&mut ctl, echo_server().await).await;
    let rec = start_recording(&mut ctl, "spliced").await;

    let seen = fifty_clients(proxy_addr(&proxy)).await;
    wait_idle(&ctl, CLIENTS as u64).await;
    let done = stop_complete(&mut ctl, &rec.id).await;
    let total: u64 = seen.iter().map(|s| s.sent.len() as u64).sum();
    assert_eq!((done.bytes_c2s, done.bytes_s2c), (total, total));
    assert_eq!(proxy_bytes(&mut ctl).await, (total, total));

    let (_, frames, end) = read_recording(&recording_path(&data, &rec.id));
    assert!(matches!(end, End::Complete(_)), "{end:?}");
    for s in &seen {
        let (conn, open) = open_of(&frames, &s.local);
        assert!(!open.mid_session);
        assert!(
            payload_of(&frames, conn, Direction::C2s) == s.sent,
            "c2s of {}",
            s.local
        );
        assert!(
            payload_of(&frames, conn, Direction::S2c) == s.received,
            "s2c of {}",
            s.local
        );
    }
}

/// Half the clients are paced by the test: a first part before the
/// recording starts, a second while it runs, a third after it stopped.
/// The other half never pause, so the recording starts and stops in the
/// middle of their transfers. Everything is relayed exactly; each
/// connection's recorded bytes are one contiguous run of what went each
/// way, and for the paced clients exactly their second part.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_started_and_stopped_mid_connection_holds_an_exact_contiguous_part() {
    const PACED: usize = CLIENTS / 2;
    const PART: usize = 3;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let agent = AgentProc::start("127.0.0.1", &data);
    let mut ctl = agent.client().await;
    let proxy = proxy_addr(&start_proxy(&mut ctl, echo_server().await).await);

    // Each paced client meets the test at the barrier four times: its
    // first part done, the recording started, its second part done, the
    // recording stopped.
    let barrier = Arc::new(Barrier::new(PACED + 1));
    let stopped = Arc::new(AtomicBool::new(false));
    let paced: Vec<_> = (0..PACED)
        .map(|i| {
            let barrier = barrier.clone();
            tokio::spawn(async move {
                let mut rng = StdRng::seed_from_u64(i as u64);
                let (mut sock, mut seen) = Seen::connect(proxy).await;
                let mut bounds = Vec::new();
                for _ in 0..3 {
                    for _ in 0..PART {
                        seen.exchange(&mut sock, &mut rng).await;
                    }
                    bounds.push(seen.sent.len());
                    barrier.wait().await;
                    barrier.wait().await;
                }
                seen.finish(sock).await;
                (seen, bounds[0]..bounds[1])
            })
        })
        .collect();
    let streaming: Vec<_> = (PACED..CLIENTS)
        .map(|i| {
            let stopped = stopped.clone();
            tokio::spawn(async move {
                let mut rng = StdRng::seed_from_u64(i as u64);
                let (mut sock, mut seen) = Seen::connect(proxy).await;
                while !stopped.load(Ordering::Relaxed) {
                    seen.exchange(&mut sock, &mut rng).await;
                }
                for _ in 0..PART {
                    seen.exchange(&mut sock, &mut rng).await;
                }
                seen.finish(sock).await;
                seen
            })
        })
        .collect();

    let rec = tokio::time::timeout(CLIENTS_TIMEOUT, async {
        barrier.wait().await;
        let rec = start_recording(&mut ctl, "mid").await;
        barrier.wait().await;
        barrier.wait().await;
        stop_complete(&mut ctl, &rec.id).await;
        stopped.store(true, Ordering::Relaxed);
        barrier.wait().await;
        // The third part's two meetings.
        barrier.wait().await;
        barrier.wait().await;
        rec
    })
    .await
    .expect("the paced clients kept pace");
    let (paced, streaming) = tokio::time::timeout(CLIENTS_TIMEOUT, async {
        let mut p = Vec::new();
        for c in paced {
            p.push(c.await.unwrap());
        }
        let mut s = Vec::new();
        for c in streaming {
            s.push(c.await.unwrap());
        }
        (p, s)
    })
    .await
    .expect("clients finished in time");
    wait_idle(&ctl, CLIENTS as u64).await;

    let (_, frames, end) = read_recording(&recording_path(&data, &rec.id));
    assert!(matches!(end, End::Complete(_)), "{end:?}");
    let recorded = |s: &Seen| {
        let (conn, open) = open_of(&frames, &s.local);
        assert!(
            open.mid_session,
            "{} was open before the recording",
            s.local
        );
        let c2s = payload_of(&frames, conn, Direction::C2s);
        let s2c = payload_of(&frames, conn, Direction::S2c);
        let at_c2s = offset_in(&s.sent, &c2s)
            .unwrap_or_else(|| panic!("recorded c2s of {} is not a run of what it sent", s.local));
        let at_s2c = offset_in(&s.received, &s2c)
            .unwrap_or_else(|| panic!("recorded s2c of {} is not a run of what it got", s.local));
        (at_c2s..at_c2s + c2s.len(), at_s2c..at_s2c + s2c.len())
    };
    for (s, second) in &paced {
        assert_exact(s);
        let (c2s, s2c) = recorded(s);
        assert_eq!(&c2s, second, "c2s recorded of paced {}", s.local);
        assert_eq!(&s2c, second, "s2c recorded of paced {}", s.local);
    }
    let mut streamed = 0;
    for s in &streaming {
        assert_exact(s);
        let (c2s, s2c) = recorded(s);
        assert!(c2s.end < s.sent.len(), "{} sent after the stop", s.local);
        streamed += c2s.len() + s2c.len();
    }
    assert!(streamed > 0, "the streaming clients were recorded in part");
}
