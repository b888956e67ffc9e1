//! The traffic analysis and Wireshark commands as clap types: `stats`,
//! `export` (recording → pcapng) and `import` (pcap/pcapng → recording).

use std::path::PathBuf;

use clap::Args;
use reel::pcap::ServerFilter;
use reel::stats::MAX_ANALYSIS_TOP;
use reel::stats::{DEFAULT_TOP, FramingSpec};

/// `reelctl stats`
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "REC is a local recording file when a file of that name exists or the \
                  name ends in .reel: it is analysed here, without any agent. Otherwise it is \
                  a recording id, analysed by every selected agent where it is (nothing is \
                  downloaded).\n\
                  With several results (files, ids or agents), --timeline and --plot names get \
                  the recording's id before their extension (and the agent's, with several \
                  agents): timeline-ID.csv.\n\
                  Every figure is defined in docs/ANALYSIS.md."
)]
pub(crate) struct StatsArgs {
    /// Recording files or recording ids
    #[arg(required = true, value_name = "REC")]
    pub(crate) recs: Vec<String>,
    /// Project the server's bandwidth for N online clients
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) online: Option<u64>,
    /// Count messages, framed as u16be|u16le|u32be|u32le[,offset=K][,adjust=J] or line
    #[arg(long, value_name = "SPEC", value_parser = parse_framing)]
    pub(crate) framing: Option<FramingSpec>,
    /// How many of the busiest connections to list
    #[arg(
        long,
        value_name = "N",
        default_value_t = DEFAULT_TOP as u32,
        value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_ANALYSIS_TOP))
    )]
    pub(crate) top: u32,
    /// Write the timeline as CSV (one row per second, or per N seconds past 1,000 s)
    #[arg(long, value_name = "FILE.csv")]
    pub(crate) timeline: Option<PathBuf>,
    /// Write a chart of the timeline (bytes/s each way, online connections) as SVG
    #[arg(long, value_name = "FILE.svg")]
    pub(crate) plot: Option<PathBuf>,
}

/// `reelctl export`
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "REC is a local recording file when a file of that name exists or the \
                  name ends in .reel. Otherwise it is a recording id: it is downloaded from \
                  every selected agent (SHA-256 checked) into a temporary file beside OUT, \
                  and with several agents each export is OUT-AGENT.pcapng.\n\
                  Each connection becomes one TCP flow client <-> upstream with the recorded \
                  bytes and nanosecond timestamps, and each UDP session one UDP packet per \
                  datagram (datagrams over 65,507 bytes, too large for one IPv4 packet, are \
                  skipped and counted) (docs/ANALYSIS.md)."
)]
pub(crate) struct ExportArgs {
    /// A recording file or a recording id
    #[arg(value_name = "REC")]
    pub(crate) rec: String,
    /// The pcapng file to write (replaced if it exists)
    #[arg(long, value_name = "OUT.pcapng")]
    pub(crate) pcap: PathBuf,
}

/// `reelctl import`
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Runs here; no agent is involved. TCP flows to or from the server are \
                  reassembled (retransmissions dropped, gaps recorded as loss) and written as \
                  one connection each, in capture order. UDP datagrams to or from the server \
                  become UDP sessions, one per client address, closed (idle) after 60 s \
                  without a datagram or at the end of the capture; IP fragments are counted, \
                  not reassembled. Push the result with `reelctl record push OUT.reel`."
)]
pub(crate) struct ImportArgs {
    /// The capture to read: pcap or pcapng (tcpdump, dumpcap, Wireshark)
    #[arg(value_name = "IN.pcap")]
    pub(crate) input: PathBuf,
    /// The server side of the flows to import: IP:PORT, [IPv6]:PORT, or PORT on any address
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_server)]
    pub(crate) server: ServerFilter,
    /// The recording file to write (replaced if it exists); a name ID.reel gives the id
    #[arg(short = 'o', long = "output", value_name = "OUT.reel")]
    pub(crate) output: PathBuf,
    /// Label stored in the recording
    #[arg(long, value_name = "LABEL")]
    pub(crate) label: Option<String>,
}

/// Parses `--framing`.
fn parse_framing(text: &str) -> Result<FramingSpec, String> {
    text.parse()
        .map_err(|e: reel::stats::FramingError| e.to_string())
}

/// Parses `--server`.
fn parse_server(text: &str) -> Result<ServerFilter, String> {
    text.parse()
        .map_err(|e: reel::pcap::PcapError| e.to_string())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::args::{Cli, Command};

    #[test]
    fn stats_arguments() {
        let cli = Cli::try_parse_from([
            "reelctl",
            "stats",
            "a.reel",
            "r1",
            "--framing",
            "U16BE, offset=2",
            "--online",
            "5000",
        ])
        .unwrap();
        let Command::Stats(stats) = cli.command else {
            panic!("not stats")
        };
        assert_eq!(stats.recs, ["a.reel", "r1"]);
        assert_eq!(stats.framing.unwrap().to_string(), "u16be,offset=2");
        assert_eq!((stats.online, stats.top), (Some(5000), 10));
    }

    #[test]
    fn bad_analysis_arguments_are_usage_errors() {
        for argv in [
            &["reelctl", "stats"][..],
            &["reelctl", "stats", "r1", "--framing", "u64be"],
            &["reelctl", "stats", "r1", "--online", "0"],
            &["reelctl", "stats", "r1", "--top", "0"],
            &["reelctl", "stats", "r1", "--top", "100001"],
            &["reelctl", "export", "r1"],
            &["reelctl", "import", "a.pcap", "-o", "x.reel"],
            &[
                "reelctl", "import", "a.pcap", "--server", "host:80", "-o", "x.reel",
            ],
            &["reelctl", "import", "a.pcap", "--server", "1.2.3.4:80"],
        ] {
            let err = Cli::try_parse_from(argv).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{argv:?}");
        }
    }

    #[test]
    fn import_server_forms() {
        for (server, shown) in [
            ("127.0.0.1:5630", "127.0.0.1:5630"),
            ("5630", "*:5630"),
            ("[::1]:5630", "[::1]:5630"),
        ] {
            let cli = Cli::try_parse_from([
                "reelctl", "import", "a.pcap", "--server", server, "-o", "x.reel",
            ])
            .unwrap();
            let Command::Import(import) = cli.command else {
                panic!("not import")
            };
            assert_eq!(import.server.to_string(), shown, "{server}");
        }
    }
}
