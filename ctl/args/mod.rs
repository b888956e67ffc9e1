//! The command line as clap types: what the user typed, not yet interpreted.
//! `settings` resolves the global part into `Settings` before any command runs.

mod analysis;
mod cli;
mod datagram;
mod faults;
mod parse;
mod replay;
mod rules;
mod shell;

pub(crate) use analysis::*;
pub(crate) use cli::*;
pub(crate) use datagram::*;
pub(crate) use faults::*;
pub(crate) use replay::*;
pub(crate) use rules::*;
pub(crate) use shell::*;
