//! Each fault as a client sees it, through a real agent on loopback: a reset
//! after N bytes (exactly N delivered, then ECONNRESET) or after a time, a
//! black hole (nothing back; with close-after, the connection closes), a
//! data limit (exactly N bytes, then EOF), bandwidth caps (rate within 15%),
//! the slicer (same bytes in more, smaller reads), connect delay and slow
//! close. Timings are loose bounds.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use reel::faults::{Directions, FaultSpec, parse};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::faults::*;
use common::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn s2c_only() -> Directions {
    Directions::parse("s2c").unwrap()
}

/// Reads until EOF or an error; the bytes and how it ended.
async fn read_all(sock: &mut TcpStream, limit: Duration) -> (Vec<u8>, std::io::Result<()>) {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let end = tokio::time::timeout(limit, async {
        loop {
            match sock.read(&mut buf).await {
                Ok(0) => return Ok(()),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => return Err(e),
            }
        }
    })
    .await
    .expect("connection ended in time");
    (got, end)
}

fn assert_pattern(got: &[u8]) {
    let bad = got
        .iter()
        .enumerate()
        .position(|(i, b)| *b != pattern_byte(i as u64));
    assert_eq!(bad, None, "bytes differ from what the server sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resets_after_bytes_and_after_time() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("data"));
    let mut ctl = agent.client().await;

    // 100,000 bytes of a 1 MiB push get through, then RST.
    let spec = FaultSpec {
        reset_after_bytes: Some(100_000),
        directions: s2c_only(),
        ..FaultSpec::default()
    };
    let proxy = start_faulty_proxy(&mut ctl, push_server(Some(1 << 20)).await, &spec).await;
    let mut sock = TcpStream::connect(proxy_addr(&proxy)).await.unwrap();
    let (got, end) = read_all(&mut sock, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 100_000);
    assert_pattern(&got);
    let err = end.expect_err("the connection was reset");
    assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");

    // Reset 300 ms after the connection opened, whatever the traffic.
    let spec = FaultSpec {
        reset_after: Some(ms(300)),
        ..FaultSpec::default()
    };
    let proxy = start_faulty_proxy(&mut ctl, echo_server().await, &spec).await;
    let t = Instant::now();
    let mut sock = TcpStream::connect(proxy_addr(&proxy)).await.unwrap();
    assert_eq!(round_trip(&mut sock, b"still up").await, b"still up");
    let (got, end) = read_all(&mut sock, Duration::from_secs(5)).await;
    let took = t.elapsed();
    assert!(got.is_empty());
    let err = end.expect_err("the connection was reset");
    assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
    assert!((ms(300)..ms(2000)).contains(&took), "reset after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_black_hole_swallows_and_closes_after() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("data"));
    let mut ctl = agent.client().await;
    let echo = echo_server().await;

    let spec = FaultSpec {
        black_hole: true,
        ..FaultSpec::default()
    };
    let proxy = start_faulty_proxy(&mut ctl, echo, &spec).await;
    let mut sock = TcpStream::connect(proxy_addr(&proxy)).await.unwrap();
    sock.write_all(b"anyone there?").await.unwrap();
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(ms(400), sock.read(&mut buf)).await;
    assert!(read.is_err(), "nothing comes back: {read:?}");

    let spec = FaultSpec {
        black_hole: true,
        black_hole_close_after: Some(ms(300)),
        ..FaultSpec::default()
    };
    let proxy = start_faulty_proxy(&mut ctl, echo, &spec).await;
    let t = Instant::now();
    let mut sock = TcpStream::connect(proxy_addr(&proxy)).await.unwrap();
    sock.write_all(b"anyone there?").await.unwrap();
    let (got, _end) = read_all(&mut sock, Duration::from_secs(5)).await;
    let took = t.elapsed();
    assert!(got.is_empty(), "nothing comes back");
    assert!((ms(300)..ms(2000)).contains(&took), "closed after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_limit_closes_after_exactly_n_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("data"));
    let mut ctl = agent.client().await;
    let spec = FaultSpec {
        limit_bytes: Some(50_000),
        directions: s2c_only(),
        ..FaultSpec::default()
    };
    let proxy = start_faulty_proxy(&mut ctl, push_server(Some(1 << 20)).await, &spec).await;
    let mut sock = TcpStream::connect(proxy_addr(&proxy)).await.unwrap();
    let (got, end) = read_all(&mut sock, Duration::from_secs(10)).await;
    end.expect("a clean close (FIN), not a reset");
    assert_eq!(got.len(), 50_000);
    assert_pattern(&got);
}

/// Bytes read from `addr` between `skip` and `skip + window` after the
/// first byte, as bytes per second.
async fn measured_rate(addr: std::net::SocketAddr, skip: Duration, window: Duration) -> f64 {
    let mut sock = TcpStream::connect(addr).await.unwrap();
    let mut buf = vec![0u8; 256 * 1024];
    let n = sock.read(&mut buf).await.unwrap();
    assert!(n > 0);
    let t0 = Instant::now();
    let mut counted = 0u64;
    let end = t0 + skip + window;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, sock.read(&mut buf)).await {
            Err(_) => break,
            Ok(r) => {
                let n = r.unwrap();
                assert!(n > 0, "the server never stops");
                if t0.elapsed() >= skip {
                    counted += n as u64;
                }
            }
        }
    }
    counted as f64 / window.as_secs_f64()
}

/// One connection capped at 512 KiB/s, and two sharing a proxy-wide cap of
/// 512 KiB/s, measured together over 2 s (after the first 200 ms, which
/// may carry the bucket's initial burst).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bandwidth_caps_hold_within_15_percent() {
    const RATE: f64 = 512.0 * 1024.0;
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("data"));
    let mut ctl = agent.client().await;
    let push = push_server(None).await;
    let own = start_faulty_proxy(
        &mut ctl,
        push,
        &FaultSpec {
            bandwidth: Some(RATE as u64),
            ..FaultSpec::default()
        },
    )
    .await;
    let shared = start_faulty_proxy(
        &mut ctl,
        push,
        &FaultSpec {
            proxy_bandwidth: Some(RATE as u64),
            ..FaultSpec::default()
        },
    )
    .await;
    let (skip, window) = (ms(200), Duration::from_secs(2));
    let (one, a, b) = tokio::join!(
        measured_rate(proxy_addr(&own), skip, window),
        measured_rate(proxy_addr(&shared), skip, window),
        measured_rate(proxy_addr(&shared), skip, window),
    );
    eprintln!("per connection {one:.0} B/s, proxy-wide {a:.0} + {b:.0} B/s, cap {RATE} B/s");
    let within = |r: f64| (RATE * 0.85..=RATE * 1.15).contains(&r);
    assert!(within(one), "per-connection cap: {one:.0} B/s");
    assert!(within(a + b), "proxy-wide cap: {a:.0} + {b:.0} B/s");
}

/// Reads `n` bytes; returns the size of each read.
async fn read_sizes(sock: &mut TcpStream, n: usize) -> (Vec<u8>, Vec<usize>) {
    let mut got = Vec::new();
    let mut sizes = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    tokio::time::timeout(Duration::from_secs(10), async {
        while got.len() < n {
            let k = sock.read(&mut buf).await.unwrap();
            assert!(k > 0, "closed early");
            got.extend_from_slice(&buf[..k]);
            sizes.push(k);
        }
    })
    .await
    .expect("all bytes within 10 s");
    (got, sizes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_slicer_delivers_the_same_bytes_in_more_smaller_reads() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("data"));
    let mut ctl = agent.client().await;
    let echo = echo_server().await;
    let plain = start_proxy(&mut ctl, echo).await;
    let sliced = start_faulty_proxy(
        &mut ctl,
        echo,
        &FaultSpec {
            slicer: Some(parse::slicer("256:2ms").unwrap()),
            ..FaultSpec::default()
        },
    )
    .await;
    let msg: Vec<u8> = (0..8192u64).map(pattern_byte).collect();
    let mut reads = Vec::new();
    for proxy in [&plain, &sliced] {
        let mut sock = TcpStream::connect(proxy_addr(proxy)).await.unwrap();
        sock.write_all(&msg).await.unwrap();
        let (got, sizes) = read_sizes(&mut sock, msg.len()).await;
        assert!(got == msg, "bytes differ");
        assert!(close_and_drain(sock).await.is_empty());
        reads.push(sizes);
    }
    let (plain, sliced) = (&reads[0], &reads[1]);
    eprintln!("reads: plain {plain:?}, sliced {sliced:?}");
    assert!(
        sliced.len() > plain.len() && sliced.len() >= 8,
        "reads: plain {plain:?}, sliced {sliced:?}"
    );
    assert!(
        sliced.iter().max() < plain.iter().max(),
        "reads: plain {plain:?}, sliced {sliced:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_delay_and_slow_close() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("data"));
    let mut ctl = agent.client().await;

    // The first round trip waits for the delayed upstream connect.
    let spec = FaultSpec {
        connect_delay: Some(ms(300)),
        ..FaultSpec::default()
    };
    let proxy = start_faulty_proxy(&mut ctl, echo_server().await, &spec).await;
    let t = Instant::now();
    let mut sock = TcpStream::connect(proxy_addr(&proxy)).await.unwrap();
    assert_eq!(round_trip(&mut sock, b"hello").await, b"hello");
    let first = t.elapsed();
    assert!(
        (ms(300)..ms(2000)).contains(&first),
        "first round trip {first:?}"
    );
    let t = Instant::now();
    assert_eq!(round_trip(&mut sock, b"again").await, b"again");
    assert!(t.elapsed() < ms(200), "later ones are not delayed");
    assert!(close_and_drain(sock).await.is_empty());

    // Each FIN is held 300 ms: the server hears of the client's close 300 ms
    // late, and the client of the server's 300 ms after that.
    let spec = FaultSpec {
        slow_close: Some(ms(300)),
        ..FaultSpec::default()
    };
    let proxy = start_faulty_proxy(&mut ctl, count_then_reply_server().await, &spec).await;
    let mut sock = TcpStream::connect(proxy_addr(&proxy)).await.unwrap();
    sock.write_all(b"hello").await.unwrap();
    let t = Instant::now();
    sock.shutdown().await.unwrap();
    let mut reply = [0u8; 11];
    sock.read_exact(&mut reply).await.unwrap();
    let replied = t.elapsed();
    assert_eq!(&reply, b"got 5 bytes");
    let (rest, end) = read_all(&mut sock, Duration::from_secs(5)).await;
    let closed = t.elapsed();
    end.unwrap();
    assert!(rest.is_empty());
    assert!(
        (ms(300)..ms(2000)).contains(&replied),
        "reply after {replied:?}"
    );
    assert!(
        (ms(600)..ms(3000)).contains(&closed),
        "EOF after {closed:?}"
    );
}
