//! `reel-agent`: runs on a game host and serves the reel control plane.
//! Thin wiring only: parse arguments, set up logging, bind, run the engine
//! until SIGINT/SIGTERM, then shut it down cleanly.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

use reel::config::{AgentConfig, DEFAULT_DATA_DIR, DEFAULT_LISTEN};

/// reel agent: TCP proxies, a byte-exact recorder and a gRPC control service.
///
/// Once serving, it prints one line on stdout, `reel-agent listening on ADDR`,
/// with the bound control address (useful with port 0). Logs go to stderr;
/// set RUST_LOG (e.g. RUST_LOG=debug) for more.
#[derive(Debug, Parser)]
#[command(name = "reel-agent", version)]
struct Args {
    /// Control service address (gRPC). Keep it on loopback unless the host is
    /// protected otherwise: whoever reaches it can record traffic.
    #[arg(long, default_value = DEFAULT_LISTEN, value_name = "ADDR")]
    listen: String,
    /// Where recordings are kept (created, owner-only, if missing).
    #[arg(long, default_value = DEFAULT_DATA_DIR, value_name = "DIR")]
    data_dir: PathBuf,
    /// Agent name shown in listings [default: the host name].
    #[arg(long)]
    name: Option<String>,
    /// Log as JSON lines instead of text.
    #[arg(long)]
    log_json: bool,
}

fn init_tracing(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn shutdown_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("waiting for SIGINT")?,
        _ = term.recv() => {}
    }
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    init_tracing(args.log_json);
    match run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let name = match args.name {
        Some(n) => n,
        None => gethostname::gethostname().to_string_lossy().into_owned(),
    };
    let cancel = CancellationToken::new();
    let config = AgentConfig {
        name,
        data_dir: args.data_dir,
    };
    let agent = reel::Agent::open(config, cancel.clone())?;
    let listener = TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {} for the control service", args.listen))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    tracing::info!(%addr, "control service listening");
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "reel-agent listening on {addr}");
        let _ = out.flush();
    }

    let server_stop = CancellationToken::new();
    let mut server = tokio::spawn(reel::service::serve(
        agent.clone(),
        listener,
        server_stop.clone(),
    ));
    let early_end = tokio::select! {
        r = shutdown_signal() => { r?; None }
        r = &mut server => Some(r),
    };
    tracing::info!("shutting down");
    server_stop.cancel();
    agent.shutdown().await;
    cancel.cancel();
    let ended = match early_end {
        Some(r) => r,
        None => server.await,
    };
    match ended {
        Ok(r) => r.context("control service failed")?,
        Err(e) => anyhow::bail!("control service task failed: {e}"),
    }
    Ok(())
}
