//! `reel-agent delay` (TcpDelay compatible) as a user runs it: every
//! transfer each way is held between the two `-D` values, each one is
//! logged seed style, SIGTERM stops it with status 0, and bad arguments are
//! usage errors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::ready::spawn_ready;
use common::*;
use tokio::net::TcpStream;

/// A running `reel-agent delay`; killed on drop.
struct DelayProc {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl DelayProc {
    fn start(args: &[&str], log: PathBuf) -> DelayProc {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_reel-agent"));
        cmd.arg("delay").args(args).env("RUST_LOG", "info");
        let (child, addr) = spawn_ready(&mut cmd, "reel-agent delay listening on", &log);
        DelayProc { child, addr, log }
    }
}

impl Drop for DelayProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `-D 0.02 -D 0.04`: a round trip is delayed twice (c2s, then s2c), so
/// it takes 40 to 80 ms; scheduling may add a little, never take away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trips_are_delayed_between_the_two_values_each_way() {
    let dir = tempfile::tempdir().unwrap();
    let echo = echo_server().await;
    let port = echo.port().to_string();
    let mut delay = DelayProc::start(
        &[
            "-L",
            "0",
            "-H",
            "127.0.0.1",
            "-P",
            &port,
            "-D",
            "0.02",
            "-D",
            "0.04",
        ],
        dir.path().join("delay.log"),
    );
    let mut sock = TcpStream::connect(delay.addr).await.unwrap();
    let msg = b"0123456789abcdefghijklmnopqrstuv";
    let mut times = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        assert_eq!(round_trip(&mut sock, msg).await, msg);
        times.push(t.elapsed());
    }
    assert!(close_and_drain(sock).await.is_empty());
    for t in &times {
        // 40 ms is strict (a chunk is never released early); 80 ms is
        // given 40 ms of room for scheduling on a busy machine.
        assert!(
            (Duration::from_millis(40)..Duration::from_millis(120)).contains(t),
            "round trips {times:?}"
        );
    }
    // The log has seen the close before SIGTERM.
    eventually(Duration::from_secs(5), "the close logged", || {
        let log = std::fs::read_to_string(&delay.log).unwrap_or_default();
        async move { log.contains("fromClient closed") }
    })
    .await;
    signal(delay.child.id(), "TERM");
    assert_eq!(
        wait_bounded(&mut delay.child, Duration::from_secs(10)),
        Some(0)
    );
    let log = std::fs::read_to_string(&delay.log).unwrap();
    assert!(log.contains("toServer connected"), "{log}");
    let lines = |dir: &str| {
        log.lines()
            .filter(|l| l.contains(&format!(" {dir} 0.032 KB (delayed ")))
            .count()
    };
    assert_eq!(lines("c2s"), 10, "{log}");
    assert_eq!(lines("s2c"), 10, "{log}");
    assert!(log.contains("toServer closed (client closed)"), "{log}");
}

#[test]
fn bad_arguments_are_usage_errors() {
    let exe = env!("CARGO_BIN_EXE_reel-agent");
    for args in [
        &["delay", "-L", "0", "-H", "127.0.0.1", "-P", "1"][..],
        &[
            "delay",
            "-L",
            "0",
            "-H",
            "127.0.0.1",
            "-P",
            "1",
            "-D",
            "1",
            "-D",
            "2",
            "-D",
            "3",
        ],
        &[
            "delay",
            "-L",
            "0",
            "-H",
            "127.0.0.1",
            "-P",
            "1",
            "-D",
            "soon",
        ],
        &["delay", "-L", "0", "-H", "127.0.0.1", "-P", "1", "-D=-0.5"],
        // Past `Duration::MAX`: once a panic (exit 101) in `from_secs_f64`.
        &[
            "delay",
            "-L",
            "0",
            "-H",
            "127.0.0.1",
            "-P",
            "1",
            "-D",
            "1e20",
        ],
        &[
            "delay",
            "-L",
            "0",
            "-H",
            "127.0.0.1",
            "-P",
            "1",
            "-D",
            "inf",
        ],
        &[
            "delay",
            "-L",
            "70000",
            "-H",
            "127.0.0.1",
            "-P",
            "1",
            "-D",
            "1",
        ],
        &[
            "delay", "-L", "0", "--bind", "nowhere", "-H", "h", "-P", "1", "-D", "1",
        ],
        &[
            "--listen",
            "127.0.0.1:0",
            "delay",
            "-L",
            "0",
            "-H",
            "h",
            "-P",
            "1",
            "-D",
            "1",
        ],
    ] {
        let out = run_bounded(
            Command::new(exe).args(args),
            Duration::from_secs(10),
            "reel-agent",
        );
        assert_eq!(out.code, Some(2), "{args:?}: {out:?}");
        assert!(out.stderr.starts_with("error:"), "{args:?}: {}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{args:?}: {}", out.stderr);
    }
}

#[test]
fn a_port_in_use_is_an_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = run_bounded(
        Command::new(env!("CARGO_BIN_EXE_reel-agent")).args([
            "delay",
            "-L",
            &port,
            "-H",
            "127.0.0.1",
            "-P",
            "1",
            "-D",
            "0.1",
        ]),
        Duration::from_secs(10),
        "reel-agent",
    );
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr.contains("error: cannot listen on 127.0.0.1:"),
        "{}",
        out.stderr
    );
}

/// `--udp -D 0.03`: each datagram is held 30 ms each way, so an echo takes
/// at least 60 ms (never less; a busy machine may add), comes back whole and
/// as sent, and the session and its datagrams are logged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_datagrams_are_delayed_each_way_and_kept_whole() {
    let dir = tempfile::tempdir().unwrap();
    let echo = udp_echo_server().await;
    let port = echo.port().to_string();
    let delay = DelayProc::start(
        &[
            "--udp",
            "-L",
            "0",
            "-H",
            "127.0.0.1",
            "-P",
            &port,
            "-D",
            "0.03",
        ],
        dir.path().join("delay.log"),
    );
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.connect(delay.addr).await.unwrap();
    let mut buf = vec![0u8; 2_000];
    for len in [1usize, 100, 1_400] {
        let msg: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        let t = Instant::now();
        sock.send(&msg).await.unwrap();
        let n = tokio::time::timeout(Duration::from_secs(10), sock.recv(&mut buf))
            .await
            .expect("the echo came back")
            .unwrap();
        let took = t.elapsed();
        assert_eq!(&buf[..n], &msg[..], "one datagram in, the same one out");
        assert!(
            took >= Duration::from_millis(60),
            "echo of {len} B in {took:?}"
        );
    }
    let wanted = format!("> 127.0.0.1:{port} c2s 1.400 KB");
    eventually(Duration::from_secs(5), "the datagrams logged", || {
        let log = std::fs::read_to_string(&delay.log).unwrap_or_default();
        let wanted = wanted.clone();
        async move { log.contains("session opened") && log.contains(&wanted) }
    })
    .await;
    let mut delay = delay;
    signal(delay.child.id(), "TERM");
    assert_eq!(
        wait_bounded(&mut delay.child, Duration::from_secs(10)),
        Some(0)
    );
    let log = std::fs::read_to_string(&delay.log).unwrap();
    assert!(
        log.contains("session closed (stopped): 3 datagrams c2s, 3 s2c"),
        "{log}"
    );
}
