//! `reel-agent --config FILE` with the shipped samples (tests/config/): the
//! valid one starts its proxies, with their faults, before the agent says
//! it is listening; each invalid one makes the agent exit 1 before binding,
//! with messages naming the proxy and field.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use reel::proto as pb;

use common::ready::spawn_ready;
use common::*;

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/config")
        .join(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_valid_sample_starts_its_proxies_at_boot() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    // --listen and --data-dir override the file's; its name is kept.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_reel-agent"));
    cmd.arg("--config")
        .arg(sample("valid.toml"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data_dir)
        .env("RUST_LOG", "info");
    let log = dir.path().join("agent.log");
    let (child, addr) = spawn_ready(&mut cmd, "reel-agent listening on", &log);
    let agent = AgentProc {
        child,
        addr,
        data_dir,
        stderr_path: log,
    };
    let mut ctl = agent.client().await;
    let info = ctl
        .get_info(pb::GetInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.name, "eu-game-1");
    let proxies = ctl
        .list_proxies(pb::ListProxiesRequest {})
        .await
        .unwrap()
        .into_inner()
        .proxies;
    let names: Vec<_> = proxies.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["game", "chat", "void"]);
    let game = proxies[0].faults.expect("game has faults");
    let latency = game.latency.expect("game has latency");
    assert_eq!(
        (latency.distribution(), latency.min_us, latency.max_us),
        (pb::LatencyDistribution::Uniform, 500_000, 800_000)
    );
    assert_eq!(game.direction(), pb::FaultDirection::Both);
    assert_eq!(game.bandwidth, 65_536);
    assert_eq!(game.toxicity, Some(0.5));
    assert_eq!(game.seed, Some(7));
    let chat = proxies[1].faults.expect("chat has faults");
    assert_eq!(chat.direction(), pb::FaultDirection::S2c);
    assert_eq!((chat.slice_bytes, chat.slice_pause_us), (16, 2_000));
    assert_eq!(chat.limit_bytes, 10_000_000);
    let void = proxies[2].faults.expect("void has faults");
    assert!(void.black_hole);
    assert_eq!(void.black_hole_close_after_ms, 30_000);

    // reelctl reads the same profile back in the same words.
    let out = reelctl(&["--agent", &agent.addr_str(), "faults", "show", "game"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        out.stdout
            .contains("latency 500ms..800ms both, bandwidth 64 KiB/s, toxicity 0.5, seed 7"),
        "{}",
        out.stdout
    );
}

#[test]
fn invalid_samples_exit_1_before_binding() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &[&str])] = &[
        (
            "invalid-latency.toml",
            &[r#"proxy "game": latency: min 800ms is greater than max 500ms"#],
        ),
        (
            "invalid-values.toml",
            &[
                r#"proxy "game": bandwidth: "-64KiB/s" is negative"#,
                r#"proxy "game": toxicity: 1.5 is outside [0, 1]"#,
                r#"proxy "chat": black_hole_close_after: needs black_hole"#,
            ],
        ),
        (
            "invalid-durations.toml",
            &[
                r#"proxy "game": latency: "1e20" is out of range"#,
                r#"proxy "game": connect_delay: "1e400" is out of range"#,
                r#"proxy "game": slow_close: "#,
            ],
        ),
        (
            "invalid-proxies.toml",
            &[r#"proxy "game": name: appears more than once"#],
        ),
        (
            "invalid-unknown-field.toml",
            &["line 6, column 1: unknown field `latncy`"],
        ),
        ("no-such-file.toml", &["cannot read config file"]),
    ];
    for (name, expected) in cases {
        let out = run_bounded(
            Command::new(env!("CARGO_BIN_EXE_reel-agent"))
                .arg("--config")
                .arg(sample(name))
                .args(["--listen", "127.0.0.1:0", "--data-dir"])
                .arg(dir.path().join("data")),
            Duration::from_secs(10),
            "reel-agent",
        );
        assert_eq!(out.code, Some(1), "{name}: {out:?}");
        assert!(out.stdout.is_empty(), "{name}: it bound: {}", out.stdout);
        assert!(out.stderr.starts_with("error: "), "{name}: {}", out.stderr);
        for e in *expected {
            assert!(out.stderr.contains(e), "{name}: no {e:?} in {}", out.stderr);
        }
    }
    assert!(
        !dir.path().join("data").exists(),
        "nothing was created before the file was checked"
    );
}
