//! The fault flags only a UDP proxy acts on (issue 16): loss, burst loss,
//! duplication, reordering and order. Flattened into `FaultArgs`, so
//! `proxy start --udp` and `faults set` take them beside `--latency`,
//! `--bandwidth`, `--direction` and `--seed`; values are read with the
//! agent's own parser (`reel::faults::udp`), as the config file's are.

use clap::Args;
use reel::faults::DatagramFields;
use reel::faults::datagram::{GilbertElliott, Loss, Reorder};
use reel::faults::udp;

/// The datagram flags. Unset flags are off.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "UDP conditions (proxy start --udp, faults set on a UDP proxy)")]
pub(crate) struct DatagramArgs {
    /// Share of datagrams lost, each independently: 10% or 0.1
    #[arg(long, value_name = "PCT", allow_hyphen_values = true, value_parser = parse_share, conflicts_with = "loss_bursts")]
    pub(crate) loss: Option<f64>,
    /// Loss in bursts, Gilbert-Elliott as netem's `loss gemodel p r 1-h
    /// 1-k`: good-to-bad p, bad-to-good r (mean burst 1/r) [default: 1-p],
    /// loss in the bad state 1-h [default: 100%] and in the good state 1-k
    /// [default: 0%], e.g. 1%,25%
    #[arg(long, value_name = "P[,R[,1-H[,1-K]]]", allow_hyphen_values = true, value_parser = parse_bursts)]
    pub(crate) loss_bursts: Option<GilbertElliott>,
    /// Share of datagrams sent twice: 1% or 0.01
    #[arg(long, value_name = "PCT", allow_hyphen_values = true, value_parser = parse_share)]
    pub(crate) duplicate: Option<f64>,
    /// Share of datagrams held back and sent after 1 to WINDOW of the ones
    /// behind them [default window: 3], e.g. 5%:3
    #[arg(long, value_name = "PCT[:WINDOW]", allow_hyphen_values = true, value_parser = parse_reorder)]
    pub(crate) reorder: Option<Reorder>,
    /// With a jittered --latency: datagrams keep their order (by default
    /// they overtake each other, as on a real path)
    #[arg(long)]
    pub(crate) keep_order: bool,
}

impl DatagramArgs {
    /// The profile's datagram part.
    pub(crate) fn fields(&self) -> DatagramFields {
        DatagramFields {
            loss: self
                .loss_bursts
                .map(Loss::Bursts)
                .or(self.loss.map(Loss::Random)),
            duplicate: self.duplicate,
            reorder: self.reorder,
            keep_order: self.keep_order,
        }
    }

    /// The flags given, for a command that cannot take them.
    pub(crate) fn given(&self) -> Vec<&'static str> {
        let mut flags = Vec::new();
        for (on, flag) in [
            (self.loss.is_some(), "--loss"),
            (self.loss_bursts.is_some(), "--loss-bursts"),
            (self.duplicate.is_some(), "--duplicate"),
            (self.reorder.is_some(), "--reorder"),
            (self.keep_order, "--keep-order"),
        ] {
            if on {
                flags.push(flag);
            }
        }
        flags
    }
}

fn parse_share(text: &str) -> Result<f64, String> {
    udp::share(text).map_err(|e| e.to_string())
}

fn parse_bursts(text: &str) -> Result<GilbertElliott, String> {
    udp::loss_bursts(text).map_err(|e| e.to_string())
}

fn parse_reorder(text: &str) -> Result<Reorder, String> {
    udp::reorder(text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::args::{Cli, Command, FaultsCommand, ProxyCommand};

    fn parse_start(extra: &[&str]) -> Result<DatagramArgs, clap::Error> {
        let mut argv = vec![
            "reelctl",
            "proxy",
            "start",
            "--udp",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            "127.0.0.1:1",
        ];
        argv.extend_from_slice(extra);
        let cli = Cli::try_parse_from(argv)?;
        let Command::Proxy(ProxyCommand::Start(start)) = cli.command else {
            panic!("not proxy start")
        };
        Ok(start.faults.datagram)
    }

    #[test]
    fn every_flag_reads_into_the_fields() {
        let d = parse_start(&[
            "--loss-bursts",
            "1%,25%,70%",
            "--duplicate",
            "0.01",
            "--reorder",
            "5%:8",
            "--keep-order",
        ])
        .unwrap();
        let f = d.fields();
        assert_eq!(
            f.loss,
            Some(Loss::Bursts(GilbertElliott {
                p: 0.01,
                r: 0.25,
                bad_loss: 0.7,
                good_loss: 0.0
            }))
        );
        assert_eq!(f.duplicate, Some(0.01));
        assert_eq!(
            f.reorder,
            Some(Reorder {
                probability: 0.05,
                window: 8
            })
        );
        assert!(f.keep_order);
        assert_eq!(
            d.given(),
            ["--loss-bursts", "--duplicate", "--reorder", "--keep-order"]
        );
        let d = parse_start(&["--loss", "10%"]).unwrap();
        assert_eq!(d.fields().loss, Some(Loss::Random(0.1)));
    }

    #[test]
    fn bad_values_are_usage_errors_naming_the_flag() {
        let cases: &[(&[&str], &str)] = &[
            (&["--loss", "10"], "--loss"),
            (&["--loss", "-1%"], "--loss"),
            (&["--loss-bursts", "1%,2%,3%,4%,5%"], "--loss-bursts"),
            (&["--duplicate", "200%"], "--duplicate"),
            (&["--reorder", "5%:0"], "--reorder"),
            (&["--loss", "1%", "--loss-bursts", "1%,25%"], "--loss"),
        ];
        for (extra, flag) in cases {
            let err = parse_start(extra).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{extra:?}");
            let text = err.to_string();
            assert!(text.contains(flag), "{extra:?}: {text}");
        }
    }

    #[test]
    fn faults_set_takes_them_too() {
        let cli =
            Cli::try_parse_from(["reelctl", "faults", "set", "game", "--duplicate", "2%"]).unwrap();
        let Command::Faults(FaultsCommand::Set(set)) = cli.command else {
            panic!("not faults set")
        };
        assert_eq!(set.faults.spec().datagram.duplicate, Some(0.02));
    }
}
