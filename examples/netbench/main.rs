//! `netbench`: the load generators and the echo server of `bench/run.sh`.
//! All on 127.0.0.1, every loop bounded in time. One subcommand per figure:
//!
//! ```text
//! netbench echo PORT                               epoll-style echo server (one thread)
//! netbench pingpong ADDR SECS [MSG]                 one connection, MSG-byte round trips
//! netbench connrate ADDR SECS WORKERS [MSG]         connect, send MSG, read echo, close
//! netbench hold ADDR N SECS                         open N echo-checked connections, hold them
//! netbench traffic ADDR CONNS RATE SECS [SIZE]      CONNS connections x RATE messages/s
//! netbench watchers AGENT N SECS                    N Watch streams of transfers, never read
//! netbench udpecho PORT                             UDP echo server (one thread)
//! netbench udpsink PORT MAXSECS                     counts datagrams until 1 s without any
//! netbench udpflood ADDR SOCKETS SECS [SIZE]        one thread, SOCKETS sockets, as fast as it can
//! netbench udprtt ADDR SECS [SIZE]                  one socket, SIZE-byte datagram round trips
//! netbench udptraffic ADDR SESSIONS RATE SECS [SIZE] as traffic, one UDP socket per session
//! ```
//!
//! Each prints one line of `key=value` pairs on stdout for the script to read
//! (`hold` and `watchers` print `READY ...` once their connections or
//! streams are open, then wait).

mod connrate;
mod echo;
mod hold;
mod percentile;
mod pingpong;
mod traffic;
mod udp;
mod watchers;

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::{Context, bail};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("netbench: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> anyhow::Result<()> {
    let arg = |i: usize, what: &str| -> anyhow::Result<&str> {
        args.get(i)
            .map(String::as_str)
            .with_context(|| format!("missing {what} (see the usage in examples/netbench/main.rs)"))
    };
    let num = |i: usize, what: &str, default: Option<f64>| -> anyhow::Result<f64> {
        match (args.get(i), default) {
            (Some(s), _) => s
                .parse()
                .with_context(|| format!("{what}: not a number: {s}")),
            (None, Some(d)) => Ok(d),
            (None, None) => bail!("missing {what}"),
        }
    };
    let addr = |i: usize| -> anyhow::Result<SocketAddr> {
        let s = arg(i, "ADDR")?;
        s.parse()
            .with_context(|| format!("ADDR: not host:port: {s}"))
    };
    match arg(0, "a subcommand")? {
        "echo" => echo::run(num(1, "PORT", None)? as u16),
        "pingpong" => pingpong::run(
            addr(1)?,
            num(2, "SECS", None)?,
            num(3, "MSG", Some(64.0))? as usize,
        ),
        "connrate" => connrate::run(
            addr(1)?,
            num(2, "SECS", None)?,
            num(3, "WORKERS", None)? as usize,
            num(4, "MSG", Some(64.0))? as usize,
        ),
        "hold" => hold::run(addr(1)?, num(2, "N", None)? as usize, num(3, "SECS", None)?),
        "traffic" => traffic::run(traffic::Options {
            addr: addr(1)?,
            conns: num(2, "CONNS", None)? as usize,
            rate: num(3, "RATE", None)?,
            secs: num(4, "SECS", None)?,
            size: num(5, "SIZE", Some(64.0))? as usize,
            udp: false,
        }),
        "udptraffic" => traffic::run(traffic::Options {
            addr: addr(1)?,
            conns: num(2, "SESSIONS", None)? as usize,
            rate: num(3, "RATE", None)?,
            secs: num(4, "SECS", None)?,
            size: num(5, "SIZE", Some(64.0))? as usize,
            udp: true,
        }),
        "watchers" => watchers::run(addr(1)?, num(2, "N", None)? as usize, num(3, "SECS", None)?),
        "udpecho" => udp::echo(num(1, "PORT", None)? as u16),
        "udpsink" => udp::sink(num(1, "PORT", None)? as u16, num(2, "MAXSECS", None)?),
        "udpflood" => udp::flood(
            addr(1)?,
            num(2, "SOCKETS", None)? as usize,
            num(3, "SECS", None)?,
            num(4, "SIZE", Some(64.0))? as usize,
        ),
        "udprtt" => udp::rtt(
            addr(1)?,
            num(2, "SECS", None)?,
            num(3, "SIZE", Some(64.0))? as usize,
        ),
        other => bail!("unknown subcommand {other:?}"),
    }
}
