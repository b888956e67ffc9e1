//! Bad requests and bad peers: each gets a clear error naming what was wrong,
//! and the agent keeps serving afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use reel::proto as pb;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tonic::Code;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_address_in_use_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("data"));
    let mut ctl = agent.client().await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();

    let r = ctl
        .start_proxy(proxy_req(&addr, &echo_server().await.to_string()))
        .await;
    assert_status(r, Code::Unavailable, &["cannot listen on", &addr]);
    still_serving(&mut ctl).await;
    let proxies = ctl
        .list_proxies(pb::ListProxiesRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(proxies.proxies.is_empty(), "no proxy left behind");
    drop(taken);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_addresses_are_invalid_arguments_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("data"));
    let mut ctl = agent.client().await;
    let good = echo_server().await.to_string();

    for bad in ["nonsense", "host:99999", ""] {
        let r = ctl.start_proxy(proxy_req(bad, &good)).await;
        assert_status(r, Code::InvalidArgument, &["listen"]);
        still_serving(&mut ctl).await;

        let r = ctl.start_proxy(proxy_req("127.0.0.1:0", bad)).await;
        assert_status(r, Code::InvalidArgument, &["upstream"]);
        still_serving(&mut ctl).await;
    }
    // The value itself is quoted when there is one.
    let r = ctl.start_proxy(proxy_req("nonsense", &good)).await;
    assert_status(r, Code::InvalidArgument, &["invalid listen", "nonsense"]);
    let r = ctl
        .start_proxy(proxy_req("127.0.0.1:0", "host:99999"))
        .await;
    assert_status(
        r,
        Code::InvalidArgument,
        &["invalid upstream", "host:99999"],
    );

    // Shapes that once passed (issue 13, finding 14): a scheme, an IPv6
    // address without brackets, control characters, port 0 to connect to,
    // a host longer than DNS allows.
    let long = format!("{}:80", "a.".repeat(127));
    for bad in [
        "http://evil:80",
        ":::1",
        "a\0b:1",
        "a\x1b[2Jb:1",
        "good:0",
        &long,
    ] {
        let r = ctl.start_proxy(proxy_req("127.0.0.1:0", bad)).await;
        assert_status(r, Code::InvalidArgument, &["invalid upstream"]);
        let r = ctl
            .start_replay(pb::StartReplayRequest {
                recordings: vec!["r-none".into()],
                target: bad.to_string(),
                ..Default::default()
            })
            .await;
        assert_status(r, Code::InvalidArgument, &["invalid target"]);
        still_serving(&mut ctl).await;
    }
    // A bracketed IPv6 upstream is a valid shape.
    let started = ctl
        .start_proxy(proxy_req("127.0.0.1:0", "[::1]:9"))
        .await
        .expect("[::1]:9 is a valid upstream")
        .into_inner();
    ctl.stop_proxy(pb::StopProxyRequest { id: started.id })
        .await
        .unwrap();

    let proxies = ctl
        .list_proxies(pb::ListProxiesRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(proxies.proxies.is_empty(), "no proxy was started");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_upstream_closes_the_client_and_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("data"));
    let mut ctl = agent.client().await;
    let dead = closed_port();

    let broken = start_proxy(&mut ctl, dead).await;
    let mut watch = ctl
        .watch(pb::WatchRequest {
            kinds: vec![pb::EventKind::Connection as i32],
            proxies: vec![broken.id.clone()],
        })
        .await
        .unwrap()
        .into_inner();

    let mut client = TcpStream::connect(proxy_addr(&broken)).await.unwrap();
    let local = client.local_addr().unwrap().to_string();
    let mut buf = [0u8; 16];
    match tokio::time::timeout(Duration::from_secs(15), client.read(&mut buf)).await {
        Ok(Ok(0)) | Ok(Err(_)) => {}
        Ok(Ok(n)) => panic!("read {n} bytes from a proxy with no upstream"),
        Err(_) => panic!("the agent did not close the client within 15 s"),
    }

    let ev = wait_event(
        &mut watch,
        Duration::from_secs(10),
        "ConnectionClosed",
        |e| matches!(e.body, Some(pb::event::Body::ConnectionClosed(_))),
    )
    .await;
    assert_eq!(ev.proxy_id, broken.id);
    let Some(pb::event::Body::ConnectionClosed(closed)) = ev.body else {
        unreachable!()
    };
    assert!(
        closed.reason.starts_with("upstream connect failed"),
        "reason {:?}",
        closed.reason
    );
    assert!(
        closed.reason.contains(&dead.to_string()),
        "reason names the upstream: {:?}",
        closed.reason
    );
    assert_eq!(closed.client, local);
    assert_eq!((closed.bytes_c2s, closed.bytes_s2c), (0, 0));

    let listed = ctl
        .list_proxies(pb::ListProxiesRequest {})
        .await
        .unwrap()
        .into_inner();
    let p = listed.proxies.iter().find(|p| p.id == broken.id).unwrap();
    assert_eq!(p.failed_connections, 1);
    assert_eq!(p.active_connections, 0);

    // Another proxy of the same agent is unaffected.
    let good = start_proxy(&mut ctl, echo_server().await).await;
    let mut sock = TcpStream::connect(proxy_addr(&good)).await.unwrap();
    assert_eq!(
        round_trip(&mut sock, b"still relaying").await,
        b"still relaying"
    );
    assert!(close_and_drain(sock).await.is_empty());
    still_serving(&mut ctl).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_malformed_ids_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let agent = AgentProc::start("127.0.0.1", &data);
    let mut ctl = agent.client().await;

    let r = ctl
        .stop_proxy(pb::StopProxyRequest { id: "p99".into() })
        .await;
    assert_status(r, Code::NotFound, &[r#"unknown proxy "p99""#]);
    still_serving(&mut ctl).await;

    let unknown = "20260101-000000-dead";
    let want = format!("unknown recording {unknown:?}");
    let r = ctl
        .get_recording(pb::GetRecordingRequest { id: unknown.into() })
        .await;
    assert_status(r, Code::NotFound, &[&want]);
    let r = ctl
        .stop_recording(pb::StopRecordingRequest { id: unknown.into() })
        .await;
    assert_status(r, Code::NotFound, &[&want]);
    let r = ctl
        .delete_recording(pb::DeleteRecordingRequest { id: unknown.into() })
        .await;
    assert_status(r, Code::NotFound, &[&want]);
    still_serving(&mut ctl).await;

    for bad in ["../etc/passwd", "a/b", ".."] {
        let quoted = format!("{bad:?}");
        let r = ctl
            .get_recording(pb::GetRecordingRequest { id: bad.into() })
            .await;
        assert_status(r, Code::InvalidArgument, &["invalid id", &quoted]);
        let r = ctl
            .stop_recording(pb::StopRecordingRequest { id: bad.into() })
            .await;
        assert_status(r, Code::InvalidArgument, &["invalid id", &quoted]);
        let r = ctl
            .delete_recording(pb::DeleteRecordingRequest { id: bad.into() })
            .await;
        assert_status(r, Code::InvalidArgument, &["invalid id", &quoted]);
        still_serving(&mut ctl).await;
    }

    // Nothing to record yet.
    let r = ctl
        .start_recording(pb::StartRecordingRequest {
            proxies: vec![],
            label: String::new(),
            start_at_unix_ns: 0,
            ring_ms: 0,
        })
        .await;
    assert_status(r, Code::FailedPrecondition, &["no proxy is running"]);
    still_serving(&mut ctl).await;

    // A recording in progress cannot be deleted, and its file stays.
    start_proxy(&mut ctl, echo_server().await).await;
    let rec = start_recording(&mut ctl, "busy").await;
    let r = ctl
        .delete_recording(pb::DeleteRecordingRequest { id: rec.id.clone() })
        .await;
    assert_status(r, Code::FailedPrecondition, &["in progress", &rec.id]);
    assert!(recording_path(&data, &rec.id).exists(), "file still there");
    let again = ctl
        .get_recording(pb::GetRecordingRequest { id: rec.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.status, pb::RecordingStatus::Recording as i32);
    still_serving(&mut ctl).await;
}
