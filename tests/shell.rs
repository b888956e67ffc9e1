//! `reelctl shell` end to end: the recorder's menu driven from a script on
//! stdin against a real agent and echo server (lines fed one at a time,
//! traffic sent between them), bad lines that fail without ending the
//! shell, and reelctl commands typed in it printing what reelctl prints.
//! Every run is bounded; the shell and agent processes are killed by pid.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
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
    /// What the shell printed, in the chunks it was read in.
    stdout: Receiver<String>,
    stderr: Receiver<String>,
    /// Printed and not yet waited for.
    unseen: String,
}

impl ShellProc {
    fn start(agent: &str) -> ShellProc {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_reelctl"));
        cmd.args(["--agent", agent, "shell"]);
        ShellProc::spawn(cmd)
    }

    /// `cmd` with its three streams piped to the test.
    fn spawn(mut cmd: Command) -> ShellProc {
        let mut child = cmd
            .env_remove("REEL_AGENTS")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = chunks_of(child.stdout.take().unwrap());
        let stderr = chunks_of(child.stderr.take().unwrap());
        ShellProc {
            stdin: child.stdin.take(),
            child,
            stdout,
            stderr,
            unseen: String::new(),
        }
    }

    /// Sends one line, and returns stdout up to the end of the line that
    /// holds `until`.
    fn run(&mut self, line: &str, until: &str) -> String {
        let mut out = self.type_in(&format!("{line}\n"), until);
        out.push_str(&self.wait_for(line, "\n"));
        out
    }

    /// Sends `keys` as they are, and returns stdout up to the end of `until`.
    fn type_in(&mut self, keys: &str, until: &str) -> String {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(keys.as_bytes()).unwrap();
        stdin.flush().unwrap();
        self.wait_for(keys, until)
    }

    /// Returns stdout up to the end of the next `until` (the rest is kept
    /// for the next wait); `what` names the wait in a failure.
    fn wait_for(&mut self, what: &str, until: &str) -> String {
        let deadline = Instant::now() + LINE_LIMIT;
        loop {
            if let Some(i) = self.unseen.find(until) {
                let rest = self.unseen.split_off(i + until.len());
                return std::mem::replace(&mut self.unseen, rest);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(chunk) => self.unseen.push_str(&chunk),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => panic!(
                    "{what:?}: no {until:?} on stdout within {LINE_LIMIT:?}; stdout: {:?}; \
                     stderr: {:?}",
                    self.unseen,
                    self.stderr.try_iter().collect::<String>()
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

/// What `pipe` gives, chunk by chunk, read by a thread (a prompt ends no
/// line, so lines would not do).
fn chunks_of(mut pipe: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0
                || tx
                    .send(String::from_utf8_lossy(&buf[..n]).into_owned())
                    .is_err()
            {
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
    let line = shown.lines().last().unwrap();
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

/// What the line editor prints when it starts reading a line (bracketed
/// paste on) and when it has one (off): the prompt's bounds, unlike the
/// prompt's text, which it prints again as the line is edited.
const PROMPT_STARTS: &str = "\x1b[?2004h";
const PROMPT_ENDS: &str = "\x1b[?2004l";

/// The shell on a terminal (a pseudo-terminal made by util-linux `script`):
/// Tab completes a command, Ctrl-C drops the line being typed without
/// ending the shell, and the lines go to the history file.
#[test]
fn on_a_terminal_tab_completes_and_the_history_is_kept() {
    if Command::new("script").arg("--version").output().is_err() {
        return reel::fixtures::skipped(
            "shell on a terminal",
            "needs util-linux `script` for a pseudo-terminal",
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("data"));
    let data_home = dir.path().join("xdg");
    let line = format!(
        "{} --agent {} shell",
        env!("CARGO_BIN_EXE_reelctl"),
        agent.addr_str()
    );
    let mut cmd = Command::new("script");
    // -e: script exits with the shell's status; -f: flush at once.
    cmd.args(["-qefc", &line, "/dev/null"])
        .env("TERM", "xterm")
        .env("XDG_DATA_HOME", &data_home);
    let mut shell = ShellProc::spawn(cmd);
    // The banner ends with the menu; the prompt follows.
    shell.wait_for("the banner", "reelctl shell on");
    shell.wait_for("the menu", "show reelctl's commands");
    shell.wait_for("the prompt", PROMPT_STARTS);
    // `rec` + Tab completes to `record`.
    shell.type_in("rec\t ls\r", "no recordings");
    // Ctrl-C drops a half-typed line; the shell goes on.
    // Ctrl-C drops a half-typed line; the shell goes on. (The line editor
    // drops what was typed ahead of its next prompt: wait for the prompt.)
    shell.wait_for("the next prompt", PROMPT_STARTS);
    shell.type_in("proxy st\x03", PROMPT_ENDS);
    shell.wait_for("a new prompt", PROMPT_STARTS);
    shell.type_in("proxy ls\r", "no proxies");
    shell.wait_for("the next prompt", PROMPT_STARTS);
    shell.stdin.as_mut().unwrap().write_all(b"q\r").unwrap();
    let code = shell.finish();
    assert_eq!(code, Some(0));
    let history = std::fs::read_to_string(data_home.join("reel/shell_history")).unwrap();
    let lines: Vec<&str> = history.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(lines, ["record ls", "proxy ls", "q"], "{history}");
}

/// Credentials follow the line: a line's own `--token-file` is sent for
/// that line only, and the shell's own (none here) for the lines after it,
/// menu item 5 included.
#[test]
fn a_line_token_file_is_used_for_that_line_only() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "correct-horse\n").unwrap();
    let token = token.to_str().unwrap();
    let agent = AgentProc::start_with(
        "127.0.0.1:0",
        &dir.path().join("data"),
        "guarded",
        &["--token-file", token],
    );
    let out = script(
        &agent.addr_str(),
        &[&format!("--token-file {token} proxy ls"), "proxy ls", "5"],
    );
    out.assert_code(1);
    assert_eq!(out.stdout, "no proxies\n", "only the line with the token");
    let refused: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(refused.len(), 2, "the two lines without it: {}", out.stderr);
    for line in refused {
        assert!(line.contains("requires a token"), "{line}");
    }
}
