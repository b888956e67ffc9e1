//! A line-based game chat server for the session-rewriting tests, and the
//! client that talks to it. On connect the server sends
//! `HELLO session=<hex>\n` with a fresh random session of 8 to 16 hex
//! digits (its length random too, so a live session is rarely as long as
//! the recorded one); every client line must carry that session, as
//! `session=<hex>` or `sid:<hex>`, inside longer text. A line with another
//! session, or none, is answered `ERR bad session\n` and the server
//! closes; an accepted one `OK <n>\n` (n = lines accepted on this
//! connection).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::served::{Served, lock};

/// Stands for the session in the lines the server keeps, so lines of
/// two runs compare equal when only the session differs.
pub const SESSION_MARK: &str = "<session>";

/// The rules that carry a live session into a replay of this chat: the
/// session is captured from the HELLO line by a regex and replaced
/// wherever the client repeats it; live sessions differ in length from the
/// recorded ones, so rewritten lines change length.
pub const RULES: &str = r#"[framing]
delimiter = "\n"

[[capture]]
name = "session"
direction = "s2c"
when = { offset = 0, hex = "48454c4c4f20" }  # "HELLO "
field = { regex = 'session=([0-9a-f]+)' }

[[rewrite]]
direction = "c2s"
from = "session"
anywhere = true
"#;

/// The server's state: one owner, a mutex never held across an await.
#[derive(Default)]
struct State {
    /// Every accepted line, its session replaced by [`SESSION_MARK`].
    accepted: Vec<String>,
    /// Connections answered with ERR.
    rejects: u64,
    /// Why, for the first few (a failing test prints them).
    reasons: Vec<String>,
}

type Shared = Arc<Mutex<State>>;

/// A chat server on 127.0.0.1; its accept loop ends on drop.
pub struct ChatServer {
    pub addr: SocketAddr,
    served: Served<State>,
}

impl ChatServer {
    pub async fn start() -> ChatServer {
        let served = Served::start(serve).await;
        ChatServer {
            addr: served.addr,
            served,
        }
    }

    /// The accepted lines, sessions masked, sorted.
    pub fn accepted(&self) -> Vec<String> {
        let mut lines = self.served.state().accepted.clone();
        lines.sort();
        lines
    }

    pub fn rejects(&self) -> u64 {
        self.served.state().rejects
    }

    /// Why the first rejected connections were rejected.
    pub fn reasons(&self) -> Vec<String> {
        self.served.state().reasons.clone()
    }
}

/// A fresh session: 8 to 16 random hex digits.
fn new_session() -> String {
    let len = rand::random_range(8..=16usize);
    (0..len)
        .map(|_| char::from_digit(rand::random_range(0..16u32), 16).unwrap())
        .collect()
}

/// The sessions a line carries, as `session=<hex>` or `sid:<hex>` words.
fn sessions(line: &str) -> Vec<&str> {
    line.split(' ')
        .filter_map(|w| w.strip_prefix("session=").or(w.strip_prefix("sid:")))
        .collect()
}

/// One client's connection, as the server sees it.
async fn serve(sock: TcpStream, state: Shared) {
    let _ = sock.set_nodelay(true);
    let (r, mut w) = sock.into_split();
    let session = new_session();
    if w.write_all(format!("HELLO session={session}\n").as_bytes())
        .await
        .is_err()
    {
        return;
    }
    let mut lines = BufReader::new(r).lines();
    let mut n = 0;
    while let Ok(Some(line)) = lines.next_line().await {
        let carried = sessions(&line);
        if carried.is_empty() || carried.iter().any(|s| *s != session) {
            {
                let mut s = lock(&state);
                s.rejects += 1;
                if s.reasons.len() < 5 {
                    s.reasons
                        .push(format!("{line:?} does not carry session {session}"));
                }
            }
            let _ = w.write_all(b"ERR bad session\n").await;
            let _ = w.shutdown().await;
            return;
        }
        n += 1;
        lock(&state)
            .accepted
            .push(line.replace(&session, SESSION_MARK));
        if w.write_all(format!("OK {n}\n").as_bytes()).await.is_err() {
            return;
        }
    }
    let _ = w.shutdown().await;
}

/// The lines client `me` sends, `session` in place: different commands,
/// lengths and places of the session, once twice in one line. The text
/// has no run of hex digits that could be mistaken for a session.
pub fn script(me: usize, session: &str) -> Vec<String> {
    let words = ["hello", "going north", "look at the tower", "who is there"];
    vec![
        format!("SAY session={session} {}", words[me % words.len()]),
        format!("MOVE {} {} sid:{session}", me * 3, 40 - me),
        format!(
            "SAY session={session} {} and {}",
            words[(me + 1) % words.len()],
            "z".repeat(me % 7)
        ),
        format!("TRADE sid:{session} with p{me} then session={session} ok"),
        format!("QUIT now sid:{session}"),
    ]
}

/// Client `me`: reads its HELLO, sends its [`script`] waiting for each
/// OK, and closes. Returns the number of lines sent.
pub async fn talk(server: SocketAddr, me: usize) -> usize {
    let sock = TcpStream::connect(server).await.expect("connect");
    sock.set_nodelay(true).unwrap();
    let (r, mut w) = sock.into_split();
    let mut lines = BufReader::new(r).lines();
    let hello = lines.next_line().await.unwrap().expect("hello");
    let session = hello
        .strip_prefix("HELLO session=")
        .unwrap_or_else(|| panic!("hello {hello:?}"))
        .to_string();
    let script = script(me, &session);
    for (i, line) in script.iter().enumerate() {
        w.write_all(format!("{line}\n").as_bytes()).await.unwrap();
        let answer = lines.next_line().await.unwrap().expect("an answer");
        assert_eq!(answer, format!("OK {}", i + 1), "client {me}: {line:?}");
    }
    w.shutdown().await.unwrap();
    let mut rest = Vec::new();
    lines.into_inner().read_to_end(&mut rest).await.unwrap();
    script.len()
}
