//! Errors of the analysis: the recording could not be read, or a framing
//! spec (user input) or a framed stream (recorded bytes) is not valid.

use std::io;
use std::path::PathBuf;

use crate::format::FormatError;

/// Why an analysis could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    /// We failed: the recording file could not be opened.
    #[error("could not open recording {path}")]
    Open {
        /// The file we tried to open.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },

    /// The file failed (not a recording, bad header) or reading it failed;
    /// damage after the header is not an error but `Analysis::end`.
    #[error("could not read the recording")]
    Format(#[from] FormatError),

    /// The caller failed: the framing spec is not valid.
    #[error(transparent)]
    Framing(#[from] FramingError),
}

/// A framing problem: in the spec the user gave, or in the bytes of a stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// The user failed: the spec does not parse (see `docs/ANALYSIS.md`).
    #[error("invalid framing spec {}: {reason}", crate::error::echo(spec))]
    InvalidSpec {
        /// The text as given.
        spec: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The stream failed: a length field plus `adjust` is negative, so the
    /// stream does not follow the spec (or framing lost sync) from here on.
    #[error("length field {length} with adjust {adjust} gives a negative message size")]
    NegativeLength {
        /// The value read from the length field.
        length: u64,
        /// The spec's `adjust`.
        adjust: i64,
    },
}
