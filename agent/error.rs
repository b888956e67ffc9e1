//! The engine's error type: every failure a control operation can report.
//! The gRPC layer maps each variant to one status code (service/status.rs), so
//! the variant says whose fault it was: the caller's input, the state of the
//! agent, or the host.

use std::io;
use std::path::PathBuf;

use crate::format::FormatError;

/// Longest piece of caller input echoed into an error, in characters. A
/// 100 KB id echoed whole made a status message too large for the HTTP/2
/// headers (the client saw RESOURCE_EXHAUSTED instead of the real error).
pub const MAX_ECHO_CHARS: usize = 64;

/// Caller input as an error shows it: quoted like `{:?}`, cut to
/// [`MAX_ECHO_CHARS`] characters followed by `… (N bytes)` when longer.
pub fn echo(s: &str) -> String {
    match s.char_indices().nth(MAX_ECHO_CHARS) {
        None => format!("{s:?}"),
        Some((cut, _)) => format!("{:?}… ({} bytes)", &s[..cut], s.len()),
    }
}

/// A disk limit that stops a recording or refuses an upload: which one, and
/// the figures the operator needs to act on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error("disk quota reached: recordings use {used} bytes and the limit (--max-disk) is {max}")]
    QuotaReached { used: u64, max: u64 },
    #[error(
        "free space below the floor: {free} bytes free on {}, the floor (--min-free) is {floor}",
        .dir.display()
    )]
    BelowFloor { free: u64, floor: u64, dir: PathBuf },
    /// statvfs failed, so the floor cannot be checked; refusing is safer
    /// than filling the disk.
    #[error("cannot read free space of {}: {error}", .dir.display())]
    FreeSpaceUnknown { dir: PathBuf, error: String },
}

/// A failed engine operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The caller gave a malformed value; `field` names the request field.
    #[error("invalid {field}: {reason}")]
    InvalidArgument { field: &'static str, reason: String },
    /// The caller named a proxy that is not running here.
    #[error("unknown proxy {}", echo(.0))]
    UnknownProxy(String),
    /// The caller named a recording that does not exist here.
    #[error("unknown recording {}", echo(.0))]
    UnknownRecording(String),
    /// The caller named a replay that does not exist here (or was forgotten).
    #[error("unknown replay {}", echo(.0))]
    UnknownReplay(String),
    /// The caller uploaded a recording whose id is already taken here.
    #[error("a recording with id {} already exists", echo(.0))]
    RecordingExists(String),
    /// The caller asked for a name already taken by a running proxy.
    #[error("a proxy named {} is already running", echo(.0))]
    ProxyExists(String),
    /// The caller asked for one Watch stream more than the agent serves at once.
    #[error(
        "too many Watch streams: this agent serves at most {limit} at once (reel-agent --max-watchers)"
    )]
    TooManyWatchers { limit: usize },
    /// The operation does not fit the current state (e.g. delete while recording).
    #[error("{0}")]
    FailedPrecondition(String),
    /// `--max-disk` or `--min-free` leaves no room for what was asked.
    #[error(transparent)]
    DiskLimit(#[from] LimitError),
    /// The host refused to bind the listen address (in use, not local, no permission).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: io::Error,
    },
    /// A file operation of ours failed on this host (disk full, permissions).
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    /// A recording file could not be read or written as the format requires.
    #[error("recording {id}: {source}")]
    Format {
        id: String,
        #[source]
        source: FormatError,
    },
}

impl Error {
    /// Wraps an I/O error with what we were doing, for messages a user can act on.
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidArgument {
            field,
            reason: reason.into(),
        }
    }
}

/// Result of engine operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error and its sources on one line ("… i/o failed: No space left on
/// device (os error 28)"), each cause once: a source whose text its parent
/// already shows is skipped, so nothing is printed twice.
pub fn with_causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_quotes_short_input_and_cuts_long_input() {
        assert_eq!(echo("p1"), r#""p1""#);
        assert_eq!(echo(&"x".repeat(64)), format!("{:?}", "x".repeat(64)));
        let long = "é".repeat(100);
        assert_eq!(
            echo(&long),
            format!("{:?}… (200 bytes)", "é".repeat(MAX_ECHO_CHARS))
        );
    }
}
