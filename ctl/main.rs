//! `reelctl`: the command-line client of reel. Thin wiring: parse the
//! arguments, resolve them into settings, run the command on every selected
//! agent, print, and exit with a status that says whether all succeeded.
//!
//! # Layout
//! - `args`: clap types; `settings` (+ `fleet_file`): agents, deadline, output mode;
//!   `credentials`: token, CA and client certificate files per agent, read once;
//!   `access`: those credentials on every connection
//! - `fleet`: concurrent fan-out with per-agent deadline; `error`: agent failures;
//!   `tls_probe`: why an agent closed a TLS session (its alert about our
//!   client certificate)
//! - `clock`: NTP-style clock offset; `schedule`: coordinated starts (`--at`
//!   deadlines, offsets, skew); `backoff`: watch reconnect delays;
//!   `event`: typed watch events; `timestamp`: agent instants and their formats
//! - `transfer`: recording files as checked chunk streams (pull, push), each
//!   download checked by `download_check`;
//!   `relay`: one agent's recording copied to others (`replay --spread`)
//! - `source`: REC arguments as local files or agent ids (`stats`, `export`,
//!   `rules check`), and results keyed by file or agent
//! - `commands/`: one file per command (group), returning typed results
//! - `shell/`: the interactive console (`reelctl shell`): the recorder's
//!   menu and every command, run through `run` below
//! - `output/`: all printing (tables, JSON, watch lines, replay progress);
//!   `plural`: counted nouns for output and commands' notes; `exit`: exit status
//! - `top/`: the full-screen live dashboard (model, keys, render, its loop)

mod access;
mod args;
mod backoff;
mod clock;
mod commands;
mod credentials;
mod download_check;
mod error;
mod event;
mod exit;
mod fleet;
mod fleet_file;
mod output;
mod plural;
mod relay;
mod schedule;
mod settings;
mod shell;
mod source;
mod timestamp;
mod tls_probe;
mod top;
mod transfer;

use std::io;
use std::process::ExitCode;

use clap::Parser;

use crate::args::{
    Cli, Command, ProxyCommand, RecordCommand, ReplayArgs, ReplayCommand, RulesCommand,
};
use crate::commands::replay::{ReplayOutcome, ReplayShown, Replayed};
use crate::commands::{agents, proxy, pull, push, record, replay, watch};
use crate::exit::Exit;
use crate::settings::Settings;

fn main() -> ExitCode {
    // clap prints its own usage errors and exits 2 (0 for --help/--version).
    let cli = Cli::parse();
    init_tracing();
    run(cli).into()
}

/// Runs a parsed command line: `main`'s, or one typed in `reelctl shell`.
fn run(cli: Cli) -> Exit {
    let settings = match Settings::from_args(&cli.global) {
        Ok(settings) => settings,
        Err(error) => {
            output::print_error(&error);
            return Exit::Usage;
        }
    };
    output::print_warnings(&settings);
    access::install(settings.access.clone());
    let command = match cli.command {
        Command::Shell(_) => return shell::run(cli.global, &settings, run),
        command => command,
    };
    let runtime = match output::runtime() {
        Ok(runtime) => runtime,
        Err(exit) => return exit,
    };
    match runtime.block_on(dispatch(command, &settings)) {
        Ok(exit) => exit,
        // `reelctl ... | head`: the reader has all it wanted.
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Exit::Success,
        Err(error) => {
            output::print_error(&format!("cannot write output: {error}"));
            Exit::Internal
        }
    }
}

/// Runs the command and prints its results.
async fn dispatch(command: Command, settings: &Settings) -> io::Result<Exit> {
    let mode = settings.output;
    match command {
        Command::Agents => output::print_agents(&agents::run(settings).await, mode),
        Command::Proxy(ProxyCommand::Start(args)) => match proxy::start(settings, &args).await {
            Ok(report) => output::print_report(&report, mode),
            Err(error) => usage(&error),
        },
        Command::Proxy(ProxyCommand::Ls) => {
            output::print_report(&proxy::list(settings).await, mode)
        }
        Command::Proxy(ProxyCommand::Stop(args)) => {
            output::print_report(&proxy::stop(settings, &args).await, mode)
        }
        Command::Faults(command) => faults_command(command, settings).await,
        Command::Record(RecordCommand::Start(args)) => match record::start(settings, &args).await {
            Ok(started) => {
                output::print_checked(&started.report, mode, started.skew, |_| Vec::new())
            }
            Err(error) => usage(&error),
        },
        Command::Record(RecordCommand::Stop(args)) => {
            output::print_report(&record::stop(settings, &args).await, mode)
        }
        Command::Record(RecordCommand::Ls) => {
            output::print_report(&record::list(settings).await, mode)
        }
        Command::Record(RecordCommand::Show(arg)) => {
            output::print_report(&record::show(settings, &arg.id).await, mode)
        }
        Command::Record(RecordCommand::Rm(arg)) => {
            output::print_report(&record::remove(settings, &arg.id).await, mode)
        }
        Command::Record(RecordCommand::Dump(args)) => {
            output::print_report(&record::dump(settings, &args).await, mode)
        }
        Command::Record(RecordCommand::Pull(args)) => match pull::check_ids(&args.ids) {
            Ok(()) => output::print_report(&pull::run(settings, &args).await, mode),
            Err(error) => usage(&error),
        },
        Command::Record(RecordCommand::Push(args)) => match push::check_files(&args.files) {
            Ok(files) => output::print_report(&push::run(settings, &files).await, mode),
            Err(error) => usage(&error),
        },
        Command::Replay(args) => replay_command(args, settings).await,
        Command::Watch(args) => {
            let mut printer = output::WatchPrinter::new(&settings.agents, mode);
            let watched = watch::run(settings, &args, &mut printer).await?;
            Ok(output::watch_end(
                &watched.never_reached(settings),
                settings.agents.len(),
            ))
        }
        Command::Top => top::run(settings).await,
        Command::Stats(args) => match source::classify_all(&args.recs) {
            Ok(recs) => {
                let results = commands::stats::run(settings, &args, recs).await;
                output::print_sources(&results, mode, commands::stats::StatsReport::notes)
            }
            Err(error) => usage(&error),
        },
        Command::Export(args) => match source::classify(&args.rec) {
            Ok(rec) => {
                let results = commands::export::run(settings, &args, rec).await;
                output::print_sources(&results, mode, commands::export::Exported::notes)
            }
            Err(error) => usage(&error),
        },
        Command::Import(args) => {
            let results = commands::import::run(&args).await;
            output::print_sources(&results, mode, commands::import::Imported::notes)
        }
        Command::Rules(RulesCommand::Check(args)) => {
            use commands::rules;
            let loaded =
                rules::load(&args.file).and_then(|r| Ok((r, source::classify(&args.rec)?)));
            match loaded {
                Ok((rules, rec)) => {
                    let results = rules::check(settings, &args, rules, rec).await;
                    let printed =
                        output::print_sources(&results, mode, rules::RulesChecked::notes)?;
                    Ok(rules::exit(printed, &results))
                }
                Err(error) => usage(&error),
            }
        }
        // `run` starts the shell; a line typed in it cannot.
        Command::Shell(_) => usage(&shell::NESTED),
    }
}

/// `reelctl faults set|clear|show`.
async fn faults_command(command: args::FaultsCommand, settings: &Settings) -> io::Result<Exit> {
    use crate::commands::faults;
    let mode = settings.output;
    match command {
        args::FaultsCommand::Set(args) => match faults::set(settings, &args).await {
            Ok(report) => output::print_report(&report, mode),
            Err(error) => usage(&error),
        },
        args::FaultsCommand::Clear(args) => {
            output::print_report(&faults::clear(settings, &args).await, mode)
        }
        args::FaultsCommand::Show(args) => {
            output::print_report(&faults::show(settings, &args).await, mode)
        }
    }
}

/// `reelctl replay ...`: start and follow, or one of its subcommands.
async fn replay_command(args: ReplayArgs, settings: &Settings) -> io::Result<Exit> {
    let mode = settings.output;
    match args.command {
        Some(ReplayCommand::Status(arg)) => {
            let report = replay::status(settings, &arg.id).await;
            output::print_checked(&report, mode, None, ReplayShown::problems)
        }
        Some(ReplayCommand::Stop(arg)) => {
            let report = replay::stop(settings, &arg.id).await;
            output::print_checked(&report, mode, None, ReplayShown::problems)
        }
        Some(ReplayCommand::Ls) => output::print_report(&replay::list(settings).await, mode),
        None => {
            let display = output::ReplayDisplay::new(mode);
            match replay::run(settings, &args.start, &display).await {
                Ok(Replayed::Waited { report, skew }) => {
                    output::print_checked(&report, mode, skew, ReplayOutcome::problems)
                }
                Ok(Replayed::Detached { report, skew }) => {
                    output::print_checked(&report, mode, skew, |_| Vec::new())
                }
                Err(error) => usage(&error),
            }
        }
    }
}

/// A usage error found after parsing: printed, exit status 2.
fn usage(error: &dyn std::fmt::Display) -> io::Result<Exit> {
    output::print_error(error);
    Ok(Exit::Usage)
}

/// Diagnostics on stderr, filtered by `RUST_LOG` (warnings by default);
/// colour only when stderr is a terminal, so a log file holds plain text.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(io::IsTerminal::is_terminal(&io::stderr()))
        .with_writer(io::stderr)
        .init();
}
