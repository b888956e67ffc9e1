//! Wireshark's tools for the pcap tests: tshark (bounded, with the install
//! hint when missing), its `follow,tcp,raw` output parsed, and a dumpcap
//! loopback capture stopped by pid.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{run_bounded, signal, wait_bounded};

/// Panics with the install hint unless `tool` runs.
pub fn require(tool: &str) {
    let ok = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "{tool} is required by this test and could not run: install tshark \
         (scripts/test.sh does: apt-get install tshark)"
    );
}

/// Runs tshark with `args` (bounded), asserting success; its stdout.
pub fn tshark(args: &[&str]) -> String {
    let out = run_bounded(
        Command::new("tshark").args(args),
        Duration::from_secs(60),
        "tshark (install tshark)",
    );
    assert_eq!(out.code, Some(0), "tshark {args:?}: {}", out.stderr);
    out.stdout
}

/// One stream of `tshark -z follow,tcp,raw,N`: the two nodes, and the bytes
/// each sent (lines indented with a tab are node 1's).
#[derive(Debug, Default)]
pub struct Followed {
    pub nodes: [String; 2],
    pub sent: [Vec<u8>; 2],
}

fn unhex(line: &str) -> Vec<u8> {
    (0..line.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&line[i..i + 2], 16).expect("hex"))
        .collect()
}

pub fn parse_follow(text: &str) -> Vec<Followed> {
    let mut out: Vec<Followed> = Vec::new();
    for line in text.lines() {
        if line.starts_with("Filter: ") {
            out.push(Followed::default());
        } else if let Some(f) = out.last_mut() {
            if let Some(node) = line.strip_prefix("Node 0: ") {
                f.nodes[0] = node.to_string();
            } else if let Some(node) = line.strip_prefix("Node 1: ") {
                f.nodes[1] = node.to_string();
            } else if let Some(h) = line.strip_prefix('\t') {
                f.sent[1].extend(unhex(h));
            } else if !line.is_empty() && line.bytes().all(|b| b.is_ascii_hexdigit()) {
                f.sent[0].extend(unhex(line));
            }
        }
    }
    out
}

/// A dumpcap process capturing on loopback; stopped by pid on drop.
pub struct Capture {
    child: Child,
    log: PathBuf,
}

impl Capture {
    /// Starts dumpcap on `lo` for TCP port `port` into `file`, and waits
    /// (bounded) until it is capturing: the file exists, then 500 ms more.
    pub fn start(port: u16, file: &Path) -> Capture {
        let log = file.with_extension("log");
        let child = Command::new("dumpcap")
            .args(["-i", "lo", "-f", &format!("tcp port {port}"), "-w"])
            .arg(file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("dumpcap is required by this test: install tshark (scripts/test.sh does)");
        let mut capture = Capture { child, log };
        let deadline = Instant::now() + Duration::from_secs(15);
        while !std::fs::metadata(file).is_ok_and(|m| m.len() > 0) {
            if let Ok(Some(status)) = capture.child.try_wait() {
                panic!("dumpcap exited ({status}): {}", capture.log());
            }
            assert!(
                Instant::now() < deadline,
                "dumpcap did not start capturing within 15 s: {}",
                capture.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(500));
        capture
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGINT (dumpcap then writes out what it holds), bounded wait.
    pub fn stop(&mut self) {
        signal(self.child.id(), "INT");
        let code = wait_bounded(&mut self.child, Duration::from_secs(10));
        assert_eq!(code, Some(0), "dumpcap: {}", self.log());
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
