//! Replay modes and states between protobuf and the engine. The engine's
//! `as_str` names are the words reelctl prints and its JSON carries.

use crate::domain::ReplayState;
use crate::error::Error;
use crate::proto as pb;
use crate::replay::{Mode, RelaxReason, RuleTable};

/// The engine's mode of a request's; UNSPECIFIED is timed.
///
/// # Errors
/// `InvalidArgument` naming `mode` for a value this build does not know.
pub fn mode(value: i32) -> Result<Mode, Error> {
    match pb::ReplayMode::try_from(value) {
        Ok(pb::ReplayMode::Unspecified | pb::ReplayMode::Timed) => Ok(Mode::Timed),
        Ok(pb::ReplayMode::Fast) => Ok(Mode::Fast),
        Ok(pb::ReplayMode::Reactive) => Ok(Mode::Reactive),
        Ok(pb::ReplayMode::Causal) => Ok(Mode::Causal),
        Err(_) => Err(Error::invalid(
            "mode",
            format!("{value} is not one of timed, fast, reactive, causal"),
        )),
    }
}

/// The wire value of the engine's mode.
pub fn mode_value(m: Mode) -> pb::ReplayMode {
    match m {
        Mode::Timed => pb::ReplayMode::Timed,
        Mode::Fast => pb::ReplayMode::Fast,
        Mode::Reactive => pb::ReplayMode::Reactive,
        Mode::Causal => pb::ReplayMode::Causal,
    }
}

/// The engine's state of a report's; `None` for UNSPECIFIED or a value a
/// newer agent sent that this build does not know.
pub fn state(value: i32) -> Option<ReplayState> {
    match pb::ReplayState::try_from(value).ok()? {
        pb::ReplayState::Unspecified => None,
        pb::ReplayState::Scheduled => Some(ReplayState::Scheduled),
        pb::ReplayState::Running => Some(ReplayState::Running),
        pb::ReplayState::Finished => Some(ReplayState::Finished),
        pb::ReplayState::Stopped => Some(ReplayState::Stopped),
        pb::ReplayState::Failed => Some(ReplayState::Failed),
    }
}

/// The wire value of the engine's state.
pub fn state_value(s: ReplayState) -> pb::ReplayState {
    match s {
        ReplayState::Scheduled => pb::ReplayState::Scheduled,
        ReplayState::Running => pb::ReplayState::Running,
        ReplayState::Finished => pb::ReplayState::Finished,
        ReplayState::Stopped => pb::ReplayState::Stopped,
        ReplayState::Failed => pb::ReplayState::Failed,
    }
}

/// The engine's table of a rule count's; `None` for UNSPECIFIED or a value
/// this build does not know.
pub fn rule_table(value: i32) -> Option<RuleTable> {
    match pb::RuleTable::try_from(value).ok()? {
        pb::RuleTable::Unspecified => None,
        pb::RuleTable::Capture => Some(RuleTable::Capture),
        pb::RuleTable::Rewrite => Some(RuleTable::Rewrite),
        pb::RuleTable::Checksum => Some(RuleTable::Checksum),
        pb::RuleTable::Ignore => Some(RuleTable::Ignore),
    }
}

/// The wire value of the engine's table.
pub fn rule_table_value(t: RuleTable) -> pb::RuleTable {
    match t {
        RuleTable::Capture => pb::RuleTable::Capture,
        RuleTable::Rewrite => pb::RuleTable::Rewrite,
        RuleTable::Checksum => pb::RuleTable::Checksum,
        RuleTable::Ignore => pb::RuleTable::Ignore,
    }
}

/// The engine's reason of a relaxation's; `None` for UNSPECIFIED or a value
/// this build does not know.
pub fn relax_reason(value: i32) -> Option<RelaxReason> {
    match pb::RelaxReason::try_from(value).ok()? {
        pb::RelaxReason::Unspecified => None,
        pb::RelaxReason::Silent => Some(RelaxReason::Silent),
        pb::RelaxReason::Stalled => Some(RelaxReason::Stalled),
        pb::RelaxReason::Timeout => Some(RelaxReason::Timeout),
    }
}

/// The wire value of the engine's reason.
pub fn relax_reason_value(r: RelaxReason) -> pb::RelaxReason {
    match r {
        RelaxReason::Silent => pb::RelaxReason::Silent,
        RelaxReason::Stalled => pb::RelaxReason::Stalled,
        RelaxReason::Timeout => pb::RelaxReason::Timeout,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_and_states_round_trip() {
        for m in [Mode::Timed, Mode::Fast, Mode::Reactive, Mode::Causal] {
            assert_eq!(mode(mode_value(m) as i32).unwrap(), m);
        }
        assert_eq!(mode(0).unwrap(), Mode::Timed);
        let e = mode(99).unwrap_err().to_string();
        assert!(e.starts_with("invalid mode: 99 is not"), "{e}");
        for s in [
            ReplayState::Scheduled,
            ReplayState::Running,
            ReplayState::Finished,
            ReplayState::Stopped,
            ReplayState::Failed,
        ] {
            assert_eq!(state(state_value(s) as i32), Some(s));
        }
        assert_eq!(state(0), None);
        assert_eq!(state(99), None);
        for t in [
            RuleTable::Capture,
            RuleTable::Rewrite,
            RuleTable::Checksum,
            RuleTable::Ignore,
        ] {
            assert_eq!(rule_table(rule_table_value(t) as i32), Some(t));
        }
        assert_eq!(rule_table(0), None);
    }
}
