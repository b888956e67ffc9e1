//! A command line typed in the shell, parsed by reelctl's own clap
//! definition (so it accepts exactly what `reelctl ...` accepts), with the
//! shell's global options filled in where the line gives none of its own.

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches};

use crate::args::{Cli, GlobalArgs};

/// Parses `words` (without the program name) as a reelctl command line.
///
/// # Errors
/// clap's error: a usage error, or `--help`/`--version` to print (exit code 0).
pub(crate) fn parse(words: &[String], shell: &GlobalArgs) -> Result<Cli, clap::Error> {
    let argv = std::iter::once("reelctl").chain(words.iter().map(String::as_str));
    let matches = Cli::command().try_get_matches_from(argv)?;
    let mut cli = Cli::from_arg_matches(&matches)?;
    cli.global = merge(cli.global, shell, |id| given(&matches, id));
    Ok(cli)
}

/// Whether the line itself set global option `id` (clap passes a global
/// given after the subcommand up to the root's matches).
fn given(matches: &ArgMatches, id: &str) -> bool {
    matches.value_source(id) == Some(ValueSource::CommandLine)
}

/// The line's options where it gave them, else the shell's. Options that
/// only make sense together are taken together: the agent selection
/// (`--agent`, `--fleet`), the verbosity (`-q`, `-v` conflict), and the
/// client certificate with its key.
fn merge(line: GlobalArgs, shell: &GlobalArgs, given: impl Fn(&str) -> bool) -> GlobalArgs {
    let own_agents = given("agents") || given("fleet");
    let own_level = given("quiet") || given("verbose");
    let own_cert = given("tls_cert") || given("tls_key");
    let pick =
        |own: bool, line: Option<_>, shell: &Option<_>| if own { line } else { shell.clone() };
    GlobalArgs {
        agents: if own_agents {
            line.agents
        } else {
            shell.agents.clone()
        },
        fleet: pick(own_agents, line.fleet, &shell.fleet),
        json: line.json || shell.json,
        quiet: if own_level { line.quiet } else { shell.quiet },
        verbose: if own_level {
            line.verbose
        } else {
            shell.verbose
        },
        timeout: if given("timeout") {
            line.timeout
        } else {
            shell.timeout
        },
        token_file: pick(given("token_file"), line.token_file, &shell.token_file),
        tls_ca: pick(given("tls_ca"), line.tls_ca, &shell.tls_ca),
        tls_cert: pick(own_cert, line.tls_cert, &shell.tls_cert),
        tls_key: pick(own_cert, line.tls_key, &shell.tls_key),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;
    use crate::args::{Command, RecordCommand};
    use clap::Parser;

    fn words(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    fn shell(argv: &[&str]) -> GlobalArgs {
        let argv = ["reelctl"].iter().chain(argv).chain(&["shell"]);
        Cli::try_parse_from(argv).unwrap().global
    }

    #[test]
    fn the_shell_options_apply_when_the_line_gives_none() {
        let shell = shell(&[
            "-a",
            "h1:1,h2:2",
            "--timeout",
            "2s",
            "--token-file",
            "t",
            "-q",
        ]);
        let cli = parse(&words("record ls"), &shell).unwrap();
        assert!(matches!(cli.command, Command::Record(RecordCommand::Ls)));
        assert_eq!(cli.global.agents, ["h1:1", "h2:2"]);
        assert_eq!(cli.global.timeout, Duration::from_secs(2));
        assert_eq!(cli.global.token_file, Some(PathBuf::from("t")));
        assert!(cli.global.quiet && !cli.global.json);
    }

    #[test]
    fn the_line_options_win_before_or_after_the_command() {
        let shell = shell(&["-a", "h1:1", "--timeout", "2s", "-q", "--token-file", "t"]);
        for line in [
            "--agent h3:3 --timeout 1s -v --json record ls",
            "record ls --agent h3:3 --timeout 1s -v --json",
        ] {
            let cli = parse(&words(line), &shell).unwrap();
            assert_eq!(cli.global.agents, ["h3:3"], "{line}");
            assert_eq!(cli.global.timeout, Duration::from_secs(1), "{line}");
            // -v replaces the shell's -q instead of conflicting with it.
            assert!(cli.global.verbose && !cli.global.quiet, "{line}");
            assert!(cli.global.json, "{line}");
            assert_eq!(cli.global.token_file, Some(PathBuf::from("t")), "{line}");
        }
    }

    #[test]
    fn a_fleet_file_on_the_line_replaces_the_shell_agents() {
        let shell = shell(&["-a", "h1:1"]);
        let cli = parse(&words("agents --fleet f.toml"), &shell).unwrap();
        assert!(cli.global.agents.is_empty());
        assert_eq!(cli.global.fleet, Some(PathBuf::from("f.toml")));
    }

    #[test]
    fn usage_errors_and_help_come_back_as_clap_errors() {
        let shell = shell(&[]);
        let error = parse(&words("record frobnicate"), &shell).unwrap_err();
        assert_eq!(error.exit_code(), 2);
        assert!(error.to_string().contains("frobnicate"), "{error}");
        let help = parse(&words("record --help"), &shell).unwrap_err();
        assert_eq!(help.exit_code(), 0);
    }
}
