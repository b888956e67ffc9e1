//! `reel-agent delay`: the seed's TcpDelay on the command line, one proxy
//! in the foreground that delays every transfer each way (no control
//! service).

use std::io::Write;
use std::net::IpAddr;
use std::time::Duration;

use anyhow::Context;
use clap::CommandFactory;
use reel::faults::Latency;
use tokio_util::sync::CancellationToken;

use super::{Args, shutdown_signal};

/// `reel-agent delay -L 15631 -H 127.0.0.1 -P 15630 -D 0.5 -D 0.8 [--udp]`
///
/// Once listening, it prints `reel-agent delay listening on ADDR` on stdout,
/// then logs every connection and transfer on stderr. Ctrl-C or SIGTERM
/// stops it (exit status 0).
#[derive(Debug, clap::Args)]
pub(crate) struct DelayArgs {
    /// Port to listen on (0 picks a free port)
    #[arg(short = 'L', long = "listen-port", value_name = "PORT")]
    listen_port: u16,
    /// Address to listen on
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Server host to relay to
    #[arg(short = 'H', long = "host", value_name = "HOST")]
    host: String,
    /// Server port to relay to
    #[arg(short = 'P', long = "port", value_name = "PORT")]
    port: u16,
    /// Delay in seconds (0.5) or with a unit (500ms). Once: fixed; twice:
    /// uniform between the two values
    #[arg(
        short = 'D',
        long = "delay",
        value_name = "SECONDS",
        required = true,
        value_parser = reel::faults::parse::duration
    )]
    delays: Vec<Duration>,
    /// Seed for reproducible delays (default: random)
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Relay UDP datagrams instead of TCP: a session per client address
    /// (closed after 60 s without a datagram), each datagram held for its
    /// own delay, so with a range they may overtake each other
    #[arg(long)]
    udp: bool,
}

/// `reel-agent delay`: one delaying proxy in the foreground until a signal.
pub(crate) async fn run_delay(args: DelayArgs) -> anyhow::Result<()> {
    let latency = match args.delays[..] {
        [d] => Latency::Fixed(d),
        [a, b] => Latency::Uniform(a.min(b), a.max(b)),
        _ => {
            let mut cmd = Args::command();
            cmd.build();
            let mut sub = cmd.find_subcommand("delay").cloned().unwrap_or(cmd);
            sub.error(
                clap::error::ErrorKind::TooManyValues,
                "-D/--delay is given once (fixed) or twice (uniform range)",
            )
            .exit()
        }
    };
    let host = if args.host.contains(':') && !args.host.starts_with('[') {
        format!("[{}]", args.host)
    } else {
        args.host
    };
    let options = reel::delay::DelayOptions {
        listen: std::net::SocketAddr::new(args.bind, args.listen_port).to_string(),
        upstream: format!("{host}:{}", args.port),
        latency,
        seed: args.seed,
    };
    let cancel = CancellationToken::new();
    // The engine's message already says why (its source included).
    let engine = |e: reel::error::Error| anyhow::anyhow!("{e}");
    if args.udp {
        let proxy = reel::delay::start_udp(&options).await.map_err(engine)?;
        serve(proxy.listen(), cancel.clone(), proxy.run(cancel)).await
    } else {
        let proxy = reel::delay::start(&options, cancel.clone())
            .await
            .map_err(engine)?;
        serve(proxy.listen(), cancel.clone(), proxy.run(cancel)).await
    }
}

/// Says the proxy listens, runs it until a signal, then stops it.
async fn serve(
    listen: std::net::SocketAddr,
    cancel: CancellationToken,
    run: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    ready(listen);
    let running = tokio::spawn(run);
    let signal = shutdown_signal().await;
    cancel.cancel();
    running.await.context("delay proxy task failed")?;
    signal
}

/// The line scripts and tests wait for before they send traffic.
fn ready(listen: std::net::SocketAddr) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "reel-agent delay listening on {listen}");
    let _ = out.flush();
}
