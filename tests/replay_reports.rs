//! Replay reports with a real agent process: they survive a restart (a
//! replay cut by SIGTERM says `stopped`, one cut by kill -9 says `failed`),
//! a start more than an hour ahead is refused, and a replay of hundreds of
//! thousands of connections reports a bounded list that GetReplay,
//! ListReplays, `replay status` and `replay ls` all fetch.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reel::proto as pb;
use reel::proto::reel_client::ReelClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tonic::transport::Channel;

use common::replays::{get_replay, mode_value};
use common::*;

/// The error of a replay whose agent died under it (`reel::replay::INTERRUPTED`).
const INTERRUPTED: &str = "the agent stopped during the replay";

/// Connections a test server's kernel queue holds before it accepts them:
/// a replay opens a thousand at once.
const SERVER_BACKLOG: u32 = 4096;

/// A server that reads until the client half-closes, then closes.
async fn read_and_close_server() -> SocketAddr {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(SERVER_BACKLOG).unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut sink = Vec::new();
                let _ = sock.read_to_end(&mut sink).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    addr
}

/// Records one connection through a proxy to `server`: `messages` sent
/// `gap` apart, then a half-close.
async fn record_one(
    ctl: &mut ReelClient<Channel>,
    server: SocketAddr,
    label: &str,
    messages: &[&[u8]],
    gap: Duration,
) -> pb::RecordingInfo {
    let proxy = start_proxy(ctl, server).await;
    let rec = start_recording(ctl, label).await;
    let mut s = TcpStream::connect(proxy_addr(&proxy)).await.unwrap();
    for (i, m) in messages.iter().enumerate() {
        if i > 0 {
            tokio::time::sleep(gap).await;
        }
        s.write_all(m).await.unwrap();
    }
    close_and_drain(s).await;
    wait_idle(ctl, 1).await;
    let done = stop_recording(ctl, &rec.id).await;
    ctl.stop_proxy(pb::StopProxyRequest { id: proxy.id })
        .await
        .expect("StopProxy");
    assert_eq!(done.connections, 1);
    done
}

fn request(rec: &str, target: SocketAddr, mode: &str) -> pb::StartReplayRequest {
    pb::StartReplayRequest {
        recordings: vec![rec.to_string()],
        target: target.to_string(),
        mode: mode_value(mode),
        ..Default::default()
    }
}

/// Polls a replay (bounded by `limit`) until `done` holds for its report.
async fn wait_for(
    ctl: &mut ReelClient<Channel>,
    id: &str,
    limit: Duration,
    what: &str,
    done: impl Fn(&pb::ReplayReport) -> bool,
) -> pb::ReplayReport {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let r = get_replay(ctl, id).await;
        if done(&r) {
            return r;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "replay {id} not {what} after {limit:?}: {} {}",
            r.state,
            r.error
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn ended(r: &pb::ReplayReport) -> bool {
    r.state() != reel::proto::ReplayState::Running
        && r.state() != reel::proto::ReplayState::Scheduled
}

/// Every page of ListReplays, one request per page; the ids newest first.
async fn list_all(ctl: &mut ReelClient<Channel>, page_size: u32) -> Vec<pb::ReplayReport> {
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = ctl
            .list_replays(pb::ListReplaysRequest {
                page_size,
                page_token,
            })
            .await
            .expect("ListReplays")
            .into_inner();
        let most = if page_size == 0 {
            50
        } else {
            page_size as usize
        };
        assert!(
            page.replays.len() <= most,
            "{} > {most}",
            page.replays.len()
        );
        all.extend(page.replays);
        if page.next_page_token.is_empty() {
            return all;
        }
        page_token = page.next_page_token;
    }
}

/// Peak resident memory of a process (VmHWM), for the log.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn ids(list: &[pb::ReplayReport]) -> Vec<&str> {
    list.iter().map(|r| r.id.as_str()).collect()
}

fn unix_ns_in(d: Duration) -> i64 {
    let at = SystemTime::now() + d;
    at.duration_since(UNIX_EPOCH).unwrap().as_nanos() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_survive_restarts_and_a_crash_marks_them_failed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut agent = AgentProc::start("127.0.0.1", &data);
    let mut ctl = agent.client().await;
    let server = read_and_close_server().await;
    let tiny = record_one(&mut ctl, server, "tiny", &[b"hello"], Duration::ZERO).await;
    // 300 ms between two chunks: at speed 0.01 the replay takes 30 s.
    let slow = record_one(
        &mut ctl,
        server,
        "slow",
        &[b"a", b"b"],
        Duration::from_millis(300),
    )
    .await;

    let fast_id = ctl
        .start_replay(request(&tiny.id, server, "fast"))
        .await
        .expect("StartReplay")
        .into_inner()
        .id;
    let fast = wait_for(&mut ctl, &fast_id, Duration::from_secs(60), "ended", ended).await;
    assert_eq!(fast.state(), reel::proto::ReplayState::Finished, "{fast:?}");
    assert_eq!((fast.connections_total, fast.connections.len()), (1, 1));
    assert_eq!(fast.bytes_sent, 5);
    assert!(
        data.join("replays")
            .join(format!("{fast_id}.json"))
            .exists()
    );

    // A replay still running when the agent is asked to stop.
    let mut timed = request(&slow.id, server, "timed");
    timed.speed = 0.01;
    let cut_id = ctl
        .start_replay(timed.clone())
        .await
        .unwrap()
        .into_inner()
        .id;
    wait_for(&mut ctl, &cut_id, Duration::from_secs(30), "opened", |r| {
        r.opened == 1
    })
    .await;
    assert_eq!(agent.terminate(), Some(0), "{}", agent.log());

    let mut agent = AgentProc::start("127.0.0.1", &data);
    let mut ctl = agent.client().await;
    let again = get_replay(&mut ctl, &fast_id).await;
    assert_eq!(again.state(), reel::proto::ReplayState::Finished);
    assert_eq!(again.connections_total, 1);
    assert_eq!(again.connections.len(), 1);
    assert_eq!(again.connections[0].bytes_sent, 5);
    assert_eq!(again.bytes_sent, fast.bytes_sent);
    assert_eq!(again.started_at_unix_ns, fast.started_at_unix_ns);
    let cut = get_replay(&mut ctl, &cut_id).await;
    assert_eq!(cut.state(), reel::proto::ReplayState::Stopped, "{cut:?}");
    let listed = list_all(&mut ctl, 1).await;
    assert_eq!(ids(&listed), [cut_id.as_str(), fast_id.as_str()]);
    assert!(
        listed.iter().all(|r| r.connections.is_empty()),
        "listings carry summaries"
    );
    assert_eq!(listed[1].connections_total, 1);

    // kill -9 during a timed replay and during a scheduled wait.
    let running_id = ctl.start_replay(timed).await.unwrap().into_inner().id;
    let mut later = request(&tiny.id, server, "fast");
    later.start_at_unix_ns = unix_ns_in(Duration::from_secs(600));
    let scheduled = ctl.start_replay(later).await.unwrap().into_inner();
    assert_eq!(scheduled.state(), reel::proto::ReplayState::Scheduled);
    wait_for(
        &mut ctl,
        &running_id,
        Duration::from_secs(30),
        "opened",
        |r| r.opened == 1,
    )
    .await;
    agent.kill9();

    let agent = AgentProc::start("127.0.0.1", &data);
    let mut ctl = agent.client().await;
    for id in [&running_id, &scheduled.id] {
        let r = get_replay(&mut ctl, id).await;
        assert_eq!(
            (r.state(), r.error.as_str()),
            (reel::proto::ReplayState::Failed, INTERRUPTED)
        );
    }
    let listed = list_all(&mut ctl, 0).await;
    assert_eq!(
        ids(&listed),
        [
            scheduled.id.as_str(),
            running_id.as_str(),
            cut_id.as_str(),
            fast_id.as_str()
        ]
    );
    assert!(
        agent
            .log()
            .contains("loaded the reports of earlier replays"),
        "{}",
        agent.log()
    );

    // Through reelctl: the failed replay is shown with its reason.
    let out = reelctl_async(&[
        "-a",
        &agent.addr_str(),
        "--json",
        "replay",
        "status",
        &running_id,
    ])
    .await;
    out.assert_code(1);
    let shown = &out.json()["results"][0]["data"];
    assert_eq!(shown["state"], "failed");
    assert_eq!(shown["error"], INTERRUPTED);

    // A bad page token names the field.
    let err = ctl
        .list_replays(pb::ListReplaysRequest {
            page_size: 0,
            page_token: "not-a-token".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("page_token"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_more_than_an_hour_ahead_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("data"));
    let mut ctl = agent.client().await;
    let server = read_and_close_server().await;
    let rec = record_one(&mut ctl, server, "tiny", &[b"hi"], Duration::ZERO).await;

    let mut req = request(&rec.id, server, "fast");
    req.start_at_unix_ns = unix_ns_in(Duration::from_secs(2 * 3600));
    let err = ctl.start_replay(req).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err}");
    assert!(
        err.message().contains("start_at") && err.message().contains("3600s ahead"),
        "{err}"
    );
    let out = reelctl_async(&[
        "-a",
        &agent.addr_str(),
        "replay",
        &rec.id,
        "--target",
        &server.to_string(),
        "--fast",
        "--at",
        "+2h",
    ])
    .await;
    out.assert_code(1);
    assert!(out.stderr.contains("start_at"), "{}", out.stderr);
    // Nothing was accepted.
    let listed = list_all(&mut ctl, 0).await;
    assert!(listed.is_empty(), "{listed:?}");

    // Within the hour it is accepted, and stopping it ends it.
    let mut req = request(&rec.id, server, "fast");
    req.start_at_unix_ns = unix_ns_in(Duration::from_secs(3500));
    let r = ctl.start_replay(req).await.unwrap().into_inner();
    assert_eq!(r.state(), reel::proto::ReplayState::Scheduled);
    let stopped = ctl
        .stop_replay(pb::StopReplayRequest { id: r.id })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stopped.state(), reel::proto::ReplayState::Stopped);
}

/// A fast replay of a one-connection recording, `multiply` x `loops`
/// times: the report counts every connection, lists at most 1,000, and
/// every way of fetching it works.
async fn many_connections(multiply: u32, loops: u32, limit: Duration) {
    let total = u64::from(multiply) * u64::from(loops);
    // Hundreds of thousands of fast connections keep more sockets open at
    // once than a 1,024 hard limit leaves the agent.
    if total > 100_000 && !common::needs::open_files("many_connections", 4096) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("data"));
    let mut ctl = agent.client().await;
    let server = read_and_close_server().await;
    let rec = record_one(&mut ctl, server, "tiny", &[b"hey"], Duration::ZERO).await;

    let mut req = request(&rec.id, server, "fast");
    req.multiply = multiply;
    req.loops = loops;
    let started = std::time::Instant::now();
    let id = ctl.start_replay(req).await.unwrap().into_inner().id;
    let r = wait_for(&mut ctl, &id, limit, "ended", ended).await;
    eprintln!(
        "{total} connections replayed in {:.1} s; agent peak RSS {} KiB",
        started.elapsed().as_secs_f64(),
        peak_rss_kib(agent.child.id())
    );
    assert_eq!(r.state(), reel::proto::ReplayState::Finished, "{}", r.error);
    assert_eq!(r.connections_total, total);
    assert_eq!(r.finished, total);
    assert_eq!(r.bytes_sent, 3 * total);
    assert!(r.connections.len() <= 1000, "{}", r.connections.len());
    let omitted = r.omitted.expect("omitted totals");
    assert_eq!(omitted.count, total - r.connections.len() as u64);
    let listed_sent: u64 = r.connections.iter().map(|c| c.bytes_sent).sum();
    assert_eq!(listed_sent + omitted.bytes_sent, 3 * total);

    let listed = list_all(&mut ctl, 0).await;
    assert_eq!(ids(&listed), [id.as_str()]);
    assert_eq!(listed[0].connections_total, total);
    assert!(listed[0].connections.is_empty());

    let addr = agent.addr_str();
    let out = reelctl_async(&["-a", &addr, "--json", "replay", "status", &id]).await;
    let shown = &ok_data(&out)[0];
    assert_eq!(shown["connections_total"], total);
    assert!(shown["connections"].as_array().unwrap().len() <= 1000);
    assert_eq!(shown["omitted"]["count"], omitted.count);
    let out = reelctl_async(&["-a", &addr, "replay", "status", &id]).await;
    out.assert_code(0);
    assert!(
        out.stdout
            .contains(&format!("{} more connections not listed", omitted.count)),
        "{}",
        out.stdout
    );
    let out = reelctl_async(&["-a", &addr, "--json", "replay", "ls"]).await;
    let ls = &ok_data(&out)[0]["replays"];
    assert_eq!(ls[0]["id"], id.as_str());
    assert_eq!(ls[0]["connections_total"], total);
}

/// 3,000 connections: enough to show the cap, quick on any machine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_of_thousands_of_connections_reports_a_bounded_list() {
    many_connections(100, 30, Duration::from_secs(90)).await;
}

/// The size that broke `replay status` and `replay ls` before reports were
/// bounded (issue 11): 1,000 copies x 300 passes = 300,000 connections.
/// About 50 s alone on a 2-core machine; the bound leaves room for a busy
/// one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_of_300000_connections_reports_a_bounded_list() {
    many_connections(1000, 300, Duration::from_secs(180)).await;
}
