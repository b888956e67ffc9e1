//! A small binary game protocol to learn session rewriting on
//! (docs/REWRITE.md walks through it): the server hands out a random token
//! and sequence start at login and accepts an action only with that token,
//! the next sequence number and a correct CRC32, which is what a byte-exact
//! replay cannot pass.
//!
//! ```text
//! cargo run --release --example game -- serve 127.0.0.1:7000
//! cargo run --release --example game -- play 127.0.0.1:7001 [PLAYERS] [ACTIONS]
//! ```
//!
//! Framing: a u16be length before each body; body byte 0 is the type.
//! client `01 <name>` → server `02 <token: 8> <seq0: u32be>`;
//! client `03 <token: 8> <seq: u32be> <value: u32be> <crc32: u32le of the
//! body before it>` → server `04 <world version: u32be> <nonce: 4>`, or
//! `7F` and the connection closes. The server prints every action and the
//! world's hash (`hash = hash * 31 + value`), so two runs compare by eye.

use std::sync::{Arc, Mutex};

use rand::RngExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The world every action folds into, in order.
#[derive(Default)]
struct World {
    version: u32,
    hash: u32,
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

async fn read_frame(s: &mut TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 2];
    match s.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut body).await?;
    Ok(Some(body))
}

/// Why an action is refused, if it is.
fn check(body: &[u8], token: &[u8; 8], next: u32) -> Result<u32, &'static str> {
    if body.len() != 1 + 8 + 4 + 4 + 4 || body[0] != 0x03 {
        return Err("not an action");
    }
    if &body[1..9] != token {
        return Err("wrong token");
    }
    if body[9..13] != next.to_be_bytes() {
        return Err("wrong sequence number");
    }
    let (signed, crc) = body.split_at(body.len() - 4);
    if crc32(signed).to_le_bytes() != crc {
        return Err("wrong checksum");
    }
    Ok(u32::from_be_bytes([body[13], body[14], body[15], body[16]]))
}

async fn serve_one(mut s: TcpStream, world: Arc<Mutex<World>>) -> std::io::Result<()> {
    let Some(login) = read_frame(&mut s).await? else {
        return Ok(());
    };
    let name = String::from_utf8_lossy(login.get(1..).unwrap_or_default()).into_owned();
    let (token, mut next): ([u8; 8], u32) = {
        let mut rng = rand::rng();
        (rng.random(), rng.random())
    };
    let mut welcome = vec![0x02];
    welcome.extend_from_slice(&token);
    welcome.extend_from_slice(&next.to_be_bytes());
    s.write_all(&frame(&welcome)).await?;
    while let Some(body) = read_frame(&mut s).await? {
        let value = match check(&body, &token, next) {
            Ok(v) => v,
            Err(why) => {
                println!("{name}: REJECTED ({why})");
                s.write_all(&frame(&[0x7F])).await?;
                return Ok(());
            }
        };
        next = next.wrapping_add(1);
        let version = {
            let mut w = world.lock().unwrap_or_else(|e| e.into_inner());
            w.version += 1;
            w.hash = w.hash.wrapping_mul(31).wrapping_add(value);
            println!(
                "{name}: action {value} -> world version {} hash {:08x}",
                w.version, w.hash
            );
            w.version
        };
        let mut ok = vec![0x04];
        ok.extend_from_slice(&version.to_be_bytes());
        ok.extend_from_slice(&rand::rng().random::<[u8; 4]>());
        s.write_all(&frame(&ok)).await?;
    }
    Ok(())
}

async fn play_one(addr: String, player: usize, actions: u32) -> std::io::Result<()> {
    let mut s = TcpStream::connect(&addr).await?;
    let mut login = vec![0x01];
    login.extend_from_slice(format!("player{player}").as_bytes());
    s.write_all(&frame(&login)).await?;
    let welcome = read_frame(&mut s).await?.unwrap_or_default();
    let (Some(token), Some(seq0)) = (welcome.get(1..9), welcome.get(9..13)) else {
        return Err(std::io::Error::other("no welcome"));
    };
    let token = token.to_vec();
    let mut seq = u32::from_be_bytes([seq0[0], seq0[1], seq0[2], seq0[3]]);
    for i in 0..actions {
        // Players take turns, so the order the server sees is the order
        // they were given.
        tokio::time::sleep(std::time::Duration::from_millis(
            20 * player as u64 + 100 * u64::from(i),
        ))
        .await;
        let mut body = vec![0x03];
        body.extend_from_slice(&token);
        body.extend_from_slice(&seq.to_be_bytes());
        body.extend_from_slice(&(player as u32 * 100 + i).to_be_bytes());
        body.extend_from_slice(&crc32(&body).to_le_bytes());
        s.write_all(&frame(&body)).await?;
        match read_frame(&mut s).await? {
            Some(ok) if ok.first() == Some(&0x04) => {}
            _ => return Err(std::io::Error::other("action rejected")),
        }
        seq = seq.wrapping_add(1);
    }
    Ok(())
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or(default.to_owned());
    match args.first().map(String::as_str) {
        Some("serve") => {
            let listener = TcpListener::bind(arg(1, "127.0.0.1:7000")).await?;
            println!("game server on {}", listener.local_addr()?);
            let world = Arc::new(Mutex::new(World::default()));
            loop {
                let (s, _) = listener.accept().await?;
                tokio::spawn(serve_one(s, world.clone()));
            }
        }
        Some("play") => {
            let addr = arg(1, "127.0.0.1:7000");
            let players: usize = arg(2, "4").parse().unwrap_or(4);
            let actions: u32 = arg(3, "3").parse().unwrap_or(3);
            let mut all = Vec::new();
            for p in 0..players {
                all.push(tokio::spawn(play_one(addr.clone(), p, actions)));
            }
            for (p, a) in all.into_iter().enumerate() {
                match a.await {
                    Ok(Ok(())) => println!("player{p}: done"),
                    Ok(Err(e)) => println!("player{p}: {e}"),
                    Err(e) => println!("player{p}: {e}"),
                }
            }
            Ok(())
        }
        _ => {
            eprintln!("usage: game serve [ADDR] | game play ADDR [PLAYERS] [ACTIONS]");
            std::process::exit(2);
        }
    }
}
