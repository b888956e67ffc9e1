//! `reelctl rules ...` as clap types: working with session rewriting rules
//! (docs/REWRITE.md) before a replay uses them.

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// `reelctl rules ...`
#[derive(Debug, Subcommand)]
pub(crate) enum RulesCommand {
    /// Dry-run a rules file on a recording: the values each connection
    /// captures, how many messages each rule matches, what did not parse
    Check(RulesCheckArgs),
}

/// `reelctl rules check`
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "REC is a local recording file when a file of that name exists or the \
                  name ends in .reel. Otherwise it is a recording id: it is downloaded from \
                  every selected agent (SHA-256 checked) into a temporary file, checked, \
                  and removed.\n\
                  No server is involved: live values are taken to be the recorded ones, so \
                  consistent rules rewrite every client message into itself (\"changed\" \
                  counts the ones they would alter).\n\
                  Exit status: 0 when every rule matches some message, 1 when a rule matches \
                  nothing (or an agent failed), 2 when the rules file is malformed."
)]
pub(crate) struct RulesCheckArgs {
    /// The rules file (TOML; see docs/REWRITE.md)
    #[arg(value_name = "FILE")]
    pub(crate) file: PathBuf,
    /// A recording file or a recording id
    #[arg(value_name = "REC")]
    pub(crate) rec: String,
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::args::{Cli, Command, RulesCommand};

    #[test]
    fn rules_check_takes_a_file_and_a_recording() {
        let cli = Cli::try_parse_from(["reelctl", "rules", "check", "game.toml", "r1"]).unwrap();
        let Command::Rules(RulesCommand::Check(args)) = cli.command else {
            panic!("not rules check")
        };
        assert_eq!(args.file.to_str(), Some("game.toml"));
        assert_eq!(args.rec, "r1");
        for argv in [
            &["reelctl", "rules"][..],
            &["reelctl", "rules", "check", "game.toml"],
        ] {
            assert_eq!(Cli::try_parse_from(argv).unwrap_err().exit_code(), 2);
        }
    }
}
