//! Network-condition flags, shared by `proxy start` and `faults set`, and
//! the `faults` command. Values are read with the agent's own parser
//! (`reel::faults::parse`), so flags and the agent's config file accept the
//! same syntax; a bad value is a usage error naming its flag.

use std::time::Duration;

use clap::{Args, Subcommand};
use reel::faults::{Directions, FaultSpec, Latency, Slicer, parse};

/// The fault flags. Unset flags are off; together they make one profile.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Network conditions")]
pub(crate) struct FaultArgs {
    /// Delay of each chunk (each datagram on a UDP proxy): fixed (50ms),
    /// uniform (500ms..800ms) or normal:MEAN,SD (normal:100ms,20ms); TCP
    /// keeps the order, UDP only with --keep-order
    #[arg(long, value_name = "SPEC", allow_hyphen_values = true, value_parser = parse::latency)]
    pub(crate) latency: Option<Latency>,
    /// Directions for latency, reset/limit after bytes, black hole, slice
    /// and the UDP conditions
    #[arg(long, value_name = "c2s|s2c|both", allow_hyphen_values = true, value_parser = parse_direction)]
    pub(crate) direction: Option<Directions>,
    /// Bytes per second per connection (UDP: session) and direction
    /// (64KiB/s, 8Mbit/s); UDP datagrams over it queue (1,000 at most)
    #[arg(long, value_name = "RATE", allow_hyphen_values = true, value_parser = parse_rate)]
    pub(crate) bandwidth: Option<u64>,
    /// Bytes per second per direction, shared by all the proxy's connections
    #[arg(long, value_name = "RATE", allow_hyphen_values = true, value_parser = parse_rate)]
    pub(crate) proxy_bandwidth: Option<u64>,
    /// Reset (RST) both sides once this many bytes went through a direction
    #[arg(long, value_name = "SIZE", allow_hyphen_values = true, value_parser = parse_size)]
    pub(crate) reset_after_bytes: Option<u64>,
    /// Reset (RST) both sides this long after the connection opened
    #[arg(long, value_name = "DUR", allow_hyphen_values = true, value_parser = parse::millis)]
    pub(crate) reset_after: Option<Duration>,
    /// Read and drop the bytes instead of forwarding them
    #[arg(long)]
    pub(crate) black_hole: bool,
    /// With --black-hole: close the connection this long after it opened
    #[arg(long, value_name = "DUR", allow_hyphen_values = true, value_parser = parse::millis, requires = "black_hole")]
    pub(crate) black_hole_close_after: Option<Duration>,
    /// Hold each close (FIN) back this long before passing it on
    #[arg(long, value_name = "DUR", allow_hyphen_values = true, value_parser = parse::millis)]
    pub(crate) slow_close: Option<Duration>,
    /// Forward chunks in pieces of SIZE bytes, PAUSE apart (16, 1KiB:2ms)
    #[arg(long, value_name = "SIZE[:PAUSE]", allow_hyphen_values = true, value_parser = parse::slicer)]
    pub(crate) slice: Option<Slicer>,
    /// Close both sides once this many bytes went through a direction
    #[arg(long, value_name = "SIZE", allow_hyphen_values = true, value_parser = parse_size)]
    pub(crate) limit_data: Option<u64>,
    /// Wait this long before connecting to the upstream
    #[arg(long, value_name = "DUR", allow_hyphen_values = true, value_parser = parse::millis)]
    pub(crate) connect_delay: Option<Duration>,
    /// Fraction of connections affected, 0 to 1, decided at accept [default: 1]
    #[arg(long, value_name = "F", allow_hyphen_values = true, value_parser = parse_toxicity)]
    pub(crate) toxicity: Option<f64>,
    /// Seed: same seed and traffic, same delays and choices [default: random]
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub(crate) seed: Option<u64>,
    #[command(flatten)]
    pub(crate) datagram: super::DatagramArgs,
}

impl FaultArgs {
    /// Whether no fault flag was given.
    /// The flags given that only a proxy can act on (a replay reports the
    /// server's behaviour and does not cut its own connections).
    pub(crate) fn proxy_only(&self) -> Vec<&'static str> {
        let mut flags = Vec::new();
        if self.proxy_bandwidth.is_some() {
            flags.push("--proxy-bandwidth");
        }
        if self.reset_after_bytes.is_some() {
            flags.push("--reset-after-bytes");
        }
        if self.reset_after.is_some() {
            flags.push("--reset-after");
        }
        if self.black_hole_close_after.is_some() {
            flags.push("--black-hole-close-after");
        }
        if self.slow_close.is_some() {
            flags.push("--slow-close");
        }
        if self.limit_data.is_some() {
            flags.push("--limit-data");
        }
        // A replay does not apply the datagram faults (a UDP proxy does).
        flags.extend(self.datagram.given());
        flags
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.spec() == FaultSpec::default()
    }

    /// The profile the flags describe.
    pub(crate) fn spec(&self) -> FaultSpec {
        let default = FaultSpec::default();
        FaultSpec {
            latency: self.latency,
            directions: self.direction.unwrap_or(default.directions),
            bandwidth: self.bandwidth,
            proxy_bandwidth: self.proxy_bandwidth,
            reset_after_bytes: self.reset_after_bytes,
            reset_after: self.reset_after,
            black_hole: self.black_hole,
            black_hole_close_after: self.black_hole_close_after,
            slow_close: self.slow_close,
            slicer: self.slice,
            limit_bytes: self.limit_data,
            connect_delay: self.connect_delay,
            toxicity: self.toxicity.unwrap_or(default.toxicity),
            seed: self.seed,
            datagram: self.datagram.fields(),
        }
    }

    /// The profile, checked as the agent will check it.
    ///
    /// # Errors
    /// `--FLAG: reason` for each field out of range.
    pub(crate) fn checked(&self) -> Result<FaultSpec, String> {
        let spec = self.spec();
        spec.validate().map_err(|errors| {
            errors
                .iter()
                .map(|e| format!("--{}: {}", e.field.replace('_', "-"), e.reason))
                .collect::<Vec<_>>()
                .join("; ")
        })?;
        Ok(spec)
    }
}

/// `reelctl faults ...`
#[derive(Debug, Subcommand)]
// Parsed once per run: the size of the fault flags costs nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum FaultsCommand {
    /// Replace a proxy's whole fault profile (unset flags are off); open
    /// connections follow at once
    Set(FaultsSetArgs),
    /// Remove every fault from a proxy
    Clear(ProxyArg),
    /// Show the fault profile of one proxy, or of every proxy
    #[command(visible_alias = "ls")]
    Show(FaultsShowArgs),
}

/// `reelctl faults set`
#[derive(Debug, Clone, Args)]
#[command(after_help = "Examples:\n  \
    reelctl faults set game --latency 500ms..800ms --toxicity 0.5 --seed 7\n  \
    reelctl faults set game --bandwidth 64KiB/s --direction s2c\n  \
    reelctl faults set game --black-hole --black-hole-close-after 30s")]
pub(crate) struct FaultsSetArgs {
    /// Proxy id or name
    #[arg(value_name = "PROXY")]
    pub(crate) proxy: String,
    #[command(flatten)]
    pub(crate) faults: FaultArgs,
}

/// A required proxy id or name.
#[derive(Debug, Clone, Args)]
pub(crate) struct ProxyArg {
    /// Proxy id or name
    #[arg(value_name = "PROXY")]
    pub(crate) proxy: String,
}

/// `reelctl faults show`
#[derive(Debug, Clone, Args)]
pub(crate) struct FaultsShowArgs {
    /// Proxy id or name (default: every proxy)
    #[arg(value_name = "PROXY")]
    pub(crate) proxy: Option<String>,
}

fn parse_direction(text: &str) -> Result<Directions, String> {
    Directions::parse(text.trim()).map_err(|e| e.to_string())
}

/// A rate greater than zero.
fn parse_rate(text: &str) -> Result<u64, String> {
    match parse::rate(text).map_err(|e| e.to_string())? {
        0 => Err("must be positive (bytes per second)".to_owned()),
        n => Ok(n),
    }
}

/// A size greater than zero.
fn parse_size(text: &str) -> Result<u64, String> {
    match parse::size(text).map_err(|e| e.to_string())? {
        0 => Err("must be positive (bytes)".to_owned()),
        n => Ok(n),
    }
}

fn parse_toxicity(text: &str) -> Result<f64, String> {
    let t: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if !(0.0..=1.0).contains(&t) {
        return Err(format!("{t} is outside [0, 1]"));
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::args::{Cli, Command, ProxyCommand};

    fn parse_set(extra: &[&str]) -> Result<FaultArgs, clap::Error> {
        let mut argv = vec!["reelctl", "faults", "set", "game"];
        argv.extend_from_slice(extra);
        let cli = Cli::try_parse_from(argv)?;
        let Command::Faults(FaultsCommand::Set(set)) = cli.command else {
            panic!("not faults set")
        };
        assert_eq!(set.proxy, "game");
        Ok(set.faults)
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn every_flag_reads_into_the_profile() {
        let f = parse_set(&[
            "--latency",
            "500ms..800ms",
            "--direction",
            "s2c",
            "--bandwidth",
            "64KiB/s",
            "--proxy-bandwidth",
            "8Mbit/s",
            "--reset-after-bytes",
            "1MiB",
            "--reset-after",
            "2m",
            "--black-hole",
            "--black-hole-close-after",
            "30s",
            "--slow-close",
            "0.25",
            "--slice",
            "16:2ms",
            "--limit-data",
            "10MB",
            "--connect-delay",
            "50ms",
            "--toxicity",
            "0.5",
            "--seed",
            "7",
        ])
        .unwrap();
        let s = f.checked().unwrap();
        assert_eq!(s.latency, Some(Latency::Uniform(ms(500), ms(800))));
        assert_eq!(s.directions.as_str(), "s2c");
        assert_eq!(s.bandwidth, Some(65_536));
        assert_eq!(s.proxy_bandwidth, Some(1_000_000));
        assert_eq!(s.reset_after_bytes, Some(1 << 20));
        assert_eq!(s.reset_after, Some(Duration::from_secs(120)));
        assert!(s.black_hole);
        assert_eq!(s.black_hole_close_after, Some(Duration::from_secs(30)));
        assert_eq!(s.slow_close, Some(ms(250)));
        assert_eq!(
            s.slicer,
            Some(Slicer {
                size: 16,
                pause: ms(2)
            })
        );
        assert_eq!(s.limit_bytes, Some(10_000_000));
        assert_eq!(s.connect_delay, Some(ms(50)));
        assert_eq!(s.toxicity, 0.5);
        assert_eq!(s.seed, Some(7));
    }

    #[test]
    fn no_flag_is_no_fault() {
        let f = parse_set(&[]).unwrap();
        assert!(f.is_empty());
        assert_eq!(f.checked().unwrap(), FaultSpec::default());
    }

    #[test]
    fn bad_values_are_usage_errors_naming_the_flag() {
        let cases: &[(&[&str], &str)] = &[
            (&["--latency", "800ms..500ms"], "--latency"),
            (&["--latency", "soon"], "--latency"),
            (&["--direction", "up"], "--direction"),
            (&["--bandwidth", "0"], "--bandwidth"),
            (&["--bandwidth", "-1KiB/s"], "--bandwidth"),
            (&["--proxy-bandwidth", "fast"], "--proxy-bandwidth"),
            (&["--reset-after-bytes", "0"], "--reset-after-bytes"),
            (&["--reset-after", "500us"], "--reset-after"),
            (&["--slow-close", "0"], "--slow-close"),
            (&["--black-hole-close-after", "1s"], "--black-hole"),
            (&["--slice", "0"], "--slice"),
            (&["--limit-data", "12XB"], "--limit-data"),
            (&["--toxicity", "1.5"], "--toxicity"),
            (&["--toxicity", "-0.1"], "--toxicity"),
            (&["--seed", "-3"], "--seed"),
        ];
        for (extra, flag) in cases {
            let err = parse_set(extra).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{extra:?}");
            let text = err.to_string();
            assert!(text.contains(flag), "{extra:?}: {text}");
        }
    }

    #[test]
    fn proxy_start_takes_the_same_flags() {
        let cli = Cli::try_parse_from([
            "reelctl",
            "proxy",
            "start",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            "127.0.0.1:1",
            "--latency",
            "normal:100ms,20ms",
            "--seed",
            "1",
        ])
        .unwrap();
        let Command::Proxy(ProxyCommand::Start(start)) = cli.command else {
            panic!("not proxy start")
        };
        let s = start.faults.checked().unwrap();
        assert_eq!(s.latency, Some(Latency::Normal(ms(100), ms(20))));
        assert_eq!(s.seed, Some(1));
    }
}
