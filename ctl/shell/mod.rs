//! `reelctl shell`: an interactive console on the selected agents that
//! speaks the original recorder's numbered menu and every reelctl command.
//!
//! - `session`: the read-run loop (a terminal with editing, or a script
//!   on stdin) and the exit status
//! - `menu`: a line as an action (menu items become reelctl command lines)
//! - `line`: a command line parsed by reelctl's clap definition, with the
//!   shell's global options
//! - `records`: menu item 5, the recordings listed the recorder's way
//! - `complete`: Tab completion from the clap definition
//! - `history`: where the history file lives

mod complete;
mod history;
mod line;
mod menu;
mod records;
mod session;

pub(crate) use session::{NESTED, run};
