//! Any gRPC client can drive an agent without our .proto files: a Python
//! grpcio client discovers the services by reflection and calls GetInfo; the
//! standard health service reports reel.v1.Reel as serving.
//!
//! Needs Python with grpcio and grpcio-reflection: `scripts/test.sh` makes a
//! venv with them and names its interpreter in REEL_TEST_PYTHON.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use reel::proto as pb;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use common::*;

const INSTALL_HINT: &str = "run scripts/test.sh (it makes target/test-venv with them), \
     or `pip install grpcio grpcio-reflection` and set REEL_TEST_PYTHON to that python";

/// The interpreter to use, checked to have grpcio and grpcio-reflection.
/// Without REEL_TEST_PYTHON (a plain `cargo test`) the test is skipped and
/// says so; with it (scripts/test.sh), a broken interpreter fails it.
fn python(test: &str) -> Option<String> {
    let Some(python) = std::env::var("REEL_TEST_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
    else {
        common::skipped(
            test,
            &format!(
                "needs a Python with grpcio: set REEL_TEST_PYTHON (scripts/test.sh makes a venv and does), {INSTALL_HINT}"
            ),
        );
        return None;
    };
    let check = run_bounded(
        Command::new(&python).args(["-c", "import grpc, grpc_reflection"]),
        Duration::from_secs(60),
        &format!("{python} (set REEL_TEST_PYTHON, or {INSTALL_HINT})"),
    );
    if check.code != Some(0) {
        panic!(
            "`{python}` cannot import grpc and grpc_reflection; {INSTALL_HINT}\n{}",
            check.stderr
        );
    }
    Some(python)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_uses_reflection_without_protos() {
    let Some(python) = python("python_client_uses_reflection_without_protos") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start_named("127.0.0.1", &dir.path().join("data"), "reflected-agent");
    let mut ctl = agent.client().await;
    let info = ctl
        .get_info(pb::GetInfoRequest {})
        .await
        .unwrap()
        .into_inner();

    let upstream = echo_server().await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/reflect.py");
    let out = run_bounded(
        Command::new(&python)
            .arg(&script)
            .arg(agent.addr_str())
            .arg(upstream.to_string()),
        Duration::from_secs(60),
        &python,
    );
    assert_eq!(
        out.code,
        Some(0),
        "reflect.py failed\nstdout: {}\nstderr: {}",
        out.stdout,
        out.stderr
    );
    let v = out.json();
    let services: Vec<&str> = v["services"]
        .as_array()
        .expect("services list")
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    for want in ["reel.v1.Reel", "grpc.health.v1.Health"] {
        assert!(services.contains(&want), "{want} in {services:?}");
    }
    assert!(
        services
            .iter()
            .any(|s| s.starts_with("grpc.reflection.") && s.ends_with(".ServerReflection")),
        "a reflection service in {services:?}"
    );
    let methods = v["methods"].as_array().expect("methods list");
    for want in ["GetInfo", "StartProxy", "StartRecording", "Watch"] {
        assert!(methods.iter().any(|m| m == want), "{want} in {methods:?}");
    }
    let got = &v["get_info"];
    assert_eq!(got["name"], "reflected-agent");
    assert_eq!(got["agent_id"], info.agent_id.as_str());
    assert_eq!(got["version"], info.version.as_str());

    // Every typed concept is an enum or a message to a reflecting client.
    let enums = &v["enums"];
    assert_eq!(
        enums["ReplayState"],
        serde_json::json!([
            "REPLAY_STATE_UNSPECIFIED",
            "REPLAY_STATE_SCHEDULED",
            "REPLAY_STATE_RUNNING",
            "REPLAY_STATE_FINISHED",
            "REPLAY_STATE_STOPPED",
            "REPLAY_STATE_FAILED"
        ])
    );
    for (name, value) in [
        ("ReplayMode", "REPLAY_MODE_CAUSAL"),
        ("LatencyDistribution", "LATENCY_DISTRIBUTION_NORMAL"),
        ("FaultDirection", "FAULT_DIRECTION_S2C"),
        ("RuleTable", "RULE_TABLE_CHECKSUM"),
    ] {
        let values = enums[name].as_array().expect(name);
        assert!(values.iter().any(|v| v == value), "{value} in {values:?}");
    }
    let fields = &v["fields"];
    for (field, want) in [
        ("StartReplayRequest.mode", "enum reel.v1.ReplayMode"),
        ("ReplayReport.state", "enum reel.v1.ReplayState"),
        ("ReplayReport.mode", "enum reel.v1.ReplayMode"),
        ("ReplayProgress.state", "enum reel.v1.ReplayState"),
        ("Latency.distribution", "enum reel.v1.LatencyDistribution"),
        ("FaultProfile.direction", "enum reel.v1.FaultDirection"),
        ("RuleCount.table", "enum reel.v1.RuleTable"),
        (
            "AnalyzeRecordingResponse.analysis",
            "message reel.v1.Analysis",
        ),
    ] {
        assert_eq!(fields[field], want, "{field}: {fields}");
    }
    // The profile Python spelled with enum names came back as those names.
    let faults = &v["proxy"]["faults"];
    assert_eq!(faults["direction"], "FAULT_DIRECTION_C2S", "{faults}");
    assert_eq!(
        faults["latency"]["distribution"], "LATENCY_DISTRIBUTION_UNIFORM",
        "{faults}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_reel_serving() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("data"));
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", agent.addr))
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .connect()
        .await
        .unwrap();
    let mut health = HealthClient::new(channel);
    let reply = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "reel.v1.Reel".into(),
        })
        .await
        .expect("health check")
        .into_inner();
    assert_eq!(reply.status, ServingStatus::Serving as i32);
    let unknown = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "no.such.Service".into(),
        })
        .await;
    assert_eq!(unknown.unwrap_err().code(), tonic::Code::NotFound);
}
