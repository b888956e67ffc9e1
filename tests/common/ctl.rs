//! Running programs from a test, bounded and with their output captured:
//! reelctl (sync and from async tests) and any other command.

use std::process::{Command, Stdio};
use std::time::Duration;

use super::wait_bounded;

/// Output of one reelctl run.
#[derive(Debug)]
pub struct CtlOutput {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl CtlOutput {
    /// Asserts the exit code, showing both streams when it differs.
    #[track_caller]
    pub fn assert_code(&self, code: i32) {
        assert_eq!(
            self.code,
            Some(code),
            "stdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "reelctl stdout is not JSON ({e}): {}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }
}

/// Runs reelctl with `args`, killed after 30 s.
pub fn reelctl(args: &[&str]) -> CtlOutput {
    reelctl_env(args, &[])
}

/// Runs reelctl with `args` and extra environment, killed after 30 s.
pub fn reelctl_env(args: &[&str], env: &[(&str, &str)]) -> CtlOutput {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_reelctl"));
    cmd.args(args)
        .env_remove("REEL_AGENTS")
        .envs(env.iter().copied());
    run_bounded(&mut cmd, Duration::from_secs(30), "reelctl")
}

/// Runs `cmd` with its output captured in files, killed after `limit`.
/// Panics with `what` when the program cannot be started at all.
pub fn run_bounded(cmd: &mut Command, limit: Duration, what: &str) -> CtlOutput {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("out");
    let err_path = dir.path().join("err");
    cmd.stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let code = wait_bounded(&mut child, limit);
    CtlOutput {
        code,
        stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
    }
}

/// Runs reelctl on a blocking thread, for async tests.
pub async fn reelctl_async(args: &[&str]) -> CtlOutput {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        reelctl(&args)
    })
    .await
    .expect("reelctl thread")
}

/// The `data` of every result, asserting exit 0 and `ok` everywhere.
pub fn ok_data(out: &CtlOutput) -> Vec<serde_json::Value> {
    out.assert_code(0);
    out.json()["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            assert_eq!(r["ok"], true, "{r}");
            r["data"].clone()
        })
        .collect()
}

/// `reelctl proxy start --listen 127.0.0.1:0 --upstream UPSTREAM` on
/// `agents` (one address or a comma-separated fleet): each agent's listen
/// address, in order.
pub async fn tcp_proxy_start(agents: &str, upstream: &str) -> Vec<String> {
    let out = reelctl_async(&[
        "-a",
        agents,
        "--json",
        "proxy",
        "start",
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        upstream,
    ])
    .await;
    ok_data(&out)
        .iter()
        .map(|d| d["listen"].as_str().expect("listen").to_owned())
        .collect()
}

/// Runs `reelctl -a AGENT --json ARGS...` (from an async test) and returns
/// the one result's `data`, asserting exit 0 and `ok`.
pub async fn agent_json(agent: &super::AgentProc, args: &[&str]) -> serde_json::Value {
    let addr = agent.addr_str();
    let mut all = vec!["-a", addr.as_str(), "--json"];
    all.extend_from_slice(args);
    let out = reelctl_async(&all).await;
    let data = ok_data(&out);
    assert_eq!(data.len(), 1, "{}", out.stdout);
    data[0].clone()
}
