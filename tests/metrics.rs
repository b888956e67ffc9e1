//! The Prometheus endpoint (`reel-agent --metrics-listen`) of real agent
//! processes, scraped over plain HTTP and parsed line by line: counters
//! equal the bytes sent, label sets stay bounded whatever the number of
//! connections, a stopped proxy's series go away, and the endpoint follows
//! the control plane's exposure and token rules.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::scrape::{Sample, get, metrics_addr, parse, scrape, value};
use common::*;
use reel::proto as pb;
use tokio::net::TcpStream;

fn start_agent(dir: &std::path::Path, extra: &[&str]) -> AgentProc {
    let mut args = vec!["--metrics-listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    AgentProc::start_with("127.0.0.1:0", &dir.join("data"), "metered", &args)
}

/// The samples that belong to proxy `id`.
fn of_proxy<'a>(samples: &'a [Sample], id: &str) -> Vec<&'a Sample> {
    samples
        .iter()
        .filter(|s| s.label("proxy") == Some(id))
        .collect()
}

#[test]
fn the_exposition_parser_reads_labels_and_escapes() {
    let s = parse(
        "# HELP x y\nreel_proxies{agent=\"a\"} 2\nup 1\nh_bucket{le=\"+Inf\",p=\"q\\\"r\"} 3\n",
    );
    assert_eq!(s.len(), 3);
    assert_eq!((s[0].name.as_str(), s[0].value), ("reel_proxies", 2.0));
    assert_eq!(s[0].label("agent"), Some("a"));
    assert_eq!(s[1].name, "up");
    assert_eq!(s[2].label("p"), Some("q\"r"));
    assert_eq!(s[2].label("le"), Some("+Inf"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_equal_the_bytes_sent_each_way() {
    const N: usize = 300_000;
    let dir = tempfile::tempdir().unwrap();
    let agent = start_agent(dir.path(), &[]);
    let metrics = metrics_addr(&agent);
    let mut ctl = agent.client().await;
    let echo = echo_server().await;
    let proxy = start_proxy(&mut ctl, echo).await;
    let id = proxy.id.as_str();

    let payload: Vec<u8> = (0..N).map(|i| (i % 251) as u8).collect();
    let mut sock = TcpStream::connect(proxy_addr(&proxy)).await.unwrap();
    assert_eq!(round_trip(&mut sock, &payload).await, payload);
    // Open: counted active, and every byte read by the proxy already counted
    // (a chunk is counted before it is written on).
    let s = scrape(metrics, None).await;
    let p = |name: &str, extra: &[(&str, &str)]| {
        let mut want = vec![("proxy", id), ("agent", "metered")];
        want.extend_from_slice(extra);
        value(&s, name, &want)
    };
    assert_eq!(p("reel_proxy_connections_active", &[]), 1.0);
    assert_eq!(p("reel_proxy_connections_total", &[]), 1.0);
    for dir in ["c2s", "s2c"] {
        assert_eq!(
            p("reel_proxy_bytes_total", &[("direction", dir)]),
            N as f64,
            "{dir}"
        );
        let chunks = p("reel_proxy_chunks_total", &[("direction", dir)]);
        assert!(
            chunks >= 1.0 && chunks <= N as f64,
            "{dir}: {chunks} chunks"
        );
    }
    assert_eq!(value(&s, "reel_proxies", &[]), 1.0);
    assert_eq!(p("reel_proxy_connections_refused_total", &[]), 0.0);
    assert_eq!(p("reel_proxy_connections_failed_upstream_total", &[]), 0.0);
    let name = s
        .iter()
        .find(|x| x.label("proxy") == Some(id))
        .and_then(|x| x.label("proxy_name"));
    assert_eq!(name, Some(proxy.name.as_str()));

    assert!(close_and_drain(sock).await.is_empty());
    wait_idle(&ctl, 1).await;
    let s = scrape(metrics, None).await;
    assert_eq!(
        value(&s, "reel_proxy_connections_active", &[("proxy", id)]),
        0.0
    );
    assert_eq!(
        value(&s, "reel_proxy_connections_total", &[("proxy", id)]),
        1.0
    );
    for dir in ["c2s", "s2c"] {
        let want = [("proxy", id), ("direction", dir)];
        assert_eq!(value(&s, "reel_proxy_bytes_total", &want), N as f64);
    }

    // An upstream that refuses: counted as failed, not as relayed.
    let dead = ctl
        .start_proxy(proxy_req("127.0.0.1:0", &closed_port().to_string()))
        .await
        .unwrap()
        .into_inner();
    let mut sock = TcpStream::connect(proxy_addr(&dead)).await.unwrap();
    let _ = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::io::AsyncReadExt::read(&mut sock, &mut [0u8; 1]),
    )
    .await;
    eventually(
        Duration::from_secs(20),
        "the failed connect counted",
        || async {
            let s = scrape(metrics, None).await;
            value(
                &s,
                "reel_proxy_connections_failed_upstream_total",
                &[("proxy", &dead.id)],
            ) == 1.0
        },
    )
    .await;
    let s = scrape(metrics, None).await;
    assert_eq!(
        value(&s, "reel_proxy_connections_total", &[("proxy", &dead.id)]),
        0.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn label_sets_stay_bounded_after_a_thousand_connections() {
    const CONNECTIONS: u64 = 1_000;
    const AT_ONCE: u64 = 25;
    let dir = tempfile::tempdir().unwrap();
    let agent = start_agent(dir.path(), &[]);
    let metrics = metrics_addr(&agent);
    let mut ctl = agent.client().await;
    let echo = echo_server().await;
    let proxy = start_proxy(&mut ctl, echo).await;
    let addr = proxy_addr(&proxy);

    let one = |i: u64| async move {
        let mut sock = TcpStream::connect(addr).await.unwrap();
        let msg = i.to_le_bytes();
        assert_eq!(round_trip(&mut sock, &msg).await, msg);
        assert!(close_and_drain(sock).await.is_empty());
    };
    one(0).await;
    wait_idle(&ctl, 1).await;
    let first = scrape(metrics, None).await;
    let series_after_one = of_proxy(&first, &proxy.id).len();

    for batch in 0..(CONNECTIONS - 1) / AT_ONCE + 1 {
        let start = 1 + batch * AT_ONCE;
        let end = (start + AT_ONCE).min(CONNECTIONS);
        let tasks: Vec<_> = (start..end).map(|i| tokio::spawn(one(i))).collect();
        for t in tasks {
            t.await.unwrap();
        }
    }
    wait_idle(&ctl, CONNECTIONS).await;
    let s = scrape(metrics, None).await;
    let series = of_proxy(&s, &proxy.id);
    assert_eq!(
        series.len(),
        series_after_one,
        "one series per metric and direction, whatever the number of connections"
    );
    assert_eq!(s.len(), first.len(), "no series appeared anywhere");
    let keys: BTreeSet<&str> = s
        .iter()
        .flat_map(|x| x.labels.keys().map(String::as_str))
        .collect();
    let allowed: BTreeSet<&str> = ["agent", "proxy", "proxy_name", "direction", "le", "replay"]
        .into_iter()
        .collect();
    assert!(keys.is_subset(&allowed), "unexpected label keys: {keys:?}");
    assert_eq!(
        value(&s, "reel_proxy_connections_total", &[("proxy", &proxy.id)]),
        CONNECTIONS as f64
    );
    for dir in ["c2s", "s2c"] {
        let want = [("proxy", proxy.id.as_str()), ("direction", dir)];
        assert_eq!(
            value(&s, "reel_proxy_bytes_total", &want),
            8.0 * CONNECTIONS as f64
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_proxys_series_disappear() {
    let dir = tempfile::tempdir().unwrap();
    let agent = start_agent(dir.path(), &[]);
    let metrics = metrics_addr(&agent);
    let mut ctl = agent.client().await;
    let echo = echo_server().await;
    let kept = start_proxy(&mut ctl, echo).await;
    let gone = start_proxy(&mut ctl, echo).await;
    for p in [&kept, &gone] {
        let mut sock = TcpStream::connect(proxy_addr(p)).await.unwrap();
        round_trip(&mut sock, b"hello").await;
        close_and_drain(sock).await;
    }
    wait_idle(&ctl, 2).await;
    let before = scrape(metrics, None).await;
    assert!(!of_proxy(&before, &gone.id).is_empty());
    assert_eq!(value(&before, "reel_proxies", &[]), 2.0);

    ctl.stop_proxy(pb::StopProxyRequest {
        id: gone.id.clone(),
    })
    .await
    .unwrap();
    let after = scrape(metrics, None).await;
    assert!(
        of_proxy(&after, &gone.id).is_empty(),
        "{:?}",
        of_proxy(&after, &gone.id)
    );
    assert_eq!(
        of_proxy(&after, &kept.id).len(),
        of_proxy(&before, &kept.id).len()
    );
    assert_eq!(value(&after, "reel_proxies", &[]), 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_delays_and_watch_subscribers_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let agent = start_agent(dir.path(), &[]);
    let metrics = metrics_addr(&agent);
    let mut ctl = agent.client().await;
    let echo = echo_server().await;
    let spec = reel::faults::FaultSpec {
        latency: Some(reel::faults::Latency::Fixed(Duration::from_millis(60))),
        ..Default::default()
    };
    let proxy = common::faults::start_faulty_proxy(&mut ctl, echo, &spec).await;
    let mut sock = TcpStream::connect(proxy_addr(&proxy)).await.unwrap();
    round_trip(&mut sock, b"slow hello").await;
    close_and_drain(sock).await;
    wait_idle(&ctl, 1).await;

    let watch = ctl
        .watch(pb::WatchRequest::default())
        .await
        .unwrap()
        .into_inner();
    let s = scrape(metrics, None).await;
    assert_eq!(value(&s, "reel_watch_subscribers", &[]), 1.0);
    for dir in ["c2s", "s2c"] {
        let want = [("proxy", proxy.id.as_str()), ("direction", dir)];
        let chunks = value(&s, "reel_proxy_chunks_total", &want);
        let count = value(&s, "reel_proxy_fault_delay_seconds_count", &want);
        assert_eq!(count, chunks, "{dir}: every chunk was delayed");
        // Never released before its scheduled 60 ms: none at or below 50 ms.
        let mut le = want.to_vec();
        le.push(("le", "0.05"));
        assert_eq!(value(&s, "reel_proxy_fault_delay_seconds_bucket", &le), 0.0);
        let sum = value(&s, "reel_proxy_fault_delay_seconds_sum", &want);
        assert!(sum >= 0.06 * count, "{dir}: sum {sum} for {count}");
    }
    drop(watch);
    eventually(Duration::from_secs(10), "the Watch stream gone", || async {
        value(&scrape(metrics, None).await, "reel_watch_subscribers", &[]) == 0.0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recordings_and_replays_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let agent = start_agent(dir.path(), &[]);
    let metrics = metrics_addr(&agent);
    let mut ctl = agent.client().await;
    let echo = echo_server().await;
    let proxy = start_proxy(&mut ctl, echo).await;
    let rec = start_recording(&mut ctl, "metered").await;
    let mut sock = TcpStream::connect(proxy_addr(&proxy)).await.unwrap();
    for msg in [&b"one"[..], b"two", b"three"] {
        round_trip(&mut sock, msg).await;
    }
    close_and_drain(sock).await;
    wait_idle(&ctl, 1).await;
    let s = scrape(metrics, None).await;
    assert_eq!(value(&s, "reel_recordings_active", &[]), 1.0);
    let done = stop_recording(&mut ctl, &rec.id).await;
    let s = scrape(metrics, None).await;
    assert_eq!(value(&s, "reel_recordings_active", &[]), 0.0);
    assert_eq!(
        value(&s, "reel_recording_bytes_written_total", &[]),
        done.size_bytes as f64
    );
    assert_eq!(value(&s, "reel_recording_bytes_lost_total", &[]), 0.0);

    // A scheduled replay is reported (planned connections) until stopped.
    let mut later = replays::replay_request(&rec.id, echo, "timed");
    let in_a_minute = std::time::SystemTime::now() + Duration::from_secs(60);
    later.start_at_unix_ns = reel::record::time_to_unix_ns(in_a_minute);
    let scheduled = ctl.start_replay(later).await.unwrap().into_inner();
    let s = scrape(metrics, None).await;
    assert_eq!(value(&s, "reel_replays_running", &[]), 1.0);
    let this = [("replay", scheduled.id.as_str())];
    assert_eq!(value(&s, "reel_replay_connections_planned", &this), 1.0);
    assert_eq!(value(&s, "reel_replay_connections_done", &this), 0.0);
    replays::stop(&mut ctl, &scheduled.id).await;
    let s = scrape(metrics, None).await;
    assert_eq!(value(&s, "reel_replays_running", &[]), 0.0);
    assert!(
        s.iter().all(|x| x.label("replay").is_none()),
        "an ended replay's series are gone"
    );

    // A paced replay records how late each chunk went out.
    let report = replays::replay_within(
        &mut ctl,
        replays::replay_request(&rec.id, echo, "timed"),
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(replays::state(&report), "finished");
    let s = scrape(metrics, None).await;
    let late = value(&s, "reel_replay_lateness_seconds_count", &[]);
    assert!(late >= 3.0, "one sample per client chunk at least: {late}");
}

#[test]
fn a_non_loopback_metrics_address_without_a_token_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_reel-agent"));
    cmd.args([
        "--listen",
        "127.0.0.1:0",
        "--metrics-listen",
        "0.0.0.0:0",
        "--data-dir",
    ])
    .arg(&data);
    let out = run_bounded(&mut cmd, Duration::from_secs(20), "reel-agent");
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("refusing to serve metrics on 0.0.0.0:0 (--metrics-listen) without a token"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--insecure"), "{}", out.stderr);
    assert!(!data.exists(), "nothing was set up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_token_scrapes_must_carry_it() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "metrics-secret\n").unwrap();
    let agent = start_agent(dir.path(), &["--token-file", token.to_str().unwrap()]);
    let metrics = metrics_addr(&agent);

    let none = get(metrics, "/metrics", None).await;
    assert_eq!(none.status, 401, "{}", none.body);
    assert!(none.body.contains("requires a token"), "{}", none.body);
    assert!(none.headers.contains_key("www-authenticate"));
    let wrong = get(metrics, "/metrics", Some("Bearer nope")).await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    let basic = get(metrics, "/metrics", Some("Basic bWV0cmljcy1zZWNyZXQ=")).await;
    assert_eq!(basic.status, 401, "{}", basic.body);
    // Unknown paths do not answer before the token either.
    assert_eq!(get(metrics, "/other", None).await.status, 401);

    let s = scrape(metrics, Some("Bearer metrics-secret")).await;
    assert_eq!(value(&s, "reel_proxies", &[("agent", "metered")]), 0.0);
    let ok = get(metrics, "/metrics", Some("bearer metrics-secret")).await;
    assert_eq!(ok.status, 200);
    assert!(
        ok.headers["content-type"].starts_with("text/plain; version=0.0.4"),
        "{:?}",
        ok.headers
    );
    let other = get(metrics, "/other", Some("Bearer metrics-secret")).await;
    assert_eq!(other.status, 404, "{}", other.body);
    assert!(other.body.contains("GET /metrics"), "{}", other.body);
}

/// A UDP proxy has the same series: sessions as connections, datagrams as
/// chunks, bytes exact each way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_udp_proxy_is_counted_in_datagrams_and_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let agent = start_agent(dir.path(), &[]);
    let metrics = metrics_addr(&agent);
    let mut ctl = agent.client().await;
    let echo = udp_echo_server().await;
    let mut req = proxy_req("127.0.0.1:0", &echo.to_string());
    req.udp = true;
    let proxy = ctl.start_proxy(req).await.unwrap().into_inner();
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.connect(proxy_addr(&proxy)).await.unwrap();
    let mut buf = [0u8; 2_000];
    for len in [10usize, 1_000, 1_400] {
        sock.send(&vec![7u8; len]).await.unwrap();
        tokio::time::timeout(Duration::from_secs(10), sock.recv(&mut buf))
            .await
            .unwrap()
            .unwrap();
    }
    let s = scrape(metrics, None).await;
    let p = |name: &str, extra: &[(&str, &str)]| {
        let mut want = vec![("proxy", proxy.id.as_str())];
        want.extend_from_slice(extra);
        value(&s, name, &want)
    };
    assert_eq!(p("reel_proxy_connections_active", &[]), 1.0);
    assert_eq!(p("reel_proxy_connections_total", &[]), 1.0);
    for dir in ["c2s", "s2c"] {
        assert_eq!(p("reel_proxy_bytes_total", &[("direction", dir)]), 2_410.0);
        assert_eq!(p("reel_proxy_chunks_total", &[("direction", dir)]), 3.0);
    }
    assert_eq!(value(&s, "reel_proxies", &[]), 1.0);
}
