//! A real redis-server for tests that need a stateful peer, and a minimal
//! RESP client. The server runs with no persistence and is killed by pid.
//! And an order-dependent workload whose end state only a causal replay
//! reproduces, with the one check that a causal replay of it did.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rand::{RngExt, SeedableRng};
use reel::proto as pb;
use reel::proto::reel_client::ReelClient;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tonic::transport::Channel;

use super::replays::{replay_request, replay_within};

/// A redis-server process on 127.0.0.1.
pub struct RedisServer {
    child: Child,
    pub addr: SocketAddr,
}

impl RedisServer {
    /// Starts redis-server on a free port and waits until it answers PING.
    /// Fails the test, naming the package, when redis-server is missing.
    pub async fn start() -> RedisServer {
        let port = super::closed_port().port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run redis-server ({e}): install it with `apt-get install redis-server` (scripts/test.sh does)")
            });
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let server = RedisServer { child, addr };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut c) = RespClient::connect(addr).await
                && c.cmd(&["PING"]).await == "+PONG"
            {
                return server;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server on {addr} did not answer PING within 10s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Just enough RESP for tests: send a command, read one reply as text.
pub struct RespClient {
    r: BufReader<tokio::net::tcp::OwnedReadHalf>,
    w: tokio::net::tcp::OwnedWriteHalf,
}

impl RespClient {
    pub async fn connect(addr: SocketAddr) -> std::io::Result<RespClient> {
        let s = TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        let (r, w) = s.into_split();
        Ok(RespClient {
            r: BufReader::new(r),
            w,
        })
    }

    /// Sends `args` as a RESP array and returns the reply: simple strings,
    /// errors and integers as their line (`+OK`, `:3`), bulk strings as
    /// their content, arrays as their elements joined by `\n`.
    pub async fn cmd(&mut self, args: &[&str]) -> String {
        let mut out = format!("*{}\r\n", args.len());
        for a in args {
            out.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        self.w
            .write_all(out.as_bytes())
            .await
            .expect("send to redis");
        Box::pin(self.reply()).await
    }

    async fn line(&mut self) -> String {
        let mut line = String::new();
        self.r.read_line(&mut line).await.expect("read from redis");
        line.trim_end_matches("\r\n").to_string()
    }

    async fn reply(&mut self) -> String {
        let line = self.line().await;
        match line.as_bytes().first() {
            Some(b'$') => {
                let n: i64 = line[1..].parse().unwrap();
                if n < 0 {
                    return "(nil)".into();
                }
                let mut buf = vec![0u8; n as usize + 2];
                self.r.read_exact(&mut buf).await.unwrap();
                String::from_utf8_lossy(&buf[..n as usize]).into_owned()
            }
            Some(b'*') => {
                let n: i64 = line[1..].parse().unwrap();
                let mut items = Vec::new();
                for _ in 0..n.max(0) {
                    items.push(Box::pin(self.reply()).await);
                }
                items.join("\n")
            }
            _ => line,
        }
    }
}

/// Clients of the order-dependent workload ([`redis_client`]) a test runs at once.
pub const CLIENTS: usize = 20;
/// Commands each client issues.
pub const COMMANDS: usize = 25;
/// Keys of each type the clients share.
pub const KEYS: usize = 3;

/// One long-lived client issuing order-dependent commands on shared keys.
pub async fn redis_client(addr: SocketAddr, id: usize) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(id as u64);
    let mut c = RespClient::connect(addr).await.unwrap();
    // A handshake first, as real clients do (AUTH, HELLO): the server has
    // taken the connection in before any order-dependent command. Without
    // it, which of two fresh connections the server reads first depends on
    // the order it accepted them, which no proxy can observe.
    assert_eq!(c.cmd(&["PING"]).await, "+PONG");
    // Players do not all act in the same microsecond: two commands sent
    // within microseconds on different connections may be taken by the
    // server in either order, which no proxy can observe (docs/REPLAY.md).
    tokio::time::sleep(Duration::from_micros(rng.random_range(0..20_000))).await;
    for i in 0..COMMANDS {
        let k = rng.random_range(0..KEYS);
        let reply = match rng.random_range(0..3) {
            0 => {
                c.cmd(&["LPUSH", &format!("list:{k}"), &format!("c{id}-{i}")])
                    .await
            }
            1 => {
                c.cmd(&["APPEND", &format!("str:{k}"), &format!("{id}.{i};")])
                    .await
            }
            _ => c.cmd(&["INCR", &format!("ctr:{k}")]).await,
        };
        assert!(reply.starts_with(':'), "unexpected reply {reply:?}");
        tokio::time::sleep(Duration::from_micros(rng.random_range(0..3000))).await;
    }
}

/// Every key the clients touch, with its value.
pub async fn dump(addr: SocketAddr) -> BTreeMap<String, String> {
    let mut c = RespClient::connect(addr).await.unwrap();
    let mut out = BTreeMap::new();
    for k in 0..KEYS {
        out.insert(
            format!("list:{k}"),
            c.cmd(&["LRANGE", &format!("list:{k}"), "0", "-1"]).await,
        );
        out.insert(
            format!("str:{k}"),
            c.cmd(&["GET", &format!("str:{k}")]).await,
        );
        out.insert(
            format!("ctr:{k}"),
            c.cmd(&["GET", &format!("ctr:{k}")]).await,
        );
    }
    out
}

/// Runs the [`CLIENTS`] workload clients through `proxy` at once, each
/// bounded by 60 s; returns the connections they made.
pub async fn run_clients(proxy: SocketAddr) -> u64 {
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| tokio::spawn(redis_client(proxy, i)))
        .collect();
    for c in clients {
        tokio::time::timeout(Duration::from_secs(60), c)
            .await
            .expect("client in time")
            .unwrap();
    }
    CLIENTS as u64
}

/// The state the workload left on the server at `addr`, every key written.
pub async fn written_state(addr: SocketAddr) -> BTreeMap<String, String> {
    let state = dump(addr).await;
    assert!(
        state.values().all(|v| v != "(nil)" && !v.is_empty()),
        "every key was written: {state:?}"
    );
    state
}

/// Replays `rec` (the workload's [`CLIENTS`] connections, which left
/// `want` on the original server) in causal mode into a fresh
/// redis-server, bounded by 90 s, and checks it reproduced the original:
/// the replay finished, opened every connection without a failure, sent
/// every recorded byte, and left every key as `want`. Returns its report.
pub async fn assert_causal_replay_reproduces(
    ctl: &mut ReelClient<Channel>,
    rec: &pb::RecordingInfo,
    want: &BTreeMap<String, String>,
) -> pb::ReplayReport {
    let fresh = RedisServer::start().await;
    let req = replay_request(&rec.id, fresh.addr, "causal");
    let report = replay_within(ctl, req, Duration::from_secs(90)).await;
    assert_eq!(report.state(), pb::ReplayState::Finished, "{report:?}");
    assert_eq!(
        (report.planned, report.opened, report.failed),
        (CLIENTS as u64, CLIENTS as u64, 0)
    );
    assert_eq!(report.bytes_sent, rec.bytes_c2s);
    let got = dump(fresh.addr).await;
    for (k, v) in want {
        assert_eq!(got.get(k), Some(v), "key {k} after causal replay");
    }
    report
}
