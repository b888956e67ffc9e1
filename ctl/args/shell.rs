//! `reelctl shell` as clap types, and the menu text that both `--help` and
//! the shell's `h` print (one text, so the two never disagree).

use clap::Args;

/// The menu as a literal, so `concat!` can put it in `--help` too.
macro_rules! menu {
    () => {
        "\
Menu (the original recorder's console):
  1 PORT IP PORT   start a proxy: listen on PORT (all interfaces, as the
                   recorder did; HOST:PORT to choose), relay each client to IP:PORT
  2                stop every proxy
  3                start recording every proxy
  4                stop every recording in progress (also those an earlier
                   shell or another reelctl started)
  5                show records: start time (UTC), size, time range, status, id
  6 REC,REC,..     replay recordings (ids, or local .reel files) against the
                   servers they recorded, and wait for the report
  h                this help; q, quit, exit or Ctrl-D leave
Any other line is a reelctl command, e.g. `record ls --json` or
`replay ID --fast`, quoted like a POSIX shell; the shell's global options
(--agent, --fleet, --json, -q/-v, --timeout, --token-file, --tls-*) apply unless
the line gives its own. `help` and `COMMAND --help` show reelctl's commands."
    };
}

/// What the shell's `h` prints.
pub(crate) const SHELL_MENU: &str = menu!();

/// `reelctl shell`: no options of its own; the global ones select the agents.
#[derive(Debug, Clone, Args)]
#[command(after_help = concat!(
    menu!(),
    "\n\n",
    "On a terminal: line editing; Tab completes menu items, commands, subcommands\n",
    "and flags; history is kept in $XDG_DATA_HOME/reel/shell_history (else\n",
    "~/.local/share/reel/shell_history; none when neither XDG_DATA_HOME nor HOME\n",
    "is set, or the folder cannot be made). Ctrl-C drops the line being typed and\n",
    "stops a running watch or replay; it never ends the shell.\n",
    "When stdin is not a terminal, lines are read from it as a script: no prompt,\n",
    "no editing, no history.\n",
    "Exit status: 0 when every line succeeded, 1 when any failed, 2 when the\n",
    "global options are wrong."
))]
pub(crate) struct ShellArgs {}
