//! A game-like binary server for the session-rewriting tests, and the
//! client that plays it. The server is what a byte-exact replay cannot
//! pass: it hands out a fresh random token and sequence start at login,
//! and accepts an action only with that token, the next sequence number
//! and a correct CRC32.
//!
//! Framing: a `u16be` length prefix before each body; body byte 0 is the
//! message type.
//! - client `01 LOGIN <name>` → server `02 WELCOME <token: 8 random bytes>
//!   <seq0: u32be random>`;
//! - client `03 ACTION <token: 8> <seq: u32be> <value: u32be> <filler>
//!   <crc32 u32le over the body but its last 4 bytes>` → server `04 OK
//!   <world version: u32be> <nonce: 4 random bytes>`, or `7F REJECT` and
//!   the server closes.
//!
//! The world is order-dependent: every action appends (player, value) and
//! folds the value into `hash = hash * 31 + value (mod 2^32)`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::served::{Served, lock};

pub const LOGIN: u8 = 0x01;
pub const WELCOME: u8 = 0x02;
pub const ACTION: u8 = 0x03;
pub const OK: u8 = 0x04;
pub const REJECT: u8 = 0x7F;
/// Type, token and sequence number before an action's value.
const ACTION_HEADER: usize = 1 + 8 + 4;
/// Pause after an action's OK before the next action of any player, so
/// the cross-player order in the recording is far from a near-tie.
pub const STAGGER: Duration = Duration::from_millis(3);

/// The rules that carry a live session into a replay of this game (the
/// schema of issue 12, docs/REWRITE.md): the token and sequence start are
/// captured from each connection's WELCOME, every ACTION gets the live
/// token, its sequence number shifted by (live seq0 - recorded seq0), and
/// its CRC recomputed.
pub const SESSION_RULES: &str = include_str!("../rules/game_session.toml");

/// What `--verify` must not compare: the nonce of every OK, and the token
/// and sequence start of every WELCOME.
pub const IGNORE_RULES: &str = r#"
[[ignore]]
direction = "s2c"
when = { offset = 0, hex = "04" }
field = { offset = 5, len = 4 }

[[ignore]]
direction = "s2c"
when = { offset = 0, hex = "02" }
field = { offset = 1, len = 12 }
"#;

/// The whole rules file: [`SESSION_RULES`] then [`IGNORE_RULES`].
pub fn rules() -> String {
    format!("{SESSION_RULES}{IGNORE_RULES}")
}

/// CRC-32 (IEEE 802.3, the zlib one), bit by bit: the test's own, so it
/// does not share a bug with the engine's.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// What the actions made of the world: equal worlds mean the same
/// actions were applied in the same order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct World {
    /// Every applied action: the player's login name and its value.
    pub actions: Vec<(String, u32)>,
    /// `hash * 31 + value` over the actions, in order.
    pub hash: u32,
}

/// The server's state: one owner, a mutex never held across an await.
#[derive(Default)]
struct State {
    world: World,
    /// Connections answered with REJECT.
    rejects: u64,
    /// Why, for the first few (a failing test prints them).
    reasons: Vec<String>,
}

type Shared = Arc<Mutex<State>>;

/// A game server on 127.0.0.1; its accept loop ends on drop.
pub struct GameServer {
    pub addr: SocketAddr,
    served: Served<State>,
}

impl GameServer {
    /// A server that checks token, sequence number and CRC.
    pub async fn start() -> GameServer {
        Self::start_checking(true).await
    }

    /// A server that applies every action without checking its session:
    /// what a byte-exact replay reproduces when nothing needs rewriting.
    pub async fn start_lenient() -> GameServer {
        Self::start_checking(false).await
    }

    async fn start_checking(strict: bool) -> GameServer {
        let served = Served::start(move |sock, state| serve(sock, state, strict)).await;
        GameServer {
            addr: served.addr,
            served,
        }
    }

    pub fn world(&self) -> World {
        self.served.state().world.clone()
    }

    pub fn rejects(&self) -> u64 {
        self.served.state().rejects
    }

    /// Why the first rejected connections were rejected.
    pub fn reasons(&self) -> Vec<String> {
        self.served.state().reasons.clone()
    }
}

/// A body with its `u16be` length prefix.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let len = u16::try_from(body.len()).expect("a body fits a u16be prefix");
    let mut out = len.to_be_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

/// The next body, or `None` at a clean end of stream between frames.
pub async fn read_frame<R: AsyncReadExt + Unpin>(r: &mut R) -> std::io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 2];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
    r.read_exact(&mut body).await?;
    Ok(Some(body))
}

/// An ACTION body: token, sequence number, value, `filler` bytes of
/// padding (so actions differ in length), and the CRC.
pub fn action(token: &[u8; 8], seq: u32, value: u32, filler: usize) -> Vec<u8> {
    let mut body = vec![ACTION];
    body.extend_from_slice(token);
    body.extend_from_slice(&seq.to_be_bytes());
    body.extend_from_slice(&value.to_be_bytes());
    body.extend(std::iter::repeat_n(b'.', filler));
    let crc = crc32(&body);
    body.extend_from_slice(&crc.to_le_bytes());
    body
}

/// An action's value, or why it is refused: its token, sequence number
/// and CRC are checked when `strict`.
fn check(body: &[u8], token: &[u8; 8], next: u32, strict: bool) -> Result<u32, String> {
    if body.len() < ACTION_HEADER + 4 + 4 || body[0] != ACTION {
        return Err(format!("not an action: {body:02x?}"));
    }
    let value = u32::from_be_bytes(body[ACTION_HEADER..ACTION_HEADER + 4].try_into().unwrap());
    if !strict {
        return Ok(value);
    }
    if &body[1..9] != token {
        return Err(format!(
            "token {:02x?}, this connection's is {token:02x?}",
            &body[1..9]
        ));
    }
    let seq = u32::from_be_bytes(body[9..13].try_into().unwrap());
    if seq != next {
        return Err(format!("sequence number {seq}, expected {next}"));
    }
    let (signed, crc) = body.split_at(body.len() - 4);
    let crc = u32::from_le_bytes(crc.try_into().unwrap());
    if crc != crc32(signed) {
        return Err(format!("crc {crc:08x}, computed {:08x}", crc32(signed)));
    }
    Ok(value)
}

/// One player's connection, as the server sees it.
async fn serve(sock: TcpStream, state: Shared, strict: bool) {
    let _ = sock.set_nodelay(true);
    let (mut r, mut w) = sock.into_split();
    let name = match read_frame(&mut r).await {
        Ok(Some(body)) if body.first() == Some(&LOGIN) => {
            String::from_utf8_lossy(&body[1..]).into_owned()
        }
        _ => return,
    };
    let token: [u8; 8] = rand::random();
    let mut next: u32 = rand::random();
    let mut welcome = vec![WELCOME];
    welcome.extend_from_slice(&token);
    welcome.extend_from_slice(&next.to_be_bytes());
    if w.write_all(&frame(&welcome)).await.is_err() {
        return;
    }
    loop {
        let body = match read_frame(&mut r).await {
            Ok(Some(body)) => body,
            Ok(None) => break,
            Err(_) => return,
        };
        let value = match check(&body, &token, next, strict) {
            Ok(value) => value,
            Err(why) => {
                {
                    let mut s = lock(&state);
                    s.rejects += 1;
                    if s.reasons.len() < 5 {
                        s.reasons.push(format!("{name}: {why}"));
                    }
                }
                let _ = w.write_all(&frame(&[REJECT])).await;
                let _ = w.shutdown().await;
                return;
            }
        };
        next = next.wrapping_add(1);
        let version = {
            let mut s = lock(&state);
            s.world.actions.push((name.clone(), value));
            s.world.hash = s.world.hash.wrapping_mul(31).wrapping_add(value);
            s.world.actions.len() as u32
        };
        let mut ok = vec![OK];
        ok.extend_from_slice(&version.to_be_bytes());
        ok.extend_from_slice(&rand::random::<[u8; 4]>());
        if w.write_all(&frame(&ok)).await.is_err() {
            return;
        }
    }
    let _ = w.shutdown().await;
}

/// One step of the recorded game: which player acts, with what value.
#[derive(Debug, Clone, Copy)]
pub struct Turn {
    pub player: usize,
    pub value: u32,
}

/// The login name of player `i`.
pub fn player_name(i: usize) -> String {
    format!("player{i:02}")
}

/// Player `me`: logs in, then plays its turns of `schedule` when the
/// global turn counter `turn` reaches them (each after the previous turn's
/// OK and a [`STAGGER`]), and closes. Returns the number of actions sent.
pub async fn play(
    server: SocketAddr,
    me: usize,
    schedule: Arc<Vec<Turn>>,
    turn: Arc<watch::Sender<usize>>,
) -> usize {
    let mut sock = TcpStream::connect(server).await.expect("connect");
    sock.set_nodelay(true).unwrap();
    sock.write_all(&frame(&[&[LOGIN][..], player_name(me).as_bytes()].concat()))
        .await
        .unwrap();
    let welcome = read_frame(&mut sock).await.unwrap().expect("welcome");
    assert_eq!(welcome.len(), 13, "welcome {welcome:02x?}");
    assert_eq!(welcome[0], WELCOME, "welcome {welcome:02x?}");
    let token: [u8; 8] = welcome[1..9].try_into().unwrap();
    let mut seq = u32::from_be_bytes(welcome[9..13].try_into().unwrap());
    let mut rx = turn.subscribe();
    let mut sent = 0;
    for (k, t) in schedule.iter().enumerate() {
        if t.player != me {
            continue;
        }
        rx.wait_for(|now| *now == k).await.expect("turn counter");
        sock.write_all(&frame(&action(&token, seq, t.value, k % 5)))
            .await
            .unwrap();
        let ok = read_frame(&mut sock).await.unwrap().expect("an answer");
        assert_eq!(ok[0], OK, "{}: answer {ok:02x?}", player_name(me));
        seq = seq.wrapping_add(1);
        sent += 1;
        tokio::time::sleep(STAGGER).await;
        turn.send_replace(k + 1);
    }
    sock.shutdown().await.unwrap();
    let mut rest = Vec::new();
    sock.read_to_end(&mut rest).await.unwrap();
    sent
}
