//! Replay against a lobby: a matchmaking server written here that holds
//! each player's answer until a whole match (4 players) has asked, then
//! seats them in arrival order, and starts a match only once its 4 players
//! are ready. Players genuinely wait for each other, as on game servers
//! with a queue. 16 players are recorded through a reel proxy; a `causal`
//! replay into a fresh lobby must end without a server timeout and seat
//! every player as the recording did, answer for answer (`verify`).
//!
//! Protocol (one line each): the client sends `JOIN <name>`; the server
//! acknowledges at once with `QUEUED <position>`, and once 4 are queued
//! answers each `MATCH <match> SEAT <seat>`; the client sends `READY`; the
//! server answers `GO <match>` once all 4 of that match are ready; the
//! client closes. A player joins only after the previous one was queued, so
//! the recorded arrival order is unambiguous by construction.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use common::replays::{describe_live, replay_request, replay_within};
use common::*;

const PLAYERS: usize = 16;
const MATCH_SIZE: usize = 4;
/// Pause between one player being queued and the next joining.
const STAGGER: Duration = Duration::from_millis(5);
/// Longest a replay of the lobby recording (well under a second) may take.
const REPLAY_LIMIT: Duration = Duration::from_secs(60);
/// Longest the recorded players may take in all.
const PLAY_LIMIT: Duration = Duration::from_secs(30);

/// One seating decided by the lobby.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Seat {
    name: String,
    match_no: usize,
    seat: usize,
}

/// The lobby's state: one owner, a mutex never held across an await.
#[derive(Default)]
struct LobbyState {
    /// Players queued for the next match, in arrival order.
    queue: Vec<(String, oneshot::Sender<(usize, usize)>)>,
    next_match: usize,
    /// Players of each match that said READY.
    ready: HashMap<usize, Vec<oneshot::Sender<()>>>,
    /// Every seating, in the order decided.
    log: Vec<Seat>,
}

type Shared = Arc<Mutex<LobbyState>>;

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, LobbyState> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

/// A lobby on 127.0.0.1, a task of the test's runtime.
struct Lobby {
    addr: SocketAddr,
    state: Shared,
}

impl Lobby {
    async fn start() -> Lobby {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Shared::default();
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                tokio::spawn(serve(sock, shared.clone()));
            }
        });
        Lobby { addr, state }
    }

    /// The seatings, by player name.
    fn seats(&self) -> Vec<Seat> {
        let mut log = lock(&self.state).log.clone();
        log.sort();
        log
    }
}

/// One player's connection, as the lobby sees it.
async fn serve(sock: TcpStream, state: Shared) {
    let (r, mut w) = sock.into_split();
    let mut lines = BufReader::new(r).lines();
    let Ok(Some(line)) = lines.next_line().await else {
        return;
    };
    let Some(name) = line.strip_prefix("JOIN ").map(str::to_string) else {
        let _ = w.write_all(b"ERR expected JOIN\n").await;
        return;
    };
    let (tx, rx) = oneshot::channel();
    let position = {
        let mut s = lock(&state);
        s.queue.push((name, tx));
        let position = s.queue.len();
        if position == MATCH_SIZE {
            let m = s.next_match;
            s.next_match += 1;
            let players = std::mem::take(&mut s.queue);
            for (seat, (name, tx)) in players.into_iter().enumerate() {
                s.log.push(Seat {
                    name,
                    match_no: m,
                    seat,
                });
                let _ = tx.send((m, seat));
            }
        }
        position
    };
    if w.write_all(format!("QUEUED {position}\n").as_bytes())
        .await
        .is_err()
    {
        return;
    }
    let Ok((m, seat)) = rx.await else { return };
    if w.write_all(format!("MATCH {m} SEAT {seat}\n").as_bytes())
        .await
        .is_err()
    {
        return;
    }
    match lines.next_line().await {
        Ok(Some(line)) if line == "READY" => {}
        _ => {
            let _ = w.write_all(b"ERR expected READY\n").await;
            return;
        }
    }
    let (tx, rx) = oneshot::channel();
    {
        let mut s = lock(&state);
        let ready = s.ready.entry(m).or_default();
        ready.push(tx);
        if ready.len() == MATCH_SIZE {
            for tx in std::mem::take(ready) {
                let _ = tx.send(());
            }
        }
    }
    if rx.await.is_err() || w.write_all(format!("GO {m}\n").as_bytes()).await.is_err() {
        return;
    }
    // Until the player closes.
    while let Ok(Some(_)) = lines.next_line().await {}
    let _ = w.shutdown().await;
}

/// One recorded player: joins once the previous player is queued, then
/// plays its match. Returns its seat as it heard it.
async fn player(
    proxy: SocketAddr,
    i: usize,
    previous_queued: Option<oneshot::Receiver<()>>,
    queued: oneshot::Sender<()>,
) -> (usize, usize) {
    if let Some(prev) = previous_queued {
        prev.await.expect("the previous player was queued");
        tokio::time::sleep(STAGGER).await;
    }
    let sock = TcpStream::connect(proxy).await.unwrap();
    sock.set_nodelay(true).unwrap();
    let (r, mut w) = sock.into_split();
    let mut lines = BufReader::new(r).lines();
    w.write_all(format!("JOIN p{i:02}\n").as_bytes())
        .await
        .unwrap();
    assert!(next(&mut lines).await.starts_with("QUEUED "));
    let _ = queued.send(());
    let answer = next(&mut lines).await;
    let parsed: Vec<usize> = answer.split(' ').filter_map(|t| t.parse().ok()).collect();
    let [m, seat] = parsed[..] else {
        panic!("p{i:02}: unexpected answer {answer:?}")
    };
    // Players get ready at different moments: the match waits for the last.
    tokio::time::sleep(Duration::from_millis((i as u64 * 7) % 5 * 3)).await;
    w.write_all(b"READY\n").await.unwrap();
    assert_eq!(next(&mut lines).await, format!("GO {m}"));
    w.shutdown().await.unwrap();
    let mut rest = Vec::new();
    lines.into_inner().read_to_end(&mut rest).await.unwrap();
    (m, seat)
}

/// The next line from the lobby.
async fn next(lines: &mut Lines<BufReader<OwnedReadHalf>>) -> String {
    lines
        .next_line()
        .await
        .expect("read from the lobby")
        .expect("a line before the lobby closed")
}

/// Records the 16 players through a proxy in front of a lobby; returns the
/// agent, the recording and the lobby's seatings.
async fn record_lobby(dir: &std::path::Path) -> (AgentProc, reel::proto::RecordingInfo, Vec<Seat>) {
    let agent = AgentProc::start("127.0.0.1", &dir.join("data"));
    let mut ctl = agent.client().await;
    let lobby = Lobby::start().await;
    let proxy = proxy_addr(&start_proxy(&mut ctl, lobby.addr).await);
    let rec = start_recording(&mut ctl, "lobby").await;
    let mut previous = None;
    let mut players = Vec::new();
    for i in 0..PLAYERS {
        let (tx, rx) = oneshot::channel();
        players.push(tokio::spawn(player(proxy, i, previous.take(), tx)));
        previous = Some(rx);
    }
    let heard = tokio::time::timeout(PLAY_LIMIT, async {
        let mut heard = Vec::new();
        for p in players {
            heard.push(p.await.expect("player"));
        }
        heard
    })
    .await
    .expect("the recorded players finish in time");
    wait_idle(&ctl, PLAYERS as u64).await;
    let rec = ctl
        .stop_recording(reel::proto::StopRecordingRequest { id: rec.id })
        .await
        .expect("StopRecording")
        .into_inner();
    assert_eq!(rec.connections, PLAYERS as u64);
    // Arrival order decides: player i sits in match i / 4, seat i % 4.
    let seats = lobby.seats();
    let want: Vec<Seat> = (0..PLAYERS)
        .map(|i| Seat {
            name: format!("p{i:02}"),
            match_no: i / MATCH_SIZE,
            seat: i % MATCH_SIZE,
        })
        .collect();
    assert_eq!(seats, want, "the recorded lobby seated players by arrival");
    for (i, (m, seat)) in heard.into_iter().enumerate() {
        assert_eq!((m, seat), (i / MATCH_SIZE, i % MATCH_SIZE), "p{i:02} heard");
    }
    (agent, rec, seats)
}

/// Replays the lobby recording causally (paced or not) into a fresh lobby.
async fn causal_replay_seats_as_recorded(unpaced: bool) {
    let dir = tempfile::tempdir().unwrap();
    let (agent, rec, want) = record_lobby(dir.path()).await;
    let mut ctl = agent.client().await;
    let fresh = Lobby::start().await;
    let mut req = replay_request(&rec.id, fresh.addr, "causal");
    req.unpaced = unpaced;
    req.verify = true;
    let report = replay_within(&mut ctl, req, REPLAY_LIMIT).await;
    eprintln!(
        "causal replay of the lobby ({}): {} ms (recording {} ms), {} relaxations, {} server timeouts",
        if unpaced { "unpaced" } else { "paced" },
        report.duration_ms,
        rec.duration_ms,
        report.relaxations,
        report.server_timeouts
    );
    assert_eq!(
        report.state(),
        reel::proto::ReplayState::Finished,
        "{}",
        describe_live(&report)
    );
    assert_eq!(
        (report.planned, report.opened, report.failed),
        (PLAYERS as u64, PLAYERS as u64, 0)
    );
    assert_eq!(report.server_timeouts, 0, "{}", describe_live(&report));
    assert_eq!(fresh.seats(), want, "the fresh lobby's seatings");
    assert_eq!(
        report.divergences, 0,
        "every answer as recorded: {:?}",
        report.connections
    );
    assert_eq!(report.bytes_sent, rec.bytes_c2s);
    assert_eq!(report.bytes_received, rec.bytes_s2c);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn causal_replay_reproduces_the_lobby_seating() {
    causal_replay_seats_as_recorded(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unpaced_causal_replay_reproduces_the_lobby_seating() {
    causal_replay_seats_as_recorded(true).await;
}
