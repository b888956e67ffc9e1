//! The zero-copy relay's pipes: a bulk flow splices through a pipe of its
//! own and gives it back, half-close passes through it, small messages are
//! copied without one, `--no-splice` copies everything, and a fault set
//! live on a splicing connection takes effect. Exactness under 50 clients
//! and recordings is tests/splice_relay.rs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::faults::*;
use common::*;

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
