//! The command line as clap types: what the user typed, not yet interpreted.
//! `settings` resolves the global part into `Settings` before any command runs.

mod cli;
mod parse;
mod replay;

pub(crate) use cli::*;
pub(crate) use replay::*;
