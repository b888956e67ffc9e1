//! Wireshark's tools for the pcap tests: tshark and its `follow,tcp,raw`
//! output parsed (from `reel::fixtures`, shared with the unit tests), and a
//! dumpcap loopback capture stopped by pid.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[allow(unused_imports)]
pub use reel::fixtures::{Followed, parse_follow};

use super::{signal, wait_bounded};

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
    reel::fixtures::tshark(args).unwrap_or_else(|e| panic!("{e}"))
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
        Capture::start_filter(&format!("tcp port {port}"), file)
    }

    /// [`Capture::start`] with the capture filter `filter` (`udp port N`).
    pub fn start_filter(filter: &str, file: &Path) -> Capture {
        let log = file.with_extension("log");
        let child = Command::new("dumpcap")
            .args(["-i", "lo", "-f", filter, "-w"])
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

    /// How many TCP FIN segments `file` holds so far, read while dumpcap
    /// still writes it (it flushes about every 100 ms, so the last packet
    /// may be cut: tshark's exit code is not checked).
    pub fn fins_so_far(file: &Path) -> usize {
        Capture::matching_so_far(file, "tcp.flags.fin == 1")
    }

    /// How many packets of `file` match the display filter `filter` so
    /// far, read as [`Capture::fins_so_far`] reads.
    pub fn matching_so_far(file: &Path, filter: &str) -> usize {
        let file = file.to_string_lossy();
        let args = [
            "-r",
            &file,
            "-Y",
            filter,
            "-T",
            "fields",
            "-e",
            "frame.number",
        ];
        let out = reel::fixtures::tshark_run(&args).unwrap_or_else(|e| panic!("{e}"));
        out.stdout.lines().filter(|l| !l.trim().is_empty()).count()
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
