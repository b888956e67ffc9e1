//! Session rewriting in replay (issue 12) on a binary game protocol,
//! through the public gRPC interface: a rules file sent in
//! `StartReplayRequest.rules`, per-rule counts read from
//! `ReplayReport.rules`.
//!
//! The game server (tests/common/game.rs) rejects a byte-exact replay: it
//! hands out a random token and sequence start at login and checks both,
//! and a CRC32, on every action. Twelve players are recorded through a
//! reel proxy, acting one at a time in a fixed shuffled order; the
//! recording is then replayed `causal` into a fresh server without rules
//! (rejected), with rules (accepted, the world reproduced exactly), and
//! with rules and `verify` (no divergence thanks to `ignore` rules).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use reel::proto as pb;
use reel::proto::reel_client::ReelClient;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tonic::transport::Channel;

use common::chat;
use common::game::{self, GameServer, Turn, World};
use common::replays::{describe_live, replay_request, replay_within, rule, rule_counts};
use common::*;
/// Players of the recorded game, all connected at once.
const PLAYERS: usize = 12;
const ACTIONS_PER_PLAYER: usize = 5;
const ACTIONS: usize = PLAYERS * ACTIONS_PER_PLAYER;
/// Longest a replay of these recordings (about a second) may take.
const REPLAY_LIMIT: Duration = Duration::from_secs(60);
/// Longest the recorded clients may take in all.
const PLAY_LIMIT: Duration = Duration::from_secs(60);
/// Server wait of replays that are to be rejected: a rejected connection
/// never gets its recorded answers, so each waits this long at most.
const SHORT_SERVER_WAIT_MS: u64 = 1000;

/// The recorded game's turns: every player's actions, shuffled across
/// players (a fixed seed), each with a value.
fn schedule() -> Vec<Turn> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(12);
    let mut players: Vec<usize> = (0..PLAYERS)
        .flat_map(|p| std::iter::repeat_n(p, ACTIONS_PER_PLAYER))
        .collect();
    players.shuffle(&mut rng);
    players
        .into_iter()
        .map(|player| Turn {
            player,
            value: rng.random(),
        })
        .collect()
}

/// Records the game through a proxy: the players log in at once, then act
/// one at a time in [`schedule`] order, so the recorded order of actions
/// is unambiguous by construction. Returns the agent, the recording and
/// the world the original server ended with.
async fn record_game(dir: &std::path::Path) -> (AgentProc, pb::RecordingInfo, World) {
    let agent = AgentProc::start("127.0.0.1", &dir.join("data"));
    let mut ctl = agent.client().await;
    let server = GameServer::start().await;
    let proxy = proxy_addr(&start_proxy(&mut ctl, server.addr).await);
    let rec = start_recording(&mut ctl, "game").await;
    let schedule = Arc::new(schedule());
    let turn = Arc::new(watch::channel(0usize).0);
    let players: Vec<_> = (0..PLAYERS)
        .map(|i| tokio::spawn(game::play(proxy, i, schedule.clone(), turn.clone())))
        .collect();
    let sent = tokio::time::timeout(PLAY_LIMIT, async {
        let mut sent = 0;
        for p in players {
            sent += p.await.expect("player");
        }
        sent
    })
    .await
    .expect("the recorded players finish in time");
    assert_eq!(sent, ACTIONS);
    wait_idle(&ctl, PLAYERS as u64).await;
    let rec = stop_recording(&mut ctl, &rec.id).await;
    assert_eq!(rec.connections, PLAYERS as u64);
    assert_eq!(server.rejects(), 0, "{:?}", server.reasons());
    let world = server.world();
    let want: Vec<(String, u32)> = schedule
        .iter()
        .map(|t| (game::player_name(t.player), t.value))
        .collect();
    assert_eq!(
        world.actions, want,
        "the recorded world follows the schedule"
    );
    (agent, rec, world)
}

/// A causal replay of the game recording into a fresh server with `rules`
/// (none when empty: then a short server wait, as every player is to be
/// rejected).
async fn replay_game(
    ctl: &mut ReelClient<Channel>,
    rec: &pb::RecordingInfo,
    rules: &str,
    verify: bool,
) -> (GameServer, pb::ReplayReport) {
    let fresh = GameServer::start().await;
    let mut req = replay_request(&rec.id, fresh.addr, "causal");
    req.rules = rules.to_string();
    req.verify = verify;
    if rules.is_empty() {
        req.server_timeout_ms = SHORT_SERVER_WAIT_MS;
    }
    let report = replay_within(ctl, req, REPLAY_LIMIT).await;
    (fresh, report)
}

/// What a replay with the game's rules must have done: every player
/// accepted, the world reproduced, every session value rewritten.
fn assert_game_reproduced(fresh: &GameServer, report: &pb::ReplayReport, want: &World) {
    assert_eq!(
        report.state(),
        reel::proto::ReplayState::Finished,
        "{}",
        describe_live(report)
    );
    assert_eq!(
        (report.planned, report.opened, report.failed),
        (PLAYERS as u64, PLAYERS as u64, 0)
    );
    assert_eq!(
        fresh.rejects(),
        0,
        "the fresh server rejected replayed players: {:?}; rule counts: {:?}",
        fresh.reasons(),
        report.rules
    );
    assert_eq!(&fresh.world(), want, "the fresh server's world");
    assert_eq!(report.server_timeouts, 0, "{}", describe_live(report));
    assert_eq!(report.closed_early, 0, "{:?}", report.connections);
    // Rewrites here keep every length: the bytes are the recorded ones.
    assert_eq!(report.bytes_sent, report.expected_sent);
    assert_eq!(report.bytes_received, report.expected_received);

    let (p, a) = (PLAYERS as u64, ACTIONS as u64);
    for (i, name) in ["token", "seq0"].into_iter().enumerate() {
        let c = rule(report, "capture", i as u32);
        assert_eq!(c.name, name, "{c:?}");
        // One WELCOME per connection, matched twice (the recorded one and
        // the live one): a live and a recorded value each.
        assert_eq!(rule_counts(c), (2 * p, p, p, 0), "capture[{i}] {c:?}");
    }
    for (i, name) in ["token", "seq0"].into_iter().enumerate() {
        let c = rule(report, "rewrite", i as u32);
        assert_eq!(c.name, name, "{c:?}");
        assert_eq!(
            (c.matched, c.applied, c.missed),
            (a, a, 0),
            "rewrite[{i}] {c:?}"
        );
    }
    let c = rule(report, "checksum", 0);
    assert_eq!((c.matched, c.applied, c.missed), (a, a, 0), "{c:?}");
}

/// Proves the game server needs rewriting at all: a byte-exact causal
/// replay into a fresh server has every player rejected at its first
/// action (its token is the recorded one), and no action applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn game_replay_without_rules_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let (agent, rec, _) = record_game(dir.path()).await;
    let mut ctl = agent.client().await;
    let (fresh, report) = replay_game(&mut ctl, &rec, "", false).await;
    assert_eq!(
        report.state(),
        reel::proto::ReplayState::Finished,
        "{}",
        describe_live(&report)
    );
    assert_eq!(
        fresh.rejects(),
        PLAYERS as u64,
        "every replayed player is rejected once, then closed: {:?}",
        fresh.reasons()
    );
    assert!(
        fresh.reasons().iter().all(|r| r.contains("token")),
        "rejected for the recorded token: {:?}",
        fresh.reasons()
    );
    assert_eq!(fresh.world(), World::default(), "no action applied");
    assert!(
        report.rules.is_empty(),
        "no rules, no counts: {:?}",
        report.rules
    );
}

/// Proves the recording can reproduce the world at all, so that the
/// rewriting tests fail only for rewriting: a byte-exact causal replay
/// into a server that does not check sessions applies every action, in
/// the recorded order, without a server timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn causal_game_replay_reproduces_the_world_where_sessions_are_not_checked() {
    let dir = tempfile::tempdir().unwrap();
    let (agent, rec, want) = record_game(dir.path()).await;
    let mut ctl = agent.client().await;
    let lenient = GameServer::start_lenient().await;
    let report = replay_within(
        &mut ctl,
        replay_request(&rec.id, lenient.addr, "causal"),
        REPLAY_LIMIT,
    )
    .await;
    assert_eq!(
        report.state(),
        reel::proto::ReplayState::Finished,
        "{}",
        describe_live(&report)
    );
    assert_eq!(lenient.world(), want, "the lenient server's world");
    assert_eq!(report.server_timeouts, 0, "{}", describe_live(&report));
    assert_eq!(report.closed_early, 0, "{:?}", report.connections);
    assert_eq!(report.bytes_received, report.expected_received);
}

/// Proves the rules carry each connection's live session: with them, a
/// causal replay into a fresh server is accepted throughout and ends with
/// the recorded world exactly (same actions, same players, same order);
/// the report counts a live and a recorded token and seq0 per connection,
/// a rewrite of each and a recomputed CRC for every action, nothing missed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn causal_game_replay_with_rules_reproduces_the_world() {
    let dir = tempfile::tempdir().unwrap();
    let (agent, rec, want) = record_game(dir.path()).await;
    let mut ctl = agent.client().await;
    let (fresh, report) = replay_game(&mut ctl, &rec, &game::rules(), false).await;
    assert_game_reproduced(&fresh, &report, &want);
}

/// Proves `ignore` rules are what makes `verify` pass on a server that
/// chooses values anew: with them, the rewritten replay reports 0
/// divergences and counts the bytes not compared (12 per WELCOME, 4 per
/// OK); the same replay without the ignore rules diverges on every
/// connection, so the 0 is not verify comparing nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_with_ignore_rules_finds_no_divergence() {
    let dir = tempfile::tempdir().unwrap();
    let (agent, rec, want) = record_game(dir.path()).await;
    let mut ctl = agent.client().await;
    let (fresh, report) = replay_game(&mut ctl, &rec, &game::rules(), true).await;
    assert_game_reproduced(&fresh, &report, &want);
    assert_eq!(report.divergences, 0, "{:?}", report.connections);
    let (p, a) = (PLAYERS as u64, ACTIONS as u64);
    let ok_nonce = rule(&report, "ignore", 0);
    assert_eq!(
        (ok_nonce.matched, ok_nonce.ignored_bytes),
        (a, 4 * a),
        "ignore[0], the OK nonce: {ok_nonce:?}"
    );
    let welcome = rule(&report, "ignore", 1);
    assert_eq!(
        (welcome.matched, welcome.ignored_bytes),
        (p, 12 * p),
        "ignore[1], the WELCOME token and seq0: {welcome:?}"
    );

    let (fresh, report) = replay_game(&mut ctl, &rec, game::SESSION_RULES, true).await;
    assert_eq!(fresh.world(), want, "the world, verify or not");
    assert_eq!(
        report.divergences, PLAYERS as u64,
        "without ignore rules every WELCOME differs: {:?}",
        report.connections
    );
}

/// Proves the tests above are sound, whatever the engine does: the rules
/// files are TOML, and the game server accepts a recorded action exactly
/// when it is rewritten as the rules say (live token at 1..9, sequence
/// number at 9..13 shifted by live - recorded seq0, CRC32 over all but the
/// last 4 bytes written little-endian there), and rejects it as recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rules_describe_the_game_protocol() {
    assert_eq!(
        game::crc32(b"123456789"),
        0xCBF4_3926,
        "CRC-32/IEEE check value"
    );
    for text in [game::rules(), chat::RULES.to_string()] {
        if let Err(e) = toml::from_str::<toml::Table>(&text) {
            panic!("rules are TOML: {e}\n{text}");
        }
    }
    let server = GameServer::start().await;
    let mut sock = TcpStream::connect(server.addr).await.unwrap();
    sock.write_all(&game::frame(b"\x01replayed")).await.unwrap();
    let welcome = bounded(game::read_frame(&mut sock)).await.expect("welcome");
    let live_token: [u8; 8] = welcome[1..9].try_into().unwrap();
    let live_seq0 = u32::from_be_bytes(welcome[9..13].try_into().unwrap());
    let (recorded_token, recorded_seq0) = ([7u8; 8], live_seq0.wrapping_add(0x8000_0000));
    for k in 0..3u32 {
        let mut body = game::action(&recorded_token, recorded_seq0.wrapping_add(k), k, 2);
        body[1..9].copy_from_slice(&live_token);
        let seq = u32::from_be_bytes(body[9..13].try_into().unwrap());
        let shifted = seq.wrapping_add(live_seq0.wrapping_sub(recorded_seq0));
        body[9..13].copy_from_slice(&shifted.to_be_bytes());
        let end = body.len() - 4;
        let crc = game::crc32(&body[..end]);
        body[end..].copy_from_slice(&crc.to_le_bytes());
        sock.write_all(&game::frame(&body)).await.unwrap();
        let ok = bounded(game::read_frame(&mut sock))
            .await
            .expect("an answer");
        assert_eq!(ok[0], game::OK, "rewritten action {k}: {ok:02x?}");
        assert_eq!(ok[1..5], (k + 1).to_be_bytes(), "world version");
    }
    let recorded = game::action(&recorded_token, recorded_seq0.wrapping_add(3), 3, 2);
    sock.write_all(&game::frame(&recorded)).await.unwrap();
    let answer = bounded(game::read_frame(&mut sock))
        .await
        .expect("an answer");
    assert_eq!(answer, [game::REJECT], "an action as recorded");
    assert_eq!(server.rejects(), 1);
    assert_eq!(server.world().actions.len(), 3);
}

/// A frame read, bounded by 10 s.
async fn bounded(
    read: impl std::future::Future<Output = std::io::Result<Option<Vec<u8>>>>,
) -> Option<Vec<u8>> {
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("the game server answers within 10 s")
        .expect("read from the game server")
}
