//! All printing: human tables and lines, one JSON document (or JSON Lines for
//! watch), errors on stderr. Commands hand over typed results.

pub(crate) mod format;
pub(crate) mod human;
pub(crate) mod report;
pub(crate) mod table;
pub(crate) mod watch;
pub(crate) mod watch_json;

pub(crate) use report::{print_agents, print_error, print_report, print_warnings};
pub(crate) use watch::WatchPrinter;
