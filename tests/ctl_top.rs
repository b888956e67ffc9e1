//! `reelctl top` against a real agent (issue 15, part 2): in a
//! pseudo-terminal its screen shows the proxy's row with the open
//! connection and traffic, an agent that is not there as down, `r` then
//! `y` starts a recording of that proxy on the agent, Enter lists its
//! connections, and `q` (or SIGTERM) leaves the alternate screen and exits
//! 0. With stdout not a terminal it refuses, pointing to `watch`, with
//! exit 2.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use tokio::net::TcpStream;

use common::pty::PtyProc;
use common::*;

/// Longest the dashboard may take to show what the agent reports.
const SHOWN_WITHIN: Duration = Duration::from_secs(60);

/// The proxy's table row (`│  NAME  STATE  CONNS  TOTAL  C2S/S ...`) as
/// words, when it is on the screen.
fn proxy_row(screen: &str, name: &str) -> Option<Vec<String>> {
    screen
        .lines()
        .find(|l| l.starts_with(&format!("│  {name} ")))
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn top_shows_a_live_proxy_records_it_and_quits_on_q() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("agent"));
    let mut ctl = agent.client().await;
    let echo = echo_server().await;
    let mut request = proxy_req("127.0.0.1:0", &echo.to_string());
    request.name = "e2e-game".into();
    let proxy = ctl.start_proxy(request).await.unwrap().into_inner();
    let mut sock = TcpStream::connect(proxy_addr(&proxy)).await.unwrap();
    round_trip(&mut sock, b"hello").await;
    let client = sock.local_addr().unwrap().to_string();
    // Traffic every 100 ms over one open connection, until the test ends.
    let traffic = tokio::spawn(async move {
        loop {
            round_trip(&mut sock, &[7u8; 100]).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });

    let addr = agent.addr_str();
    // A second agent that is not there: shown down, retried with backoff.
    let gone = closed_port().to_string();
    let mut top = PtyProc::spawn(
        env!("CARGO_BIN_EXE_reelctl"),
        &["-a", &addr, "-a", &gone, "top"],
        40,
        160,
    );
    // NAME, CONNS, TOTAL, then "N B/s" (or KiB/s) each way.
    let screen = top
        .wait_for(SHOWN_WITHIN, "the proxy's row with traffic", |screen| {
            proxy_row(screen, "e2e-game").is_some_and(|row| {
                row.len() >= 7 && row[2] == "1" && row[3] == "1" && row[4] != "0"
            })
        })
        .await;
    assert!(top.alternate_screen(), "full screen:\n{screen}");
    assert!(screen.contains(&addr), "{screen}");
    let screen = top
        .wait_for(SHOWN_WITHIN, "the missing agent shown down", |s| {
            s.lines()
                .any(|l| l.contains(&gone) && l.contains("DOWN") && l.contains("retry in"))
        })
        .await;
    assert!(screen.contains("1/2 agents up"), "{screen}");

    // The cursor starts on the agent's row; j moves it to the proxy.
    top.send(b"jr");
    top.wait_for(SHOWN_WITHIN, "the y/n question", |s| {
        s.contains("Start recording proxy e2e-game") && s.contains("(y/n)")
    })
    .await;
    top.send(b"y");
    let screen = top
        .wait_for(SHOWN_WITHIN, "the recording started", |s| {
            s.contains("recording ") && s.contains(" started")
        })
        .await;
    let recordings = ctl
        .list_recordings(reel::proto::ListRecordingsRequest {})
        .await
        .unwrap()
        .into_inner()
        .recordings;
    assert_eq!(recordings.len(), 1, "{screen}");
    assert_eq!(recordings[0].proxies, std::slice::from_ref(&proxy.id));
    assert_eq!(
        recordings[0].status,
        reel::proto::RecordingStatus::Recording as i32
    );
    top.wait_for(SHOWN_WITHIN, "the recording's row", |s| {
        s.lines()
            .any(|l| l.contains(&recordings[0].id) && l.contains("e2e-game"))
    })
    .await;

    // Enter: the proxy's busiest connections, ours among them.
    top.send(b"\r");
    top.wait_for(SHOWN_WITHIN, "the proxy's connections", |s| {
        s.contains("proxy e2e-game on")
            && s.lines()
                .any(|l| l.contains(&client) && (l.contains(" B ") || l.contains("iB ")))
    })
    .await;

    // The first q closes the details, the second quits.
    top.send(b"qq");
    assert_eq!(top.wait_exit(Duration::from_secs(30)).await, Some(0));
    assert!(!top.alternate_screen(), "the terminal is restored");
    traffic.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn top_restores_the_terminal_on_sigterm() {
    let gone = closed_port().to_string();
    let mut top = PtyProc::spawn(
        env!("CARGO_BIN_EXE_reelctl"),
        &["-a", &gone, "top"],
        30,
        140,
    );
    top.wait_for(SHOWN_WITHIN, "the agent shown down", |s| {
        s.contains("DOWN") && s.contains("0/1 agents up")
    })
    .await;
    assert!(top.alternate_screen());
    signal(top.pid(), "TERM");
    assert_eq!(top.wait_exit(Duration::from_secs(30)).await, Some(0));
    assert!(!top.alternate_screen(), "the terminal is restored");
}

#[test]
fn top_without_a_terminal_points_to_watch() {
    // Nothing listens there: top must refuse before connecting anywhere.
    let out = reelctl(&["-a", "127.0.0.1:1", "top"]);
    out.assert_code(2);
    assert!(out.stderr.contains("needs a terminal"), "{}", out.stderr);
    assert!(out.stderr.contains("reelctl watch"), "{}", out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
}
