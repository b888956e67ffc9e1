//! Analysis and Wireshark interop of UDP recordings (issue 16, item 5),
//! with a real agent, a real UDP proxy and echo server, and reelctl:
//! `stats --json` of a recorded UDP proxy gives the datagram figures (from
//! the agent and from the file alike); `export --pcap` is decoded by tshark
//! datagram for datagram; a dumpcap loopback capture of the proxy's
//! upstream traffic, imported by `reelctl import`, holds the very datagrams
//! reel recorded. The tshark tests need REEL_TEST_TSHARK (as
//! tests/pcap_interop.rs).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use reel::format::{Direction, FrameBody, Transport};

use common::wireshark::{Capture, require, tshark};
use common::*;

/// The datagram sizes each test client sends (each echoed back whole).
const SIZES: [&[usize]; 2] = [&[1, 100, 1_400, 20], &[50, 50]];

/// `len` bytes, distinct per client and datagram.
fn payload(client: usize, n: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| {
            (i as u8)
                .wrapping_mul(7)
                .wrapping_add((client * 16 + n) as u8)
        })
        .collect()
}

/// Starts a UDP proxy to `upstream` on `agent` and records it while two
/// clients send [`SIZES`]; returns the recording id once the sessions
/// closed idle and the recording stopped.
async fn record_udp_sessions(agent: &str, upstream: SocketAddr) -> String {
    let started = start_udp_proxy(agent, upstream, "game", "1s").await;
    let listen: SocketAddr = started["listen"].as_str().unwrap().parse().unwrap();
    let out = reelctl_async(&["-a", agent, "-q", "record", "start", "--label", "udp"]).await;
    out.assert_code(0);
    let id = out.stdout.trim().to_owned();
    for (c, sizes) in SIZES.iter().enumerate() {
        let sock = udp_client(listen).await;
        for (n, &len) in sizes.iter().enumerate() {
            let msg = payload(c, n, len);
            assert_eq!(ask(&sock, &msg).await, msg, "the echo came back whole");
        }
    }
    eventually(Duration::from_secs(15), "the sessions closed idle", || {
        let a = agent.to_owned();
        async move {
            let listed = reelctl_async(&["-a", &a, "--json", "proxy", "ls"]).await;
            only(&listed)["proxies"][0]["active_connections"] == 0
        }
    })
    .await;
    reelctl_async(&["-a", agent, "record", "stop", &id])
        .await
        .assert_code(0);
    id
}

/// Every datagram of a recording in file order: (client, upstream,
/// direction, payload).
fn recorded_datagrams(path: &Path) -> Vec<(String, String, Direction, Vec<u8>)> {
    let (_, frames, _) = read_recording(path);
    let mut ends: HashMap<u64, (String, String)> = HashMap::new();
    let mut out = Vec::new();
    for f in &frames {
        match &f.body {
            FrameBody::Open(info) => {
                assert_eq!(info.transport, Transport::Udp, "{info:?}");
                ends.insert(f.conn, (info.client.clone(), info.upstream.clone()));
            }
            FrameBody::Datagram { dir, payload } => {
                let (client, upstream) = ends[&f.conn].clone();
                out.push((client, upstream, *dir, payload.to_vec()));
            }
            _ => {}
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_of_a_recorded_udp_proxy_give_datagram_figures() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("data"));
    let a = agent.addr_str();
    let echo = udp_echo_server().await;
    let id = record_udp_sessions(&a, echo).await;

    let remote = only(&reelctl_async(&["-a", &a, "--json", "stats", &id]).await);
    let d = &remote;
    assert_eq!(d["connections"]["total"], 2, "{d}");
    assert_eq!(d["connections"]["udp_sessions"], 2, "{d}");
    assert_eq!(d["connections"]["closed"], 2, "{d}");
    let sent: usize = SIZES.iter().flat_map(|s| s.iter()).sum();
    for dir in ["c2s", "s2c"] {
        let x = &d[dir];
        assert_eq!(x["datagrams"], 6, "{dir}: {x}");
        assert_eq!(x["bytes"], sent, "{dir}: {x}");
        assert_eq!(x["datagram_bytes"], sent, "{dir}: {x}");
        assert_eq!(x["chunks"], 0, "{dir}: {x}");
        // Sorted 1, 20, 50, 50, 100, 1400: nearest ranks 3, 6, 6.
        let sizes = &x["datagram_sizes"];
        let got: Vec<u64> = ["min", "p50", "p95", "p99", "max"]
            .iter()
            .map(|k| sizes[k].as_u64().unwrap())
            .collect();
        assert_eq!(got, [1, 50, 1400, 1400, 1400], "{dir}: {sizes}");
        // The average is over the timeline's seconds; the peak is between.
        let seconds: u64 = d["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["seconds"].as_u64().unwrap())
            .sum();
        let avg = x["avg_datagrams_per_sec"].as_f64().unwrap();
        assert!(
            (avg * seconds as f64 - 6.0).abs() < 1e-9,
            "{avg} × {seconds}"
        );
        let peak = x["peak_datagrams_per_sec"].as_u64().unwrap();
        assert!((1..=6).contains(&peak), "{peak}");
        let per_rows: u64 = d["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r[format!("datagrams_{dir}")].as_u64().unwrap())
            .sum();
        assert_eq!(per_rows, 6);
    }
    // Each session is in the busiest list, marked udp, with its datagrams.
    let mut top: Vec<(u64, u64, String, String)> = d["top_connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["datagrams_c2s"].as_u64().unwrap(),
                c["datagrams_s2c"].as_u64().unwrap(),
                c["transport"].as_str().unwrap().to_owned(),
                c["close_reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    top.sort();
    assert_eq!(
        top,
        [
            (2, 2, "udp".into(), "idle".into()),
            (4, 4, "udp".into(), "idle".into())
        ]
    );

    // The same figures from the file analysed locally.
    let file = recording_path(&agent.data_dir, &id);
    let local = only(&reelctl_async(&["--json", "stats", file.to_str().unwrap()]).await);
    assert_eq!(local, remote);

    // The human summary has its UDP block.
    let human = reelctl_async(&["-a", &a, "stats", &id]).await;
    human.assert_code(0);
    for needle in [
        "2 total (2 UDP sessions)",
        "datagrams/s average",
        "datagram size p99",
        "DGRAMS C2S",
        " udp ",
    ] {
        assert!(human.stdout.contains(needle), "{needle}: {}", human.stdout);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_of_a_udp_recording_is_decoded_datagram_for_datagram_by_tshark() {
    if !common::needs::enabled(
        common::needs::Need::Tshark,
        "export_of_a_udp_recording_is_decoded_datagram_for_datagram_by_tshark",
    ) {
        return;
    }
    require("tshark");
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("data"));
    let a = agent.addr_str();
    let echo = udp_echo_server().await;
    let id = record_udp_sessions(&a, echo).await;

    // By id: downloaded from the agent and exported.
    let pcap = dir.path().join("udp.pcapng");
    let pcap_s = pcap.to_str().unwrap();
    let out = reelctl_async(&["-a", &a, "--json", "export", &id, "--pcap", pcap_s]).await;
    let data = only(&out);
    assert_eq!(data["connections"], 2, "{data}");
    assert_eq!(data["udp_sessions"], 2, "{data}");
    assert_eq!(data["datagrams_c2s"], 6, "{data}");
    assert_eq!(data["datagrams_s2c"], 6, "{data}");
    assert_eq!(data["oversized_datagrams"], 0, "{data}");
    assert_eq!(data["packets"], 12, "{data}");

    // tshark decodes one UDP packet per datagram, in order, between the
    // recorded addresses, with the recorded payload.
    let fields = tshark(&[
        "-r",
        pcap_s,
        "-Y",
        "udp",
        "-T",
        "fields",
        "-e",
        "ip.src",
        "-e",
        "udp.srcport",
        "-e",
        "ip.dst",
        "-e",
        "udp.dstport",
        "-e",
        "udp.length",
        "-e",
        "udp.payload",
    ]);
    let decoded: Vec<(String, String, usize, Vec<u8>)> = fields
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 6, "{l}");
            let payload = hex_bytes(f[5]);
            (
                format!("{}:{}", f[0], f[1]),
                format!("{}:{}", f[2], f[3]),
                f[4].parse().unwrap(),
                payload,
            )
        })
        .collect();
    let file = recording_path(&agent.data_dir, &id);
    let expected: Vec<(String, String, usize, Vec<u8>)> = recorded_datagrams(&file)
        .into_iter()
        .map(|(client, upstream, dir, p)| match dir {
            Direction::C2s => (client, upstream, p.len() + 8, p),
            Direction::S2c => (upstream, client, p.len() + 8, p),
        })
        .collect();
    assert_eq!(expected.len(), 12);
    assert_eq!(decoded, expected, "{fields}");
    // And no packet tshark finds malformed.
    let bad = tshark(&[
        "-r",
        pcap_s,
        "-Y",
        "_ws.malformed || _ws.expert.severity >= warning",
    ]);
    assert!(bad.trim().is_empty(), "{bad}");
}

/// `0a1b..` as bytes (tshark's bytes fields; empty for no payload).
fn hex_bytes(hex: &str) -> Vec<u8> {
    let hex: String = hex.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_of_a_dumpcap_udp_capture_holds_the_recorded_datagrams() {
    if !common::needs::enabled(
        common::needs::Need::Tshark,
        "import_of_a_dumpcap_udp_capture_holds_the_recorded_datagrams",
    ) {
        return;
    }
    require("tshark");
    require("dumpcap");
    let dir = tempfile::tempdir().unwrap();
    let echo = udp_echo_server().await;
    let cap = dir.path().join("lo.pcapng");
    let filter = format!("udp port {}", echo.port());
    let mut capture = tokio::task::block_in_place(|| Capture::start_filter(&filter, &cap));
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("data"));
    let a = agent.addr_str();
    let id = record_udp_sessions(&a, echo).await;
    // The proxy's 12 upstream datagrams are in the file before dumpcap stops.
    eventually(
        Duration::from_secs(30),
        "every datagram in the capture",
        || {
            let cap = cap.clone();
            async move {
                tokio::task::spawn_blocking(move || Capture::matching_so_far(&cap, "udp") >= 12)
                    .await
                    .unwrap()
            }
        },
    )
    .await;
    tokio::task::block_in_place(|| capture.stop());

    let imported = dir.path().join("imported.reel");
    let out = reelctl_async(&[
        "--json",
        "import",
        cap.to_str().unwrap(),
        "--server",
        &echo.to_string(),
        "-o",
        imported.to_str().unwrap(),
    ])
    .await;
    let data = only(&out);
    assert_eq!(data["connections"], 2, "{data}");
    assert_eq!(data["udp_sessions"], 2, "{data}");
    assert_eq!(data["datagrams_c2s"], 6, "{data}");
    assert_eq!(data["datagrams_s2c"], 6, "{data}");
    assert_eq!(data["fragmented_packets"], 0, "{data}");

    // The proxy's upstream socket has its own port, so sessions compare by
    // their datagrams each way.
    let per_session = |path: &Path| {
        let mut sessions: HashMap<String, [Vec<Vec<u8>>; 2]> = HashMap::new();
        for (client, _, dir, p) in recorded_datagrams(path) {
            sessions.entry(client).or_default()[usize::from(dir == Direction::S2c)].push(p);
        }
        let mut all: Vec<_> = sessions.into_values().collect();
        all.sort();
        all
    };
    let recorded = per_session(&recording_path(&agent.data_dir, &id));
    assert_eq!(recorded.len(), 2);
    assert!(
        per_session(&imported) == recorded,
        "the imported capture differs from reel's recording"
    );
    let (header, frames, end) = read_recording(&imported);
    assert!(matches!(end, reel::format::End::Complete(_)), "{end:?}");
    assert_eq!(header.version(), 2);
    let closes: Vec<&str> = frames
        .iter()
        .filter_map(|f| match &f.body {
            FrameBody::Close { reason } => Some(reason.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(closes, ["idle", "idle"]);
}
