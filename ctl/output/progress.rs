//! What a replay shows while it runs: a progress bar on stderr (finished of
//! planned connections, bytes sent of expected, summed over the agents),
//! only when both stdout and stderr are terminals and the output is neither
//! JSON nor quiet; the notices of recordings pushed by `--spread`; and the
//! Ctrl-C notice.

use std::io::{self, IsTerminal, Write};
use std::sync::OnceLock;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::commands::replay::Observer;
use crate::commands::replay::follow::Totals;
use crate::commands::replay::spread::Pushed;
use crate::output::format::bytes;
use crate::output::replay::write_pushed;
use crate::settings::{OutputMode, Verbosity};

/// Spinner redraw interval.
const TICK: Duration = Duration::from_millis(120);

const TEMPLATE: &str =
    "{spinner} {elapsed_precise} [{bar:30}] {pos}/{len} connections finished, {msg}";

/// The replay's live display.
#[derive(Debug)]
pub(crate) struct ReplayDisplay {
    mode: OutputMode,
    /// Whether the bar may be shown at all.
    show: bool,
    /// Made at the first progress report, so that nothing is drawn while
    /// recordings are copied or clocks measured.
    bar: OnceLock<ProgressBar>,
}

impl ReplayDisplay {
    pub(crate) fn new(mode: OutputMode) -> ReplayDisplay {
        let show = !mode.json
            && mode.verbosity != Verbosity::Quiet
            && io::stdout().is_terminal()
            && io::stderr().is_terminal();
        ReplayDisplay {
            mode,
            show,
            bar: OnceLock::new(),
        }
    }

    /// Runs `write` with the bar out of the way.
    fn print(&self, write: impl FnOnce()) {
        match self.bar.get() {
            Some(bar) => bar.suspend(write),
            None => write(),
        }
    }
}

fn new_bar() -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(TEMPLATE)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.enable_steady_tick(TICK);
    bar
}

impl Observer for ReplayDisplay {
    fn pushed(&self, pushed: &[Pushed]) {
        if self.mode.json || self.mode.verbosity == Verbosity::Quiet {
            return;
        }
        self.print(|| {
            let mut out = io::stdout().lock();
            // A closed stdout shows up again, and is handled, with the report.
            let _ = write_pushed(&mut out, pushed).and_then(|()| out.flush());
        });
    }

    fn progress(&self, totals: Totals) {
        if !self.show {
            return;
        }
        let bar = self.bar.get_or_init(new_bar);
        bar.set_length(totals.planned);
        bar.set_position(totals.finished);
        bar.set_message(format!(
            "sent {} of {}",
            bytes(totals.bytes_sent),
            bytes(totals.expected_sent)
        ));
    }

    fn interrupted(&self) {
        if self.mode.json {
            return;
        }
        self.print(|| {
            let _ = writeln!(
                io::stderr().lock(),
                "stopping the replays (Ctrl-C again to stop waiting for their reports)"
            );
        });
    }

    fn done(&self) {
        if let Some(bar) = self.bar.get() {
            bar.finish_and_clear();
        }
    }
}
