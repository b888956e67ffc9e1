//! Segmented recordings from the outside: the segment files of a
//! recording's directory, each read alone, and traffic of known framing
//! whose figures do not depend on how TCP cut it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rand::{Rng, RngExt, SeedableRng};
use reel::format::{Direction, End, Frame, FrameBody, Next, RecordingReader};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub use super::exact::sha;

/// Agent flags for small segments over two writer lanes: a few hundred
/// KB of traffic make many segments.
pub const SMALL_SEGMENTS: [&str; 4] = ["--segment-size", "64KiB", "--record-writers", "2"];

/// One segment file: its lane, its number in the lane, its path.
#[derive(Debug, Clone)]
pub struct SegmentFile {
    pub lane: u16,
    pub index: u32,
    pub path: PathBuf,
}

/// The segment files of a recording's directory, by lane and number.
pub fn segment_files(dir: &Path) -> Vec<SegmentFile> {
    let mut all: Vec<SegmentFile> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("list {}: {e}", dir.display()))
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let (lane, index) = reel::format::parse_segment_name(&name)?;
            Some(SegmentFile {
                lane,
                index,
                path: e.path(),
            })
        })
        .collect();
    all.sort_by_key(|s| (s.lane, s.index));
    all
}

/// Every frame of one segment file, read alone by the single-file reader,
/// and how it ends.
pub fn read_segment(path: &Path) -> (Vec<Frame>, End) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut reader = RecordingReader::open(file)
        .unwrap_or_else(|e| panic!("{} does not read alone: {e}", path.display()));
    let mut frames = Vec::new();
    loop {
        match reader.next().expect("read segment") {
            Next::Frame(f) => frames.push(f),
            Next::End(end) => return (frames, end),
        }
    }
}

/// Per connection: its payload each way, in stream order.
pub fn payloads_by_conn(frames: &[Frame]) -> HashMap<u64, (Vec<u8>, Vec<u8>)> {
    let mut out: HashMap<u64, (Vec<u8>, Vec<u8>)> = HashMap::new();
    for f in frames {
        if let FrameBody::Data { dir, payload } = &f.body {
            let e = out.entry(f.conn).or_default();
            match dir {
                Direction::C2s => e.0.extend_from_slice(payload),
                Direction::S2c => e.1.extend_from_slice(payload),
            }
        }
    }
    out
}

/// The connections' payloads as a sorted list of (c2s, s2c) digests: the
/// same traffic seen by two proxies in a chain gives the same list, though
/// their connection ids and client addresses differ.
pub fn payload_digests(frames: &[Frame]) -> Vec<([u8; 32], [u8; 32])> {
    let mut all: Vec<_> = payloads_by_conn(frames)
        .values()
        .map(|(c2s, s2c)| (sha(c2s), sha(s2c)))
        .collect();
    all.sort();
    all
}

/// Largest payload of one framed message: well under one proxy read, so a
/// message written whole is read whole at every hop.
pub const MAX_FRAMED: usize = 4_000;

/// A client that sends `messages` u16be-framed messages of random sizes
/// (seeded), each after the echo of the one before, then closes its side
/// and drains. Returns what it sent. Bounded by 60 s.
pub async fn framed_echo_client(proxy: SocketAddr, seed: u64, messages: usize) -> Vec<u8> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    tokio::time::timeout(Duration::from_secs(60), async move {
        let mut sock = TcpStream::connect(proxy).await.expect("connect to proxy");
        let mut sent = Vec::new();
        for _ in 0..messages {
            let len = rng.random_range(1..=MAX_FRAMED);
            let mut msg = vec![0u8; 2 + len];
            msg[..2].copy_from_slice(&(len as u16).to_be_bytes());
            rng.fill_bytes(&mut msg[2..]);
            sock.write_all(&msg).await.expect("write through the proxy");
            let mut back = vec![0u8; msg.len()];
            sock.read_exact(&mut back).await.expect("read the echo");
            assert_eq!(back, msg, "echo through the proxies");
            sent.extend_from_slice(&msg);
        }
        sock.shutdown().await.expect("shutdown write side");
        let mut rest = Vec::new();
        sock.read_to_end(&mut rest).await.expect("read to EOF");
        assert!(rest.is_empty(), "nothing after the last echo");
        sent
    })
    .await
    .expect("framed client finished within 60 s")
}

/// A client that streams random 8 KB writes (seeded) over `sock`, a
/// connection to an echo proxy made by the caller (so it exists before
/// anything is killed), reading the echo as it goes, until the connection
/// fails (the agent was killed) or `limit` bytes are sent. Returns its
/// address and what it wrote. Bounded by 60 s.
pub async fn streaming_echo_client(
    mut sock: TcpStream,
    seed: u64,
    limit: usize,
) -> (String, Vec<u8>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let local = sock.local_addr().unwrap().to_string();
    let (mut r, mut w) = sock.split();
    let mut sent = Vec::new();
    let write = async {
        while sent.len() < limit {
            let mut chunk = vec![0u8; 8 * 1024];
            rng.fill_bytes(&mut chunk);
            if w.write_all(&chunk).await.is_err() {
                break;
            }
            sent.extend_from_slice(&chunk);
        }
        let _ = w.shutdown().await;
    };
    let read = async {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = r.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), async { tokio::join!(write, read) })
        .await
        .expect("streaming client ended within 60 s");
    (local, sent)
}

/// A client left open: its socket, its local address, and every byte it
/// sent (each message echoed whole before the next).
pub type OpenClient = (TcpStream, String, Vec<u8>);

/// `clients` connections through `proxy` to an echo server, each sending
/// `messages` × 16 KiB (message n of client i filled with i × 64 + n)
/// and reading each echo; they stay open, so a kill finds them mid-session.
pub async fn open_echo_clients(proxy: SocketAddr, clients: u8, messages: u8) -> Vec<OpenClient> {
    let mut open = Vec::new();
    for i in 0..clients {
        let mut sock = TcpStream::connect(proxy).await.unwrap();
        let local = sock.local_addr().unwrap().to_string();
        let mut mine = Vec::new();
        for n in 0..messages {
            let msg = vec![i.wrapping_mul(64).wrapping_add(n); 16 * 1024];
            assert_eq!(super::round_trip(&mut sock, &msg).await, msg);
            mine.extend_from_slice(&msg);
        }
        open.push((sock, local, mine));
    }
    open
}

/// Waits until the segments in `dir` hold `sent` bytes each way: an idle
/// lane hands its frames to the OS within 100 ms.
pub async fn wait_segments_hold(dir: &Path, sent: u64) {
    super::eventually(
        Duration::from_secs(20),
        "every byte in readable segments",
        || {
            let dir = dir.to_path_buf();
            async move {
                reel::format::survey_dir(&dir)
                    .is_ok_and(|s| s.summary.bytes_c2s == sent && s.summary.bytes_s2c == sent)
            }
        },
    )
    .await;
}
