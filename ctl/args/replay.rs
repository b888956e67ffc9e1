//! `reelctl replay` as clap types: start a replay (the default) with its
//! options, or `status`, `stop`, `ls`.

use std::time::Duration;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Args, Subcommand};
use reel::replay::Mode;

use super::parse::{parse_positive, parse_speed};
use crate::schedule::{StartAt, parse_start_at};

/// `reelctl replay ...`: start a replay (the default), or follow one.
#[derive(Debug, Args)]
#[command(
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_help = "Without --detach, reelctl waits until every agent's replay has ended, showing \
                  progress on a terminal, then prints each report. Ctrl-C stops the replays \
                  and prints their final reports.\n\
                  Exit status: 1 when an agent failed, a connection failed, or (with --verify) \
                  the server's bytes diverged from the recording; 2 on usage errors."
)]
pub(crate) struct ReplayArgs {
    #[command(subcommand)]
    pub(crate) command: Option<ReplayCommand>,
    #[command(flatten)]
    pub(crate) start: ReplayStartArgs,
}

/// `reelctl replay status|stop|ls`
#[derive(Debug, Subcommand)]
pub(crate) enum ReplayCommand {
    /// Show a replay's report (exit status as for a replay once it has ended)
    Status(ReplayIdArg),
    /// Stop a replay: its connections close; print its final report
    Stop(ReplayIdArg),
    /// List the replays each agent knows
    #[command(visible_alias = "list")]
    Ls,
}

/// A single replay id.
#[derive(Debug, Clone, Args)]
pub(crate) struct ReplayIdArg {
    /// Replay id (rp-...)
    pub(crate) id: String,
}

/// `--mode`: the engine's modes, with a line of help each for `--help`
/// (clap's own enum would be a copy of `reel::replay::Mode`).
fn mode_parser() -> impl TypedValueParser<Value = Mode> {
    PossibleValuesParser::new([
        PossibleValue::new("timed").help("Each chunk at its recorded offset, scaled by --speed"),
        PossibleValue::new("fast").help("No waiting; per-connection order only"),
        PossibleValue::new("reactive").help(
            "Per connection: a chunk waits for the server bytes (UDP: datagrams) that preceded it",
        ),
        PossibleValue::new("causal")
            .help("Across connections: every recorded happens-before is kept"),
    ])
    .try_map(|word| Mode::parse(&word))
}

/// `reelctl replay REC...`
#[derive(Debug, Clone, Args)]
pub(crate) struct ReplayStartArgs {
    /// Recording ids, replayed together (repeatable, or comma-separated); a
    /// path holding a '/' or ending in .reel is a local recording file,
    /// uploaded first to the agents that lack it
    #[arg(
        value_name = "REC",
        value_delimiter = ',',
        required_unless_present = "group"
    )]
    pub(crate) recordings: Vec<String>,
    /// Send every connection to this server instead of its recorded upstream
    #[arg(long, value_name = "HOST:PORT")]
    pub(crate) target: Option<String>,
    /// How the client side is driven [default: timed, or fast with --fast]
    #[arg(long, value_name = "MODE", value_parser = mode_parser())]
    pub(crate) mode: Option<Mode>,
    /// Time scale of the recorded gaps, 0.01 to 100 (2 = twice as fast)
    #[arg(long, value_name = "F", value_parser = parse_speed)]
    pub(crate) speed: Option<f64>,
    /// No pacing: mode fast, or reactive/causal as fast as the server answers
    #[arg(long)]
    pub(crate) fast: bool,
    /// Replay the recordings this many times, one pass after the other
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) loops: Option<u32>,
    /// Run N independent copies of every connection
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) multiply: Option<u32>,
    /// Compare the server's bytes (UDP: datagram by datagram) with the recording; a divergence
    /// fails the run
    #[arg(long)]
    pub(crate) verify: bool,
    /// Shorten recorded idle gaps longer than this (e.g. 2s)
    #[arg(long, value_name = "DUR", value_parser = parse_positive)]
    pub(crate) max_idle: Option<Duration>,
    /// reactive/causal: longest wait for the server's bytes [agent default: 5s]
    #[arg(long, value_name = "DUR", value_parser = parse_positive)]
    pub(crate) server_timeout: Option<Duration>,
    /// Session rewriting rules (TOML, docs/REWRITE.md): read and checked
    /// here, sent to every agent
    #[arg(long, value_name = "FILE")]
    pub(crate) rules: Option<std::path::PathBuf>,
    /// Start on every agent at this instant: RFC 3339 in UTC or +DUR from
    /// now; corrected by each agent's measured clock offset
    #[arg(long, value_name = "TIME|+DUR", value_parser = parse_start_at)]
    pub(crate) at: Option<StartAt>,
    /// Also replay every finished recording labelled LABEL on each agent
    #[arg(long, value_name = "LABEL")]
    pub(crate) group: Option<String>,
    /// Split the connections across the agents (agent i of N replays every
    /// N-th one), first copying the recordings to agents that lack them
    #[arg(long, conflicts_with = "group")]
    pub(crate) spread: bool,
    /// Print each agent's replay id and return at once
    #[arg(long)]
    pub(crate) detach: bool,
    /// Network conditions on the replayed connections (same flags as
    /// `proxy start`): c2s faults shape what is sent, s2c latency delays
    /// when server bytes count as received
    #[command(
        flatten,
        next_help_heading = "Network conditions on replayed connections"
    )]
    pub(crate) faults: super::FaultArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use clap::Parser;

    #[test]
    fn speed_errors_name_the_flag() {
        let err = Cli::try_parse_from(["reelctl", "replay", "r1", "--speed", "0"]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("--speed") && text.contains("0.01"), "{text}");
    }

    #[test]
    fn replay_takes_recordings_or_a_subcommand() {
        let cli =
            Cli::try_parse_from(["reelctl", "replay", "r1,r2", "r3", "--fast", "--json"]).unwrap();
        let Command::Replay(replay) = cli.command else {
            panic!("not replay")
        };
        assert!(replay.command.is_none() && replay.start.fast && cli.global.json);
        assert_eq!(replay.start.recordings, ["r1", "r2", "r3"]);

        let cli = Cli::try_parse_from(["reelctl", "replay", "--group", "boss"]).unwrap();
        let Command::Replay(replay) = cli.command else {
            panic!("not replay")
        };
        assert!(replay.start.recordings.is_empty());

        let cli = Cli::try_parse_from(["reelctl", "replay", "status", "rp-1", "--json"]).unwrap();
        let Command::Replay(replay) = cli.command else {
            panic!("not replay")
        };
        assert!(matches!(replay.command, Some(ReplayCommand::Status(ref a)) if a.id == "rp-1"));
        assert!(cli.global.json);
    }
}
