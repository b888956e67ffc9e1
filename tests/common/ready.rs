//! Starting a process that announces its address on stdout
//! (`reel-agent listening on ADDR`, `reel-agent delay listening on ADDR`)
//! with arbitrary arguments: every agent the tests start, and the delay mode.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use super::AGENT_START_TIMEOUT;

/// Spawns `cmd` with stderr to `log` and waits (bounded) for a stdout line
/// `PREFIX ADDR`; keeps draining stdout afterwards. Panics with the log when
/// the line does not come.
pub fn spawn_ready(cmd: &mut Command, prefix: &str, log: &Path) -> (Child, SocketAddr) {
    let stderr = std::fs::File::create(log).expect("create process log");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("spawn process");
    let stdout = child.stdout.take().expect("process stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        if let Some(Ok(line)) = lines.next() {
            let _ = tx.send(line);
        }
        for _ in lines {}
    });
    let Ok(line) = rx.recv_timeout(AGENT_START_TIMEOUT) else {
        let _ = child.kill();
        let _ = child.wait();
        let text = std::fs::read_to_string(log).unwrap_or_default();
        panic!("no ready line within {AGENT_START_TIMEOUT:?}; log:\n{text}");
    };
    let addr = line
        .strip_prefix(prefix)
        .and_then(|rest| rest.trim().parse().ok())
        .unwrap_or_else(|| panic!("unexpected ready line {line:?} (wanted {prefix:?} ADDR)"));
    (child, addr)
}
