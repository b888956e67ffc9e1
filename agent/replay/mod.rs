//! Replay: the plan (the recordings' connections, from one pass over the
//! files), the events a pass streams from them (`source`, `script`) within
//! a look-ahead `budget`, running a pass (`session`) with one task per
//! connection (`task`) over its sockets (`conn`), causal `gates`, what
//! connections wait for (`waits`), verification (`verify`), lateness
//! statistics, reports, and the agent's set of replays (`registry`).

mod budget;
mod conn;
mod gates;
pub mod lateness;
mod options;
pub mod plan;
mod registry;
mod report;
mod script;
mod session;
mod source;
mod task;
pub mod verify;
mod waits;

pub use conn::{CLOSE_GRACE, CONNECT_DEADLINE};
pub use lateness::LatenessSummary;
pub use options::{
    DEFAULT_SERVER_TIMEOUT, MAX_LOOPS, MAX_MULTIPLY, Mode, ReplayOptions, SPEED_RANGE,
};
pub use registry::{Replay, Replays};
pub use report::{ConnReport, RelaxReason, Relaxation, ReplayReport, ReplayState, Wait};
pub use verify::Divergence;
