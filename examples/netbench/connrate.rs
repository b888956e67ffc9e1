//! Short-connection rate: WORKERS threads each loop connect, send MSG bytes,
//! read them back, close, for SECS. Prints `ok= err= rate=`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

pub fn run(addr: SocketAddr, secs: f64, workers: usize, msg: usize) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs_f64(secs);
    let handles: Vec<_> = (0..workers.max(1))
        .map(|_| {
            std::thread::spawn(move || {
                let (mut ok, mut err) = (0u64, 0u64);
                let out = vec![b'p'; msg];
                let mut back = vec![0u8; msg];
                while Instant::now() < deadline {
                    if cycle(addr, &out, &mut back).is_ok() {
                        ok += 1;
                    } else {
                        err += 1;
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
                (ok, err)
            })
        })
        .collect();
    let (mut ok, mut err) = (0, 0);
    for h in handles {
        let (o, e) = h.join().unwrap_or((0, 1));
        ok += o;
        err += e;
    }
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "ok={ok} err={err} secs={secs:.3} rate={:.0}",
        ok as f64 / secs
    );
    Ok(())
}

fn cycle(addr: SocketAddr, out: &[u8], back: &mut [u8]) -> std::io::Result<()> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    s.write_all(out)?;
    s.read_exact(back)
}
