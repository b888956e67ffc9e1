//! Replay: the pure plan built from recordings (`plan`), options, the
//! per-connection I/O (`conn`), running a pass (`session`), verification
//! (`verify`), lateness statistics, reports, and the agent's set of replays
//! (`registry`).

mod conn;
pub mod lateness;
mod options;
pub mod plan;
mod registry;
mod report;
mod session;
pub mod verify;

pub use conn::{CLOSE_GRACE, CONNECT_DEADLINE};
pub use lateness::LatenessSummary;
pub use options::{
    DEFAULT_SERVER_TIMEOUT, MAX_LOOPS, MAX_MULTIPLY, Mode, ReplayOptions, SPEED_RANGE,
};
pub use registry::{Replay, Replays};
pub use report::{ConnReport, RelaxReason, Relaxation, ReplayReport, ReplayState, Wait};
pub use verify::Divergence;
