//! Idle connections: opens N, checks each end to end with a 1-byte echo,
//! prints `READY ok= fail= secs=`, then holds them for SECS (or until killed).
//! Gives up opening after 60 s or 10 failures in a row.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

const OPEN_BUDGET: Duration = Duration::from_secs(60);

pub fn run(addr: SocketAddr, n: usize, secs: f64) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let mut held = Vec::with_capacity(n);
    let (mut fail, mut run) = (0, 0);
    while held.len() + fail < n && run < 10 && t0.elapsed() < OPEN_BUDGET {
        match open(addr) {
            Ok(s) => {
                held.push(s);
                run = 0;
            }
            Err(_) => {
                fail += 1;
                run += 1;
            }
        }
    }
    println!(
        "READY ok={} fail={fail} secs={:.3}",
        held.len(),
        t0.elapsed().as_secs_f64()
    );
    std::io::stdout().flush()?;
    std::thread::sleep(Duration::from_secs_f64(secs));
    Ok(())
}

fn open(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(3))?;
    s.set_read_timeout(Some(Duration::from_secs(3)))?;
    s.write_all(b"x")?;
    let mut b = [0u8; 1];
    s.read_exact(&mut b)?;
    if b[0] != b'x' {
        return Err(std::io::Error::other("wrong echo"));
    }
    Ok(s)
}
