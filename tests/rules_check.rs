//! `reelctl rules check` end to end with the real binary: a recording of a
//! game-like protocol written here gives the expected counts and captured
//! values (locally, and for an id downloaded from an agent); a rule that
//! matches nothing exits 1; a malformed rules file exits 2 naming the field.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use bytes::Bytes;
use reel::format::{Direction, Frame, FrameBody, Header, OpenInfo, RecordingWriter};
use serde_json::{Value, json};

use common::*;

const ID: &str = "rules-rec";

/// The issue's example protocol (docs/REWRITE.md): u16be prefix; 02 =
/// login answer (token, u32be sequence start); 03 = client action (token,
/// u32be sequence, payload, CRC32 u32le of the rest).
const RULES: &str = concat!(
    include_str!("rules/game_session.toml"),
    r#"
[[ignore]]
direction = "s2c"
when = { offset = 0, hex = "02" }
field = { offset = 1, len = 12 }
"#
);

fn framed(body: &[u8]) -> Vec<u8> {
    let mut wire = (body.len() as u16).to_be_bytes().to_vec();
    wire.extend_from_slice(body);
    wire
}

fn login(token: &[u8; 8], seq0: u32) -> Vec<u8> {
    framed(&[&[0x02][..], token, &seq0.to_be_bytes()].concat())
}

fn action(token: &[u8; 8], seq: u32, payload: &[u8]) -> Vec<u8> {
    let mut body = [&[0x03][..], token, &seq.to_be_bytes(), payload].concat();
    let crc = crc32fast::hash(&body);
    body.extend_from_slice(&crc.to_le_bytes());
    framed(&body)
}

/// Three players: each logs in and sends two actions, player 2 both in one
/// chunk, player 3 its first one split over two chunks; player 3's
/// connection ends inside a third action.
fn write_recording(dir: &Path) -> PathBuf {
    let path = dir.join(format!("{ID}.reel"));
    let header = Header {
        id: ID.into(),
        started_at_unix_ns: 1_700_000_000_000_000_000,
        ..Header::default()
    };
    let file = std::fs::File::create(&path).unwrap();
    let mut w = RecordingWriter::new(std::io::BufWriter::new(file), &header).unwrap();
    let mut ts = 0;
    let mut frame = |w: &mut RecordingWriter<_>, conn: u64, body: FrameBody| {
        ts += 1_000;
        w.write_frame(&Frame {
            conn,
            ts_ns: ts,
            body,
        })
        .unwrap();
    };
    let data = |dir, bytes: Vec<u8>| FrameBody::Data {
        dir,
        payload: Bytes::from(bytes),
    };
    let tokens = [b"TOKEN001", b"TOKEN002", b"TOKEN003"];
    for (i, token) in tokens.iter().enumerate() {
        let conn = i as u64 + 1;
        let seq0 = 100 * conn as u32;
        frame(
            &mut w,
            conn,
            FrameBody::Open(OpenInfo {
                client: format!("10.0.0.{conn}:4000"),
                proxy_id: "p1".into(),
                upstream: "10.0.0.9:5000".into(),
                ..OpenInfo::default()
            }),
        );
        frame(&mut w, conn, data(Direction::C2s, framed(b"\x01hello")));
        frame(&mut w, conn, data(Direction::S2c, login(token, seq0)));
        let a1 = action(token, seq0 + 1, b"move");
        let a2 = action(token, seq0 + 2, b"take");
        match conn {
            2 => frame(&mut w, conn, data(Direction::C2s, [a1, a2].concat())),
            _ => {
                frame(&mut w, conn, data(Direction::C2s, a1[..5].to_vec()));
                frame(&mut w, conn, data(Direction::C2s, a1[5..].to_vec()));
                frame(&mut w, conn, data(Direction::C2s, a2));
            }
        }
        if conn == 3 {
            let a3 = action(token, seq0 + 3, b"drop");
            frame(&mut w, conn, data(Direction::C2s, a3[..6].to_vec()));
        }
        let reason = "client closed".to_owned();
        frame(&mut w, conn, FrameBody::Close { reason });
    }
    w.finish(1_700_000_001_000_000_000, "test", None).unwrap();
    path
}

fn write_rules(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

/// The expected figures of the recording under [`RULES`].
fn assert_expected(d: &Value) {
    assert_eq!(d["connections"], 3);
    assert_eq!(
        (&d["messages_c2s"], &d["messages_s2c"]),
        (&json!(10), &json!(3))
    );
    assert_eq!((&d["unparsed"], &d["changed"]), (&json!(1), &json!(0)));
    let rules: Vec<(String, u64, u64)> = d["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let name = format!("{}[{}]", r["kind"].as_str().unwrap(), r["index"]);
            (
                name,
                r["matched"].as_u64().unwrap(),
                r["missed"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("capture[0]", 3, 0),
        ("capture[1]", 3, 0),
        ("rewrite[0]", 6, 0),
        ("rewrite[1]", 6, 0),
        ("checksum[0]", 6, 0),
        ("ignore[0]", 3, 0),
    ];
    let expected: Vec<(String, u64, u64)> = expected
        .iter()
        .map(|(n, m, x)| ((*n).to_owned(), *m, *x))
        .collect();
    assert_eq!(rules, expected);
    assert_eq!(d["rules"][4]["mismatched"], 0);
    assert_eq!(
        d["captures"][1],
        json!({"conn": 2, "captures": [
            {"name": "token", "hex": "544f4b454e303032", "ascii": "TOKEN002", "seen": 1},
            {"name": "seq0", "hex": "000000c8", "int": 200, "seen": 1},
        ]})
    );
    let sample = &d["unparsed_samples"][0];
    assert_eq!(
        (&sample["conn"], &sample["direction"]),
        (&json!(3), &json!("c2s"))
    );
    assert_eq!(
        (&sample["message"], &sample["bytes"]),
        (&json!(3), &json!(6))
    );
    assert_eq!(sample["reason"], "incomplete at the end of the connection");
    assert_eq!(d["end"], json!({"status": "complete"}));
}

fn only_data(out: &CtlOutput) -> Value {
    let results = out.json()["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), 1, "{}", out.stdout);
    assert_eq!(results[0]["ok"], true, "{}", out.stdout);
    results[0]["data"].clone()
}

#[test]
fn a_local_recording_gives_the_expected_counts() {
    let dir = tempfile::tempdir().unwrap();
    let rec = write_recording(dir.path());
    let rec_s = rec.to_str().unwrap();
    let rules = write_rules(dir.path(), "game.toml", RULES);

    let out = reelctl(&["--json", "rules", "check", &rules, rec_s]);
    out.assert_code(0);
    let d = only_data(&out);
    assert_expected(&d);
    assert_eq!(out.json()["results"][0]["file"], rec_s);
    assert_eq!(d["rules_file"], rules.as_str());

    let out = reelctl(&["rules", "check", &rules, rec_s]);
    out.assert_code(0);
    for needle in [
        "3 connections, 10 client and 3 server messages, 1 unparsed, 0 changed",
        "checksum[0]  crc32",
        "0 recorded checksums differ",
        "\"TOKEN003\"",
        "conn 3 c2s #3 (6 bytes): incomplete at the end of the connection",
    ] {
        assert!(out.stdout.contains(needle), "{needle:?} in\n{}", out.stdout);
    }
    assert!(out.stderr.is_empty(), "{}", out.stderr);
}

#[test]
fn a_recording_id_is_downloaded_from_the_agent() {
    let dir = tempfile::tempdir().unwrap();
    let rec = write_recording(dir.path());
    let rules = write_rules(dir.path(), "game.toml", RULES);
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("agent"));
    let addr = agent.addr_str();
    reelctl(&["-a", &addr, "record", "push", rec.to_str().unwrap()]).assert_code(0);

    let out = reelctl(&["-a", &addr, "--json", "rules", "check", &rules, ID]);
    out.assert_code(0);
    assert_eq!(out.json()["results"][0]["recording"], ID);
    assert_expected(&only_data(&out));

    let out = reelctl(&["-a", &addr, "--json", "rules", "check", &rules, "nope"]);
    out.assert_code(1);
    let error = out.json()["results"][0]["error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(error.contains("recording nope"), "{error}");
}

#[test]
fn a_rule_that_matches_nothing_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let rec = write_recording(dir.path());
    let text = RULES.replace(
        "when = { offset = 0, hex = \"02\" }\nfield = { offset = 1, len = 12 }",
        "when = { offset = 0, hex = \"07\" }\nfield = { offset = 1, len = 12 }",
    );
    let rules = write_rules(dir.path(), "typo.toml", &text);
    let out = reelctl(&["rules", "check", &rules, rec.to_str().unwrap()]);
    out.assert_code(1);
    assert!(out.stdout.contains("matches nothing"), "{}", out.stdout);
    assert!(
        out.stderr.contains("ignore[0] matches no message"),
        "{}",
        out.stderr
    );
    let out = reelctl(&["--json", "rules", "check", &rules, rec.to_str().unwrap()]);
    out.assert_code(1);
    assert_eq!(only_data(&out)["rules"][5]["matched"], 0);
}

#[test]
fn a_malformed_rules_file_exits_2_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let rec = write_recording(dir.path());
    let rec_s = rec.to_str().unwrap();
    let cases = [
        (
            RULES.replace("from = \"token\"", "from = \"tokn\""),
            "rewrite[0].from: no capture named \"tokn\" (captures: token, seq0)",
        ),
        (
            RULES.replace("int = \"u32be\" }\nfrom", "int = \"u24\" }\nfrom"),
            "rewrite[1].field.int: \"u24\" is not one of u8, u16be, u16le, u32be, u32le, u64be, u64le",
        ),
        (
            RULES.replace("algorithm = \"crc32\"", "algorithm = \"crc32\"\ncolour = 1"),
            "checksum[0].colour: unknown field `colour`",
        ),
    ];
    for (text, expected) in cases {
        let rules = write_rules(dir.path(), "bad.toml", &text);
        let out = reelctl(&["rules", "check", &rules, rec_s]);
        out.assert_code(2);
        assert!(
            out.stderr.contains(&format!("error: {rules}: {expected}")),
            "{expected:?} in\n{}",
            out.stderr
        );
        assert!(out.stdout.is_empty(), "{}", out.stdout);
    }
    let out = reelctl(&["rules", "check", "/no/such/rules.toml", rec_s]);
    out.assert_code(2);
    assert!(
        out.stderr
            .contains("cannot read rules file /no/such/rules.toml"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_file_that_is_not_a_recording_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let rules = write_rules(dir.path(), "game.toml", RULES);
    let notes = dir.path().join("notes.reel");
    std::fs::write(&notes, "hello, not a recording\n".repeat(20)).unwrap();
    let out = reelctl(&["rules", "check", &rules, notes.to_str().unwrap()]);
    out.assert_code(1);
    assert!(
        out.stderr.contains("not a reel recording"),
        "{}",
        out.stderr
    );
}
