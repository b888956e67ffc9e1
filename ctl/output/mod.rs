//! All printing: human tables and lines, one JSON document (or JSON Lines for
//! watch), errors on stderr, a replay's progress bar. Commands hand over
//! typed results.

pub(crate) mod analysis;
pub(crate) mod analysis_udp;
pub(crate) mod escape;
pub(crate) mod faults;
pub(crate) mod files;
pub(crate) mod format;
pub(crate) mod human;
pub(crate) mod pcap;
pub(crate) mod progress;
pub(crate) mod proxy;
pub(crate) mod replay;
pub(crate) mod replay_detail;
pub(crate) mod replay_list;
pub(crate) mod replay_udp;
pub(crate) mod report;
pub(crate) mod rules;
pub(crate) mod sources;
pub(crate) mod table;
pub(crate) mod watch;
pub(crate) mod watch_json;
pub(crate) mod watch_lines;
pub(crate) mod watch_seconds;

pub(crate) use progress::ReplayDisplay;
pub(crate) use report::{
    print_agents, print_checked, print_error, print_report, print_warnings, runtime,
};
pub(crate) use sources::print_sources;
pub(crate) use watch::{WatchPrinter, watch_end};
