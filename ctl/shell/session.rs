//! The shell's loop: read a line (from a line editor on a terminal, plainly
//! from stdin otherwise), act on it, go on whatever happened; remember
//! whether any line failed for the exit status. Commands run through the
//! function reelctl's `main` runs a parsed command line with, so a command
//! behaves and prints exactly as it does outside the shell.

use std::io::{self, BufRead, IsTerminal, Write};

use rustyline::config::Config;
use rustyline::error::ReadlineError;
use rustyline::history::{FileHistory, History};
use rustyline::{CompletionType, Editor};

use super::complete::ShellHelper;
use super::{history, line, menu, records};
use crate::args::{Cli, Command, GlobalArgs, SHELL_MENU};
use crate::exit::Exit;
use crate::output;
use crate::settings::Settings;

/// Why `shell` typed in the shell does nothing.
pub(crate) const NESTED: &str = "already in reelctl shell: `shell` cannot run inside it";

/// The prompt on a terminal.
const PROMPT: &str = "reel> ";

/// Lines kept in the history file.
const HISTORY_LINES: usize = 1000;

/// Runs a parsed command line and returns its exit status (reelctl's own
/// `run`, passed in so the shell needs nothing from `main`).
pub(crate) type RunCommand = fn(Cli) -> Exit;

/// What the loop does after a line.
enum Step {
    /// Read the next line; whether this one succeeded.
    Next(bool),
    Quit,
}

/// One shell session: its global options and whether a line failed.
struct Shell<'a> {
    global: GlobalArgs,
    settings: &'a Settings,
    run_command: RunCommand,
    failed: bool,
}

/// Runs the shell until `q` or the end of input. `global` and `settings`
/// are the shell's own options (checked by the caller).
///
/// Exit status: `Success` when every line succeeded, else `LineFailed`.
pub(crate) fn run(global: GlobalArgs, settings: &Settings, run_command: RunCommand) -> Exit {
    let mut shell = Shell {
        global,
        settings,
        run_command,
        failed: false,
    };
    if io::stdin().is_terminal() {
        shell.interactive();
    } else {
        shell.scripted();
    }
    if shell.failed {
        Exit::LineFailed
    } else {
        Exit::Success
    }
}

impl Shell<'_> {
    /// Lines from stdin as a script: no prompt, no editing, no history.
    fn scripted(&mut self) {
        for line in io::stdin().lock().lines() {
            let line = match line {
                Ok(line) => line,
                Err(error) => {
                    output::print_error(&format!("cannot read stdin: {error}"));
                    self.failed = true;
                    return;
                }
            };
            if let Step::Quit = self.step(&line) {
                return;
            }
        }
    }

    /// A prompt with line editing, completion and history.
    fn interactive(&mut self) {
        let config = Config::builder()
            .completion_type(CompletionType::List)
            .history_ignore_dups(true)
            .and_then(|c| c.history_ignore_space(true).max_history_size(HISTORY_LINES))
            .map(|c| c.build());
        let editor = config.and_then(Editor::<ShellHelper, FileHistory>::with_config);
        let mut editor = match editor {
            Ok(editor) => editor,
            Err(error) => {
                output::print_error(&format!(
                    "cannot edit lines on this terminal ({error}); reading plain lines"
                ));
                return self.scripted();
            }
        };
        editor.set_helper(Some(ShellHelper::new()));
        let history = history::file();
        if let Some(path) = &history {
            // A missing file is the first session's normal state.
            let _ = editor.load_history(path);
        }
        ignore_interrupts();
        self.welcome();
        loop {
            match editor.readline(PROMPT) {
                Ok(line) => {
                    if !line.trim().is_empty() {
                        let _ = editor.add_history_entry(line.as_str());
                    }
                    if let Step::Quit = self.step(&line) {
                        break;
                    }
                }
                // Ctrl-C at the prompt drops the line, as in a shell.
                Err(ReadlineError::Interrupted) => {}
                Err(ReadlineError::Eof) => break,
                Err(error) => {
                    output::print_error(&format!("cannot read the terminal: {error}"));
                    self.failed = true;
                    break;
                }
            }
        }
        if let Some(path) = &history
            && !editor.history().is_empty()
            && let Err(error) = editor.save_history(path)
        {
            output::print_error(&format!(
                "cannot save the history in {}: {error}",
                path.display()
            ));
        }
    }

    /// The recorder greeted with its menu; so does the shell, naming the
    /// agents it drives.
    fn welcome(&self) {
        let agents: Vec<String> = self.settings.agents.iter().map(|a| a.label()).collect();
        let mut out = io::stdout().lock();
        let _ = writeln!(
            out,
            "reelctl shell on {}\n{SHELL_MENU}",
            output::escape::safe(&agents.join(", "))
        );
    }

    /// Acts on one line and records whether it failed.
    fn step(&mut self, text: &str) -> Step {
        let step = match menu::parse(text) {
            Err(error) => {
                output::print_error(&error);
                Step::Next(false)
            }
            Ok(menu::Action::Nothing) => Step::Next(true),
            Ok(menu::Action::Quit) => Step::Quit,
            Ok(menu::Action::Help) => {
                let _ = writeln!(io::stdout().lock(), "{SHELL_MENU}");
                Step::Next(true)
            }
            Ok(menu::Action::ShowRecords) => {
                Step::Next(records::show(self.settings) == Exit::Success)
            }
            Ok(menu::Action::Command(words)) => Step::Next(self.command(&words)),
        };
        if let Step::Next(false) = step {
            self.failed = true;
        }
        step
    }

    /// Parses and runs a reelctl command line; whether it succeeded.
    fn command(&self, words: &[String]) -> bool {
        match line::parse(words, &self.global) {
            // Usage errors, and --help/--version (exit code 0).
            Err(error) => {
                let _ = error.print();
                error.exit_code() == 0
            }
            Ok(Cli {
                command: Command::Shell(_),
                ..
            }) => {
                output::print_error(&NESTED);
                false
            }
            Ok(cli) => (self.run_command)(cli) == Exit::Success,
        }
    }
}

/// From now on Ctrl-C is the commands' business (`watch` and `replay` stop
/// on it, as outside the shell) and never ends the shell: a tokio signal
/// listener, once registered, replaces the default action for the process.
fn ignore_interrupts() {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    runtime.block_on(async {
        let _ = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt());
    });
}
