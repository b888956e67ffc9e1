//! `reelctl shell` end to end: the recorder's menu driven from a script on
//! stdin against a real agent and echo server (lines fed one at a time,
//! traffic sent between them), bad lines that fail without ending the
//! shell, and reelctl commands typed in it printing what reelctl prints.
//! Every run is bounded; the shell and agent processes are killed by pid.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use common::*;

/// Longest one shell line may take to answer, and a whole script to run.
const LINE_LIMIT: Duration = Duration::from_secs(30);

/// A `reelctl shell` process fed line by line; killed and reaped on drop.
struct ShellProc {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
}

impl ShellProc {
    fn start(agent: &str) -> ShellProc {
        let mut child = Command::new(env!("CARGO_BIN_EXE_reelctl"))
            .args(["--agent", agent, "shell"])
            .env_remove("REEL_AGENTS")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = lines_of(child.stdout.take().unwrap());
        let stderr = lines_of(child.stderr.take().unwrap());
        ShellProc {
            stdin: child.stdin.take(),
            child,
            stdout,
            stderr,
        }
    }

    /// Sends one line, and collects stdout until a line contains `until`.
    fn run(&mut self, line: &str, until: &str) -> Vec<String> {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
        let deadline = Instant::now() + LINE_LIMIT;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(out) => {
                    let done = out.contains(until);
                    seen.push(out);
                    if done {
                        return seen;
                    }
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => panic!(
                    "{line:?}: no stdout line with {until:?} within {LINE_LIMIT:?}; stdout: \
                     {seen:?}; stderr: {:?}",
                    self.stderr.try_iter().collect::<Vec<_>>()
                ),
            }
        }
    }

    /// Closes stdin and waits (bounded) for the exit status.
    fn finish(mut self) -> Option<i32> {
        drop(self.stdin.take());
        wait_bounded(&mut self.child, LINE_LIMIT)
    }
}

impl Drop for ShellProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The lines read from `pipe`, by a thread.
fn lines_of(pipe: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Runs `reelctl --agent AGENT shell` on a whole script.
fn script(agent: &str, lines: &[&str]) -> CtlOutput {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("script");
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_reelctl"));
    cmd.args(["--agent", agent, "shell"]);
    run_bounded_with_stdin(&mut cmd, &input)
}

/// `run_bounded` (tests/common) with stdin read from `input` instead of
/// /dev/null.
fn run_bounded_with_stdin(cmd: &mut Command, input: &std::path::Path) -> CtlOutput {
    let dir = tempfile::tempdir().unwrap();
    let (out_path, err_path) = (dir.path().join("out"), dir.path().join("err"));
    let mut child = cmd
        .env_remove("REEL_AGENTS")
        .stdin(std::fs::File::open(input).unwrap())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let code = wait_bounded(&mut child, LINE_LIMIT);
    CtlOutput {
        code,
        stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
    }
}

/// The agent's recordings, from `reelctl record ls --json`.
fn recordings(agent: &str) -> Vec<serde_json::Value> {
    let data = ok_data(&reelctl(&["--agent", agent, "record", "ls", "--json"]));
    data[0]["recordings"].as_array().unwrap().clone()
}

/// The agent's proxies, from `reelctl proxy ls --json`.
fn proxies(agent: &str) -> Vec<serde_json::Value> {
    let data = ok_data(&reelctl(&["--agent", agent, "proxy", "ls", "--json"]));
    data[0]["proxies"].as_array().unwrap().clone()
}

#[test]
fn the_recorder_menu_proxies_records_lists_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("data"));
    let addr = agent.addr_str();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let echo = rt.block_on(echo_server());

    let mut shell = ShellProc::start(&addr);
    // Port 0: the agent picks a free one (the recorder's example used 1111).
    let out = shell.run(&format!("1 0 127.0.0.1 {}", echo.port()), "started proxy");
    let listed = proxies(&addr);
    assert_eq!(listed.len(), 1, "{out:?}");
    assert_eq!(listed[0]["upstream"], format!("127.0.0.1:{}", echo.port()));
    let listen = listed[0]["listen"].as_str().unwrap();
    assert!(
        listen.starts_with("0.0.0.0:"),
        "the recorder listened on all interfaces: {listen}"
    );
    let port: u16 = listen.rsplit_once(':').unwrap().1.parse().unwrap();

    shell.run("3", "started recording");
    let sent: &[u8] = b"hello through the shell's proxy";
    rt.block_on(async {
        let mut sock = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        assert_eq!(round_trip(&mut sock, sent).await, sent);
        assert!(close_and_drain(sock).await.is_empty());
    });
    // The recorder takes the traffic from the proxy's tap: wait until it
    // has all of it before stopping.
    let n = sent.len() as u64;
    let deadline = Instant::now() + LINE_LIMIT;
    while !recordings(&addr)
        .first()
        .is_some_and(|r| r["bytes_c2s"] == n && r["bytes_s2c"] == n)
    {
        assert!(
            Instant::now() < deadline,
            "recording never held the traffic: {:?}",
            recordings(&addr)
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    shell.run("4", "stopped recording");
    let recs = recordings(&addr);
    assert_eq!(recs.len(), 1);
    let rec = &recs[0];
    assert_eq!(rec["status"], "complete");
    let id = rec["id"].as_str().unwrap();

    // 5: one line per record, the recorder's KB of what the file holds.
    let shown = shell.run("5", id);
    let line = shown.last().unwrap();
    let size = rec["size_bytes"].as_u64().unwrap();
    assert!(
        size > 2 * n,
        "the file holds the traffic and its framing: {size}"
    );
    let kb = format!("{:.3}KB", size as f64 / 1024.0);
    assert!(line.contains(&kb), "{line:?} should show {kb}");
    assert!(line.contains("complete"), "{line:?}");
    let fields: Vec<&str> = line.split_whitespace().collect();
    // `Mon Dec  7 03:53:06 2026  0.640KB  yymmddHHMMSS-yymmddHHMMSS  complete  ID`
    assert_eq!(fields.len(), 9, "{line:?}");
    let range = fields[6];
    assert!(
        range.len() == 25 && range.as_bytes()[12] == b'-',
        "time range {range:?} in {line:?}"
    );

    shell.run("2", "stopped proxy");
    assert!(proxies(&addr).is_empty(), "2 stops every proxy");
    assert_eq!(shell.finish(), Some(0), "every line succeeded");
}

#[test]
fn bad_lines_print_an_error_and_the_shell_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("data"));
    let addr = agent.addr_str();
    let out = script(
        &addr,
        &[
            "7",
            "1 notaport",
            "record frobnicate",
            "shell",
            "--agent 127.0.0.1:1 agents",
            "# a comment, then help",
            "h",
            "record ls",
        ],
    );
    out.assert_code(1);
    for wanted in [
        "no menu item \"7\"",
        "listen port \"notaport\" is not a port number",
        "frobnicate",
        "already in reelctl shell",
        "127.0.0.1:1",
    ] {
        assert!(
            out.stderr.contains(wanted),
            "stderr lacks {wanted:?}:\n{}",
            out.stderr
        );
    }
    // The lines after the bad ones ran: the menu, then `record ls`.
    assert!(out.stdout.contains("1 PORT IP PORT"), "{}", out.stdout);
    assert!(out.stdout.ends_with("no recordings\n"), "{}", out.stdout);
}

#[test]
fn q_ends_the_script_and_good_lines_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("data"));
    let out = script(&agent.addr_str(), &["", "5", "proxy ls", "q", "7"]);
    out.assert_code(0);
    assert_eq!(out.stdout, "no recordings\nno proxies\n");
    assert_eq!(out.stderr, "");
}

#[test]
fn a_reelctl_command_prints_what_reelctl_prints() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("data"));
    let addr = agent.addr_str();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let echo = rt.block_on(echo_server());
    let upstream = echo.to_string();
    for args in [
        &[
            "proxy",
            "start",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            &upstream,
        ][..],
        &["record", "start", "--label", "two words"],
        &["record", "stop", "--all"],
    ] {
        let args: Vec<&str> = ["--agent", &addr].iter().chain(args).copied().collect();
        reelctl(&args).assert_code(0);
    }

    let direct = reelctl(&["--agent", &addr, "record", "ls", "--json"]);
    direct.assert_code(0);
    let shell = script(&addr, &["record ls --json", "record ls"]);
    shell.assert_code(0);
    let text = reelctl(&["--agent", &addr, "record", "ls"]);
    assert_eq!(shell.stdout, direct.stdout + &text.stdout);
    assert!(shell.stdout.contains("two words"), "{}", shell.stdout);

    // The line's own options replace the shell's: here a shell on an
    // address where nothing listens, and a line naming the real agent.
    let elsewhere = script("127.0.0.1:1", &[&format!("--agent {addr} --json proxy ls")]);
    elsewhere.assert_code(0);
    assert_eq!(
        elsewhere.stdout,
        reelctl(&["--agent", &addr, "proxy", "ls", "--json"]).stdout
    );
}

#[test]
fn wrong_global_options_end_the_shell_before_any_line() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("script");
    std::fs::write(&input, "record ls\n").unwrap();
    let fleet = dir.path().join("missing.toml");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_reelctl"));
    cmd.args(["--fleet", fleet.to_str().unwrap(), "shell"]);
    let out = run_bounded_with_stdin(&mut cmd, &input);
    out.assert_code(2);
    assert!(out.stderr.contains("missing.toml"), "{}", out.stderr);
    assert_eq!(out.stdout, "");
}
