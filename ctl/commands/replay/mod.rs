//! `reelctl replay`: starting replays on the fleet and following them
//! (`run`, with `request`, `local`, `spread` and `follow`), reports as reelctl reads
//! them (`report`), and `status`/`stop`/`ls`
//! (`manage`).

pub(crate) mod follow;
pub(crate) mod local;
pub(crate) mod manage;
pub(crate) mod report;
pub(crate) mod request;
pub(crate) mod run;
pub(crate) mod spread;

pub(crate) use manage::{ReplayList, ReplayShown, list, status, stop};
pub(crate) use run::{DetachedReplay, Observer, ReplayOutcome, Replayed, run};
