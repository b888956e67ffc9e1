//! A kill -9 of an agent recording segments (issue 17, "Rotation"): every
//! byte a segment handed to the OS is kept, the recording lists as
//! recovered and reads merged; lanes that were idle at the kill must not
//! make the whole recording unreadable.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use reel::format::{End, FrameBody};
use serde_json::Value;
use tokio::net::TcpStream;

use common::segmented::*;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_recording_keeps_what_every_segment_handed_to_the_os() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut agent = AgentProc::start_with("127.0.0.1:0", &data, "crash", &SMALL_SEGMENTS);
    let mut ctl = agent.client().await;
    let proxy = proxy_addr(&start_proxy(&mut ctl, echo_server().await).await);
    let rec = start_recording(&mut ctl, "crash").await;

    // Four clients each send 40 × 16 KB and stay open through the kill, so
    // their connections go on across sealed segments into the open ones.
    let clients = open_echo_clients(proxy, 4, 40).await;
    let sent: u64 = clients.iter().map(|(_, _, m)| m.len() as u64).sum();
    // Wait until the segments hold every byte both ways, then kill.
    let path = recording_path(&data, &rec.id);
    wait_segments_hold(&path, sent).await;
    let before = segment_files(&path);
    assert!(before.len() > 4, "only {} segments", before.len());
    agent.kill9();
    drop(ctl);
    // What a listing said of it before restarts indexed cut recordings.
    let surveyed = reel::format::survey_dir(&path).unwrap();
    let End::Truncated { cut_bytes, .. } = surveyed.end else {
        panic!("{:?}", surveyed.end)
    };

    let agent = AgentProc::start_with("127.0.0.1:0", &data, "crash", &SMALL_SEGMENTS);
    let listed = agent_json(&agent, &["record", "ls"]).await;
    let listed = listed["recordings"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    let r = &listed[0];
    assert_eq!(r["id"], rec.id.as_str());
    assert_eq!(r["status"], "recovered", "{r}");
    assert_eq!(
        (&r["connections"], &r["bytes_c2s"], &r["bytes_s2c"]),
        (&Value::from(4), &Value::from(sent), &Value::from(sent)),
        "{r}"
    );
    assert_eq!(r["truncated_bytes"], cut_bytes, "{r}");
    // The restart indexed it, marked as cut short, so it is an ended
    // recording (and a store's uploader takes it) that still says so.
    let index = reel::format::Index::read(&path)
        .unwrap()
        .expect("indexed at start");
    assert!(!index.complete, "{index:?}");
    assert_eq!(index.footer.end_reason, reel::record::CUT_SHORT_REASON);
    assert_eq!(segment_files(&path).len(), before.len());

    // The merged read gives every frame before the cuts: one OPEN per
    // connection, its bytes whole and in order.
    let (_, frames, end) = read_recording(&path);
    assert!(matches!(end, End::Truncated { .. }), "{end:?}");
    let by_conn = payloads_by_conn(&frames);
    for (_, local, mine) in &clients {
        let (conn, open) = open_of(&frames, local);
        assert!(!open.mid_session, "{local}");
        let opens = frames
            .iter()
            .filter(|f| f.conn == conn && matches!(f.body, FrameBody::Open(_)))
            .count();
        assert_eq!(opens, 1, "one OPEN of {local} in the merged read");
        assert_eq!(sha(&by_conn[&conn].0), sha(mine), "c2s of {local}");
        assert_eq!(sha(&by_conn[&conn].1), sha(mine), "s2c of {local}");
    }

    // stats by id reads the recovered segments the same way.
    let stats = agent_json(&agent, &["stats", &rec.id]).await;
    assert_eq!(
        (&stats["c2s"]["bytes"], &stats["s2c"]["bytes"]),
        (&Value::from(sent), &Value::from(sent))
    );
    assert_eq!(stats["end"]["status"], "truncated", "{}", stats["end"]);

    // It replays: every connection sends what its client sent.
    let (seen, target) = common::s3::capture_server().await;
    let report = replays::replay_within(
        &mut agent.client().await,
        replays::replay_request(&rec.id, target, "fast"),
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(replays::state(&report), "finished", "{report:?}");
    eventually(
        Duration::from_secs(20),
        "every replayed connection ended",
        || async { seen.state().len() == clients.len() },
    )
    .await;
    let mut replayed = common::s3::sorted(&seen.state());
    let mut sent_each: Vec<Vec<u8>> = clients.iter().map(|(_, _, m)| m.clone()).collect();
    sent_each.sort();
    replayed.sort();
    assert!(
        replayed == sent_each,
        "the replay sent what the clients sent"
    );

    // Another restart lists it the same, from its index now.
    drop(agent);
    let agent = AgentProc::start_with("127.0.0.1:0", &data, "crash", &SMALL_SEGMENTS);
    let again = agent_json(&agent, &["record", "ls"]).await;
    assert_eq!(&again["recordings"][0], r);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_traffic_flows_keeps_a_prefix_of_every_stream() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut agent = AgentProc::start_with("127.0.0.1:0", &data, "flow", &SMALL_SEGMENTS);
    let mut ctl = agent.client().await;
    let proxy = proxy_addr(&start_proxy(&mut ctl, echo_server().await).await);
    let rec = start_recording(&mut ctl, "flowing").await;

    // Four clients stream until the kill cuts them off (at most 256 MB
    // each); all four are connected, and recorded, before the kill.
    let mut clients = Vec::new();
    for i in 0..4u64 {
        let sock = TcpStream::connect(proxy).await.unwrap();
        clients.push(tokio::spawn(streaming_echo_client(sock, i, 256 << 20)));
    }
    let path = recording_path(&data, &rec.id);
    eventually(
        Duration::from_secs(30),
        "a dozen segments written, with all four connections",
        || {
            let path = path.clone();
            let agent = &agent;
            async move {
                path.is_dir()
                    && segment_files(&path).len() >= 12
                    && agent_json(agent, &["record", "ls"]).await["recordings"][0]["connections"]
                        == 4
            }
        },
    )
    .await;
    agent.kill9();
    drop(ctl);
    // What the OS holds of the segments at the kill: all a restart may keep.
    let at_kill = recording_snapshot(&path);
    let mut sent = Vec::new();
    for c in clients {
        sent.push(c.await.unwrap());
    }

    let agent = AgentProc::start_with("127.0.0.1:0", &data, "flow", &SMALL_SEGMENTS);
    let listed = agent_json(&agent, &["record", "ls"]).await;
    let listed = listed["recordings"].as_array().unwrap();
    let sizes: Vec<(String, usize)> = at_kill.iter().map(|(n, b)| (n.clone(), b.len())).collect();
    assert_eq!(
        listed.len(),
        1,
        "segments at the kill: {sizes:?}\n{}",
        agent.log()
    );
    let r = &listed[0];
    assert_eq!(r["status"], "recovered", "{r}");
    let segments_now: Vec<_> = recording_snapshot(&path)
        .into_iter()
        .filter(|(name, _)| name != "index.json")
        .collect();
    assert_eq!(segments_now, at_kill, "recovery changed no segment");

    // Each stream is recorded up to a point, never with a gap or a wrong byte.
    let (_, frames, end) = read_recording(&path);
    assert!(matches!(end, End::Truncated { .. }), "{end:?}");
    let by_conn = payloads_by_conn(&frames);
    let (mut c2s_total, mut s2c_total) = (0u64, 0u64);
    for (local, mine) in &sent {
        let (conn, _) = open_of(&frames, local);
        let (c2s, s2c) = by_conn.get(&conn).cloned().unwrap_or_default();
        assert!(
            c2s.len() <= mine.len() && c2s[..] == mine[..c2s.len()],
            "c2s of {local}"
        );
        assert!(
            s2c.len() <= c2s.len() && s2c[..] == mine[..s2c.len()],
            "s2c of {local}"
        );
        c2s_total += c2s.len() as u64;
        s2c_total += s2c.len() as u64;
    }
    assert!(c2s_total > 0, "something was recorded");
    assert_eq!(
        (&r["bytes_c2s"], &r["bytes_s2c"]),
        (&Value::from(c2s_total), &Value::from(s2c_total))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_with_idle_lanes_keeps_the_recording() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let lanes = ["--record-writers", "4"];
    let mut agent = AgentProc::start_with("127.0.0.1:0", &data, "idle", &lanes);
    let mut ctl = agent.client().await;
    let proxy = proxy_addr(&start_proxy(&mut ctl, echo_server().await).await);
    let rec = start_recording(&mut ctl, "idle lanes").await;

    // One connection: its lane writes, the three others have nothing.
    let mut sock = TcpStream::connect(proxy).await.unwrap();
    let msg = b"one connection on one lane";
    assert_eq!(round_trip(&mut sock, msg).await, msg);
    let sent = msg.len() as u64;
    let path = recording_path(&data, &rec.id);
    eventually(
        Duration::from_secs(20),
        "the bytes in their segment",
        || {
            let path = path.clone();
            async move {
                segment_files(&path)
                    .iter()
                    .filter_map(|s| reel::format::scan_file(&s.path).ok())
                    .any(|s| s.summary.bytes_c2s == sent && s.summary.bytes_s2c == sent)
            }
        },
    )
    .await;
    let sizes: Vec<(String, u64)> = segment_files(&path)
        .iter()
        .map(|s| {
            let name = s.path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::metadata(&s.path).unwrap().len())
        })
        .collect();
    agent.kill9();
    drop(ctl);

    let agent = AgentProc::start_with("127.0.0.1:0", &data, "idle", &lanes);
    let listed = agent_json(&agent, &["record", "ls"]).await;
    let listed = listed["recordings"].as_array().unwrap();
    assert_eq!(
        listed.len(),
        1,
        "segments at the kill (name, bytes): {sizes:?}\nagent log:\n{}",
        agent.log()
    );
    assert_eq!(listed[0]["status"], "recovered", "{}", listed[0]);
    assert_eq!(listed[0]["bytes_c2s"], sent, "{}", listed[0]);
    let (_, frames, _) = read_recording(&path);
    let (conn, _) = open_of(&frames, &sock.local_addr().unwrap().to_string());
    assert_eq!(payloads_by_conn(&frames)[&conn].0, msg);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_after_an_idle_rotation_keeps_the_recording() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let args = ["--record-writers", "1", "--segment-time", "100ms"];
    let mut agent = AgentProc::start_with("127.0.0.1:0", &data, "idle", &args);
    let mut ctl = agent.client().await;
    let proxy = proxy_addr(&start_proxy(&mut ctl, echo_server().await).await);
    let rec = start_recording(&mut ctl, "idle rotation").await;
    let mut sock = TcpStream::connect(proxy).await.unwrap();
    let msg = b"then nothing for a while";
    assert_eq!(round_trip(&mut sock, msg).await, msg);

    // The one lane goes idle and keeps rotating by age: wait (bounded)
    // until one of its segments was sealed after the data (so the data is
    // on disk) and the open one after it is on disk too.
    let path = recording_path(&data, &rec.id);
    let sealed_with_data = |p: &std::path::Path| {
        segment_files(p).iter().any(|s| {
            reel::format::read_footer(&s.path)
                .ok()
                .flatten()
                .is_some_and(|(_, f)| f.summary.bytes_c2s == msg.len() as u64)
        })
    };
    eventually(
        Duration::from_secs(20),
        "the data sealed, two segments on",
        || {
            let path = path.clone();
            async move { sealed_with_data(&path) && segment_files(&path).len() >= 3 }
        },
    )
    .await;
    let sizes: Vec<u64> = segment_files(&path)
        .iter()
        .map(|s| std::fs::metadata(&s.path).map_or(0, |m| m.len()))
        .collect();
    agent.kill9();
    drop(ctl);

    let agent = AgentProc::start_with("127.0.0.1:0", &data, "idle", &args);
    let listed = agent_json(&agent, &["record", "ls"]).await;
    let listed = listed["recordings"].as_array().unwrap();
    assert_eq!(
        listed.len(),
        1,
        "segment sizes at the kill: {sizes:?}\nagent log:\n{}",
        agent.log()
    );
    assert_eq!(listed[0]["bytes_c2s"], msg.len() as u64, "{}", listed[0]);
    let (_, frames, _) = read_recording(&path);
    let (conn, _) = open_of(&frames, &sock.local_addr().unwrap().to_string());
    assert_eq!(payloads_by_conn(&frames)[&conn].0, msg);
}
