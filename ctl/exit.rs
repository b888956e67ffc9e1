//! The process exit status as a type: what a script can rely on.

use std::process::ExitCode;

/// How reelctl ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// 0: every selected agent succeeded (or the output pipe was closed).
    Success,
    /// 1: at least one agent failed; the others' results were still printed.
    AgentFailed,
    /// 1: the command ran and its check failed (`rules check`: a rule
    /// matched no message); the findings were printed.
    CheckFailed,
    /// 1: a line of `reelctl shell` failed (the shell went on to the next).
    LineFailed,
    /// 2: the command line, environment or fleet file was wrong.
    Usage,
    /// 2: reelctl itself failed (could not start its runtime, write its output).
    Internal,
}

impl Exit {
    /// The exit status of a fan-out: `Success` when every agent succeeded.
    pub(crate) fn from_results(oks: impl IntoIterator<Item = bool>) -> Exit {
        if oks.into_iter().all(|ok| ok) {
            Exit::Success
        } else {
            Exit::AgentFailed
        }
    }

    /// The numeric status.
    pub(crate) fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::AgentFailed | Exit::CheckFailed | Exit::LineFailed => 1,
            Exit::Usage | Exit::Internal => 2,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregation() {
        let cases: &[(&[bool], Exit)] = &[
            (&[], Exit::Success),
            (&[true], Exit::Success),
            (&[true, true], Exit::Success),
            (&[false], Exit::AgentFailed),
            (&[true, false, true], Exit::AgentFailed),
        ];
        for (oks, expected) in cases {
            assert_eq!(
                Exit::from_results(oks.iter().copied()),
                *expected,
                "{oks:?}"
            );
        }
    }

    #[test]
    fn codes() {
        assert_eq!(Exit::Success.code(), 0);
        assert_eq!(Exit::AgentFailed.code(), 1);
        assert_eq!(Exit::CheckFailed.code(), 1);
        assert_eq!(Exit::LineFailed.code(), 1);
        assert_eq!(Exit::Usage.code(), 2);
        assert_eq!(Exit::Internal.code(), 2);
    }
}
