//! An S3-compatible server on loopback for the store tests: moto's
//! `moto_server`, named by `REEL_TEST_S3` (scripts/test.sh installs
//! `moto[server]` into target/test-venv and sets it), started on a port of
//! its own, stopped by pid. moto keeps objects in memory, so "the store goes
//! away" is SIGSTOP (requests wait in the socket's backlog) and SIGCONT, not
//! a restart. Also: agents started against it (the `AWS_*` variables set
//! for them alone), a client of its own for the test's checks, and the
//! steps the store tests share: traffic recorded through a proxy, a server
//! that keeps what each replayed connection sent, the store's contents
//! checked against an index.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use std::collections::BTreeSet;

use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};

use reel::proto as pb;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::served::{Served, lock};
use super::{
    AgentProc, echo_server, proxy_addr, round_trip, start_proxy, start_recording, stop_recording,
    wait_idle,
};

/// The switch: the path of `moto_server`.
pub const S3_ENV: &str = "REEL_TEST_S3";
/// Longest an upload of a recording's segments may take on a busy machine.
pub const UPLOAD_WAIT: Duration = Duration::from_secs(120);
/// The bucket every test uses (each test has its own server).
pub const BUCKET: &str = "reel";
/// Longest moto may take to answer after start.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running moto_server, killed by pid on drop.
pub struct Moto {
    child: Child,
    pub addr: SocketAddr,
    paused: bool,
}

impl Moto {
    /// Starts moto with bucket [`BUCKET`]; `None` (and a SKIPPED line)
    /// when `REEL_TEST_S3` is unset.
    pub fn start_or_skip(test: &str) -> Option<Moto> {
        let Some(bin) = std::env::var_os(S3_ENV).filter(|v| !v.is_empty()) else {
            reel::fixtures::skipped(
                test,
                &format!(
                    "needs moto_server (pip install 'moto[server]'); set {S3_ENV} to its path (scripts/test.sh does)"
                ),
            );
            return None;
        };
        Some(Self::start(Path::new(&bin)))
    }

    fn start(bin: &Path) -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let log = std::env::temp_dir().join(format!("reel-moto-{port}.log"));
        let log_file = std::fs::File::create(&log).unwrap();
        let child = Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let mut moto = Moto {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            paused: false,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if http(moto.addr, "PUT", &format!("/{BUCKET}")).is_some_and(|s| s == 200) {
                return moto;
            }
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!(
                    "moto_server exited ({status}): {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "moto_server did not answer within {START_TIMEOUT:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What an agent needs in its environment to reach this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ALLOW_HTTP", "true".into()),
        ]
    }

    /// The test's own client of the bucket (not the agent's code path).
    pub fn client(&self) -> Arc<dyn ObjectStore> {
        Arc::new(
            AmazonS3Builder::new()
                .with_bucket_name(BUCKET)
                .with_endpoint(self.endpoint())
                .with_access_key_id("test")
                .with_secret_access_key("test")
                .with_region("us-east-1")
                .with_allow_http(true)
                .build()
                .unwrap(),
        )
    }

    /// Starts an agent with `--store s3://reel/PREFIX` and this server's
    /// variables, and `extra` arguments.
    pub fn agent(&self, data_dir: &Path, name: &str, prefix: &str, extra: &[&str]) -> AgentProc {
        super::raise_open_file_limit();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_reel-agent"));
        for (k, v) in self.env() {
            cmd.env(k, v);
        }
        let url = format!("s3://{BUCKET}/{prefix}");
        let mut args = vec!["--store", url.as_str()];
        args.extend_from_slice(extra);
        AgentProc::spawn(cmd, "127.0.0.1:0", data_dir, name, &args)
    }

    /// SIGSTOP: connections are accepted by the kernel but nothing answers.
    pub fn pause(&mut self) {
        super::signal(self.child.id(), "STOP");
        self.paused = true;
    }

    /// SIGCONT: the server answers again, waiting requests first.
    pub fn resume(&mut self) {
        super::signal(self.child.id(), "CONT");
        self.paused = false;
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        if self.paused {
            super::signal(self.child.id(), "CONT");
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A bare HTTP/1.1 request without a body (moto takes unsigned bucket
/// creation); its status code, `None` when nothing answered.
fn http(addr: SocketAddr, method: &str, path: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// Objects under `prefix` in `store`: key → size.
pub async fn objects(store: &dyn ObjectStore, prefix: &str) -> Vec<(String, u64)> {
    use tokio_stream::StreamExt;
    let prefix = ObjectPath::from(prefix);
    let mut listed = store.list(Some(&prefix));
    let mut out = Vec::new();
    while let Some(meta) = listed.next().await {
        let meta = meta.unwrap();
        out.push((meta.location.to_string(), meta.size));
    }
    out.sort();
    out
}

/// One object's bytes, `None` when absent.
pub async fn object(store: &dyn ObjectStore, key: &str) -> Option<Vec<u8>> {
    match store.get(&ObjectPath::from(key)).await {
        Ok(got) => Some(got.bytes().await.unwrap().to_vec()),
        Err(object_store::Error::NotFound { .. }) => None,
        Err(e) => panic!("get {key}: {e}"),
    }
}

pub fn segments_dir(data_dir: &Path, id: &str) -> PathBuf {
    data_dir.join(format!("{id}.segments"))
}

/// Records `conns` connections through a proxy of `agent` to an echo
/// server, each sending `bytes` of its own pattern in 16 KiB round trips,
/// `between` called after the first half; returns the stopped recording.
pub async fn record<F, Fut>(
    agent: &AgentProc,
    conns: usize,
    bytes: usize,
    between: F,
) -> pb::RecordingInfo
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut ctl = agent.client().await;
    let proxy = start_proxy(&mut ctl, echo_server().await).await;
    let rec = start_recording(&mut ctl, "stored").await;
    let mut socks = Vec::new();
    for _ in 0..conns {
        socks.push(TcpStream::connect(proxy_addr(&proxy)).await.unwrap());
    }
    let half = bytes / 2;
    let send = |socks: &mut Vec<TcpStream>, from: usize, to: usize| {
        let socks = std::mem::take(socks);
        async move {
            let mut out = Vec::new();
            for (c, mut s) in socks.into_iter().enumerate() {
                let mut at = from;
                while at < to {
                    let n = (to - at).min(16 * 1024);
                    let chunk: Vec<u8> = (at..at + n).map(|i| (i * 31 + c * 7) as u8).collect();
                    assert_eq!(round_trip(&mut s, &chunk).await, chunk);
                    at += n;
                }
                out.push(s);
            }
            out
        }
    };
    socks = send(&mut socks, 0, half).await;
    between().await;
    socks = send(&mut socks, half, bytes).await;
    drop(socks);
    wait_idle(&ctl, conns as u64).await;
    stop_recording(&mut ctl, &rec.id).await
}

/// The recordings `agent` lists (its own and the store's).
pub async fn listed(agent: &AgentProc) -> Vec<pb::RecordingInfo> {
    agent
        .client()
        .await
        .list_recordings(pb::ListRecordingsRequest {})
        .await
        .unwrap()
        .into_inner()
        .recordings
}

/// Where a listed recording lives: `local`, `store` or `both`.
pub fn location(r: &pb::RecordingInfo) -> &'static str {
    reel::wire::json::recording_location_word(r.location)
}

/// A server that echoes and keeps what each connection sent.
pub async fn capture_server() -> (Served<Vec<Vec<u8>>>, SocketAddr) {
    let served = Served::start(
        |mut sock: TcpStream, state: Arc<Mutex<Vec<Vec<u8>>>>| async move {
            let mut got = Vec::new();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match sock.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        got.extend_from_slice(&buf[..n]);
                        if sock.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                }
            }
            lock(&state).push(got);
        },
    )
    .await;
    let addr = served.addr;
    (served, addr)
}

/// What each connection sent, sorted, so two replays compare whatever
/// order their connections ran in.
pub fn sorted(seen: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut all = seen.to_vec();
    all.sort();
    all
}

/// Waits, within `limit`, for the recording at `prefix` to be complete in
/// the store (its index there), then checks it as `assert_stored_whole`.
pub async fn wait_stored_whole(
    client: &dyn object_store::ObjectStore,
    prefix: &str,
    limit: std::time::Duration,
    what: &str,
) {
    let key = format!("{prefix}/index.json");
    super::eventually(limit, what, || async {
        object(client, &key).await.is_some()
    })
    .await;
    assert_stored_whole(client, prefix).await;
}

/// Checks the store holds exactly the segments the index names, whole, and
/// the index.
pub async fn assert_stored_whole(client: &dyn object_store::ObjectStore, prefix: &str) {
    let index = object(client, &format!("{prefix}/index.json"))
        .await
        .unwrap();
    let index = reel::format::Index::parse(&index).unwrap();
    let stored: BTreeSet<(String, u64)> = objects(client, prefix)
        .await
        .into_iter()
        .filter(|(k, _)| !k.ends_with("index.json"))
        .collect();
    let named: BTreeSet<(String, u64)> = index
        .segments
        .iter()
        .map(|s| (format!("{prefix}/{}", s.name), s.size))
        .collect();
    assert_eq!(
        stored, named,
        "one whole object per segment the index names"
    );
    assert!(
        named.len() > 1,
        "a recording of several segments: {named:?}"
    );
}
