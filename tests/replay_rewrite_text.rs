//! Session rewriting in replay (issue 12) on a text protocol, and rules
//! files the agent refuses, through the public gRPC interface.
//!
//! The chat server (tests/common/chat.rs) sends a random session of random
//! length (8 to 16 hex digits) that every client line must carry, inside
//! longer text. Its clients are recorded through a reel proxy and replayed
//! `reactive` into a fresh server without rules (rejected) and with a
//! `regex` capture and an `anywhere` rewrite (every line accepted, though
//! each rewritten line changes length).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use reel::proto as pb;
use tokio::net::TcpStream;

use common::chat::{self, ChatServer};
use common::replays::{describe_live, replay_request, replay_within, rule, rule_counts, stop};
use common::*;

/// Clients of the recorded chat, all connected at once.
const CHATTERS: usize = 8;
/// Longest a replay of these recordings (well under a second) may take.
const REPLAY_LIMIT: Duration = Duration::from_secs(60);
/// Longest the recorded clients may take in all.
const PLAY_LIMIT: Duration = Duration::from_secs(60);
/// Server wait of replays that are to be rejected: a rejected connection
/// never gets its recorded answers, so each waits this long at most.
const SHORT_SERVER_WAIT_MS: u64 = 1000;

/// Records the chat through a proxy: its clients talk at once. Returns
/// the agent, the recording and the lines the server accepted.
async fn record_chat(dir: &std::path::Path) -> (AgentProc, pb::RecordingInfo, Vec<String>) {
    let agent = AgentProc::start("127.0.0.1", &dir.join("data"));
    let mut ctl = agent.client().await;
    let server = ChatServer::start().await;
    let proxy = proxy_addr(&start_proxy(&mut ctl, server.addr).await);
    let rec = start_recording(&mut ctl, "chat").await;
    let clients: Vec<_> = (0..CHATTERS)
        .map(|i| tokio::spawn(chat::talk(proxy, i)))
        .collect();
    let sent = tokio::time::timeout(PLAY_LIMIT, async {
        let mut sent = 0;
        for c in clients {
            sent += c.await.expect("chat client");
        }
        sent
    })
    .await
    .expect("the recorded chat clients finish in time");
    wait_idle(&ctl, CHATTERS as u64).await;
    let rec = stop_recording(&mut ctl, &rec.id).await;
    assert_eq!(rec.connections, CHATTERS as u64);
    assert_eq!(server.rejects(), 0, "{:?}", server.reasons());
    let accepted = server.accepted();
    assert_eq!(accepted.len(), sent);
    (agent, rec, accepted)
}

/// Proves text rules work where lengths change: the session, captured by
/// a regex from HELLO, is replaced wherever a line repeats it (as
/// `session=` or `sid:`, twice in one line), though the live session is
/// rarely as long as the recorded one; every line is accepted, with the
/// recorded content; without the rules every client is rejected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_session_is_rewritten_anywhere_with_length_changes() {
    let dir = tempfile::tempdir().unwrap();
    let (agent, rec, want) = record_chat(dir.path()).await;
    let mut ctl = agent.client().await;
    let lines = want.len() as u64;

    let bare = ChatServer::start().await;
    let mut req = replay_request(&rec.id, bare.addr, "reactive");
    req.server_timeout_ms = SHORT_SERVER_WAIT_MS;
    let report = replay_within(&mut ctl, req, REPLAY_LIMIT).await;
    assert_eq!(
        report.state(),
        reel::proto::ReplayState::Finished,
        "{}",
        describe_live(&report)
    );
    assert_eq!(
        bare.rejects(),
        CHATTERS as u64,
        "without rules every client is rejected at its first line: {:?}",
        bare.reasons()
    );
    assert!(bare.accepted().is_empty(), "{:?}", bare.accepted());

    let fresh = ChatServer::start().await;
    let mut req = replay_request(&rec.id, fresh.addr, "reactive");
    req.rules = chat::RULES.into();
    let report = replay_within(&mut ctl, req, REPLAY_LIMIT).await;
    assert_eq!(
        report.state(),
        reel::proto::ReplayState::Finished,
        "{}",
        describe_live(&report)
    );
    assert_eq!(
        (report.planned, report.opened, report.failed),
        (CHATTERS as u64, CHATTERS as u64, 0)
    );
    assert_eq!(
        fresh.rejects(),
        0,
        "the fresh chat rejected replayed lines: {:?}; rule counts: {:?}",
        fresh.reasons(),
        report.rules
    );
    assert_eq!(fresh.accepted(), want, "every recorded line, accepted");
    // A HELLO of another length is still the recorded HELLO: with framing
    // the replay does not wait for the recorded byte count.
    assert_eq!(report.server_timeouts, 0, "{}", describe_live(&report));
    let c = rule(&report, "capture", 0);
    assert_eq!(c.name, "session", "{c:?}");
    let n = CHATTERS as u64;
    // Each HELLO matched twice: recorded and live.
    assert_eq!(rule_counts(c), (2 * n, n, n, 0), "capture[0] {c:?}");
    let c = rule(&report, "rewrite", 0);
    assert_eq!(c.name, "session", "{c:?}");
    assert_eq!((c.matched, c.missed), (lines, 0), "rewrite[0] {c:?}");
    assert!(
        c.applied >= lines,
        "a substitution per line at least: {c:?}"
    );
}

/// Bad rules files, each with the field its error must name.
const BAD_RULES: [(&str, &str); 6] = [
    (
        "rewrite[0].from",
        "[[capture]]\nname = \"token\"\ndirection = \"s2c\"\nfield = { offset = 1, len = 8 }\n\
         [[rewrite]]\ndirection = \"c2s\"\nfield = { offset = 1, len = 8 }\nfrom = \"nosuch\"\n",
    ),
    (
        "capture[0].field",
        "[[capture]]\nname = \"seq0\"\ndirection = \"s2c\"\nfield = { offset = 9, int = \"u24be\" }\n",
    ),
    ("framing.length", "[framing]\nlength = \"u17\"\n"),
    (
        "checksum[0].algorithm",
        "[[checksum]]\ndirection = \"c2s\"\nalgorithm = \"md5\"\n\
         over = { from = 0, to = -4 }\nat = { offset = -4, int = \"u32le\" }\n",
    ),
    (
        "capture[0]",
        "[[capture]]\nnmae = \"token\"\ndirection = \"s2c\"\nfield = { offset = 1, len = 8 }\n",
    ),
    ("rules", "[[capture]\nname = "),
];

/// Proves a malformed rules file is refused before anything is replayed,
/// as `InvalidArgument` naming the table, index and field (or `rules`
/// when it is not TOML at all), and that the agent keeps serving: a replay
/// of the same recording then runs to its end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_rules_are_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("data"));
    let mut ctl = agent.client().await;
    let echo = echo_server().await;
    let proxy = proxy_addr(&start_proxy(&mut ctl, echo).await);
    let rec = start_recording(&mut ctl, "rules").await;
    let mut s = TcpStream::connect(proxy).await.unwrap();
    round_trip(&mut s, b"hello").await;
    close_and_drain(s).await;
    wait_idle(&ctl, 1).await;
    let rec = stop_recording(&mut ctl, &rec.id).await;

    let mut wrong = Vec::new();
    for (field, text) in BAD_RULES {
        let mut req = replay_request(&rec.id, echo, "fast");
        req.rules = text.into();
        match ctl.start_replay(req).await {
            Ok(started) => {
                stop(&mut ctl, &started.into_inner().id).await;
                wrong.push(format!("accepted, with a bad {field}"));
            }
            Err(e) if e.code() != tonic::Code::InvalidArgument || !e.message().contains(field) => {
                wrong.push(format!("bad {field}: {:?} {:?}", e.code(), e.message()));
            }
            Err(_) => {}
        }
    }
    assert!(
        wrong.is_empty(),
        "each malformed rules file is an InvalidArgument naming its field:\n{}",
        wrong.join("\n")
    );

    ctl.get_info(pb::GetInfoRequest {})
        .await
        .expect("agent still serving");
    let report = replay_within(
        &mut ctl,
        replay_request(&rec.id, echo, "fast"),
        REPLAY_LIMIT,
    )
    .await;
    assert_eq!(
        report.state(),
        reel::proto::ReplayState::Finished,
        "{}",
        describe_live(&report)
    );
    assert_eq!((report.opened, report.failed), (1, 0));
}

/// reelctl reads `--rules` and checks it before calling any agent: a
/// malformed file exits 2 naming the file and the field; a missing file
/// exits 2 naming it.
#[test]
fn reelctl_checks_the_rules_file_before_calling_agents() {
    let dir = tempfile::tempdir().unwrap();
    let (field, text) = BAD_RULES[0];
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, text).unwrap();
    let bad = bad.to_str().unwrap();
    // No agent listens there: the usage error comes first.
    let out = reelctl(&["--agent", "127.0.0.1:9", "replay", "r1", "--rules", bad]);
    out.assert_code(2);
    assert!(
        out.stderr.contains(field) && out.stderr.contains("bad.toml"),
        "{}",
        out.stderr
    );
    let missing = dir.path().join("missing.toml");
    let out = reelctl(&[
        "--agent",
        "127.0.0.1:9",
        "replay",
        "r1",
        "--rules",
        missing.to_str().unwrap(),
    ]);
    out.assert_code(2);
    assert!(out.stderr.contains("missing.toml"), "{}", out.stderr);
}
