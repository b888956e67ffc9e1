//! `reelctl watch` against real agents (issue 13, first hour): proxies are
//! shown by name (JSON keeps the id and adds `proxy_name`), an idle proxy is
//! not printed every second, a total line sums the proxies, counts read "1
//! connection", and an agent never reached fails the watch (exit 1).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use tokio::net::TcpStream;

use common::*;

/// Starts a proxy named `name` to `upstream`; returns its id and address.
async fn named_proxy(addr: &str, name: &str, upstream: &str) -> (String, String) {
    let out = reelctl_async(&[
        "-a",
        addr,
        "--json",
        "proxy",
        "start",
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        upstream,
        "--name",
        name,
    ])
    .await;
    let data = &ok_data(&out)[0];
    (
        data["id"].as_str().unwrap().to_owned(),
        data["listen"].as_str().unwrap().to_owned(),
    )
}

/// Runs `reelctl ARGS` in the background, its output into files under
/// `dir`; returns the child (killed by pid if it overstays).
fn spawn_reelctl(dir: &std::path::Path, tag: &str, args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_reelctl"))
        .args(args)
        .env_remove("REEL_AGENTS")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(dir.join(format!("{tag}.out"))).unwrap())
        .stderr(std::fs::File::create(dir.join(format!("{tag}.err"))).unwrap())
        .spawn()
        .expect("spawn reelctl")
}

/// What the background reelctl printed on stdout so far.
fn printed(dir: &std::path::Path, tag: &str) -> String {
    std::fs::read_to_string(dir.join(format!("{tag}.out"))).unwrap_or_default()
}

/// Ctrl-C for the background reelctl, then its exit and output.
fn finish(dir: &std::path::Path, tag: &str, mut child: std::process::Child) -> CtlOutput {
    signal(child.id(), "INT");
    let code = wait_bounded(&mut child, Duration::from_secs(30));
    let read = |ext: &str| std::fs::read_to_string(dir.join(format!("{tag}.{ext}"))).unwrap();
    CtlOutput {
        code,
        stdout: read("out"),
        stderr: read("err"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_names_proxies_skips_idle_ones_and_totals_each_second() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("agent"));
    let addr = agent.addr_str();
    let echo = echo_server().await.to_string();
    let (game_id, game) = named_proxy(&addr, "game", &echo).await;
    let (lobby_id, _lobby) = named_proxy(&addr, "lobby", &echo).await;

    let human = spawn_reelctl(dir.path(), "human", &["-a", &addr, "watch"]);
    let json = spawn_reelctl(dir.path(), "json", &["-a", &addr, "--json", "watch"]);
    // Traffic through `game` until both watches have seen a few seconds of
    // it (however long that takes on a busy host); `lobby` idles.
    let mut sock = TcpStream::connect(&game).await.unwrap();
    let enough = || {
        let human = printed(dir.path(), "human");
        let json = printed(dir.path(), "json");
        human.matches("  game  ").count() >= 3
            && human.contains("  total  ")
            && json.matches(&format!("\"proxy\":\"{lobby_id}\"")).count() >= 3
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !enough() && tokio::time::Instant::now() < deadline {
        assert_eq!(round_trip(&mut sock, b"ping\n").await, b"ping\n");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(sock);
    let human = tokio::task::spawn_blocking({
        let dir = dir.path().to_owned();
        move || finish(&dir, "human", human)
    });
    let json = tokio::task::spawn_blocking({
        let dir = dir.path().to_owned();
        move || finish(&dir, "json", json)
    });
    let (human, json) = (human.await.unwrap(), json.await.unwrap());

    human.assert_code(0);
    let stats: Vec<&str> = human
        .stdout
        .lines()
        .filter(|l| l.contains("conns="))
        .collect();
    // By name, never by id.
    assert!(!human.stdout.contains(&game_id), "{}", human.stdout);
    assert!(
        stats.iter().filter(|l| l.contains("  game  ")).count() >= 2,
        "{}",
        human.stdout
    );
    // The idle proxy: its first line only, not one per second.
    let lobby: Vec<_> = stats.iter().filter(|l| l.contains("  lobby  ")).collect();
    assert_eq!(lobby.len(), 1, "{}", human.stdout);
    // A total line for the seconds with traffic.
    assert!(
        stats
            .iter()
            .any(|l| l.contains("  total  ") && l.ends_with("(2 proxies on 1 agent)")),
        "{}",
        human.stdout
    );

    // JSON: every event exactly as sent (the idle proxy each second), with
    // the id and the name.
    json.assert_code(0);
    let lines: Vec<serde_json::Value> = json
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let lobby_json: Vec<_> = lines
        .iter()
        .filter(|l| l["kind"] == "stats" && l["proxy"] == lobby_id.as_str())
        .collect();
    assert!(lobby_json.len() >= 2, "{}", json.stdout);
    assert!(lobby_json.iter().all(|l| l["proxy_name"] == "lobby"));
    assert!(
        lines.iter().any(|l| l["kind"] == "stats"
            && l["proxy"] == game_id.as_str()
            && l["proxy_name"] == "game"),
        "{}",
        json.stdout
    );
    assert!(lines.iter().all(|l| l["kind"] != "total"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_read_in_the_singular_for_one() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("agent"));
    let addr = agent.addr_str();
    let echo = echo_server().await.to_string();
    let (_, game) = named_proxy(&addr, "game", &echo).await;
    let watch = spawn_reelctl(dir.path(), "w", &["-a", &addr, "watch"]);
    let out = reelctl_async(&["-a", &addr, "--json", "record", "start"]).await;
    let rec = ok_data(&out)[0]["id"].as_str().unwrap().to_owned();
    let mut sock = TcpStream::connect(&game).await.unwrap();
    assert_eq!(round_trip(&mut sock, b"one\n").await, b"one\n");
    assert!(close_and_drain(sock).await.is_empty());
    wait_idle(&agent.client().await, 1).await;
    let stopped = reelctl_async(&["-a", &addr, "record", "stop", &rec]).await;
    stopped.assert_code(0);
    let seen = format!("recording {rec}");
    eventually(Duration::from_secs(30), "the stopped event", || {
        let out = printed(dir.path(), "w");
        let seen = seen.clone();
        async move {
            out.lines()
                .any(|l| l.contains(&seen) && l.contains("stopped"))
        }
    })
    .await;
    let watch = tokio::task::spawn_blocking({
        let dir = dir.path().to_owned();
        move || finish(&dir, "w", watch)
    })
    .await
    .unwrap();
    watch.assert_code(0);
    let line = watch
        .stdout
        .lines()
        .find(|l| l.contains(&format!("recording {rec}")) && l.contains("stopped"))
        .unwrap_or_else(|| panic!("no stopped line: {}", watch.stdout));
    assert!(line.contains(", 1 connection, "), "{line}");
    assert!(
        stopped.stdout.contains(", 1 connection, "),
        "{}",
        stopped.stdout
    );
    let out = reelctl_async(&["-a", &addr, "proxy", "stop", "game"]).await;
    assert!(out.stdout.contains(": 1 connection, "), "{}", out.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_never_reached_fails_the_watch() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("agent"));
    let addr = agent.addr_str();
    let nobody = closed_port().to_string();

    let both = format!("{addr},{nobody}");
    let out = reelctl_async(&["-a", &both, "watch", "--duration", "1s"]).await;
    out.assert_code(1);
    assert!(
        out.stderr.contains(&format!(
            "error: agent never reached during the watch: {nobody}"
        )),
        "{}",
        out.stderr
    );
    let out = reelctl_async(&["-a", &addr, "-q", "watch", "--duration", "1s"]).await;
    out.assert_code(0);
}
