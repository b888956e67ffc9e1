//! The zero-copy relay: while nothing needs a connection's bytes they move
//! socket to socket through a pipe per direction (`splice`), and every byte
//! still arrives exactly, is counted, and is recorded exactly once a
//! recording starts, even in the middle of live connections. Half-close
//! passes through, a fault set live on a splicing connection takes effect,
//! and `--no-splice` copies instead.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reel::format::{Direction, End};
use reel::proto as pb;
use reel::proto::reel_client::ReelClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Barrier;
use tonic::transport::Channel;

use common::exact::{Seen, exact_clients};
use common::faults::*;
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

/// The proxies' byte counters as listed, summed.
async fn proxy_bytes(ctl: &mut ReelClient<Channel>) -> (u64, u64) {
    let p = ctl
        .list_proxies(pb::ListProxiesRequest {})
        .await
        .unwrap()
        .into_inner();
    p.proxies
        .iter()
        .fold((0, 0), |(c, s), p| (c + p.bytes_c2s, s + p.bytes_s2c))
}

/// Pipes a process holds open (either end): a splicing direction holds one.
fn pipes(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .map(|target| target.to_string_lossy().into_owned())
        .filter(|target| target.starts_with("pipe:"))
        .collect::<std::collections::BTreeSet<_>>()
        .len()
}

/// Where `part` lies in `whole` as one contiguous run, if it does.
fn offset_in(whole: &[u8], part: &[u8]) -> Option<usize> {
    if part.is_empty() {
        return Some(0);
    }
    let head = &part[..part.len().min(64)];
    memchr::memmem::find_iter(whole, head).find(|&at| whole[at..].starts_with(part))
}

async fn stop_recording(ctl: &mut ReelClient<Channel>, id: &str) -> pb::RecordingInfo {
    let done = ctl
        .stop_recording(pb::StopRecordingRequest { id: id.into() })
        .await
        .unwrap()
        .into_inner();
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
    let done = stop_recording(&mut ctl, &rec.id).await;
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
        stop_recording(&mut ctl, &rec.id).await;
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

/// Reads the pushed pattern from `sock` until `n` bytes (or EOF with
/// `None`), checking every byte.
async fn read_pattern(sock: &mut TcpStream, from: u64, n: Option<u64>) -> u64 {
    let mut at = from;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let want = n.map_or(buf.len(), |n| {
            (from + n - at).min(buf.len() as u64) as usize
        });
        if want == 0 {
            return at - from;
        }
        let got = tokio::time::timeout(Duration::from_secs(10), sock.read(&mut buf[..want]))
            .await
            .expect("pushed bytes within 10 s");
        let got = match got {
            Ok(0) | Err(_) if n.is_none() => return at - from,
            Ok(0) => panic!("EOF after {} of {n:?} bytes", at - from),
            Ok(k) => k,
            Err(e) => panic!("read failed: {e}"),
        };
        for (i, b) in buf[..got].iter().enumerate() {
            assert_eq!(*b, pattern_byte(at + i as u64), "byte {}", at + i as u64);
        }
        at += got as u64;
    }
}

/// Reads the pushed pattern slowly, 64 KiB at a time, until the proxy
/// holds a pipe for the flow (it waits to pass bytes on to this slow
/// reader): a proxy stuck writing a small chunk reads the backlog behind it
/// in bulk once some room is made. Returns the bytes read (within 20 s).
async fn until_spliced(sock: &mut TcpStream, pid: u32, baseline: usize) -> u64 {
    let mut read = 0;
    for _ in 0..400 {
        if pipes(pid) == baseline + 1 {
            return read;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        if pipes(pid) == baseline + 1 {
            return read;
        }
        read += read_pattern(sock, read, Some(64 * 1024)).await;
    }
    panic!("no pipe for the bulk flow after {read} bytes");
}

/// A bulk flow splices through a pipe of its own (held while the receiver
/// is slow), its half-close passes through, and the pipe is given back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_close_passes_through_a_splicing_flow_whose_pipe_is_given_back() {
    const TOTAL: u64 = 32 * 1024 * 1024 + 17;
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("data"));
    let pid = agent.child.id();
    let mut ctl = agent.client().await;
    let push = start_proxy(&mut ctl, push_server(Some(TOTAL)).await).await;
    let counting = start_proxy(&mut ctl, count_then_reply_server().await).await;
    let baseline = pipes(pid);

    // A slow reader: the server's bytes pile up and the proxy splices them
    // in bulk, holding its pipe while it waits to pass them on.
    let mut sock = TcpStream::connect(proxy_addr(&push)).await.unwrap();
    let read = until_spliced(&mut sock, pid, baseline).await;
    // Every byte in order, then the server's FIN passed on.
    assert_eq!(read + read_pattern(&mut sock, read, None).await, TOTAL);
    drop(sock);

    // The client's FIN after a bulk upload reaches the server, whose answer
    // comes back.
    let mut sock = TcpStream::connect(proxy_addr(&counting)).await.unwrap();
    let mut big = vec![0u8; 3 * 1024 * 1024 + 17];
    StdRng::seed_from_u64(7).fill_bytes(&mut big);
    tokio::time::timeout(Duration::from_secs(10), sock.write_all(&big))
        .await
        .expect("sent within 10 s")
        .unwrap();
    let reply = close_and_drain(sock).await;
    let want = format!("got {} bytes", big.len());
    assert_eq!(
        String::from_utf8_lossy(&reply),
        want,
        "the server saw the whole stream and its end"
    );
    wait_idle(&ctl, 2).await;
    let s2c = TOTAL + want.len() as u64;
    assert_eq!(proxy_bytes(&mut ctl).await, (big.len() as u64, s2c));
    eventually(Duration::from_secs(10), "pipes given back", || async {
        pipes(pid) == baseline
    })
    .await;
}

/// Small messages (a game's, a request and its answer) are copied: no pipe.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_messages_are_copied_without_a_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("data"));
    let pid = agent.child.id();
    let mut ctl = agent.client().await;
    let proxy = start_proxy(&mut ctl, echo_server().await).await;
    let baseline = pipes(pid);
    let mut sock = TcpStream::connect(proxy_addr(&proxy)).await.unwrap();
    for i in 0..50u8 {
        let msg = vec![i; 100];
        assert!(round_trip(&mut sock, &msg).await == msg);
        assert_eq!(pipes(pid), baseline, "no pipe for message {i}");
    }
    assert!(close_and_drain(sock).await.is_empty());
}

/// With `--no-splice` every byte is copied: no pipe is ever made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_splice_copies_every_byte() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start_with(
        "127.0.0.1:0",
        &dir.path().join("data"),
        "copy",
        &["--no-splice"],
    );
    let pid = agent.child.id();
    let mut ctl = agent.client().await;
    let proxy = start_proxy(&mut ctl, echo_server().await).await;
    let baseline = pipes(pid);
    let mut sock = TcpStream::connect(proxy_addr(&proxy)).await.unwrap();
    let msg = vec![5u8; 300_000];
    assert!(round_trip(&mut sock, &msg).await == msg);
    // Both directions have passed bytes on: a pipe would exist by now.
    assert_eq!(pipes(pid), baseline);
    assert!(close_and_drain(sock).await.is_empty());
    wait_idle(&ctl, 1).await;
    assert_eq!(proxy_bytes(&mut ctl).await, (300_000, 300_000));
}

/// A byte limit set live with `reelctl faults set` on a flow that is
/// splicing, and watched: the bytes before it are reported with their
/// sizes, and the limit ends the connection after exactly its bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_set_live_on_a_splicing_connection_takes_effect() {
    const LIMIT: u64 = 100_000;
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("data"));
    let pid = agent.child.id();
    let mut ctl = agent.client().await;
    let proxy = start_proxy(&mut ctl, push_server(None).await).await;
    let mut events = watch_transfers(&mut ctl, &[&proxy.id]).await;
    let baseline = pipes(pid);

    let mut sock = TcpStream::connect(proxy_addr(&proxy)).await.unwrap();
    let before = until_spliced(&mut sock, pid, baseline).await;

    let out = reelctl_async(&[
        "--agent",
        &agent.addr_str(),
        "faults",
        "set",
        &proxy.id,
        "--limit-data",
        &LIMIT.to_string(),
        "--direction",
        "s2c",
    ])
    .await;
    assert_eq!(out.code, Some(0), "{out:?}");
    // What was read before the change (in the pipe, in the socket buffers)
    // is relayed; from the change on, exactly LIMIT more bytes.
    let read = before + read_pattern(&mut sock, before, None).await;

    let logs = gather_until_closed(&mut events, 1, Duration::from_secs(20)).await;
    let log = logs.values().next().unwrap();
    let reason = log.close_reason.as_deref().unwrap();
    assert!(
        reason.contains(&format!("closed after {LIMIT} bytes s2c")),
        "{reason}"
    );
    let reported: u64 = log
        .transfers
        .iter()
        .filter(|t| !t.c2s)
        .map(|t| t.bytes)
        .sum();
    assert_eq!(reported, read, "every byte the client got was reported");
    assert!(read > LIMIT, "{read}");
    eventually(Duration::from_secs(10), "the pipe given back", || async {
        pipes(pid) == baseline
    })
    .await;
}
