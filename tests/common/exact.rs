//! Clients whose every byte is known: random payloads (seeded) echoed
//! through a proxy, written and read concurrently, so a recording can be
//! checked byte- and order-exact per connection and direction.

use std::net::SocketAddr;

use rand::{Rng, RngExt, SeedableRng};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Messages each client sends.
pub const MESSAGES_PER_CLIENT: usize = 6;
/// Largest message: several proxy reads, so chunks are cut by the kernel.
pub const MAX_MESSAGE: usize = 256 * 1024;

/// One client's view: what it sent and what it got back.
pub struct Seen {
    pub local: String,
    pub sent: Vec<u8>,
    pub received: Vec<u8>,
}

/// Connects to `proxy`, sends [`MESSAGES_PER_CLIENT`] random messages
/// (from `seed`) of up to [`MAX_MESSAGE`] bytes, reading each echo while it
/// writes, then closes its side and reads to EOF. Unbounded: the caller
/// bounds it.
pub async fn exact_client(proxy: SocketAddr, seed: u64) -> Seen {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut sock = TcpStream::connect(proxy).await.unwrap();
    let local = sock.local_addr().unwrap().to_string();
    let (mut r, mut w) = sock.split();
    let mut sent = Vec::new();
    let mut received = Vec::new();
    for _ in 0..MESSAGES_PER_CLIENT {
        let len = rng.random_range(1..=MAX_MESSAGE);
        let mut msg = vec![0u8; len];
        rng.fill_bytes(&mut msg);
        // Write and read concurrently: the echo may come back while we send.
        let mut echoed = vec![0u8; len];
        let (wr, rd) = tokio::join!(w.write_all(&msg), r.read_exact(&mut echoed));
        wr.unwrap();
        rd.unwrap();
        sent.extend_from_slice(&msg);
        received.extend_from_slice(&echoed);
    }
    w.shutdown().await.unwrap();
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).await.unwrap();
    received.extend_from_slice(&rest);
    Seen {
        local,
        sent,
        received,
    }
}

/// SHA-256 of `b`: compares long byte strings with a short message.
pub fn sha(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}
