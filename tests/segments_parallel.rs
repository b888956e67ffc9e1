//! Segments written in parallel (issue 17, "Parallel writers"): with four
//! writer lanes and 64 KiB segments, the merged recording is byte- and
//! order-exact per connection and direction, its timestamps a strict global
//! order, each connection opened once; every segment reads alone, a
//! connection it continues starting with a mid-session OPEN; and the causal
//! order across connections holds (a Redis server's state is reproduced).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{HashMap, HashSet};

use reel::format::{Direction, End, FrameBody};
use reel::proto as pb;

use common::exact::{Seen, exact_clients, sha};
use common::redis::{
    CLIENTS as REDIS_CLIENTS, RedisServer, assert_causal_replay_reproduces, run_clients,
    written_state,
};
use common::segmented::*;
use common::*;

const CLIENTS: usize = 50;
const PARALLEL: [&str; 4] = ["--segment-size", "64KiB", "--record-writers", "4"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_clients_over_four_lanes_are_recorded_exact_and_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let agent = AgentProc::start_with("127.0.0.1:0", &data, "lanes", &PARALLEL);
    let mut ctl = agent.client().await;
    let proxy = proxy_addr(&start_proxy(&mut ctl, echo_server().await).await);
    let rec = start_recording(&mut ctl, "parallel").await;

    let seen: Vec<Seen> = exact_clients(proxy, CLIENTS).await;
    for s in &seen {
        assert_eq!(sha(&s.sent), sha(&s.received), "echo of {}", s.local);
    }
    wait_idle(&ctl, CLIENTS as u64).await;
    let done = stop_recording(&mut ctl, &rec.id).await;
    assert_eq!(done.status, pb::RecordingStatus::Complete as i32);
    assert_eq!(done.connections, CLIENTS as u64);

    let path = recording_path(&data, &rec.id);
    let segments = segment_files(&path);
    let lanes: HashSet<u16> = segments.iter().map(|s| s.lane).collect();
    assert_eq!(lanes.len(), 4, "four lanes wrote: {segments:?}");
    assert!(segments.len() > 8, "only {} segments", segments.len());

    // The merged stream: strictly increasing timestamps (the recording's
    // sequence numbers), one OPEN per connection, never mid-session.
    let (_, frames, end) = read_recording(&path);
    assert!(matches!(end, End::Complete(_)), "{end:?}");
    for pair in frames.windows(2) {
        assert!(
            pair[0].ts_ns < pair[1].ts_ns,
            "ts_ns not strictly increasing: {} then {}",
            pair[0].ts_ns,
            pair[1].ts_ns
        );
    }
    let mut opens: HashMap<u64, usize> = HashMap::new();
    for f in &frames {
        if let FrameBody::Open(o) = &f.body {
            assert!(!o.mid_session, "a repeated OPEN reached the merged stream");
            *opens.entry(f.conn).or_default() += 1;
        }
    }
    assert_eq!(opens.len(), CLIENTS);
    assert!(opens.values().all(|n| *n == 1), "{opens:?}");

    // Byte- and order-exact per connection and direction, each closed.
    let by_conn = payloads_by_conn(&frames);
    for s in &seen {
        let (conn, _) = open_of(&frames, &s.local);
        let (c2s, s2c) = &by_conn[&conn];
        assert_eq!(sha(c2s), sha(&s.sent), "c2s of {}", s.local);
        assert_eq!(sha(s2c), sha(&s.received), "s2c of {}", s.local);
        assert_eq!(
            payload_of(&frames, conn, Direction::C2s).len(),
            s.sent.len()
        );
        assert!(
            frames
                .iter()
                .any(|f| f.conn == conn && matches!(f.body, FrameBody::Close { .. })),
            "close of {}",
            s.local
        );
    }

    // Every segment reads alone, to a clean end; a connection's frames
    // stay in one lane; in a segment, a connection's first frame is its
    // OPEN, mid-session exactly when an earlier segment of the lane had it.
    let mut lane_of: HashMap<u64, u16> = HashMap::new();
    let mut opened_in_lane: HashSet<u64> = HashSet::new();
    let mut continued = 0;
    let mut lane = None;
    for seg in &segments {
        if lane != Some(seg.lane) {
            lane = Some(seg.lane);
            opened_in_lane.clear();
        }
        let (seg_frames, seg_end) = read_segment(&seg.path);
        assert!(matches!(seg_end, End::Complete(_)), "{seg:?}: {seg_end:?}");
        let mut here: HashSet<u64> = HashSet::new();
        for f in seg_frames.iter().filter(|f| f.conn != 0) {
            assert_eq!(
                *lane_of.entry(f.conn).or_insert(seg.lane),
                seg.lane,
                "{seg:?}"
            );
            if !here.insert(f.conn) {
                continue;
            }
            let FrameBody::Open(o) = &f.body else {
                panic!("{seg:?}: connection {} starts with {:?}", f.conn, f.body);
            };
            let earlier = !opened_in_lane.insert(f.conn);
            assert_eq!(o.mid_session, earlier, "{seg:?}: OPEN of {}", f.conn);
            continued += usize::from(earlier);
        }
    }
    assert!(continued > 0, "no connection went on into a later segment");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn causal_replay_of_a_four_lane_recording_reproduces_redis_state() {
    if !common::needs::enabled(
        common::needs::Need::Redis,
        "causal_replay_of_a_four_lane_recording_reproduces_redis_state",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Segments also sealed by age, so the run likely crosses rotations.
    let args = [&PARALLEL[..], &["--segment-time", "100ms"]].concat();
    let agent = AgentProc::start_with("127.0.0.1:0", &data, "redis", &args);
    let mut ctl = agent.client().await;
    let original = RedisServer::start().await;
    let proxy = proxy_addr(&start_proxy(&mut ctl, original.addr).await);

    let rec = start_recording(&mut ctl, "redis").await;
    let conns = run_clients(proxy).await;
    wait_idle(&ctl, conns).await;
    let rec = stop_recording(&mut ctl, &rec.id).await;
    assert_eq!(rec.connections, REDIS_CLIENTS as u64);
    let segments = segment_files(&recording_path(&data, &rec.id));
    let lanes: HashSet<u16> = segments.iter().map(|s| s.lane).collect();
    assert!(lanes.len() > 1, "connections on several lanes: {lanes:?}");
    let want = written_state(original.addr).await;
    let report = assert_causal_replay_reproduces(&mut ctl, &rec, &want).await;
    eprintln!(
        "causal replay of a four-lane recording in {} segments: {} relaxations, {} server timeouts",
        segments.len(),
        report.relaxations,
        report.server_timeouts
    );
}
