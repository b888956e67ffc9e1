//! Proxies survive an agent restart (issue 13, finding 15): those started
//! over the API are saved in the data directory with their limits and
//! faults, and a new agent on the same directory, after SIGTERM or kill -9,
//! listens on their ports again and says they were restored. A stopped proxy
//! stays stopped; `--no-restore-proxies` starts empty; a damaged file or a
//! taken port never stops the agent from starting.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use reel::faults::{FaultSpec, Latency};
use reel::proto as pb;
use reel::proto::reel_client::ReelClient;
use reel::wire::faults::{profile, spec};
use tokio::net::TcpStream;
use tonic::transport::Channel;

use common::*;

async fn list(ctl: &mut ReelClient<Channel>) -> Vec<pb::ProxyInfo> {
    ctl.list_proxies(pb::ListProxiesRequest {})
        .await
        .expect("ListProxies")
        .into_inner()
        .proxies
}

/// The profile the test's proxy ends with (set by UpdateFaults after start).
fn updated_faults() -> FaultSpec {
    FaultSpec {
        latency: Some(Latency::Uniform(
            Duration::from_millis(1),
            Duration::from_millis(3),
        )),
        bandwidth: Some(1 << 20),
        seed: Some(7),
        ..FaultSpec::default()
    }
}

/// Starts `game` (limit 7, a latency, then faults changed) and `gone`
/// (stopped): returns game's listen address.
async fn start_game(ctl: &mut ReelClient<Channel>) -> String {
    let upstream = echo_server().await;
    let started = ctl
        .start_proxy(pb::StartProxyRequest {
            listen: "127.0.0.1:0".into(),
            upstream: upstream.to_string(),
            name: "game".into(),
            faults: Some(profile(&FaultSpec {
                latency: Some(Latency::Fixed(Duration::from_millis(5))),
                ..FaultSpec::default()
            })),
            max_connections: 7,
            ..pb::StartProxyRequest::default()
        })
        .await
        .expect("StartProxy")
        .into_inner();
    assert!(!started.restored);
    ctl.update_faults(pb::UpdateFaultsRequest {
        proxy: "game".into(),
        faults: Some(profile(&updated_faults())),
    })
    .await
    .expect("UpdateFaults");
    let gone = start_proxy(ctl, upstream).await;
    ctl.stop_proxy(pb::StopProxyRequest {
        id: gone.id.clone(),
    })
    .await
    .expect("StopProxy");
    started.listen
}

/// The agent lists `game` alone, restored, with its port, limit and faults,
/// and relays through it.
async fn assert_game_back(agent: &AgentProc, listen: &str) {
    let mut ctl = agent.client().await;
    let proxies = list(&mut ctl).await;
    assert_eq!(proxies.len(), 1, "{proxies:?}\n{}", agent.log());
    let p = &proxies[0];
    assert_eq!(
        (
            p.name.as_str(),
            p.listen.as_str(),
            p.max_connections,
            p.restored
        ),
        ("game", listen, 7, true)
    );
    assert_eq!(spec(p.faults).unwrap(), updated_faults());
    let mut sock = TcpStream::connect(listen).await.expect("restored proxy");
    assert_eq!(round_trip(&mut sock, b"hello").await, b"hello");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxies_come_back_after_sigterm_and_kill9() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut agent = AgentProc::start("127.0.0.1", &data);
    let listen = start_game(&mut agent.client().await).await;
    assert_eq!(agent.terminate(), Some(0), "{}", agent.log());

    let mut agent = AgentProc::start("127.0.0.1", &data);
    assert_game_back(&agent, &listen).await;
    agent.kill9();

    let agent = AgentProc::start("127.0.0.1", &data);
    assert_game_back(&agent, &listen).await;
    // reelctl says so, in JSON and in its table.
    let out = reelctl(&["--agent", &agent.addr_str(), "--json", "proxy", "ls"]);
    let data = ok_data(&out);
    assert_eq!(data[0]["proxies"][0]["restored"], true, "{data:?}");
    let out = reelctl(&["--agent", &agent.addr_str(), "proxy", "ls"]);
    out.assert_code(0);
    let mut lines = out.stdout.lines();
    assert!(
        lines.next().unwrap_or_default().ends_with("RESTORED"),
        "{}",
        out.stdout
    );
    assert!(
        lines.next().unwrap_or_default().ends_with("yes"),
        "{}",
        out.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_restore_proxies_starts_empty() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut agent = AgentProc::start("127.0.0.1", &data);
    let listen = start_game(&mut agent.client().await).await;
    agent.kill9();

    let agent = AgentProc::start_with("127.0.0.1:0", &data, "empty", &["--no-restore-proxies"]);
    assert!(list(&mut agent.client().await).await.is_empty());
    assert!(TcpStream::connect(&listen).await.is_err(), "{listen} open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_file_or_a_taken_port_never_stops_the_agent() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("proxies.json"), b"{\"version\":1,\"prox").unwrap();
    let mut agent = AgentProc::start("127.0.0.1", &data);
    let mut ctl = agent.client().await;
    assert!(list(&mut ctl).await.is_empty());
    assert!(
        agent.log().contains("saved proxies ignored"),
        "{}",
        agent.log()
    );

    // The damaged file is replaced by the next save.
    let listen = start_game(&mut ctl).await;
    agent.kill9();
    // Someone else took the port meanwhile: skipped, with a warning.
    let squatter = std::net::TcpListener::bind(&listen).unwrap();
    let mut agent = AgentProc::start("127.0.0.1", &data);
    assert!(list(&mut agent.client().await).await.is_empty());
    assert!(
        agent.log().contains("saved proxy not restored"),
        "{}",
        agent.log()
    );
    drop(squatter);
    agent.kill9();
    // Nothing changed since: the file still holds it, and once its port is
    // free it comes back.
    let agent = AgentProc::start("127.0.0.1", &data);
    let kept = std::fs::read_to_string(data.join("proxies.json")).unwrap();
    assert!(kept.contains("\"game\""), "{kept}");
    assert_game_back(&agent, &listen).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_file_proxies_are_not_saved_and_start_first() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let upstream = echo_server().await;
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!("[[proxy]]\nname = \"cfg\"\nlisten = \"127.0.0.1:0\"\nupstream = \"{upstream}\"\n"),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let mut agent = AgentProc::start_with("127.0.0.1:0", &data, "cfg", &["--config", config]);
    let listen = start_game(&mut agent.client().await).await;
    let saved = std::fs::read_to_string(data.join("proxies.json")).unwrap();
    assert!(
        saved.contains("\"game\"") && !saved.contains("\"cfg\""),
        "{saved}"
    );
    agent.kill9();

    let agent = AgentProc::start_with("127.0.0.1:0", &data, "cfg", &["--config", config]);
    let proxies = list(&mut agent.client().await).await;
    let shown: Vec<(&str, bool)> = proxies
        .iter()
        .map(|p| (p.name.as_str(), p.restored))
        .collect();
    assert_eq!(shown, [("cfg", false), ("game", true)], "{}", agent.log());
    assert_eq!(proxies[1].listen, listen);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_upstream_now_refused_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    // The agent's control port is where the saved proxy forwards: the loop
    // guard refuses it now.
    let control = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let faults = serde_json::json!({
        "latency": null, "directions": "both", "bandwidth": null,
        "proxy_bandwidth": null, "reset_after_bytes": null, "reset_after": null,
        "black_hole": false, "black_hole_close_after": null, "slow_close": null,
        "slice_size": null, "slice_pause": null, "limit_bytes": null,
        "connect_delay": null, "toxicity": 1.0, "seed": null
    });
    let file = serde_json::json!({"version": 1, "proxies": [
        {"name": "looped", "listen": "127.0.0.1:0", "upstream": control.to_string(),
         "max_connections": 5, "faults": faults},
        {"name": "fine", "listen": "127.0.0.1:0", "upstream": echo_server().await.to_string(),
         "max_connections": 5, "faults": faults},
    ]});
    std::fs::write(data.join("proxies.json"), file.to_string()).unwrap();
    let agent = AgentProc::start_at(&control.to_string(), &data, "looped");
    let proxies = list(&mut agent.client().await).await;
    let names: Vec<&str> = proxies.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["fine"], "{}", agent.log());
    assert!(
        agent.log().contains("saved proxy not restored"),
        "{}",
        agent.log()
    );
}
