//! Helpers shared by the integration tests: real agent processes (killed by
//! pid when the test ends) and in-process agents (`in_process`), real TCP
//! servers on loopback, and the real reelctl binary. Every wait is bounded.
#![allow(dead_code)]

pub mod chat;
pub mod ctl;
pub use ctl::*;
pub mod disk;
pub mod exact;
pub mod faults;
pub mod game;
pub mod in_process;
pub mod known;
pub mod needs;
pub mod ready;
#[allow(unused_imports)]
pub use in_process::InProcessAgent;
#[allow(unused_imports)]
pub use inspect::*;
pub mod inspect;
pub mod pg;
pub mod pty;
pub mod redis;
pub mod replays;
pub mod s3;
pub mod scrape;
pub mod segmented;
pub mod served;
pub mod status;
#[allow(unused_imports)]
pub use status::{assert_status, still_serving};
pub mod tls;
pub mod udp;
#[allow(unused_imports)]
pub use udp::*;
pub mod wireshark;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use reel::proto as pb;
use reel::proto::reel_client::ReelClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tonic::transport::Channel;

/// Longest an agent may take to print its ready line.
pub const AGENT_START_TIMEOUT: Duration = Duration::from_secs(20);

/// A reel-agent process. Killed (SIGKILL) and reaped on drop.
pub struct AgentProc {
    pub child: Child,
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    pub stderr_path: PathBuf,
}

impl AgentProc {
    /// Starts `reel-agent --listen IP:0 --data-dir DIR` and waits for its
    /// ready line. Logs go to DIR/../agent-<ip>.log.
    pub fn start(ip: &str, data_dir: &Path) -> AgentProc {
        Self::start_named(ip, data_dir, "test-agent")
    }

    pub fn start_named(ip: &str, data_dir: &Path, name: &str) -> AgentProc {
        Self::start_at(&format!("{ip}:0"), data_dir, name)
    }

    pub fn start_at(listen: &str, data_dir: &Path, name: &str) -> AgentProc {
        Self::start_with(listen, data_dir, name, &[])
    }

    /// Like `start_at`, with extra command-line arguments.
    pub fn start_with(listen: &str, data_dir: &Path, name: &str, extra: &[&str]) -> AgentProc {
        raise_open_file_limit();
        let cmd = Command::new(env!("CARGO_BIN_EXE_reel-agent"));
        Self::spawn(cmd, listen, data_dir, name, extra)
    }

    /// Like `start_with`, under an open-file limit of `soft` (soft) and
    /// `hard` (hard), set by `bash` before it execs the agent (so the pid is
    /// the agent's). Neither may exceed this process's hard limit.
    pub fn start_with_nofile(
        listen: &str,
        data_dir: &Path,
        name: &str,
        extra: &[&str],
        (soft, hard): (u64, u64),
    ) -> AgentProc {
        let cmd = nofile_command(env!("CARGO_BIN_EXE_reel-agent"), soft, hard);
        Self::spawn(cmd, listen, data_dir, name, extra)
    }

    fn spawn(
        mut cmd: Command,
        listen: &str,
        data_dir: &Path,
        name: &str,
        extra: &[&str],
    ) -> AgentProc {
        let stderr_path =
            data_dir.with_extension(format!("{}.log", listen.replace([':', '.'], "_")));
        cmd.args(["--listen", listen, "--name", name, "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .env("RUST_LOG", "info");
        let (child, addr) = ready::spawn_ready(&mut cmd, "reel-agent listening on ", &stderr_path);
        AgentProc {
            child,
            addr,
            data_dir: data_dir.to_path_buf(),
            stderr_path,
        }
    }

    /// Starts one agent per address in `ips` (named `{prefix}{i}`, data in
    /// `dir/{prefix}{i}`), and the `--agent` list that names them all.
    pub fn start_fleet(ips: &[&str], dir: &Path, prefix: &str) -> (Vec<AgentProc>, String) {
        let agents: Vec<AgentProc> = ips
            .iter()
            .enumerate()
            .map(|(i, ip)| {
                let name = format!("{prefix}{i}");
                AgentProc::start_named(ip, &dir.join(&name), &name)
            })
            .collect();
        let all = agents
            .iter()
            .map(AgentProc::addr_str)
            .collect::<Vec<_>>()
            .join(",");
        (agents, all)
    }

    pub fn addr_str(&self) -> String {
        self.addr.to_string()
    }

    pub async fn client(&self) -> ReelClient<Channel> {
        connect(self.addr).await
    }

    /// SIGKILL: the agent gets no chance to finish anything.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits (bounded) for a clean exit; returns the exit code.
    pub fn terminate(&mut self) -> Option<i32> {
        signal(self.child.id(), "TERM");
        wait_bounded(&mut self.child, Duration::from_secs(15))
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }
}

impl Drop for AgentProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Raises the test process's own soft open-file limit to the hard one,
/// once, as the agent does for itself: a test's clients and servers for
/// thousands of connections must not depend on the login's soft limit
/// (often 1,024 for a non-root user; root's shell here had 20,000).
pub fn raise_open_file_limit() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = reel::fds::raise_open_file_limit();
    });
}

/// A client of the agent at `addr` (plain HTTP/2), connected within 5 s.
pub async fn connect(addr: SocketAddr) -> ReelClient<Channel> {
    let ch = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .expect("connect to agent");
    ReelClient::new(ch)
}

pub use reel::fixtures::skipped;

/// A command running `program` (arguments appended by the caller) under an
/// open-file limit of `soft`/`hard`: `bash` lowers the soft limit first (the
/// hard one may not go below it), then the hard one, then execs `program`.
pub fn nofile_command(program: &str, soft: u64, hard: u64) -> Command {
    let mut cmd = Command::new("bash");
    cmd.args([
        "-c",
        &format!("ulimit -Sn {soft} && ulimit -Hn {hard} && exec \"$0\" \"$@\""),
        program,
    ]);
    cmd
}

/// Sends a signal by pid with the system's `kill`.
pub fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .args([format!("-{sig}"), pid.to_string()])
        .status();
}

/// Waits for a child to exit for at most `limit`; kills it if it does not.
pub fn wait_bounded(child: &mut Child, limit: Duration) -> Option<i32> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return status.code();
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A TCP echo server on 127.0.0.1, as a task of the test's runtime.
pub async fn echo_server() -> SocketAddr {
    raise_open_file_limit();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = sock.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
                let _ = w.shutdown().await;
            });
        }
    });
    addr
}

/// A UDP echo server on loopback, for the life of the test's runtime.
pub async fn udp_echo_server() -> SocketAddr {
    reel::fixtures::udp_echo_server().await.unwrap()
}

/// A server that reads until EOF, then answers with the byte count as text
/// and closes: proves half-close is passed on.
pub async fn count_then_reply_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut all = Vec::new();
                let _ = sock.read_to_end(&mut all).await;
                let _ = sock
                    .write_all(format!("got {} bytes", all.len()).as_bytes())
                    .await;
                let _ = sock.shutdown().await;
            });
        }
    });
    addr
}

/// An address on 127.0.0.1 where nothing listens (bound, then released).
pub fn closed_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// Bounded wait for a condition checked every 50 ms.
pub async fn eventually<F, Fut>(limit: Duration, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if f().await {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out after {limit:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A StartProxy request with nothing but `listen` and `upstream` set.
pub fn proxy_req(listen: &str, upstream: &str) -> pb::StartProxyRequest {
    pb::StartProxyRequest {
        listen: listen.into(),
        upstream: upstream.into(),
        ..pb::StartProxyRequest::default()
    }
}

/// Starts a proxy on 127.0.0.1:0 relaying to `upstream`.
pub async fn start_proxy(ctl: &mut ReelClient<Channel>, upstream: SocketAddr) -> pb::ProxyInfo {
    ctl.start_proxy(proxy_req("127.0.0.1:0", &upstream.to_string()))
        .await
        .expect("StartProxy")
        .into_inner()
}

/// The bound address of a started proxy.
pub fn proxy_addr(p: &pb::ProxyInfo) -> SocketAddr {
    p.listen.parse().expect("proxy listen address")
}

/// Starts recording every running proxy.
pub async fn start_recording(ctl: &mut ReelClient<Channel>, label: &str) -> pb::RecordingInfo {
    ctl.start_recording(pb::StartRecordingRequest {
        proxies: vec![],
        label: label.into(),
        start_at_unix_ns: 0,
        ring_ms: 0,
    })
    .await
    .expect("StartRecording")
    .into_inner()
}

/// Stops recording `id`; its final listing.
pub async fn stop_recording(ctl: &mut ReelClient<Channel>, id: &str) -> pb::RecordingInfo {
    ctl.stop_recording(pb::StopRecordingRequest { id: id.into() })
        .await
        .expect("StopRecording")
        .into_inner()
}

/// Sends `msg` and reads the same number of bytes back (an echo through a
/// proxy), bounded by 10 s.
pub async fn round_trip(sock: &mut TcpStream, msg: &[u8]) -> Vec<u8> {
    tokio::time::timeout(Duration::from_secs(10), async {
        let (mut r, mut w) = sock.split();
        let mut back = vec![0u8; msg.len()];
        let (wr, rd) = tokio::join!(w.write_all(msg), r.read_exact(&mut back));
        wr.expect("write through the proxy");
        rd.expect("read the echo through the proxy");
        back
    })
    .await
    .expect("echo round trip within 10 s")
}

/// Shuts down the write side and reads until EOF, bounded by 10 s.
pub async fn close_and_drain(mut sock: TcpStream) -> Vec<u8> {
    tokio::time::timeout(Duration::from_secs(10), async move {
        sock.shutdown().await.expect("shutdown write side");
        let mut rest = Vec::new();
        sock.read_to_end(&mut rest).await.expect("read to EOF");
        rest
    })
    .await
    .expect("connection closed within 10 s")
}

/// The proxies' byte counters as listed, summed.
pub async fn proxy_bytes(ctl: &mut ReelClient<Channel>) -> (u64, u64) {
    let p = ctl
        .list_proxies(pb::ListProxiesRequest {})
        .await
        .unwrap()
        .into_inner();
    p.proxies
        .iter()
        .fold((0, 0), |(c, s), p| (c + p.bytes_c2s, s + p.bytes_s2c))
}

/// Waits until every proxy has no open connection and `total` accepted in all.
pub async fn wait_idle(ctl: &ReelClient<Channel>, total: u64) {
    eventually(
        Duration::from_secs(20),
        "all proxy connections closed",
        || {
            let mut ctl = ctl.clone();
            async move {
                let p = ctl
                    .list_proxies(pb::ListProxiesRequest {})
                    .await
                    .unwrap()
                    .into_inner();
                p.proxies.iter().all(|p| p.active_connections == 0)
                    && p.proxies.iter().map(|p| p.total_connections).sum::<u64>() == total
            }
        },
    )
    .await;
}
