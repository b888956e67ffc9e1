//! `reel-agent`: runs on a game host and serves the reel control plane.
//! Thin wiring only: parse arguments (and the config file), set up logging,
//! bind, run the engine until SIGINT/SIGTERM, then shut it down cleanly.
//! `reel-agent delay` runs the standalone delay mode instead.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;

/// jemalloc with background purging: a long-running agent gives memory back
/// after a burst (thousands of connections, faults holding chunks), where
/// glibc's malloc kept the burst's pages resident (docs/RELIABILITY.md).
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use clap::{CommandFactory, Parser};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

#[path = "main/delay.rs"]
mod delay;
#[path = "main/record_args.rs"]
mod record_args;
use delay::{DelayArgs, run_delay};
use record_args::RecordArgs;

use reel::config::{AgentConfig, ConfigFile, DEFAULT_DATA_DIR, DEFAULT_LISTEN};

/// reel agent: TCP proxies, a byte-exact recorder and a gRPC control service.
///
/// Once serving, it prints `reel-agent listening on ADDR` on stdout, with the
/// bound control address (useful with port 0), and after it, with
/// --metrics-listen, `reel-agent metrics on ADDR`. Logs go to stderr;
/// set RUST_LOG (e.g. RUST_LOG=debug) for more.
#[derive(Debug, Parser)]
#[command(name = "reel-agent", version)]
struct Args {
    #[command(subcommand)]
    mode: Option<Mode>,
    /// TOML config file: listen, metrics_listen, data_dir, name, store (the flags
    /// override them) and [[proxy]] tables started at boot, with their faults.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Control service address (gRPC) [default: 127.0.0.1:7700]. Keep it on
    /// loopback unless the host is protected otherwise: whoever reaches it
    /// can record traffic.
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Serve Prometheus metrics at http://ADDR/metrics (off by default).
    /// Same rules as --listen: a non-loopback address needs --token-file
    /// (then scrapes send `Authorization: Bearer <token>`) or --insecure.
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<String>,
    /// Where recordings are kept (created, owner-only, if missing)
    /// [default: reel-data].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Agent name shown in listings [default: the host name].
    #[arg(long)]
    name: Option<String>,
    /// Keep recordings in an object store as well: s3://BUCKET[/PREFIX]
    /// (credentials, region and endpoint from the AWS_* variables:
    /// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION,
    /// AWS_ENDPOINT_URL, AWS_ALLOW_HTTP=true for a plain-HTTP server),
    /// gs://BUCKET[/PREFIX], az://CONTAINER[/PREFIX] or file:///DIR. The
    /// data directory stays the staging area: sealed segments are uploaded
    /// while a recording runs, its index last, and the local copy is
    /// removed once the recording is complete in the store. Every agent on
    /// the same store lists, replays and pulls the fleet's recordings.
    #[arg(long, value_name = "URL")]
    store: Option<String>,
    /// Log as JSON lines instead of text.
    #[arg(long, global = true)]
    log_json: bool,
    /// Start without the proxies saved in the data directory by the previous
    /// run (proxies.json; it is rewritten at the next proxy change).
    #[arg(long)]
    no_restore_proxies: bool,
    /// Copy every relayed byte through the agent instead of moving it
    /// socket to socket with splice(2) while no recording or shaping fault
    /// needs it (Linux; for comparing both paths). REEL_NO_SPLICE=1 too.
    #[arg(long, env = "REEL_NO_SPLICE", value_parser = clap::builder::BoolishValueParser::new())]
    no_splice: bool,
    #[command(flatten)]
    safety: SafetyArgs,
    #[command(flatten)]
    recording: RecordArgs,
}

/// Who may use the control plane, and how much the agent may take.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Security and limits")]
struct SafetyArgs {
    /// Require `authorization: Bearer <token>` on every call and metrics
    /// scrape (first line of FILE); health checks stay open.
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Serve TLS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Private key of --tls-cert (PEM).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Require client certificates signed by this CA (PEM).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_client_ca: Option<PathBuf>,
    /// Allow a non-loopback control or metrics address without a token.
    #[arg(long)]
    insecure: bool,
    /// Most bytes all recordings may take (e.g. 50GB); a recording that
    /// would cross it ends with a marker while proxies keep forwarding.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_disk: Option<u64>,
    /// Least free space to leave on the data directory's filesystem (e.g. 1GiB).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    min_free: Option<u64>,
    /// Concurrent clients per proxy unless a proxy sets its own, counted from
    /// accept (waiting for the upstream included); more are closed at once
    /// and counted.
    #[arg(long, value_name = "N", default_value_t = reel::proxy::DEFAULT_MAX_CONNECTIONS)]
    max_connections: u64,
    /// File descriptors kept for the control plane and recording files:
    /// proxy clients (2 descriptors each) and replayed connections (1 each)
    /// may hold the open-file limit (its soft value, raised to the hard one
    /// at start) less this; more are refused at once and counted.
    #[arg(long, value_name = "N", default_value_t = reel::fds::DEFAULT_FD_RESERVE)]
    fd_reserve: u64,
    /// Watch streams (`reelctl watch`, any Watch client) served at once;
    /// one more is refused with RESOURCE_EXHAUSTED naming this limit. Each
    /// stream has its own bounded queue, and one that does not read loses
    /// events (told as `lagged`) instead of slowing the proxies.
    #[arg(long, value_name = "N", default_value_t = reel::events::DEFAULT_MAX_WATCHERS)]
    max_watchers: usize,
}

/// One request to the store at start: refused credentials or a missing
/// bucket stop the agent (naming `--store`); a store that does not answer
/// only warns, since uploads wait for it.
async fn check_store(store: &reel::store::Store) -> anyhow::Result<()> {
    use object_store::Error as E;
    use reel::store::StoreError;
    match store.probe().await {
        Ok(()) => {
            tracing::info!(store = %store.url(), "object store reachable");
            Ok(())
        }
        Err(StoreError::Store { source, .. })
            if matches!(
                source,
                E::Unauthenticated { .. } | E::PermissionDenied { .. } | E::NotFound { .. }
            ) =>
        {
            anyhow::bail!(
                "--store {}: {source} (check the bucket and the credentials in the AWS_*, GOOGLE_* or AZURE_* variables)",
                store.url()
            )
        }
        Err(e) => {
            tracing::warn!(store = %store.url(), error = %e, "object store not reachable now; uploads wait for it");
            Ok(())
        }
    }
}

fn parse_size(s: &str) -> Result<u64, reel::faults::parse::ValueError> {
    reel::faults::parse::size(s)
}

fn read_pem(what: &str, path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {what} {}", path.display()))
}

impl SafetyArgs {
    fn serve_options(&self) -> anyhow::Result<reel::service::ServeOptions> {
        let token = match &self.token_file {
            Some(p) => Some(reel::token::read_token_file(p)?),
            None => None,
        };
        let tls = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(reel::service::TlsFiles {
                cert_pem: read_pem("TLS certificate", cert)?,
                key_pem: read_pem("TLS key", key)?,
                client_ca_pem: match &self.tls_client_ca {
                    Some(ca) => Some(read_pem("client CA", ca)?),
                    None => None,
                },
            }),
            _ => None,
        };
        Ok(reel::service::ServeOptions { token, tls })
    }
}

#[derive(Debug, clap::Subcommand)]
enum Mode {
    /// Run one proxy in the foreground that delays every transfer, each way,
    /// uniformly between two delays (TcpDelay compatible; no control service;
    /// --udp for datagrams)
    Delay(DelayArgs),
}

fn init_tracing(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colour codes only for a terminal: a log file gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
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
    let result = match args.mode {
        Some(Mode::Delay(delay)) => {
            let agent_only = args.config.is_some()
                || args.listen.is_some()
                || args.metrics_listen.is_some()
                || args.data_dir.is_some()
                || args.name.is_some()
                || args.store.is_some()
                || args.no_restore_proxies;
            if agent_only {
                Args::command()
                    .error(
                        clap::error::ErrorKind::ArgumentConflict,
                        "--config, --listen, --metrics-listen, --data-dir, --name, --store and --no-restore-proxies are not used by `delay`",
                    )
                    .exit();
            }
            run_delay(delay).await
        }
        None => run(args).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", reel::error::with_causes(e.as_ref()));
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    // A bad config file stops everything before anything binds.
    let file = match &args.config {
        Some(path) => ConfigFile::load(path)?,
        None => ConfigFile::default(),
    };
    let name = match args.name.or(file.name) {
        Some(n) => n,
        None => gethostname::gethostname().to_string_lossy().into_owned(),
    };
    let listen = args
        .listen
        .or(file.listen)
        .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
    let cancel = CancellationToken::new();
    reel::proxy::set_splice(!args.no_splice);
    let config = AgentConfig {
        name,
        data_dir: args
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| DEFAULT_DATA_DIR.into()),
        max_watchers: args.safety.max_watchers,
    };
    if args.safety.max_connections == 0 {
        anyhow::bail!("--max-connections must be at least 1");
    }
    // Before anything opens a descriptor that counts.
    let fd_budget = reel::fds::prepare(args.safety.fd_reserve, args.safety.max_connections)?;
    if args.safety.max_watchers == 0 {
        anyhow::bail!("--max-watchers must be at least 1");
    }
    let serve_options = args.safety.serve_options()?;
    // A bad URL stops the agent before anything binds.
    let store = match args.store.or(file.store) {
        Some(url) => Some(reel::store::Store::open(&url)?),
        None => None,
    };
    let has_token = serve_options.token.is_some();
    let insecure = args.safety.insecure;
    // Refuse before binding when the address is plain, after when it needed
    // resolving: either way nothing is served.
    if let Ok(addr) = listen.parse::<std::net::SocketAddr>() {
        reel::service::auth::check_exposure(addr, has_token, insecure)?;
    }
    let listener = TcpListener::bind(&listen)
        .await
        .with_context(|| format!("cannot listen on {listen} for the control service"))?;
    let bound = listener.local_addr().context("reading the bound address")?;
    reel::service::auth::check_exposure(bound, has_token, insecure)?;
    let metrics_listener = match args.metrics_listen.or(file.metrics_listen) {
        Some(addr) => Some(reel::metrics::bind(&addr, has_token, insecure).await?),
        None => None,
    };
    let metrics_addr = metrics_listener.as_ref().and_then(|l| l.local_addr().ok());
    // Only now, once the control plane may open, touch the data directory.
    let agent = reel::Agent::open(config, cancel.clone())?;
    // Before any proxy starts: none may forward to the control port.
    agent
        .proxies
        .add_own_address(bound, reel::service::CONTROL_PORT);
    agent.set_disk_limits(reel::record::DiskLimits {
        max_disk: args.safety.max_disk,
        min_free: args.safety.min_free,
    });
    agent.recordings.set_segment_policy(args.recording.policy());
    agent
        .proxies
        .set_default_max_connections(args.safety.max_connections);
    agent.set_fd_budget(fd_budget);
    if let Some(store) = store {
        check_store(&store).await?;
        agent.attach_store(store, cancel.clone());
    }

    for spec in file.proxies {
        let name = spec.name.clone().unwrap_or_default();
        if let Err(e) = agent.proxies.start(spec).await {
            agent.shutdown().await;
            // The engine's message already says why (its source included).
            anyhow::bail!("cannot start proxy {name:?} of the config file: {e}");
        }
    }
    // After the config file's: a saved proxy they now cover is skipped.
    agent.restore_proxies(!args.no_restore_proxies).await;
    let addr = listener.local_addr().context("reading the bound address")?;
    tracing::info!(%addr, "control service listening");
    if let Some(m) = metrics_addr {
        tracing::info!(addr = %m, "metrics endpoint listening");
    }
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "reel-agent listening on {addr}");
        // After the ready line, which scripts and tests read first.
        if let Some(m) = metrics_addr {
            let _ = writeln!(out, "reel-agent metrics on {m}");
        }
        let _ = out.flush();
    }

    let server_stop = CancellationToken::new();
    let metrics = metrics_listener.map(|listener| {
        tokio::spawn(reel::metrics::serve(
            listener,
            reel::metrics::registry(agent.clone()),
            serve_options.token.clone(),
            server_stop.clone(),
        ))
    });
    let mut server = tokio::spawn(reel::service::serve(
        agent.clone(),
        listener,
        server_stop.clone(),
        serve_options,
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
    if let Some(m) = metrics {
        let _ = m.await;
    }
    match ended {
        Ok(r) => r.context("control service failed")?,
        Err(e) => anyhow::bail!("control service task failed: {e}"),
    }
    Ok(())
}
