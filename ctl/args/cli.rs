//! The command line as clap types: the root, global options, and the
//! proxy, record and watch commands (`replay` has its own file).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use super::parse::parse_timeout;
use super::replay::ReplayArgs;
use crate::schedule::{StartAt, parse_start_at};

/// reelctl: drive reel agents (proxies, recordings, replays, live events) on one
/// host or a whole fleet at once.
#[derive(Debug, Parser)]
#[command(
    name = "reelctl",
    version,
    after_help = "Agents are taken from --agent, else $REEL_AGENTS (comma-separated), \
                  else the --fleet file, else 127.0.0.1:7700.\n\
                  Every command runs on all selected agents concurrently.\n\
                  Exit status: 0 when every agent succeeded, 1 when any failed, 2 on usage errors."
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Options that apply to every command.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global options")]
pub(crate) struct GlobalArgs {
    /// Agent to drive, as HOST:PORT (repeatable, or comma-separated)
    #[arg(
        short = 'a',
        long = "agent",
        value_name = "HOST:PORT",
        value_delimiter = ',',
        global = true
    )]
    pub(crate) agents: Vec<String>,

    /// TOML file of agents ([[agent]] tables with name and address), used when
    /// neither --agent nor $REEL_AGENTS is given
    #[arg(long, value_name = "FILE", global = true)]
    pub(crate) fleet: Option<PathBuf>,

    /// Print one JSON document on stdout (JSON Lines for watch)
    #[arg(long, global = true)]
    pub(crate) json: bool,

    /// Print only ids (or nothing) on success; watch: no connection notices
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub(crate) quiet: bool,

    /// Print more detail
    #[arg(short, long, global = true)]
    pub(crate) verbose: bool,

    /// Per-agent deadline of each operation, connecting included (e.g. 500ms, 2s)
    #[arg(
        long,
        value_name = "DUR",
        default_value = "5s",
        value_parser = parse_timeout,
        global = true
    )]
    pub(crate) timeout: Duration,

    /// Send this token (first line of FILE) to agents started with
    /// --token-file; a fleet file may set one per agent
    #[arg(long, value_name = "FILE", global = true)]
    pub(crate) token_file: Option<PathBuf>,

    /// Talk TLS, trusting agent certificates signed by this CA (PEM); a fleet
    /// file may set one per agent
    #[arg(long, value_name = "PEM", global = true)]
    pub(crate) tls_ca: Option<PathBuf>,

    /// Client certificate (PEM) for agents started with --tls-client-ca;
    /// needs --tls-key and --tls-ca; a fleet file may set one per agent
    #[arg(long, value_name = "PEM", global = true, requires = "tls_key")]
    pub(crate) tls_cert: Option<PathBuf>,

    /// Private key (PEM) of --tls-cert
    #[arg(long, value_name = "PEM", global = true, requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,
}

/// What to do on the selected agents.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Show each agent's identity, version, uptime and clock offset
    Agents,
    /// Start, list and stop TCP proxies
    #[command(subcommand)]
    Proxy(ProxyCommand),
    /// Set, clear and show the network conditions (latency, bandwidth,
    /// resets...) of proxies
    #[command(subcommand)]
    Faults(super::FaultsCommand),
    /// Start, stop, list, show, delete, pull and push recordings
    #[command(subcommand)]
    Record(RecordCommand),
    /// Replay recordings against a server from every agent, and follow replays
    Replay(ReplayArgs),
    /// Stream live events (per-second stats, connections, recordings) until Ctrl-C
    Watch(WatchArgs),
    /// Full-screen live dashboard of the agents: proxies' connections and
    /// bytes/s with a sparkline of the last minute, recordings, replays
    #[command(after_help = TOP_HELP)]
    Top,
    /// Analyse recordings: traffic, rates, online connections, messages, projections
    ///
    /// Duration; connections and peak online; bytes, chunks, average, p95 and peak
    /// bytes/s each way and per online client; the busiest connections; messages
    /// per direction with --framing; server ingress/egress for --online N clients.
    Stats(super::StatsArgs),
    /// Write a recording (a local file, or an id pulled from the agents) as pcapng
    Export(super::ExportArgs),
    /// Turn a pcap/pcapng capture into a recording file (local, no agent)
    Import(super::ImportArgs),
    /// Check session rewriting rules (docs/REWRITE.md) on a recording
    #[command(subcommand)]
    Rules(super::RulesCommand),
    /// Interactive console: the original recorder's numbered menu and every
    /// reelctl command, with line editing, history and Tab completion
    Shell(super::ShellArgs),
}

/// Keys and behaviour of `reelctl top`.
const TOP_HELP: &str = "Keys: q quit, ↑/↓ or j/k move, s sort (name, conns, c2s/s, s2c/s), \
     / filter (type, Enter keeps, Esc clears), Enter a proxy's busiest connections, \
     r start/stop a recording of the selected proxy (asks y/n), Ctrl-C quit.\n\
     Live data comes from each agent's Watch stream (one stats event a second per proxy), \
     plus a few unary calls: the recordings list (sizes of those in progress), replays' \
     reports (lateness) and, in the details, the proxy's connections; an agent that goes away is shown DOWN and reconnected with backoff (200ms doubling \
     to 5s). Needs a terminal on stdout: for a stream of lines use `reelctl watch`.\n\
     Exit status: 0 when quit, 2 when stdout is not a terminal.";

/// `reelctl proxy ...`
#[derive(Debug, Subcommand)]
// Parsed once per run: the size of the fault flags costs nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum ProxyCommand {
    /// Start a proxy that relays every client of LISTEN to UPSTREAM
    Start(ProxyStartArgs),
    /// List running proxies with their counters
    #[command(visible_alias = "list")]
    Ls,
    /// Stop a proxy (or all) and close its connections
    Stop(StopArgs),
}

/// `reelctl proxy start`
#[derive(Debug, Clone, Args)]
pub(crate) struct ProxyStartArgs {
    /// Address to listen on, e.g. 0.0.0.0:15631 (port 0 picks a free port)
    #[arg(long, value_name = "ADDR")]
    pub(crate) listen: String,
    /// Server each client is relayed to
    #[arg(long, value_name = "HOST:PORT")]
    pub(crate) upstream: String,
    /// Name of the proxy (defaults to its id)
    #[arg(long, value_name = "NAME")]
    pub(crate) name: Option<String>,
    /// Relay UDP datagrams instead of TCP: each client address is a session
    /// with its own upstream socket; takes --latency, --bandwidth,
    /// --direction, --seed and the UDP conditions
    #[arg(long)]
    pub(crate) udp: bool,
    /// With --udp: close a session after this long without a datagram
    /// either way (e.g. 30s) [default: 60s]
    #[arg(long, value_name = "DUR", requires = "udp", value_parser = super::parse::parse_positive)]
    pub(crate) idle_timeout: Option<Duration>,
    #[command(flatten)]
    pub(crate) faults: super::FaultArgs,
}

/// `reelctl proxy stop` and `reelctl record stop`: one id, or `--all`.
#[derive(Debug, Clone, Args)]
pub(crate) struct StopArgs {
    /// What to stop: an id (a proxy's name also works)
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub(crate) id: Option<String>,
    /// Stop every one that is running
    #[arg(long)]
    pub(crate) all: bool,
}

/// `reelctl record ...`
#[derive(Debug, Subcommand)]
pub(crate) enum RecordCommand {
    /// Start recording the traffic of some proxies (all when none is given)
    Start(RecordStartArgs),
    /// Stop a recording (or all in progress): write its footer and sync it
    Stop(StopArgs),
    /// List recordings
    #[command(visible_alias = "list")]
    Ls,
    /// Show one recording
    Show(IdArg),
    /// Delete a finished recording's file
    #[command(visible_alias = "delete")]
    Rm(IdArg),
    /// Download recordings from the agents into local files DIR/<ID>.reel
    Pull(RecordPullArgs),
    /// Upload local recording files to the agents (each is stored under the
    /// id in its header, whatever the file is called)
    Push(RecordPushArgs),
    /// Seal a copy of a flight recorder's ring (`record start --ring`) as a
    /// new recording, while the ring goes on
    Dump(RecordDumpArgs),
}

/// `reelctl record dump`
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "The copy holds the ring's last window (give or take one segment, an eighth \
                  of the window); its clock starts at its first frame, and connections the window \
                  caught open are marked mid-session, so a replay starts from there."
)]
pub(crate) struct RecordDumpArgs {
    /// The flight recorder's recording id
    #[arg(value_name = "ID")]
    pub(crate) id: String,
    /// Label of the copy (default: the ring's label and " (dump)")
    #[arg(long, value_name = "LABEL")]
    pub(crate) label: Option<String>,
}

/// `reelctl record start`
#[derive(Debug, Clone, Args)]
pub(crate) struct RecordStartArgs {
    /// Proxy id or name to record (repeatable; default: every running proxy)
    #[arg(long = "proxy", value_name = "ID")]
    pub(crate) proxies: Vec<String>,
    /// Free-form label stored in the recording
    #[arg(long, value_name = "LABEL")]
    pub(crate) label: Option<String>,
    /// Start on every agent at this instant: RFC 3339 in UTC
    /// (2024-05-01T12:03:04Z) or +DUR from now (+5s); corrected by each
    /// agent's measured clock offset
    #[arg(long, value_name = "TIME|+DUR", value_parser = parse_start_at)]
    pub(crate) at: Option<StartAt>,
    /// A flight recorder: keep only the last DUR of traffic (e.g. 10m; 1s to
    /// 24h), whole segments dropped from the front; `record dump` copies it
    #[arg(long, value_name = "DUR", value_parser = humantime::parse_duration)]
    pub(crate) ring: Option<std::time::Duration>,
}

/// `reelctl record pull`
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Each file is written to a temporary file in DIR, checked (size and SHA-256), \
                  then renamed. A recording missing on an agent is that agent's failure."
)]
pub(crate) struct RecordPullArgs {
    /// Recording ids to download
    #[arg(required = true, value_name = "ID")]
    pub(crate) ids: Vec<String>,
    /// Directory to write into (created if missing)
    #[arg(short = 'o', long = "output", value_name = "DIR", default_value = ".")]
    pub(crate) dir: PathBuf,
    /// Replace files that already exist
    #[arg(short, long)]
    pub(crate) force: bool,
}

/// `reelctl record push`
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Each file is streamed in 256 KiB chunks and ends with its SHA-256; the agent \
                  checks it and adds it to its recordings under the id in its header."
)]
pub(crate) struct RecordPushArgs {
    /// Recording files (any name: the id is read from each file)
    #[arg(required = true, value_name = "FILE")]
    pub(crate) files: Vec<PathBuf>,
}

/// A single required id.
#[derive(Debug, Clone, Args)]
pub(crate) struct IdArg {
    /// Recording id
    pub(crate) id: String,
}

/// `reelctl watch`
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Proxies are shown by name. A proxy's per-second stats line is left out \
                  while nothing moves and no connection opens or closes (-v prints every \
                  one); after a second with stats lines, a total line sums every proxy on \
                  every agent when there are several. --json prints every event as sent, \
                  with the proxy's id and name. Times are the agents' clocks (the total: \
                  this host's), in UTC. Streams reconnect with backoff (200ms doubling to \
                  5s) when an agent goes away.\n\
                  Exit status: 1 when an agent was never reached during the watch, else 0."
)]
pub(crate) struct WatchArgs {
    /// Only events of this proxy id or name (repeatable; default: all)
    #[arg(long = "proxy", value_name = "ID")]
    pub(crate) proxies: Vec<String>,
    /// Also print every transfer (one line per chunk relayed)
    #[arg(long)]
    pub(crate) raw: bool,
    /// Stop after this long (e.g. 30s, 5m) instead of at Ctrl-C
    #[arg(long, value_name = "DUR", value_parser = humantime::parse_duration)]
    pub(crate) duration: Option<Duration>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn agents_split_on_commas_and_repeat() {
        let cli = Cli::try_parse_from(["reelctl", "-a", "h1:1,h2:2", "--agent", "h3:3", "agents"])
            .unwrap();
        assert_eq!(cli.global.agents, ["h1:1", "h2:2", "h3:3"]);
    }

    #[test]
    fn global_flags_work_after_the_command() {
        let cli = Cli::try_parse_from(["reelctl", "proxy", "ls", "--json", "--timeout", "500ms"])
            .unwrap();
        assert!(cli.global.json);
        assert_eq!(cli.global.timeout, Duration::from_millis(500));
    }

    #[test]
    fn usage_errors_are_rejected() {
        for argv in [
            &["reelctl", "proxy", "stop"][..],
            &["reelctl", "proxy", "stop", "p1", "--all"],
            &["reelctl", "record", "stop"],
            &["reelctl", "-q", "-v", "agents"],
            &["reelctl", "--timeout", "0s", "agents"],
            &["reelctl", "--timeout", "soon", "agents"],
            &["reelctl", "proxy", "start", "--listen", "127.0.0.1:0"],
            &["reelctl", "replay"],
            &["reelctl", "replay", "r1", "--speed", "0"],
            &["reelctl", "replay", "r1", "--speed", "-1"],
            &["reelctl", "replay", "r1", "--speed", "101"],
            &["reelctl", "replay", "r1", "--speed", "fast"],
            &["reelctl", "replay", "r1", "--mode", "slow"],
            &["reelctl", "replay", "r1", "--loops", "0"],
            &["reelctl", "replay", "r1", "--max-idle", "0s"],
            &["reelctl", "replay", "r1", "--at", "soon"],
            &["reelctl", "replay", "--group", "g", "--spread"],
            &["reelctl", "replay", "status"],
            &["reelctl", "record", "pull"],
            &["reelctl", "record", "push"],
            &["reelctl", "record", "start", "--at", "+0s"],
        ] {
            let err = Cli::try_parse_from(argv).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{argv:?}");
        }
    }

    #[test]
    fn pull_defaults_to_the_current_directory() {
        let cli = Cli::try_parse_from(["reelctl", "record", "pull", "r1", "r2"]).unwrap();
        let Command::Record(RecordCommand::Pull(pull)) = cli.command else {
            panic!("not pull")
        };
        assert_eq!(pull.ids, ["r1", "r2"]);
        assert_eq!(pull.dir, PathBuf::from("."));
        assert!(!pull.force);
    }
}
