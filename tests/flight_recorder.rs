//! The flight recorder (issue 17, item 4): `record start --ring DUR` keeps
//! the last DUR of traffic, `record dump` seals a copy of it as an
//! ordinary recording while the ring goes on; the copy starts where the
//! window caught its connections (mid-session) and replays from there.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use reel::format::FrameBody;
use tokio::net::TcpStream;

use common::reelctl_async as ctl;
use common::*;

/// The ring's window in this test.
const WINDOW: Duration = Duration::from_secs(3);
/// One numbered message this often on the long connection.
const EVERY: Duration = Duration::from_millis(50);

fn message(n: u32) -> Vec<u8> {
    format!("msg-{n:06}\n").into_bytes()
}

/// The numbers of the `msg-NNNNNN` messages in `bytes`.
fn numbers(bytes: &[u8]) -> Vec<u32> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter_map(|l| l.strip_prefix("msg-")?.parse().ok())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dump_holds_the_last_window_marks_caught_connections_and_replays() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let agent = AgentProc::start("127.0.0.1", &data);
    let addr = agent.addr_str();
    let echo = echo_server().await.to_string();
    let listen = tcp_proxy_start(&addr, &echo).await.remove(0);
    let out = ctl(&[
        "-a",
        &addr,
        "--json",
        "record",
        "start",
        "--ring",
        "3s",
        "--label",
        "black box",
    ])
    .await;
    let ring = ok_data(&out)[0].clone();
    let ring_id = ring["id"].as_str().unwrap().to_owned();
    assert_eq!(ring["ring_ms"], 3_000, "{ring}");

    // One connection open from the start, for three windows.
    let mut sock = TcpStream::connect(&listen).await.unwrap();
    let began = Instant::now();
    let mut sent = 0u32;
    while began.elapsed() < WINDOW * 3 {
        assert_eq!(round_trip(&mut sock, &message(sent)).await, message(sent));
        sent += 1;
        tokio::time::sleep(EVERY).await;
    }
    // Segments past the window are gone: each lane seals every 375 ms
    // (an eighth of the window) and keeps about a window's worth, not the
    // three windows' it wrote.
    let segments = std::fs::read_dir(recording_path(&data, &ring_id))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".reel")
        })
        .count();
    assert!(segments <= 2 * 12, "{segments} segments kept");
    let out = ctl(&[
        "-a", &addr, "--json", "record", "dump", &ring_id, "--label", "crash",
    ])
    .await;
    let dump = ok_data(&out)[0].clone();
    let dump_id = dump["id"].as_str().unwrap().to_owned();
    assert_ne!(dump_id, ring_id);
    assert_eq!(dump["label"], "crash");
    assert_eq!(dump["status"], "complete", "{dump}");

    // Only the last window, give or take a segment (an eighth of it) and
    // the prune that runs as segments seal.
    let (header, frames, _) = read_recording(&recording_path(&data, &dump_id));
    assert_eq!(header.id, dump_id);
    let (conn, open) = frames
        .iter()
        .find_map(|f| match &f.body {
            FrameBody::Open(o) => Some((f.conn, o.clone())),
            _ => None,
        })
        .expect("the connection is in the dump");
    assert!(open.mid_session, "caught by the window: mid-session");
    let got = numbers(&payload_of(&frames, conn, reel::format::Direction::C2s));
    assert!(!got.is_empty());
    assert!(
        got.windows(2).all(|w| w[1] == w[0] + 1),
        "contiguous: {got:?}"
    );
    assert_eq!(*got.last().unwrap(), sent - 1, "up to the dump");
    let per_window = (WINDOW.as_millis() / EVERY.as_millis()) as u32;
    assert!(
        got[0] > 0 && (got.len() as u32) < per_window * 2,
        "the dump kept about one window of {sent} messages: from {} ({} messages)",
        got[0],
        got.len()
    );
    // Its clock starts at its first frame.
    assert!(frames[0].ts_ns < 1_000_000_000, "{}", frames[0].ts_ns);

    // The ring goes on: still recording, and the connection still relays.
    let listed =
        ok_data(&ctl(&["-a", &addr, "--json", "record", "show", &ring_id]).await)[0].clone();
    assert_eq!(listed["status"], "recording");
    assert_eq!(round_trip(&mut sock, &message(sent)).await, message(sent));
    assert!(close_and_drain(sock).await.is_empty());

    // The dump replays from where the window caught the connection.
    let out = ctl(&[
        "-a", &addr, "--json", "replay", &dump_id, "--target", &echo, "--fast", "--verify",
    ])
    .await;
    let report = &ok_data(&out)[0];
    assert_eq!(report["state"], "finished", "{report}");
    assert_eq!(report["divergences"], 0, "{report}");
    let expected: u64 = got.len() as u64 * message(0).len() as u64;
    assert_eq!(report["bytes_sent"], expected, "{report}");
    assert_eq!(report["connections"][0]["mid_session"], true, "{report}");

    ok_data(&ctl(&["-a", &addr, "--json", "record", "stop", &ring_id]).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dump_and_ring_refusals_name_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("data"));
    let addr = agent.addr_str();
    let echo = echo_server().await.to_string();
    ok_data(
        &ctl(&[
            "-a",
            &addr,
            "--json",
            "proxy",
            "start",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            &echo,
        ])
        .await,
    );
    let out = ctl(&["-a", &addr, "record", "start", "--ring", "100ms"]).await;
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(out.stderr.contains("ring"), "{}", out.stderr);

    let out = ctl(&["-a", &addr, "--json", "record", "start"]).await;
    let plain = ok_data(&out)[0]["id"].as_str().unwrap().to_owned();
    let out = ctl(&["-a", &addr, "record", "dump", &plain]).await;
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("not a flight recorder"),
        "{}",
        out.stderr
    );
    let out = ctl(&["-a", &addr, "record", "dump", "no-such-recording"]).await;
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(out.stderr.contains("no-such-recording"), "{}", out.stderr);
}
