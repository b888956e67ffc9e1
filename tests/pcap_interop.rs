//! Wireshark interoperability end to end, checked by Wireshark's own tools:
//! a real proxy recording exported by `reelctl export` is followed by tshark
//! to exactly the recorded bytes per connection and direction; a loopback
//! capture by dumpcap of traffic through a reel proxy, imported by
//! `reelctl import`, equals the recording reel made of the same traffic;
//! bad captures fail with a clear message. These tests need tshark and
//! dumpcap (scripts/test.sh installs them) and fail saying so without.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use reel::format::{Direction, FrameBody};
use tokio::net::TcpStream;

use common::known::small_recording;
use common::wireshark::{Capture, parse_follow, require, tshark};
use common::*;

/// Runs reelctl off the runtime (the echo server lives on it).
async fn ctl(args: &[&str]) -> CtlOutput {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        reelctl(&args)
    })
    .await
    .unwrap()
}

/// One connection of a recording: its addresses and the bytes each way.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
struct Conversation {
    client: String,
    upstream: String,
    c2s: Vec<u8>,
    s2c: Vec<u8>,
}

/// Every connection of a recording file, by connection id.
fn conversations(path: &Path) -> BTreeMap<u64, Conversation> {
    let (_, frames, _) = read_recording(path);
    let mut out: BTreeMap<u64, Conversation> = BTreeMap::new();
    for f in frames.iter().filter(|f| f.conn != 0) {
        let c = out.entry(f.conn).or_default();
        match &f.body {
            FrameBody::Open(o) => {
                c.client = o.client.clone();
                c.upstream = o.upstream.clone();
            }
            FrameBody::Data { dir, payload } => match dir {
                Direction::C2s => c.c2s.extend_from_slice(payload),
                Direction::S2c => c.s2c.extend_from_slice(payload),
            },
            _ => {}
        }
    }
    out
}

/// Distinct, checkable bytes: `len` bytes seeded by `seed`.
fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| seed.wrapping_mul(31).wrapping_add((i % 251) as u8))
        .collect()
}

/// Sends each message of each connection through the proxy at `listen`
/// (echoed back), then closes; connections one after the other.
async fn traffic(listen: SocketAddr, conns: &[Vec<Vec<u8>>]) {
    for messages in conns {
        let mut sock = TcpStream::connect(listen).await.unwrap();
        for m in messages {
            assert_eq!(round_trip(&mut sock, m).await, *m);
        }
        assert!(close_and_drain(sock).await.is_empty());
    }
}

/// The messages of the test connections: small and large (a chunk over
/// 64 KiB must be split into several segments), text and binary.
fn messages() -> Vec<Vec<Vec<u8>>> {
    vec![
        vec![b"hello\n".to_vec(), pattern(1, 70_000), b"bye\n".to_vec()],
        vec![pattern(2, 1)],
        vec![pattern(3, 1460), pattern(4, 3000), pattern(5, 17)],
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_of_a_proxy_recording_is_followed_byte_exact_by_tshark() {
    if !common::needs::enabled(
        common::needs::Need::Tshark,
        "export_of_a_proxy_recording_is_followed_byte_exact_by_tshark",
    ) {
        return;
    }
    require("tshark");
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("agent"));
    let addr = agent.addr_str();
    let mut client = agent.client().await;
    let echo = echo_server().await;
    let proxy = start_proxy(&mut client, echo).await;
    let rec = start_recording(&mut client, "export").await;
    let sent = messages();
    traffic(proxy_addr(&proxy), &sent).await;
    wait_idle(&client, sent.len() as u64).await;
    stop_recording(&mut client, &rec.id).await;

    // By id: downloaded from the agent, then exported.
    let pcap = dir.path().join("out.pcapng");
    let pcap_s = pcap.to_str().unwrap();
    let out = ctl(&["-a", &addr, "--json", "export", &rec.id, "--pcap", pcap_s]).await;
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    let data = &out.json()["results"][0]["data"];
    assert_eq!(data["connections"], sent.len());
    assert_eq!(data["pcap"], pcap_s);
    assert_eq!(data["end"]["status"], "complete");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary download left: {leftovers:?}"
    );

    // The agent's file exported locally gives the very same capture.
    let local = dir.path().join("local.pcapng");
    let file = recording_path(&agent.data_dir, &rec.id);
    let out = ctl(&[
        "export",
        file.to_str().unwrap(),
        "--pcap",
        local.to_str().unwrap(),
    ])
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(std::fs::read(&local).unwrap() == std::fs::read(&pcap).unwrap());

    // tshark: one conversation per connection...
    let conv = tshark(&["-r", pcap_s, "-q", "-z", "conv,tcp"]);
    assert_eq!(
        conv.lines().filter(|l| l.contains("<->")).count(),
        sent.len(),
        "{conv}"
    );
    // ...and each stream followed to the recorded bytes, both ways.
    let recorded = conversations(&file);
    assert_eq!(recorded.len(), sent.len());
    let mut args = vec!["-r".to_string(), pcap_s.into(), "-q".into()];
    for n in 0..sent.len() {
        args.extend(["-z".into(), format!("follow,tcp,raw,{n}")]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let followed = parse_follow(&tshark(&args));
    assert_eq!(followed.len(), sent.len());
    for conv in recorded.values() {
        let f = followed
            .iter()
            .find(|f| f.nodes == [conv.client.clone(), conv.upstream.clone()])
            .unwrap_or_else(|| panic!("no stream {} <-> {}", conv.client, conv.upstream));
        assert!(f.sent[0] == conv.c2s, "c2s of {} differs", conv.client);
        assert!(f.sent[1] == conv.s2c, "s2c of {} differs", conv.client);
    }
    // And the recording holds what the clients sent.
    let mut expected: Vec<Vec<u8>> = sent.iter().map(|m| m.concat()).collect();
    let mut got: Vec<Vec<u8>> = recorded.values().map(|c| c.c2s.clone()).collect();
    expected.sort();
    got.sort();
    assert!(got == expected, "the recording is not the traffic sent");
}

/// (c2s, s2c) of every connection, sorted: the proxy's upstream connection
/// has its own source port, so connections are compared as a multiset.
fn streams(path: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut all: Vec<_> = conversations(path)
        .into_values()
        .map(|c| (c.c2s, c.s2c))
        .collect();
    all.sort();
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_of_a_loopback_capture_equals_the_proxy_recording() {
    if !common::needs::enabled(
        common::needs::Need::Tshark,
        "import_of_a_loopback_capture_equals_the_proxy_recording",
    ) {
        return;
    }
    require("tshark");
    require("dumpcap");
    let dir = tempfile::tempdir().unwrap();
    let echo = echo_server().await;
    let cap = dir.path().join("lo.pcapng");
    let mut capture = tokio::task::block_in_place(|| Capture::start(echo.port(), &cap));

    let agent = AgentProc::start("127.0.0.1", &dir.path().join("agent"));
    let mut client = agent.client().await;
    let proxy = start_proxy(&mut client, echo).await;
    let rec = start_recording(&mut client, "capture").await;
    let sent = messages();
    traffic(proxy_addr(&proxy), &sent).await;
    wait_idle(&client, sent.len() as u64).await;
    stop_recording(&mut client, &rec.id).await;
    // Every connection's two FINs are in the file before dumpcap stops.
    eventually(
        Duration::from_secs(30),
        "every close in the capture",
        || {
            let cap = cap.clone();
            let want = 2 * sent.len();
            async move {
                tokio::task::spawn_blocking(move || Capture::fins_so_far(&cap) >= want)
                    .await
                    .unwrap()
            }
        },
    )
    .await;
    tokio::task::block_in_place(|| capture.stop());

    let server = echo.to_string();
    let imported = dir.path().join("imported.reel");
    let out = ctl(&[
        "--json",
        "import",
        cap.to_str().unwrap(),
        "--server",
        &server,
        "-o",
        imported.to_str().unwrap(),
        "--label",
        "from dumpcap",
    ])
    .await;
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    let data = &out.json()["results"][0]["data"];
    assert_eq!(data["connections"], sent.len(), "{data}");
    assert_eq!(data["mid_session_connections"], 0, "{data}");
    assert_eq!(data["lost_bytes"], 0, "{data}");
    assert_eq!(data["id"], "imported");

    let recorded = streams(&recording_path(&agent.data_dir, &rec.id));
    assert_eq!(recorded.len(), sent.len());
    assert!(
        streams(&imported) == recorded,
        "the imported capture differs from reel's recording"
    );
    let (header, _, end) = read_recording(&imported);
    assert_eq!(header.label, "from dumpcap");
    assert!(matches!(end, reel::format::End::Complete(_)), "{end:?}");

    // The same capture as classic pcap imports the same.
    let classic = dir.path().join("lo.pcap");
    let out = run_bounded(
        Command::new("editcap")
            .args(["-F", "pcap"])
            .arg(&cap)
            .arg(&classic),
        Duration::from_secs(30),
        "editcap (install tshark)",
    );
    assert_eq!(out.code, Some(0), "editcap: {}", out.stderr);
    let again = dir.path().join("again.reel");
    let out = ctl(&[
        "import",
        classic.to_str().unwrap(),
        "--server",
        &format!("{}", echo.port()),
        "-o",
        again.to_str().unwrap(),
    ])
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.starts_with("imported into "), "{}", out.stdout);
    assert!(streams(&again) == recorded);
}

#[test]
fn bad_captures_fail_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    std::fs::write(path("text.pcap"), "GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    std::fs::write(path("empty.pcap"), b"").unwrap();
    // A classic pcap header (LE, µs, Ethernet), cut short.
    let mut header = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
    header.extend_from_slice(&[0; 8]);
    header.extend_from_slice(&65_535u32.to_le_bytes());
    header.extend_from_slice(&1u32.to_le_bytes());
    std::fs::write(path("header-cut.pcap"), &header[..12]).unwrap();
    // A valid pcapng (a recording exported), and a copy whose second block
    // has an impossible length (13: not a multiple of 4).
    small_recording(&path("small.reel"));
    let pcap = path("small.pcapng");
    let out = reelctl(&[
        "export",
        path("small.reel").to_str().unwrap(),
        "--pcap",
        pcap.to_str().unwrap(),
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let valid = std::fs::read(&pcap).unwrap();
    let shb_len = u32::from_le_bytes(valid[4..8].try_into().unwrap()) as usize;
    let mut corrupt = valid.clone();
    corrupt[shb_len + 4..shb_len + 8].copy_from_slice(&13u32.to_le_bytes());
    std::fs::write(path("corrupt.pcapng"), &corrupt).unwrap();
    let corrupt_says = format!("corrupted capture at byte offset {shb_len}");

    for (name, says) in [
        ("text.pcap", "not a pcap or pcapng file"),
        ("empty.pcap", "the capture file is empty"),
        ("header-cut.pcap", "ends inside its file header"),
        ("corrupt.pcapng", corrupt_says.as_str()),
        ("small.reel", "not a pcap or pcapng file"),
        ("missing.pcap", "could not open"),
    ] {
        let input = path(name);
        let input_s = input.to_str().unwrap();
        let output = path(&format!("{name}.reel"));
        let out = reelctl(&[
            "import",
            input_s,
            "--server",
            "5630",
            "-o",
            output.to_str().unwrap(),
        ]);
        assert_eq!(out.code, Some(1), "{name}: {}\n{}", out.stdout, out.stderr);
        assert!(
            out.stderr.starts_with(&format!("error: {input_s}: ")) && out.stderr.contains(says),
            "{name}: {}",
            out.stderr
        );
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
        assert!(!output.exists(), "{name}: output left behind");
    }

    // A capture cut inside its last record imports what comes before, and
    // says so.
    let bytes = valid;
    std::fs::write(path("cut.pcapng"), &bytes[..bytes.len() - 10]).unwrap();
    let out = reelctl(&[
        "--json",
        "import",
        path("cut.pcapng").to_str().unwrap(),
        "--server",
        "10.0.0.2:5630",
        "-o",
        path("cut.reel").to_str().unwrap(),
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let data = &out.json()["results"][0]["data"];
    assert!(data["truncated"].is_object(), "{data}");
    assert_eq!(data["connections"], 1);
    assert_eq!(data["bytes_c2s"], 4);
    let out = reelctl(&[
        "import",
        path("cut.pcapng").to_str().unwrap(),
        "--server",
        "10.0.0.2:5630",
        "-o",
        path("cut.reel").to_str().unwrap(),
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stderr.contains("warning: ") && out.stderr.contains("inside a record"),
        "{}",
        out.stderr
    );

    // Exporting what is not a recording fails the same way.
    let out = reelctl(&[
        "export",
        path("text.pcap").to_str().unwrap(),
        "--pcap",
        path("x.pcapng").to_str().unwrap(),
    ]);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("not a reel recording"),
        "{}",
        out.stderr
    );
    assert!(!path("x.pcapng").exists());
    // A server that is not an address is a usage error.
    let out = reelctl(&["import", "x.pcap", "--server", "game:5630", "-o", "y.reel"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
}
