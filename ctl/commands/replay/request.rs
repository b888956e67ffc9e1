//! The StartReplay request built from the flags, before any agent is
//! called: mode and pacing from `--mode`/`--fast`, durations in ms, the
//! defaults spelled out. Shard and start instant are set per agent later.

use reel::proto::StartReplayRequest;

use reel::replay::Mode;

use crate::args::ReplayStartArgs;
use crate::schedule::ScheduleError;

/// Why the replay cannot be started as asked: exit status 2.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReplayUsageError {
    /// Flags that contradict each other.
    #[error("{0}")]
    Flags(String),
    /// `--at` is in the past, or passed while preparing.
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    /// The `--rules` file cannot be read.
    #[error("cannot read the rules file {path}: {source}")]
    RulesFile {
        path: String,
        source: std::io::Error,
    },
    /// A REC names a local file that cannot be read or is not a recording,
    /// or is neither a file nor a valid id.
    #[error("{0}")]
    Recording(String),
    /// The `--rules` file is not a valid rules file.
    #[error("invalid rules in {path}: {source}")]
    Rules {
        path: String,
        source: reel::rewrite::RulesError,
    },
}

/// The `--rules` file's text, checked here so every agent gets rules that
/// parse (they check again).
fn rules(args: &ReplayStartArgs) -> Result<String, ReplayUsageError> {
    let Some(path) = &args.rules else {
        return Ok(String::new());
    };
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ReplayUsageError::RulesFile {
        path: shown.clone(),
        source,
    })?;
    reel::rewrite::Rules::parse(&text).map_err(|source| ReplayUsageError::Rules {
        path: shown,
        source,
    })?;
    Ok(text)
}

/// The fault profile of the replayed connections, if any flag was given.
fn faults(args: &ReplayStartArgs) -> Result<Option<reel::proto::FaultProfile>, ReplayUsageError> {
    if args.faults.is_empty() {
        return Ok(None);
    }
    let proxy_only = args.faults.proxy_only();
    if !proxy_only.is_empty() {
        return Err(ReplayUsageError::Flags(format!(
            "{} only act on a proxy's connections; a replay applies latency, \
             bandwidth, slice, black hole, connect delay, toxicity and seed (docs/FAULTS.md)",
            proxy_only.join(", ")
        )));
    }
    let spec = args.faults.checked().map_err(ReplayUsageError::Flags)?;
    Ok(Some(reel::wire::faults::profile(&spec)))
}

/// The request every agent gets, replaying `recordings` (the REC arguments
/// with local files replaced by their ids); shard and start instant are set
/// per agent.
///
/// # Errors
/// `--fast` with `--mode timed`, a recording that is not a valid id.
pub(crate) fn request(
    args: &ReplayStartArgs,
    recordings: &[String],
) -> Result<StartReplayRequest, ReplayUsageError> {
    let (mode, unpaced) = match (args.mode, args.fast) {
        (None, false) => (Mode::Timed, false),
        (None | Some(Mode::Fast), true) => (Mode::Fast, false),
        (Some(Mode::Timed), true) => {
            return Err(ReplayUsageError::Flags(
                "--fast cannot be combined with --mode timed: use --mode fast, or drop --fast"
                    .to_owned(),
            ));
        }
        (Some(mode @ (Mode::Reactive | Mode::Causal)), true) => (mode, true),
        (Some(mode), false) => (mode, false),
    };
    for r in recordings {
        if let Err(e) = reel::ids::validate("recording", r) {
            return Err(ReplayUsageError::Recording(format!(
                "{e}: give a recording id as `reelctl record ls` lists them \
                 (e.g. 20261206-225304-17db), or a local recording file as a \
                 path holding a '/' or ending in .reel (e.g. ./capture.reel)"
            )));
        }
    }
    let millis = |d: Option<std::time::Duration>| {
        // A positive duration under 1 ms must not become 0 ("unset").
        d.map_or(0, |d| {
            u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
        })
    };
    Ok(StartReplayRequest {
        recordings: recordings.to_vec(),
        group: args.group.clone().unwrap_or_default(),
        target: args.target.clone().unwrap_or_default(),
        mode: reel::wire::replay::mode_value(mode) as i32,
        speed: args.speed.unwrap_or(1.0),
        unpaced,
        loops: args.loops.unwrap_or(1),
        multiply: args.multiply.unwrap_or(1),
        verify: args.verify,
        max_idle_ms: millis(args.max_idle),
        shard_index: 0,
        shard_count: 0,
        start_at_unix_ns: 0,
        server_timeout_ms: millis(args.server_timeout),
        faults: faults(args)?,
        rules: rules(args)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use clap::Parser;

    fn parse(argv: &[&str]) -> ReplayStartArgs {
        let mut full = vec!["reelctl", "replay"];
        full.extend_from_slice(argv);
        match Cli::try_parse_from(full).unwrap().command {
            Command::Replay(replay) => replay.start,
            _ => panic!("not replay"),
        }
    }

    fn req(argv: &[&str]) -> Result<StartReplayRequest, ReplayUsageError> {
        let args = parse(argv);
        let ids: Vec<String> = args
            .recordings
            .iter()
            .map(|r| r.trim().to_owned())
            .collect();
        request(&args, &ids)
    }

    #[test]
    fn fast_picks_the_mode_or_unpaces_it() {
        let cases: &[(&[&str], &str, bool)] = &[
            (&["r1"], "timed", false),
            (&["r1", "--fast"], "fast", false),
            (&["r1", "--mode", "fast", "--fast"], "fast", false),
            (&["r1", "--mode", "reactive"], "reactive", false),
            (&["r1", "--mode", "reactive", "--fast"], "reactive", true),
            (&["r1", "--mode", "causal", "--fast"], "causal", true),
        ];
        for (argv, mode, unpaced) in cases {
            let r = req(argv).unwrap();
            assert_eq!(
                (reel::wire::json::replay_mode_word(r.mode), r.unpaced),
                (*mode, *unpaced),
                "{argv:?}"
            );
        }
        let err = req(&["r1", "--mode", "timed", "--fast"]).unwrap_err();
        assert!(err.to_string().contains("--fast"), "{err}");
    }

    #[test]
    fn flags_become_the_request() {
        let r = req(&[
            "r1,r2",
            "r3",
            "--target",
            "h:1",
            "--speed",
            "2.5",
            "--loops",
            "3",
            "--multiply",
            "4",
            "--verify",
            "--max-idle",
            "1500ms",
            "--server-timeout",
            "100us",
            "--group",
            "g",
        ])
        .unwrap();
        assert_eq!(r.recordings, ["r1", "r2", "r3"]);
        assert_eq!((r.target.as_str(), r.group.as_str()), ("h:1", "g"));
        assert_eq!((r.speed, r.loops, r.multiply, r.verify), (2.5, 3, 4, true));
        assert_eq!((r.max_idle_ms, r.server_timeout_ms), (1500, 1));
        assert_eq!(
            (r.shard_index, r.shard_count, r.start_at_unix_ns),
            (0, 0, 0)
        );
        let r = req(&["r1"]).unwrap();
        assert_eq!((r.speed, r.loops, r.multiply), (1.0, 1, 1));
        assert_eq!((r.max_idle_ms, r.server_timeout_ms), (0, 0));
    }
}
