//! Tests of `report`.

use super::*;
use crate::settings::AgentTarget;
use serde_json::json;
use tonic::Status;

fn outcome<T>(address: &str, name: Option<&str>, result: Result<T, AgentError>) -> Outcome<T> {
    Outcome {
        agent: AgentTarget {
            address: address.into(),
            name: name.map(Into::into),
        },
        result,
    }
}

#[test]
fn json_document_shape() {
    #[derive(Serialize)]
    struct Data {
        id: &'static str,
    }
    let report = vec![
        outcome("10.0.0.1:7700", Some("web-1"), Ok(Data { id: "p1" })),
        outcome(
            "127.0.0.1:7799",
            None,
            Err(AgentError::from_status(
                Status::not_found("unknown proxy \"p9\""),
                "x",
            )),
        ),
    ];
    let mut out = Vec::new();
    write_json(&mut out, &report, None).unwrap();
    assert!(out.ends_with(b"}\n") && out.iter().filter(|&&b| b == b'\n').count() == 1);
    let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        value,
        json!({"results": [
            {"agent": "10.0.0.1:7700", "name": "web-1", "ok": true, "data": {"id": "p1"}},
            {"agent": "127.0.0.1:7799", "ok": false, "error": "unknown proxy \"p9\""},
        ]})
    );
}

#[test]
fn coordinated_starts_add_the_skew() {
    let report = vec![outcome("h:1", None, Ok(1)), outcome("h:2", None, Ok(2))];
    let skew = |skew_us| Skew { agents: 2, skew_us };
    let mut out = Vec::new();
    write_json(&mut out, &report, Some(skew(Some(412)))).unwrap();
    let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(value["skew_us"], 412);
    assert_eq!(value["results"][1]["data"], 2);
    let mut out = Vec::new();
    write_json(&mut out, &report, Some(skew(None))).unwrap();
    let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(value["skew_us"], serde_json::Value::Null);

    let mut out = Vec::new();
    write_skew(&mut out, skew(Some(412))).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "start skew across 2 agents: 412µs\n"
    );
}

#[test]
fn problems_fail_the_run_without_failing_the_agent() {
    let report = vec![outcome("h:1", None, Ok(1)), outcome("h:2", None, Ok(2))];
    let mode = OutputMode {
        json: true,
        verbosity: Verbosity::Normal,
    };
    let exit = finish_checked(&report, mode, |_| Vec::new()).unwrap();
    assert_eq!(exit, Exit::Success);
    let exit = finish_checked(&report, mode, |n: &i32| {
        if *n == 2 {
            vec!["2 connections failed".to_owned()]
        } else {
            Vec::new()
        }
    })
    .unwrap();
    assert_eq!(exit, Exit::AgentFailed);
}

#[test]
fn agents_table() {
    let summary = AgentSummary {
        name: "host-a".into(),
        id: "a1".into(),
        version: "0.1.0".into(),
        uptime_ms: 83_000,
        clock_offset_us: -1_234,
        rtt_us: 250,
        proxies: 2,
        recordings: 10,
        data_dir: "/var/lib/reel".into(),
    };
    let report = vec![
        outcome("h:1", None, Ok(summary)),
        outcome(
            "h:2",
            None,
            Err(AgentError::Timeout {
                address: "h:2".into(),
                after: std::time::Duration::from_secs(1),
            }),
        ),
    ];
    let mut out = Vec::new();
    write_agents_table(&mut out, &report, false).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "AGENT  NAME    ID  VERSION  UPTIME    OFFSET    RTT  PROXIES  RECORDINGS\n\
         h:1    host-a  a1  0.1.0     1m23s  -1.234ms  250us        2          10\n"
    );
}
