//! Round-trip latency of one connection: send MSG bytes, wait for them to
//! come back, repeat for SECS after 0.3 s of unrecorded warm-up.
//! Prints `n= p50= p99= max=` in microseconds.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::percentile;

const WARM_UP: Duration = Duration::from_millis(300);

pub fn run(addr: SocketAddr, secs: f64, msg: usize) -> anyhow::Result<()> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(3)).context("connect")?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(Duration::from_secs(3)))?;
    let out = vec![b'q'; msg];
    let mut back = vec![0u8; msg];
    let mut round = |s: &mut TcpStream| -> anyhow::Result<()> {
        s.write_all(&out)?;
        s.read_exact(&mut back).context("echo")?;
        Ok(())
    };
    let warm_end = Instant::now() + WARM_UP;
    while Instant::now() < warm_end {
        round(&mut s)?;
    }
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let mut samples = Vec::with_capacity(200_000);
    let mut t0 = Instant::now();
    while t0 < end {
        round(&mut s)?;
        let t1 = Instant::now();
        samples.push((t1 - t0).as_secs_f64() * 1e6);
        t0 = t1;
    }
    let n = samples.len();
    let p50 = percentile::at(&mut samples, 0.50);
    let p99 = percentile::at(&mut samples, 0.99);
    let max = percentile::at(&mut samples, 1.0);
    println!("n={n} p50={p50:.1} p99={p99:.1} max={max:.1}");
    Ok(())
}
