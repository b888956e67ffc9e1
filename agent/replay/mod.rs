//! Replay: the plan (the recordings' connections, from one pass over the
//! files), the events a pass streams from them (`source`, `script`) within
//! a look-ahead `budget`, running a pass (`session`) with one task per
//! connection (`task`) over its sockets (`conn`, opened by `connect`,
//! `reader`; a UDP session's in `datagram`), live totals
//! (`progress`), causal `gates`, what connections wait for (`waits`),
//! session rewriting on both sides (`outbound`, `inbound`, counted in
//! `units`), verification (`verify`; datagram by datagram for UDP:
//! `verify_datagram`; either behind `verifier`), lateness statistics, reports, what
//! passes report into (`feed`) and its bounded collection (`collect`),
//! report files (`store`), listing pages (`page`), and the agent's set of
//! replays (`registry`, what it keeps: `kept`).

mod budget;
mod collect;
mod conn;
mod connect;
mod datagram;
mod feed;
mod gates;
mod hold;
mod inbound;
mod kept;
pub mod lateness;
mod options;
mod outbound;
mod page;
mod pass;
pub mod plan;
mod progress;
mod reader;
mod registry;
mod report;
mod run;
mod script;
mod session;
mod source;
mod store;
mod task;
mod units;
mod verifier;
pub mod verify;
mod verify_datagram;
mod waits;

pub use collect::{Collector, KEPT_RELAXATIONS, REPORT_CONNECTIONS};
pub use conn::CLOSE_GRACE;
pub use connect::CONNECT_DEADLINE;
pub use lateness::LatenessSummary;
pub use options::{
    DEFAULT_SERVER_TIMEOUT, MAX_LOOPS, MAX_MULTIPLY, Mode, ReplayOptions, SPEED_RANGE,
};
pub use page::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
pub use registry::{KEPT_REPLAYS, Replay, Replays};
pub use report::{
    ConnReport, Omitted, RelaxReason, Relaxation, ReplayReport, ReplayState, RuleCount, RuleTable,
    UdpCounts, Wait,
};
pub use store::{INTERRUPTED, REPORTS_DIR};
pub use verify::Divergence;
