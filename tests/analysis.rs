//! `reelctl stats` end to end with the real reelctl (the agents run in the
//! test process, `InProcessAgent`): a generated recording of known contents
//! gives exactly the known figures, locally and when an agent analyses it (AnalyzeRecording, same JSON); timeline CSV and SVG
//! chart are written; failures (unknown id, recording in progress, a file
//! that is not a recording) exit 1 with a clear message and never panic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use serde_json::{Value, json};

use common::known::*;
use common::*;

/// The one result's `data`, asserting exit 0.
fn only_data(out: &CtlOutput) -> Value {
    out.assert_code(0);
    let results = out.json()["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), 1, "{}", out.stdout);
    assert_eq!(results[0]["ok"], true, "{}", out.stdout);
    results[0]["data"].clone()
}

fn close_to(v: &Value, expected: f64) -> bool {
    let got = v.as_f64().unwrap_or(f64::NAN);
    (got - expected).abs() < 1e-9 * expected.abs().max(1.0)
}

/// Every figure the hand-worked sample defines.
fn assert_known_figures(d: &Value) {
    // From start to stop (header to footer): 4.0 s, the last frame at 3.9 s.
    assert_eq!(d["duration_ns"], 4 * S);
    assert_eq!(d["frames"], 17);
    assert_eq!(d["end"], json!({"status": "complete"}));
    let c = &d["connections"];
    assert_eq!(
        (
            &c["total"],
            &c["peak_online"],
            &c["mid_session"],
            &c["closed"]
        ),
        (&json!(4), &json!(3), &json!(1), &json!(2))
    );
    // 2.4 + 2.8 + 0.1 + 0.5: the two connections never closed run to the stop.
    assert!(close_to(&c["connection_seconds"], 5.8), "{c}");
    assert!(close_to(&c["avg_online"], 5.8 / 4.0), "{c}");
    // (direction, bytes, chunks, lost, p95/s, peak/s)
    for (dir, bytes, chunks, lost, p95, peak) in
        [("c2s", 21, 4, 0, 8, 8), ("s2c", 116, 3, 50, 100, 100)]
    {
        let x = &d[dir];
        assert_eq!(x["bytes"], bytes, "{dir}");
        assert_eq!(x["chunks"], chunks, "{dir}");
        assert_eq!(x["lost_bytes"], lost, "{dir}");
        assert_eq!(x["p95_bytes_per_sec"], p95, "{dir}");
        assert_eq!(x["peak_bytes_per_sec"], peak, "{dir}");
        // Over the 4 whole seconds of the timeline: never above the peak.
        assert!(close_to(&x["avg_bytes_per_sec"], bytes as f64 / 4.0), "{x}");
        assert!(
            close_to(&x["bytes_per_sec_per_client"], bytes as f64 / 5.8),
            "{x}"
        );
    }
    let rows: Vec<[u64; 7]> = d["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            [
                "second",
                "bytes_c2s",
                "bytes_s2c",
                "chunks_c2s",
                "chunks_s2c",
                "online",
                "online_peak",
            ]
            .map(|k| r[k].as_u64().unwrap())
        })
        .collect();
    assert_eq!(
        rows,
        [
            [0, 6, 6, 1, 1, 1, 1],
            [1, 8, 100, 1, 1, 2, 2],
            [2, 4, 0, 1, 0, 1, 3],
            [3, 3, 10, 1, 1, 2, 2],
        ]
    );
    let top: Vec<(u64, u64, u64)> = d["top_connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let n = |k: &str| t[k].as_u64().unwrap();
            (n("conn"), n("bytes_c2s"), n("bytes_s2c"))
        })
        .collect();
    assert_eq!(top, [(2, 3, 100), (1, 14, 6), (4, 0, 10), (3, 4, 0)]);
}

fn assert_known_messages(d: &Value) {
    assert_eq!(d["framing"], "u16be");
    assert_eq!(
        d["c2s"]["messages"],
        json!({"count": 4, "bytes": 17, "min": 2, "avg": 4.25, "p95": 7, "max": 7,
               "incomplete_bytes": 0, "unframed_bytes": 4, "framing_errors": 0})
    );
    let s2c = &d["s2c"]["messages"];
    for (k, v) in [
        ("count", 3),
        ("bytes", 113),
        ("min", 3),
        ("p95", 100),
        ("max", 100),
        ("incomplete_bytes", 3),
        ("unframed_bytes", 0),
        ("framing_errors", 0),
    ] {
        assert_eq!(s2c[k], v, "s2c {k}");
    }
    assert!(close_to(&s2c["avg"], 113.0 / 3.0));
}

#[test]
fn local_stats_of_a_known_recording_are_exact_and_write_csv_and_svg() {
    let dir = tempfile::tempdir().unwrap();
    let rec = write_known(dir.path());
    let rec_s = rec.to_str().unwrap();
    let csv = dir.path().join("timeline.csv");
    let svg = dir.path().join("chart.svg");
    let out = reelctl(&[
        "--json",
        "stats",
        rec_s,
        "--framing",
        "u16be",
        "--online",
        "1000",
        "--timeline",
        csv.to_str().unwrap(),
        "--plot",
        svg.to_str().unwrap(),
    ]);
    let d = only_data(&out);
    assert_eq!(out.json()["results"][0]["file"], rec_s);
    assert_known_figures(&d);
    assert_known_messages(&d);
    let p = &d["projection"];
    assert_eq!(p["online"], 1000);
    assert!(close_to(&p["ingress_bytes_per_sec"], 21_000.0 / 5.8), "{p}");
    assert!(close_to(&p["egress_bytes_per_sec"], 116_000.0 / 5.8), "{p}");

    assert_eq!(d["timeline_csv"], csv.to_str().unwrap());
    assert_eq!(
        std::fs::read_to_string(&csv).unwrap(),
        "second,bytes_c2s,bytes_s2c,chunks_c2s,chunks_s2c,online,online_peak,seconds,\
         datagrams_c2s,datagrams_s2c\n\
         0,6,6,1,1,1,1,1,0,0\n1,8,100,1,1,2,2,1,0,0\n2,4,0,1,0,1,3,1,0,0\n3,3,10,1,1,2,2,1,0,0\n"
    );
    assert_eq!(d["plot_svg"], svg.to_str().unwrap());
    let chart = std::fs::read_to_string(&svg).unwrap();
    assert!(
        chart.starts_with("<svg"),
        "{}",
        &chart[..80.min(chart.len())]
    );
    assert!(chart.contains("viewBox=\""), "no viewBox");
    assert!(chart.trim_end().ends_with("</svg>"));
    assert!(chart.contains(&format!("reel: {rec_s}")), "title");

    // Human output: the summary a person reads.
    let out = reelctl(&["stats", rec_s, "--framing", "u16be", "--online", "1000"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    for needle in [
        "duration     4.000s (17 frames, complete)",
        "connections  4 total, 3 peak online",
        "messages (u16be)",
        "at 1000 online clients: server ingress",
        "top connections by bytes",
    ] {
        assert!(out.stdout.contains(needle), "{needle:?} in\n{}", out.stdout);
    }

    // Two inputs: one section each, files suffixed with each one's id.
    let other = dir.path().join("copy.reel");
    std::fs::copy(&rec, &other).unwrap();
    let out = reelctl(&[
        "--json",
        "stats",
        rec_s,
        other.to_str().unwrap(),
        "--timeline",
        csv.to_str().unwrap(),
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let results = out.json()["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), 2);
    assert_eq!(
        results[0]["data"]["timeline"],
        results[1]["data"]["timeline"]
    );
    for suffix in [ID, "copy"] {
        let path = dir.path().join(format!("timeline-{suffix}.csv"));
        assert!(path.exists(), "{} missing", path.display());
    }
}

#[test]
fn an_agent_analyses_a_pushed_recording_to_the_same_json() {
    let dir = tempfile::tempdir().unwrap();
    let rec = write_known(dir.path());
    let rec_s = rec.to_str().unwrap();
    let agent = InProcessAgent::start_blocking(&dir.path().join("agent"));
    let other = InProcessAgent::start_blocking(&dir.path().join("other"));
    let (addr, other_addr) = (agent.addr_str(), other.addr_str());
    let out = reelctl(&["-a", &addr, "--json", "record", "push", rec_s]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);

    let args = ["stats", "--framing", "u16be", "--online", "1000"];
    let mut local_args = vec!["--json"];
    local_args.extend(args);
    local_args.push(rec_s);
    let local = only_data(&reelctl(&local_args));
    let mut remote_args = vec!["-a", &addr, "--json"];
    remote_args.extend(args);
    remote_args.push(ID);
    let remote_out = reelctl(&remote_args);
    let remote = only_data(&remote_out);
    assert_eq!(remote_out.json()["results"][0]["agent"], addr.as_str());
    assert_eq!(remote_out.json()["results"][0]["recording"], ID);
    assert_known_figures(&remote);
    assert_known_messages(&remote);
    // `record ls` gives the same duration as stats: start to stop.
    let listed = only_data(&reelctl(&["-a", &addr, "--json", "record", "ls"]));
    let listed = listed["recordings"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["id"] == ID))
        .unwrap_or_else(|| panic!("{listed}"));
    assert_eq!(listed["duration_ms"].as_u64().unwrap() * 1_000_000, 4 * S);
    assert_eq!(
        remote, local,
        "the agent's analysis differs from the local one"
    );

    // Two agents, one without the recording: its failure is reported, the
    // other's result and files are there, exit status 1.
    let csv = dir.path().join("t.csv");
    let out = reelctl(&[
        "-a",
        &addr,
        "-a",
        &other_addr,
        "--json",
        "stats",
        ID,
        "--timeline",
        csv.to_str().unwrap(),
    ]);
    assert_eq!(out.code, Some(1), "{}\n{}", out.stdout, out.stderr);
    let results = out.json()["results"].as_array().unwrap().clone();
    assert_eq!(results[0]["ok"], true);
    assert_eq!(results[1]["ok"], false);
    assert_eq!(results[1]["agent"], other_addr.as_str());
    let err = results[1]["error"].as_str().unwrap();
    assert!(err.contains("unknown recording"), "{err}");
    let written = dir
        .path()
        .join(format!("t-{ID}-{}.csv", addr.replace(':', "_")));
    assert_eq!(
        results[0]["data"]["timeline_csv"],
        written.to_str().unwrap()
    );
    assert!(written.exists());

    // Human mode: the failure on stderr, named by its agent.
    let out = reelctl(&["-a", &other_addr, "stats", ID]);
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.starts_with(&format!(
            "error: {other_addr} recording {ID}: unknown recording"
        )),
        "{}",
        out.stderr
    );
}

#[test]
fn a_recording_in_progress_is_not_analysed() {
    let dir = tempfile::tempdir().unwrap();
    let agent = InProcessAgent::start_blocking(&dir.path().join("agent"));
    let addr = agent.addr_str();
    let upstream = closed_port().to_string();
    let out = reelctl(&[
        "-a",
        &addr,
        "proxy",
        "start",
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        &upstream,
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let out = reelctl(&["-a", &addr, "-q", "record", "start"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let id = out.stdout.trim().to_owned();
    let out = reelctl(&["-a", &addr, "stats", &id]);
    assert_eq!(out.code, Some(1), "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("is still being written"),
        "{}",
        out.stderr
    );

    let out = reelctl(&["-a", &addr, "record", "stop", &id]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let out = reelctl(&["-a", &addr, "--json", "stats", &id]);
    let d = only_data(&out);
    assert_eq!(d["connections"]["total"], 0);
    assert_eq!(d["end"]["status"], "complete");

    // A bad framing is the agent's INVALID_ARGUMENT only if ctl let it by;
    // ctl refuses it first, as a usage error.
    let out = reelctl(&["-a", &addr, "stats", &id, "--framing", "u24be"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("invalid framing spec"),
        "{}",
        out.stderr
    );
}

#[test]
fn files_that_are_not_recordings_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "these are not the bytes you are looking for\n").unwrap();
    let empty = dir.path().join("empty.reel");
    std::fs::write(&empty, b"").unwrap();
    let cut = dir.path().join("cut.reel");
    let known = std::fs::read(write_known(dir.path())).unwrap();
    std::fs::write(&cut, &known[..20]).unwrap();
    let missing = dir.path().join("missing.reel");
    for (path, says) in [
        (&text, "not a reel recording"),
        (&empty, "recording header is incomplete"),
        (&cut, "recording header is incomplete"),
        (&missing, "could not open recording"),
    ] {
        let p = path.to_str().unwrap();
        let out = reelctl(&["stats", p]);
        assert_eq!(out.code, Some(1), "{p}: {}\n{}", out.stdout, out.stderr);
        assert!(
            out.stderr.starts_with(&format!("error: {p}: ")) && out.stderr.contains(says),
            "{p}: {}",
            out.stderr
        );
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
        let out = reelctl(&["--json", "stats", p]);
        assert_eq!(out.code, Some(1));
        let result = &out.json()["results"][0];
        assert_eq!((&result["ok"], &result["file"]), (&json!(false), &json!(p)));
    }
    // A frame cut in the middle is not an error: analysed up to the cut.
    let torn = dir.path().join("torn.reel");
    std::fs::write(&torn, &known[..known.len() - 200]).unwrap();
    let out = reelctl(&["stats", torn.to_str().unwrap()]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stderr.contains("warning: "), "{}", out.stderr);
    // Neither a file nor an id: a usage error.
    let out = reelctl(&["stats", "/no/such/dir/file"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("neither a file nor a recording id"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_connection_caught_mid_session_is_framed_from_its_first_whole_messages() {
    use reel::format::Direction;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mid.reel");
    // The tail of a message the recording missed the start of, then chunks
    // of whole u16be messages.
    let frames = [
        frame(1, 0, open("10.0.0.1:40001", true)),
        frame(1, S / 10, data(Direction::C2s, &[0xab; 60])),
        frame(1, 2 * S / 10, data(Direction::C2s, &msg(b"hello"))),
        frame(
            1,
            3 * S / 10,
            data(Direction::C2s, &[msg(b"a"), msg(b"bc")].concat()),
        ),
        frame(1, 4 * S / 10, data(Direction::C2s, &msg(b"def"))),
    ];
    let started = 1_700_000_000_000_000_000;
    write_recording(&path, "mid", frames, started, started + 500_000_000);
    let path_s = path.to_str().unwrap();

    let d = only_data(&reelctl(&["--json", "stats", "--framing", "u16be", path_s]));
    let m = &d["c2s"]["messages"];
    assert_eq!(
        (&m["count"], &m["bytes"], &m["unframed_bytes"]),
        (&json!(4), &json!(19), &json!(60)),
        "{m}"
    );
    let out = reelctl(&["stats", "--framing", "u16be", path_s]);
    out.assert_code(0);
    assert!(
        out.stdout
            .contains("1 connection mid-session: framed from their first run of whole messages"),
        "{}",
        out.stdout
    );
}
