//! The recording holds exactly the bytes that went through the proxy, per
//! connection and direction, with timestamps that never go backwards.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::time::Duration;

use reel::format::{Direction, End, FrameBody, Next, Source, SourceReader};
use reel::proto as pb;

use common::exact::{Seen, exact_clients, sha};
use common::*;

const CLIENTS: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_clients_are_recorded_byte_exact() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("data"));
    let mut ctl = agent.client().await;
    let echo = echo_server().await;

    let proxy = ctl
        .start_proxy(pb::StartProxyRequest {
            listen: "127.0.0.1:0".into(),
            upstream: echo.to_string(),
            name: String::new(),
            faults: None,
            max_connections: 0,
            ..pb::StartProxyRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    let rec = ctl
        .start_recording(pb::StartRecordingRequest {
            proxies: vec![],
            label: "exact".into(),
            start_at_unix_ns: 0,
            ring_ms: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rec.status, pb::RecordingStatus::Recording as i32);

    let proxy_addr: std::net::SocketAddr = proxy.listen.parse().unwrap();
    let seen: Vec<Seen> = exact_clients(proxy_addr, CLIENTS).await;
    for s in &seen {
        assert_eq!(
            sha(&s.sent),
            sha(&s.received),
            "echo through the proxy is exact"
        );
    }

    // Every connection's close must be in the file before we stop.
    eventually(Duration::from_secs(20), "all connections closed", || {
        let mut ctl = ctl.clone();
        async move {
            let p = ctl
                .list_proxies(pb::ListProxiesRequest {})
                .await
                .unwrap()
                .into_inner();
            p.proxies[0].active_connections == 0 && p.proxies[0].total_connections == CLIENTS as u64
        }
    })
    .await;
    let done = stop_recording(&mut ctl, &rec.id).await;
    assert_eq!(done.status, pb::RecordingStatus::Complete as i32);
    assert_eq!(done.connections, CLIENTS as u64);
    let total: u64 = seen.iter().map(|s| s.sent.len() as u64).sum();
    assert_eq!(done.bytes_c2s, total);
    assert_eq!(done.bytes_s2c, total);

    // Read the file back and compare per connection and direction.
    let path = common::inspect::recording_path(&dir.path().join("data"), &rec.id);
    let mut reader = SourceReader::open(&Source::from_path(&path)).unwrap();
    assert_eq!(reader.header().label, "exact");
    let mut by_conn: HashMap<u64, (String, Vec<u8>, Vec<u8>, bool)> = HashMap::new();
    let mut last_ts = 0;
    let end = loop {
        match reader.next().unwrap() {
            Next::Frame(f) => {
                assert!(f.ts_ns >= last_ts, "timestamps never go backwards");
                last_ts = f.ts_ns;
                match f.body {
                    FrameBody::Open(o) => {
                        assert!(!o.mid_session);
                        by_conn.insert(f.conn, (o.client, Vec::new(), Vec::new(), false));
                    }
                    FrameBody::Data { dir, payload } => {
                        let e = by_conn.get_mut(&f.conn).expect("data after open");
                        match dir {
                            Direction::C2s => e.1.extend_from_slice(&payload),
                            Direction::S2c => e.2.extend_from_slice(&payload),
                        }
                    }
                    FrameBody::Close { .. } => {
                        by_conn.get_mut(&f.conn).expect("close after open").3 = true
                    }
                    _ => {}
                }
            }
            Next::End(end) => break end,
        }
    };
    assert!(matches!(end, End::Complete(_)), "{end:?}");
    assert_eq!(by_conn.len(), CLIENTS);
    for s in &seen {
        let (_, c2s, s2c, closed) = by_conn
            .values()
            .find(|(client, ..)| *client == s.local)
            .unwrap_or_else(|| panic!("no recorded connection for client {}", s.local));
        assert_eq!(sha(c2s), sha(&s.sent), "c2s bytes of {}", s.local);
        assert_eq!(sha(s2c), sha(&s.received), "s2c bytes of {}", s.local);
        assert!(closed, "close recorded for {}", s.local);
    }
}
