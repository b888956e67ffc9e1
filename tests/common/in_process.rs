//! An agent inside the test process: the engine (`reel::Agent`) and the
//! tonic service on 127.0.0.1:0, wired as `reel-agent` wires them, for
//! engine tests that do not need a process of their own. It starts in
//! milliseconds instead of spawning a binary, and a panic shows the
//! engine's stack. Tests about processes (kill -9, signals, exit codes,
//! logs, resource limits, a fleet) keep `AgentProc`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use reel::config::AgentConfig;
use reel::proto::reel_client::ReelClient;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

/// Longest a graceful stop may take (the agent's own grace is 5 s).
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// An in-process agent. `stop` shuts it down as SIGTERM would (recordings
/// finished with their footer); dropping it cancels everything at once.
pub struct InProcessAgent {
    pub agent: Arc<reel::Agent>,
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    /// Stops the service (the listener and its calls).
    server_stop: CancellationToken,
    /// Stops the engine's proxies, replays and connections.
    cancel: CancellationToken,
    server: Option<JoinHandle<anyhow::Result<()>>>,
    /// Set by `start_blocking`: the runtime the agent runs on, for sync
    /// tests (which then drive it with the real reelctl).
    runtime: Option<tokio::runtime::Runtime>,
}

impl InProcessAgent {
    /// Starts an agent named `test-agent` with its data in `data_dir`, on
    /// the current runtime.
    pub async fn start(data_dir: &Path) -> InProcessAgent {
        Self::start_named(data_dir, "test-agent").await
    }

    pub async fn start_named(data_dir: &Path, name: &str) -> InProcessAgent {
        let cancel = CancellationToken::new();
        let config = AgentConfig {
            name: name.into(),
            data_dir: data_dir.to_path_buf(),
            max_watchers: reel::events::DEFAULT_MAX_WATCHERS,
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let agent = reel::Agent::open(config, cancel.clone()).expect("open the agent");
        // As reel-agent does with no config file: saved proxies come back
        // and new ones are saved.
        agent.restore_proxies(true).await;
        let server_stop = CancellationToken::new();
        let server = tokio::spawn(reel::service::serve(
            agent.clone(),
            listener,
            server_stop.clone(),
            reel::service::ServeOptions::default(),
        ));
        InProcessAgent {
            agent,
            addr,
            data_dir: data_dir.to_path_buf(),
            server_stop,
            cancel,
            server: Some(server),
            runtime: None,
        }
    }

    /// Like `start`, for a sync test: the agent gets a runtime of its own
    /// (two workers), dropped with it.
    pub fn start_blocking(data_dir: &Path) -> InProcessAgent {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let mut agent = runtime.block_on(Self::start(data_dir));
        agent.runtime = Some(runtime);
        agent
    }

    pub fn addr_str(&self) -> String {
        self.addr.to_string()
    }

    pub async fn client(&self) -> ReelClient<Channel> {
        super::connect(self.addr).await
    }

    /// Shuts down as on SIGTERM: the service stops, proxies and replays
    /// end, recordings get their footer. Bounded by `STOP_TIMEOUT`.
    pub async fn stop(mut self) {
        self.server_stop.cancel();
        tokio::time::timeout(STOP_TIMEOUT, self.agent.shutdown())
            .await
            .expect("agent shut down within the timeout");
        self.cancel.cancel();
        if let Some(server) = self.server.take() {
            let ended = tokio::time::timeout(STOP_TIMEOUT, server)
                .await
                .expect("service stopped within the timeout");
            ended.expect("service task").expect("service");
        }
    }
}

impl Drop for InProcessAgent {
    fn drop(&mut self) {
        self.server_stop.cancel();
        self.cancel.cancel();
        if let Some(server) = self.server.take() {
            server.abort();
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(5));
        }
    }
}
