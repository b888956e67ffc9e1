//! Tab completion: menu items, and reelctl's commands, subcommands, flags
//! and enumerated values, read from the clap definition itself so a new
//! command or flag completes without anyone keeping a list.

use clap::CommandFactory;
use rustyline::completion::Completer;
use rustyline::{Context, Helper, Highlighter, Hinter, Validator};

use crate::args::Cli;

/// Menu items offered at the start of a line, beside the commands.
const MENU_ITEMS: &[&str] = &["1", "2", "3", "4", "5", "6", "h", "q", "quit", "exit"];

/// The shell's line-editor helper: completion only (no hints, colours or
/// multi-line validation).
#[derive(Helper, Hinter, Highlighter, Validator)]
pub(crate) struct ShellHelper {
    /// Built once: globals propagated to every subcommand.
    command: clap::Command,
}

impl ShellHelper {
    pub(crate) fn new() -> ShellHelper {
        ShellHelper { command: built() }
    }
}

impl Completer for ShellHelper {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        Ok(candidates(&self.command, line, pos))
    }
}

/// reelctl's clap definition with the global options copied into every
/// subcommand (as parsing does), so their flags complete everywhere.
pub(crate) fn built() -> clap::Command {
    let mut command = Cli::command();
    command.build();
    command
}

/// Where the word being completed starts in `line`, and its completions,
/// sorted. Words are split on whitespace (quotes are not completed).
pub(crate) fn candidates(root: &clap::Command, line: &str, pos: usize) -> (usize, Vec<String>) {
    let Some(before) = line.get(..pos) else {
        return (pos, Vec::new());
    };
    let start = before.rfind(char::is_whitespace).map_or(0, |i| {
        i + before[i..].chars().next().map_or(1, char::len_utf8)
    });
    let word = &before[start..];
    let done: Vec<&str> = before[..start].split_whitespace().collect();
    let mut out: Vec<String> = match done.first() {
        // A menu item's values are free text.
        Some(first) if MENU_ITEMS.contains(first) => Vec::new(),
        _ => words_after(root, &done, word),
    };
    if done.is_empty() && !word.starts_with('-') {
        out.extend(MENU_ITEMS.iter().map(|m| (*m).to_owned()));
    }
    out.retain(|c| c.starts_with(word));
    out.sort();
    out.dedup();
    (start, out)
}

/// What may follow `done` in the command tree.
fn words_after(root: &clap::Command, done: &[&str], word: &str) -> Vec<String> {
    let mut command = root;
    // A value-taking flag whose value comes next.
    let mut pending: Option<&clap::Arg> = None;
    // After a positional value no subcommand can follow.
    let mut positional = false;
    for w in done {
        if pending.take().is_some() {
            continue;
        }
        if w.starts_with('-') {
            if !w.contains('=') {
                pending = flag(command, w).filter(|a| takes_value(a));
            }
        } else if let Some(sub) = subcommand(command, w).filter(|_| !positional) {
            command = sub;
        } else {
            positional = true;
        }
    }
    if let Some(arg) = pending {
        return arg
            .get_possible_values()
            .iter()
            .filter(|v| !v.is_hide_set())
            .map(|v| v.get_name().to_owned())
            .collect();
    }
    if word.starts_with('-') {
        return command
            .get_arguments()
            .filter(|a| !a.is_hide_set())
            .flat_map(|a| {
                let long = a.get_long().map(|l| format!("--{l}"));
                let short = a.get_short().map(|s| format!("-{s}"));
                long.into_iter().chain(short)
            })
            .collect();
    }
    if positional {
        return Vec::new();
    }
    let at_root = std::ptr::eq(command, root);
    command
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        // The shell refuses to nest.
        .filter(|s| !(at_root && s.get_name() == "shell"))
        .flat_map(|s| {
            std::iter::once(s.get_name().to_owned())
                .chain(s.get_visible_aliases().map(str::to_owned))
        })
        .collect()
}

fn subcommand<'a>(command: &'a clap::Command, word: &str) -> Option<&'a clap::Command> {
    command
        .get_subcommands()
        .find(|s| s.get_name() == word || s.get_all_aliases().any(|a| a == word))
}

fn flag<'a>(command: &'a clap::Command, word: &str) -> Option<&'a clap::Arg> {
    command.get_arguments().find(|a| {
        if let Some(long) = word.strip_prefix("--") {
            a.get_long() == Some(long)
        } else {
            let mut chars = word.chars().skip(1);
            let short = chars.next();
            // `-q` names a flag; `-qv` is a cluster of switches.
            chars.next().is_none() && short.is_some() && a.get_short() == short
        }
    })
}

fn takes_value(arg: &clap::Arg) -> bool {
    arg.get_num_args().is_some_and(|n| n.takes_values())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(line: &str) -> (usize, Vec<String>) {
        candidates(&built(), line, line.len())
    }

    fn has(list: &[String], items: &[&str]) -> bool {
        items.iter().all(|i| list.iter().any(|c| c == i))
    }

    #[test]
    fn an_empty_line_offers_menu_items_and_commands() {
        let (start, list) = complete("");
        assert_eq!(start, 0);
        assert!(
            has(
                &list,
                &[
                    "1", "6", "h", "q", "help", "proxy", "record", "replay", "watch"
                ]
            ),
            "{list:?}"
        );
        assert!(!list.iter().any(|c| c == "shell"), "{list:?}");
        assert!(!list.iter().any(|c| c.starts_with('-')), "{list:?}");
    }

    #[test]
    fn commands_complete_by_prefix() {
        assert_eq!(
            complete("re"),
            (0, vec!["record".to_owned(), "replay".to_owned()])
        );
        assert_eq!(complete("q"), (0, vec!["q".to_owned(), "quit".to_owned()]));
    }

    #[test]
    fn subcommands_and_their_aliases_complete() {
        let (start, list) = complete("record ");
        assert_eq!(start, 7);
        assert!(
            has(
                &list,
                &["start", "stop", "ls", "list", "pull", "push", "rm"]
            ),
            "{list:?}"
        );
        assert_eq!(complete("record p").1, ["pull", "push"]);
        assert_eq!(complete("replay s").1, ["status", "stop"]);
    }

    #[test]
    fn flags_of_the_subcommand_and_the_global_ones_complete() {
        let (start, list) = complete("proxy start --");
        assert_eq!(start, 12);
        assert!(
            has(
                &list,
                &["--listen", "--upstream", "--name", "--json", "--agent"]
            ),
            "{list:?}"
        );
        assert_eq!(complete("record ls --js").1, ["--json"]);
        // Flags given before the subcommand do not lose the place.
        assert_eq!(complete("--agent h:1 record st").1, ["start", "stop"]);
        assert_eq!(complete("-a h:1 -q record st").1, ["start", "stop"]);
    }

    #[test]
    fn enumerated_values_complete() {
        assert_eq!(
            complete("replay r1 --mode ").1,
            ["causal", "fast", "reactive", "timed"]
        );
        assert_eq!(complete("replay r1 --mode re").1, ["reactive"]);
        // A free value completes nothing.
        assert!(complete("proxy start --listen ").1.is_empty());
    }

    #[test]
    fn menu_item_values_and_unknown_words_complete_nothing() {
        assert!(complete("1 11").1.is_empty());
        assert!(complete("6 ").1.is_empty());
        assert!(complete("frobnicate ").1.is_empty());
    }

    #[test]
    fn the_cursor_may_be_inside_the_line() {
        let line = "record st --json";
        assert_eq!(
            candidates(&built(), line, 9),
            (7, vec!["start".to_owned(), "stop".to_owned()])
        );
    }
}
