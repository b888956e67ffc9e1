//! UDP in the integration tests: starting a UDP proxy through reelctl, a
//! client that sends a datagram and waits for its answer, the datagrams of
//! one session in a recording, and a small stateful UDP game server.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reel::format::{Direction, Frame, FrameBody};
use tokio::net::UdpSocket;

use super::ctl::{CtlOutput, ok_data, reelctl_async};

/// The one result of a reelctl `--json` command that succeeded.
pub fn only(out: &CtlOutput) -> serde_json::Value {
    out.assert_code(0);
    ok_data(out).remove(0)
}

/// `reelctl proxy start --udp --listen 127.0.0.1:0 --upstream UPSTREAM` on
/// `agent`, then `flags`; the output as it came.
pub async fn udp_proxy_start(agent: &str, upstream: &str, flags: &[&str]) -> CtlOutput {
    let mut args = vec![
        "-a",
        agent,
        "proxy",
        "start",
        "--udp",
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        upstream,
    ];
    args.extend_from_slice(flags);
    reelctl_async(&args).await
}

/// A UDP proxy named `name` on `agent`, relaying to `upstream`, with `flags`
/// after the name: its JSON.
pub async fn start_udp_with(
    agent: &str,
    upstream: SocketAddr,
    name: &str,
    flags: &[&str],
) -> serde_json::Value {
    let mut args = vec!["--json", "--name", name];
    args.extend_from_slice(flags);
    only(&udp_proxy_start(agent, &upstream.to_string(), &args).await)
}

/// A UDP proxy named `name` with an idle timeout: its JSON.
pub async fn start_udp_proxy(
    agent: &str,
    upstream: SocketAddr,
    name: &str,
    idle_timeout: &str,
) -> serde_json::Value {
    start_udp_with(agent, upstream, name, &["--idle-timeout", idle_timeout]).await
}

/// The proxy as `reelctl --json proxy ls` lists it.
pub async fn listed(agent: &str, name: &str) -> serde_json::Value {
    let all = only(&reelctl_async(&["-a", agent, "--json", "proxy", "ls"]).await);
    all["proxies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no proxy {name} in {all}"))
}

/// A client socket connected to `to`.
pub async fn udp_client(to: SocketAddr) -> UdpSocket {
    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind a client");
    sock.connect(to).await.expect("connect the client");
    sock
}

/// Sends `msg` and waits (10 s at most) for one datagram back.
pub async fn ask(sock: &UdpSocket, msg: &[u8]) -> Vec<u8> {
    sock.send(msg).await.expect("send a datagram");
    let mut buf = vec![0u8; 65_536];
    let n = tokio::time::timeout(Duration::from_secs(10), sock.recv(&mut buf))
        .await
        .expect("an answer within 10 s")
        .expect("receive the answer");
    buf.truncate(n);
    buf
}

/// The datagrams of one session in one direction, in file order, each
/// whole.
pub fn datagrams_of(frames: &[Frame], conn: u64, dir: Direction) -> Vec<Vec<u8>> {
    frames
        .iter()
        .filter(|f| f.conn == conn)
        .filter_map(|f| match &f.body {
            FrameBody::Datagram { dir: d, payload } if *d == dir => Some(payload.to_vec()),
            _ => None,
        })
        .collect()
}

/// A tiny stateful game server over UDP: `PUT key value` stores the value
/// and answers `key=value v<version>`, the key's version counting every
/// write from any client; `GET key` answers the same without writing.
/// The final state (`state()`) depends on the order writes from different
/// clients arrived in, which is what a faithful replay must reproduce.
pub struct UdpGameServer {
    pub addr: SocketAddr,
    state: Arc<Mutex<BTreeMap<String, (String, u64)>>>,
    clients: Arc<Mutex<Vec<SocketAddr>>>,
    task: tokio::task::JoinHandle<()>,
}

impl UdpGameServer {
    pub async fn start() -> UdpGameServer {
        let socket = UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("bind the game server");
        let addr = socket.local_addr().expect("its address");
        let state: Arc<Mutex<BTreeMap<String, (String, u64)>>> = Arc::default();
        let clients: Arc<Mutex<Vec<SocketAddr>>> = Arc::default();
        let (s, c) = (state.clone(), clients.clone());
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 65_536];
            while let Ok((n, from)) = socket.recv_from(&mut buf).await {
                {
                    let mut c = c.lock().unwrap();
                    if !c.contains(&from) {
                        c.push(from);
                    }
                }
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                let mut words = text.split_whitespace();
                let answer = match (words.next(), words.next(), words.next()) {
                    (Some("PUT"), Some(k), Some(v)) => {
                        let mut st = s.lock().unwrap();
                        let e = st.entry(k.to_owned()).or_insert((String::new(), 0));
                        e.0 = v.to_owned();
                        e.1 += 1;
                        format!("{k}={} v{}", e.0, e.1)
                    }
                    (Some("GET"), Some(k), None) => {
                        let st = s.lock().unwrap();
                        match st.get(k) {
                            Some((v, n)) => format!("{k}={v} v{n}"),
                            None => format!("{k}=? v0"),
                        }
                    }
                    _ => format!("ERR {text}"),
                };
                let _ = socket.send_to(answer.as_bytes(), from).await;
            }
        });
        UdpGameServer {
            addr,
            state,
            clients,
            task,
        }
    }

    /// Every key with its value and version.
    pub fn state(&self) -> BTreeMap<String, (String, u64)> {
        self.state.lock().unwrap().clone()
    }

    /// The distinct client addresses it heard from.
    pub fn clients(&self) -> usize {
        self.clients.lock().unwrap().len()
    }
}

impl Drop for UdpGameServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
