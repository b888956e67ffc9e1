//! Many paced connections, for the replay (f) and delay (g) figures: CONNS
//! connections each send RATE messages of SIZE bytes a second for SECS, on
//! evenly spread phases, and read the echoes. With `udp`, each connection
//! is a UDP socket connected to ADDR (a session at a UDP proxy) and each
//! message one datagram (bench/udp.sh's replay figure). Each message carries its send
//! instant, so the round trip of every message is known at the client.
//! Prints `conns= sent= received= rtt_p50= rtt_p99= rtt_max=` (µs) and the
//! generator's own send lateness (`send_late_p99=`, µs).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::task::JoinSet;

use crate::percentile;

/// What to generate.
pub struct Options {
    pub addr: SocketAddr,
    pub conns: usize,
    pub rate: f64,
    pub secs: f64,
    pub size: usize,
    /// Datagrams over UDP sockets instead of TCP connections.
    pub udp: bool,
}

/// One generator connection.
enum Link {
    Tcp(TcpStream),
    Udp(UdpSocket),
}

async fn open(addr: SocketAddr, udp: bool) -> std::io::Result<Link> {
    if udp {
        let s = UdpSocket::bind("127.0.0.1:0").await?;
        s.connect(addr).await?;
        Ok(Link::Udp(s))
    } else {
        let s = TcpStream::connect(addr).await?;
        let _ = s.set_nodelay(true);
        Ok(Link::Tcp(s))
    }
}

/// Connects opened at once while setting up.
const CONNECT_PARALLEL: usize = 64;
/// After the last send, how long echoes are still waited for.
const DRAIN: Duration = Duration::from_secs(5);

#[derive(Default)]
struct ConnResult {
    sent: u64,
    rtt_us: Vec<f64>,
    late_us: Vec<f64>,
}

pub fn run(o: Options) -> anyhow::Result<()> {
    if o.size < 8 || o.rate <= 0.0 || o.conns == 0 {
        bail!("SIZE must be at least 8 bytes, RATE and CONNS positive");
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(generate(o))
}

async fn generate(o: Options) -> anyhow::Result<()> {
    let mut streams = Vec::with_capacity(o.conns);
    let mut connecting = JoinSet::new();
    for i in 0..o.conns {
        if connecting.len() >= CONNECT_PARALLEL
            && let Some(r) = connecting.join_next().await
        {
            streams.push(r?);
        }
        let (addr, udp) = (o.addr, o.udp);
        connecting.spawn(async move { (i, open(addr, udp).await) });
    }
    while let Some(r) = connecting.join_next().await {
        streams.push(r?);
    }
    let epoch = Instant::now();
    let start = epoch + Duration::from_millis(200);
    let period = Duration::from_secs_f64(1.0 / o.rate);
    let count = (o.rate * o.secs).round() as u64;
    let mut tasks = JoinSet::new();
    let mut failed = 0;
    for (i, s) in streams {
        let Ok(s) = s else {
            failed += 1;
            continue;
        };
        let phase = start + period.mul_f64(i as f64 / o.conns as f64);
        tasks.spawn(conn(s, epoch, phase, period, count, o.size));
    }
    let mut all = ConnResult::default();
    let mut conns = 0;
    while let Some(r) = tasks.join_next().await {
        let r = r.context("connection task")?;
        conns += 1;
        all.sent += r.sent;
        all.rtt_us.extend(r.rtt_us);
        all.late_us.extend(r.late_us);
    }
    let received = all.rtt_us.len();
    let rtt = &mut all.rtt_us;
    println!(
        "conns={conns} failed={failed} sent={} received={received} rtt_p50={:.0} rtt_p99={:.0} rtt_max={:.0} send_late_p50={:.0} send_late_p99={:.0}",
        all.sent,
        percentile::at(rtt, 0.50),
        percentile::at(rtt, 0.99),
        percentile::at(rtt, 1.0),
        percentile::at(&mut all.late_us, 0.50),
        percentile::at(&mut all.late_us, 0.99),
    );
    Ok(())
}

/// One connection: a paced writer and a reader timing each echoed message.
async fn conn(
    s: Link,
    epoch: Instant,
    phase: Instant,
    period: Duration,
    count: u64,
    size: usize,
) -> ConnResult {
    let (mut r, mut w) = match s {
        Link::Tcp(s) => {
            let (r, w) = s.into_split();
            (Reader::Tcp(r), Writer::Tcp(w))
        }
        Link::Udp(s) => {
            let s = std::sync::Arc::new(s);
            (Reader::Udp(s.clone()), Writer::Udp(s))
        }
    };
    let reader = async move {
        let mut rtt = Vec::with_capacity(count as usize);
        let mut buf = vec![0u8; size.max(65_535)];
        let deadline = phase + period * count as u32 + DRAIN;
        while (rtt.len() as u64) < count {
            let read = tokio::time::timeout_at(deadline.into(), r.read(&mut buf, size));
            let Ok(Ok(())) = read.await else { break };
            let mut ts = [0u8; 8];
            ts.copy_from_slice(&buf[..8]);
            let sent = epoch + Duration::from_nanos(u64::from_le_bytes(ts));
            rtt.push(sent.elapsed().as_secs_f64() * 1e6);
        }
        rtt
    };
    let writer = async move {
        let mut msg = vec![b'g'; size];
        let mut late = Vec::with_capacity(count as usize);
        let mut sent = 0;
        for k in 0..count {
            let due = phase + period * k as u32;
            tokio::time::sleep_until(due.into()).await;
            let now = Instant::now();
            late.push((now - due).as_secs_f64() * 1e6);
            let ts = (now - epoch).as_nanos() as u64;
            msg[..8].copy_from_slice(&ts.to_le_bytes());
            if w.write(&msg).await.is_err() {
                break;
            }
            sent += 1;
        }
        (sent, late, w)
    };
    let (rtt_us, (sent, late_us, _w)) = tokio::join!(reader, writer);
    ConnResult {
        sent,
        rtt_us,
        late_us,
    }
}

/// The reading side of a connection: a TCP half, or the UDP socket.
enum Reader {
    Tcp(tokio::net::tcp::OwnedReadHalf),
    Udp(std::sync::Arc<UdpSocket>),
}

impl Reader {
    /// Reads one message of `size` bytes (one datagram on UDP) into `buf`.
    async fn read(&mut self, buf: &mut [u8], size: usize) -> std::io::Result<()> {
        match self {
            Reader::Tcp(r) => r.read_exact(&mut buf[..size]).await.map(|_| ()),
            Reader::Udp(s) => s.recv(buf).await.map(|_| ()),
        }
    }
}

/// The writing side: a TCP half, or the UDP socket.
enum Writer {
    Tcp(tokio::net::tcp::OwnedWriteHalf),
    Udp(std::sync::Arc<UdpSocket>),
}

impl Writer {
    /// Sends one message (one datagram on UDP).
    async fn write(&mut self, msg: &[u8]) -> std::io::Result<()> {
        match self {
            Writer::Tcp(w) => w.write_all(msg).await,
            Writer::Udp(s) => s.send(msg).await.map(|_| ()),
        }
    }
}
