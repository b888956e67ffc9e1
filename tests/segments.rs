//! Segmented recordings rotated by size (issue 17, "Rotation"): a recording
//! cut into many small segments reads, analyses, exports and replays as the
//! same traffic recorded in one segment per lane; a version-1 single file an
//! older build left in the data directory is still listed, analysed and
//! replayed. Crashes are in segments_crash.rs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use reel::format::End;
use serde_json::Value;

use common::segmented::*;
use common::*;

/// Connections of the chained-agents test, all at once.
const CONNS: u64 = 8;
/// Messages per connection: about 8 × 80 × 2 KB each way, some 2.6 MB of
/// frames, forty-odd segments of 64 KiB.
const MESSAGES: usize = 80;

/// The figures of `reelctl stats` that depend on the traffic only, not on
/// when it passed or how it was cut into files.
fn traffic_figures(stats: &Value) -> Value {
    let dir = |d: &Value| {
        serde_json::json!({
            "bytes": d["bytes"], "chunks": d["chunks"], "lost_bytes": d["lost_bytes"],
            "messages": d["messages"],
        })
    };
    let c = &stats["connections"];
    serde_json::json!({
        "frames": stats["frames"],
        "connections": [c["total"], c["closed"], c["mid_session"]],
        "c2s": dir(&stats["c2s"]),
        "s2c": dir(&stats["s2c"]),
        "end": stats["end"],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_segments_read_analyse_export_and_replay_as_one_segment_does() {
    let dir = tempfile::tempdir().unwrap();
    let echo = echo_server().await;
    // client → A (64 KiB segments, 2 lanes) → B (defaults) → echo: both
    // record the same traffic.
    let b = AgentProc::start("127.0.0.1", &dir.path().join("b"));
    let a = AgentProc::start_with("127.0.0.1:0", &dir.path().join("a"), "a", &SMALL_SEGMENTS);
    let (mut ctl_a, mut ctl_b) = (a.client().await, b.client().await);
    let proxy_b = proxy_addr(&start_proxy(&mut ctl_b, echo).await);
    let proxy_a = proxy_addr(&start_proxy(&mut ctl_a, proxy_b).await);
    let rec_b = start_recording(&mut ctl_b, "one segment").await;
    let rec_a = start_recording(&mut ctl_a, "small segments").await;

    let clients: Vec<_> = (0..CONNS)
        .map(|i| tokio::spawn(framed_echo_client(proxy_a, i, MESSAGES)))
        .collect();
    let mut sent = 0u64;
    for c in clients {
        sent += c.await.unwrap().len() as u64;
    }
    wait_idle(&ctl_a, CONNS).await;
    wait_idle(&ctl_b, CONNS).await;
    for (ctl, rec) in [(&mut ctl_a, &rec_a), (&mut ctl_b, &rec_b)] {
        let done = ctl
            .stop_recording(reel::proto::StopRecordingRequest { id: rec.id.clone() })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (done.connections, done.bytes_c2s, done.bytes_s2c),
            (CONNS, sent, sent)
        );
    }

    let path_a = recording_path(&a.data_dir, &rec_a.id);
    let path_b = recording_path(&b.data_dir, &rec_b.id);
    let many = segment_files(&path_a);
    assert!(many.len() > 4, "only {} segments: {many:?}", many.len());
    assert!(
        many.iter().any(|s| s.lane == 1) && many.iter().any(|s| s.lane == 0),
        "both lanes wrote: {many:?}"
    );
    assert!(
        segment_files(&path_b).iter().all(|s| s.index == 0),
        "the default size holds the whole recording in one segment per lane"
    );

    // Listed as one recording: its size is all its segments'.
    let listed = agent_json(&a, &["record", "ls"]).await;
    let listed = &listed["recordings"][0];
    assert_eq!(
        (&listed["status"], &listed["size_bytes"]),
        (
            &Value::from("complete"),
            &Value::from(recording_size(&path_a))
        ),
        "{listed}"
    );

    // The merged frames: the same payload per connection and direction.
    let (header_a, frames_a, end_a) = read_recording(&path_a);
    let (_, frames_b, end_b) = read_recording(&path_b);
    assert_eq!(header_a.label, "small segments");
    assert!(matches!(end_a, End::Complete(_)), "{end_a:?}");
    assert!(matches!(end_b, End::Complete(_)), "{end_b:?}");
    assert_eq!(payload_digests(&frames_a), payload_digests(&frames_b));
    assert_eq!(frames_a.len(), frames_b.len());

    // stats: the same traffic figures, whether the agent or reelctl reads
    // the segments.
    let stats = ["stats", "--framing", "u16be"];
    let (id_a, id_b) = (rec_a.id.as_str(), rec_b.id.as_str());
    let stats_a = agent_json(&a, &[&stats[..], &[id_a]].concat()).await;
    let stats_b = agent_json(&b, &[&stats[..], &[id_b]].concat()).await;
    assert_eq!(stats_a["c2s"]["messages"]["count"], CONNS * MESSAGES as u64);
    assert_eq!(traffic_figures(&stats_a), traffic_figures(&stats_b));
    let local =
        reelctl_async(&[&["--json"], &stats[..], &[path_a.to_str().unwrap()]].concat()).await;
    assert_eq!(
        traffic_figures(&ok_data(&local)[0]),
        traffic_figures(&stats_a)
    );

    // export: the same flows, packets and bytes; the captures, imported
    // again (each with its recording's upstream as the server), hold the
    // same payload per connection and direction.
    let mut exported = Vec::new();
    for (agent, id, server) in [(&a, id_a, proxy_b), (&b, id_b, echo)] {
        let pcap = dir.path().join(format!("{id}.pcapng"));
        let d = agent_json(agent, &["export", id, "--pcap", pcap.to_str().unwrap()]).await;
        let back = dir.path().join(format!("{id}-imported.reel"));
        let (pcap_s, back_s) = (pcap.to_str().unwrap(), back.to_str().unwrap());
        let out = reelctl_async(&[
            "import",
            pcap_s,
            "--server",
            &server.to_string(),
            "-o",
            back_s,
        ])
        .await;
        out.assert_code(0);
        let (_, imported, _) = read_recording(&back);
        assert_eq!(
            payload_digests(&imported),
            payload_digests(&frames_b),
            "{id}"
        );
        exported.push(serde_json::json!([
            d["connections"],
            d["mid_session_connections"],
            d["packets"],
            d["bytes_c2s"],
            d["bytes_s2c"],
            d["lost_bytes"]
        ]));
    }
    assert_eq!(exported[0], exported[1]);
    assert_eq!(exported[0][3], sent);

    // replay --fast --verify of each against an echo server: no
    // divergence, the same bytes both ways.
    let echo_s = echo.to_string();
    let mut replayed = Vec::new();
    for (agent, id) in [(&a, id_a), (&b, id_b)] {
        let args = ["replay", id, "--target", &echo_s, "--fast", "--verify"];
        let r = agent_json(agent, &args).await;
        assert_eq!(r["state"], "finished", "{r}");
        assert_eq!(
            (r["failed"].as_u64(), r["divergences"].as_u64()),
            (Some(0), Some(0)),
            "{r}"
        );
        replayed.push((
            r["planned"].clone(),
            r["bytes_sent"].clone(),
            r["bytes_received"].clone(),
        ));
    }
    assert_eq!(replayed[0], replayed[1]);
    assert_eq!(replayed[0], (CONNS.into(), sent.into(), sent.into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_file_in_the_data_dir_is_listed_analysed_and_replayed() {
    use common::known::{S, close, data, frame, open, write_recording};
    use reel::format::Direction::{C2s, S2c};
    const ID: &str = "older-build";
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    std::fs::create_dir_all(&data_dir).unwrap();
    // A single file, written by RecordingWriter as an older build left it
    // in its data directory: two connections to an echo server.
    let file = data_dir.join(format!("{ID}.reel"));
    let mut frames = Vec::new();
    for conn in 1..=2u64 {
        let t = conn * S;
        let msg = msg_of(conn);
        frames.extend([
            frame(conn, t, open(&format!("10.0.0.{conn}:4000{conn}"), false)),
            frame(conn, t + 1_000, data(C2s, &msg)),
            frame(conn, t + 2_000, data(S2c, &msg)),
            frame(conn, t + 3_000, close("client closed")),
        ]);
    }
    let started = 1_700_000_000_000_000_000;
    write_recording(&file, ID, frames, started, started + 3 * S as i64);
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(&bytes[8..10], &1u16.to_le_bytes(), "a version-1 file");
    let sent = (msg_of(1).len() + msg_of(2).len()) as u64;

    let agent = AgentProc::start_with("127.0.0.1:0", &data_dir, "v1", &SMALL_SEGMENTS);
    let listed = agent_json(&agent, &["record", "ls"]).await;
    let r = listed["recordings"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["id"] == ID))
        .unwrap_or_else(|| panic!("{ID} not listed: {listed}"))
        .clone();
    assert_eq!(r["status"], "complete", "{r}");
    assert_eq!(
        (&r["connections"], &r["bytes_c2s"], &r["bytes_s2c"]),
        (&Value::from(2), &Value::from(sent), &Value::from(sent)),
        "{r}"
    );

    // The agent's analysis equals reelctl's own of the same file.
    let remote = agent_json(&agent, &["stats", ID]).await;
    let out = reelctl_async(&["--json", "stats", file.to_str().unwrap()]).await;
    assert_eq!(traffic_figures(&ok_data(&out)[0]), traffic_figures(&remote));
    assert_eq!(remote["c2s"]["bytes"], sent);

    // It replays, and the echo server's bytes verify.
    let echo = echo_server().await.to_string();
    let args = ["replay", ID, "--target", &echo, "--fast", "--verify"];
    let report = agent_json(&agent, &args).await;
    assert_eq!(report["state"], "finished", "{report}");
    assert_eq!(
        (&report["failed"], &report["divergences"]),
        (&Value::from(0), &Value::from(0))
    );
    assert_eq!(report["planned"], 2, "{report}");
    assert_eq!(
        (&report["bytes_sent"], &report["bytes_received"]),
        (&Value::from(sent), &Value::from(sent))
    );
    // Left as it was: still the one file, not rewritten into segments.
    assert_eq!(std::fs::read(&file).unwrap(), bytes);
}

/// Connection `conn`'s message in the version-1 file.
fn msg_of(conn: u64) -> Vec<u8> {
    format!("hello from connection {conn}").into_bytes()
}
