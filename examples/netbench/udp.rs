//! The UDP figures of `bench/udp.sh`: an echo server and a counting sink
//! (the upstreams), a one-way flood and a request/response round trip (the
//! clients). Plain blocking sockets, one thread each, so what they cost is
//! the same whichever proxy sits between them.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::percentile;

/// Largest datagram read.
const MAX: usize = 65_535;

/// After its first datagram, the sink stops once nothing came for this long.
const SINK_IDLE: Duration = Duration::from_secs(1);

/// A round trip not answered within this is counted lost.
const RTT_TIMEOUT: Duration = Duration::from_millis(200);

const WARM_UP: Duration = Duration::from_millis(300);

/// `udpecho PORT`: sends every datagram back to where it came from.
pub fn echo(port: u16) -> anyhow::Result<()> {
    let s = UdpSocket::bind(("127.0.0.1", port)).context("bind")?;
    let mut buf = vec![0u8; MAX];
    loop {
        let (n, from) = s.recv_from(&mut buf)?;
        let _ = s.send_to(&buf[..n], from);
    }
}

/// `udpsink PORT MAXSECS`: counts datagrams from the first one until
/// `SINK_IDLE` without any (or MAXSECS), then prints
/// `recv= bytes= secs= rate=` (datagrams per second over first to last).
pub fn sink(port: u16, max_secs: f64) -> anyhow::Result<()> {
    let s = UdpSocket::bind(("127.0.0.1", port)).context("bind")?;
    let deadline = Instant::now() + Duration::from_secs_f64(max_secs);
    let mut buf = vec![0u8; MAX];
    let (mut n, mut bytes) = (0u64, 0u64);
    let (mut first, mut last) = (None, Instant::now());
    s.set_read_timeout(Some(Duration::from_millis(100)))?;
    while Instant::now() < deadline {
        match s.recv(&mut buf) {
            Ok(len) => {
                last = Instant::now();
                first.get_or_insert(last);
                n += 1;
                bytes += len as u64;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if first.is_some() && last.elapsed() >= SINK_IDLE {
                    break;
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    let secs = first.map_or(0.0, |f| (last - f).as_secs_f64());
    let rate = if secs > 0.0 { n as f64 / secs } else { 0.0 };
    println!("recv={n} bytes={bytes} secs={secs:.3} rate={rate:.0}");
    Ok(())
}

/// `udpflood ADDR SOCKETS SECS [SIZE]`: one thread sends SIZE-byte
/// datagrams as fast as it can for SECS, round-robin over SOCKETS client
/// sockets (so a proxy sees that many sessions); prints `sent= rate=`.
pub fn flood(addr: SocketAddr, sockets: usize, secs: f64, size: usize) -> anyhow::Result<()> {
    let socks: Vec<UdpSocket> = (0..sockets.max(1))
        .map(|_| {
            let s = UdpSocket::bind("127.0.0.1:0")?;
            s.connect(addr)?;
            Ok(s)
        })
        .collect::<std::io::Result<_>>()
        .context("client sockets")?;
    let payload = vec![b'u'; size.max(1)];
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(secs);
    let mut sent = 0u64;
    for round in 0u64.. {
        for s in &socks {
            // A full socket buffer or an ICMP error from a previous send:
            // not sent, the loop goes on.
            if s.send(&payload).is_ok() {
                sent += 1;
            }
        }
        if round.is_multiple_of(64) && Instant::now() >= end {
            break;
        }
    }
    let took = start.elapsed().as_secs_f64();
    println!("sent={sent} rate={:.0}", sent as f64 / took);
    Ok(())
}

/// `udprtt ADDR SECS [SIZE]`: one socket, one datagram at a time, each
/// waiting for its echo (lost after `RTT_TIMEOUT`), for SECS after a
/// warm-up; prints `n= lost= p50= p99= max=` in microseconds.
pub fn rtt(addr: SocketAddr, secs: f64, size: usize) -> anyhow::Result<()> {
    let s = UdpSocket::bind("127.0.0.1:0")?;
    s.connect(addr)?;
    s.set_read_timeout(Some(RTT_TIMEOUT))?;
    let mut out = vec![b'r'; size.max(8)];
    let mut back = vec![0u8; MAX];
    let mut seq = 0u64;
    // Sends one numbered datagram and waits for its own echo; late echoes of
    // earlier ones are skipped.
    let mut round = |s: &UdpSocket| -> Option<Duration> {
        seq += 1;
        out[..8].copy_from_slice(&seq.to_be_bytes());
        let t0 = Instant::now();
        s.send(&out).ok()?;
        loop {
            let n = s.recv(&mut back).ok()?;
            if n >= 8 && back[..8] == seq.to_be_bytes() {
                return Some(t0.elapsed());
            }
            if t0.elapsed() >= RTT_TIMEOUT {
                return None;
            }
        }
    };
    let warm_end = Instant::now() + WARM_UP;
    while Instant::now() < warm_end {
        round(&s);
    }
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let mut samples = Vec::with_capacity(200_000);
    let mut lost = 0u64;
    while Instant::now() < end {
        match round(&s) {
            Some(d) => samples.push(d.as_secs_f64() * 1e6),
            None => lost += 1,
        }
    }
    let n = samples.len();
    let p50 = percentile::at(&mut samples, 0.50);
    let p99 = percentile::at(&mut samples, 0.99);
    let max = percentile::at(&mut samples, 1.0);
    println!("n={n} lost={lost} p50={p50:.1} p99={p99:.1} max={max:.1}");
    Ok(())
}
