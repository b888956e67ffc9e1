//! Which fault fields a UDP proxy takes, driven with reelctl against a real
//! agent: TCP-only fields refused by name on a UDP proxy (and the datagram
//! fields on a TCP one), and a UDP profile kept across a restart. What the
//! faults do to datagrams is tests/udp_faults.rs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_only_fields_are_refused_on_udp_and_datagram_fields_on_tcp_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("data"));
    let a = agent.addr_str();
    let echo = udp_echo_server().await;
    let up = echo.to_string();
    let udp_start = |flags: &'static [&'static str]| {
        let (a, up) = (a.clone(), up.clone());
        async move { udp_proxy_start(&a, &up, flags).await }
    };
    for (flags, field) in [
        (&["--black-hole"][..], "black_hole"),
        (&["--slice", "16"][..], "slice"),
        (&["--reset-after", "1s"][..], "reset_after"),
        (&["--limit-data", "1MB"][..], "limit_bytes"),
        (&["--toxicity", "0.5"][..], "toxicity"),
        (&["--proxy-bandwidth", "1MB/s"][..], "proxy_bandwidth"),
    ] {
        let out = udp_start(flags).await;
        out.assert_code(1);
        assert!(
            out.stderr.contains(&format!("{field} is TCP-only")),
            "{flags:?}: {}",
            out.stderr
        );
    }
    udp_start(&["--name", "game", "--latency", "1ms"])
        .await
        .assert_code(0);
    let set = reelctl_async(&["-a", &a, "faults", "set", "game", "--slow-close", "1s"]).await;
    set.assert_code(1);
    assert!(
        set.stderr.contains("slow_close is TCP-only"),
        "{}",
        set.stderr
    );

    let tcp = only(
        &reelctl_async(&[
            "-a",
            &a,
            "--json",
            "proxy",
            "start",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            "127.0.0.1:9",
            "--name",
            "lobby",
        ])
        .await,
    );
    assert_eq!(tcp["udp"], false);
    let set = reelctl_async(&[
        "-a",
        &a,
        "faults",
        "set",
        "lobby",
        "--reorder",
        "5%",
        "--keep-order",
    ])
    .await;
    set.assert_code(1);
    assert!(
        set.stderr
            .contains("reorder, keep_order are for UDP proxies only"),
        "{}",
        set.stderr
    );
    let start = reelctl_async(&[
        "-a",
        &a,
        "proxy",
        "start",
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        "127.0.0.1:9",
        "--loss",
        "5%",
    ])
    .await;
    start.assert_code(1);
    assert!(
        start.stderr.contains("loss is for UDP proxies only"),
        "{}",
        start.stderr
    );
    // A bad share is a usage error naming the flag, before any agent call.
    let bad = udp_start(&["--loss", "10"]).await;
    bad.assert_code(2);
    assert!(bad.stderr.contains("--loss"), "{}", bad.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_udp_profile_comes_back_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut agent = AgentProc::start("127.0.0.1", &data);
    let echo = udp_echo_server().await;
    start_udp_with(
        &agent.addr_str(),
        echo,
        "voice",
        &[
            "--loss-bursts",
            "1%,25%,70%",
            "--duplicate",
            "2%",
            "--reorder",
            "3%:5",
            "--latency",
            "5ms..10ms",
            "--keep-order",
            "--bandwidth",
            "64KiB/s",
            "--seed",
            "9",
        ],
    )
    .await;
    let show = |a: String| async move {
        let out = reelctl_async(&["-a", &a, "--json", "faults", "show", "voice"]).await;
        only(&out)["proxies"][0]["faults"].clone()
    };
    let before = show(agent.addr_str()).await;
    assert_eq!(
        before["summary"],
        "latency 5ms..10ms both, bandwidth 64 KiB/s, loss bursts 1%,25%,70%,0%, \
         duplicate 2%, reorder 3%:5, keep order, seed 9",
        "{before}"
    );
    assert_eq!(before["loss_bursts"]["bad_loss"], 0.7);
    assert_eq!(before["reorder"]["window"], 5);
    agent.kill9();
    let agent = AgentProc::start("127.0.0.1", &data);
    let after = show(agent.addr_str()).await;
    assert_eq!(after, before, "{}", agent.log());
    assert_eq!(listed(&agent.addr_str(), "voice").await["restored"], true);
}
