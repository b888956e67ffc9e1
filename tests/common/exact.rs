//! Clients whose every byte is known: random payloads (seeded) echoed
//! through a proxy, written and read concurrently, so a recording can be
//! checked byte- and order-exact per connection and direction.

use std::net::SocketAddr;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, RngExt, SeedableRng};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Messages each client sends.
pub const MESSAGES_PER_CLIENT: usize = 6;
/// Largest message: several proxy reads, so chunks are cut by the kernel.
pub const MAX_MESSAGE: usize = 256 * 1024;

/// One client's view: what it sent and what it got back.
#[derive(Default)]
pub struct Seen {
    pub local: String,
    pub sent: Vec<u8>,
    pub received: Vec<u8>,
}

impl Seen {
    /// Connects to `proxy`: the socket, and an empty view named after it.
    pub async fn connect(proxy: SocketAddr) -> (TcpStream, Seen) {
        let sock = TcpStream::connect(proxy).await.unwrap();
        let local = sock.local_addr().unwrap().to_string();
        let seen = Seen {
            local,
            ..Seen::default()
        };
        (sock, seen)
    }

    /// Sends one random message (from `rng`) of up to [`MAX_MESSAGE`]
    /// bytes through the echo and reads it back, writing and reading at
    /// once (the echo may come back while we send).
    pub async fn exchange(&mut self, sock: &mut TcpStream, rng: &mut StdRng) {
        let len = rng.random_range(1..=MAX_MESSAGE);
        let mut msg = vec![0u8; len];
        rng.fill_bytes(&mut msg);
        let (mut r, mut w) = sock.split();
        let mut echoed = vec![0u8; len];
        let (wr, rd) = tokio::join!(w.write_all(&msg), r.read_exact(&mut echoed));
        wr.unwrap();
        rd.unwrap();
        self.sent.extend_from_slice(&msg);
        self.received.extend_from_slice(&echoed);
    }

    /// Half-closes and reads what is left until the proxy closes.
    pub async fn finish(&mut self, mut sock: TcpStream) {
        sock.shutdown().await.unwrap();
        sock.read_to_end(&mut self.received).await.unwrap();
    }
}

/// Connects to `proxy`, sends [`MESSAGES_PER_CLIENT`] random messages
/// (from `seed`) of up to [`MAX_MESSAGE`] bytes, reading each echo while it
/// writes, then closes its side and reads to EOF. Unbounded: the caller
/// bounds it.
pub async fn exact_client(proxy: SocketAddr, seed: u64) -> Seen {
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut sock, mut seen) = Seen::connect(proxy).await;
    for _ in 0..MESSAGES_PER_CLIENT {
        seen.exchange(&mut sock, &mut rng).await;
    }
    seen.finish(sock).await;
    seen
}

/// Runs `n` [`exact_client`]s at once (seeds 0..n), all within two minutes.
pub async fn exact_clients(proxy: SocketAddr, n: usize) -> Vec<Seen> {
    let clients: Vec<_> = (0..n)
        .map(|i| tokio::spawn(exact_client(proxy, i as u64)))
        .collect();
    tokio::time::timeout(Duration::from_secs(120), async {
        let mut out = Vec::new();
        for c in clients {
            out.push(c.await.unwrap());
        }
        out
    })
    .await
    .expect("clients finished in time")
}

/// SHA-256 of `b`: compares long byte strings with a short message.
pub fn sha(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}
