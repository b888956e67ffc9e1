//! Errors of the rewrite engine: a rules file that cannot be used (always
//! the user's file, named down to the field), and a byte stream that does
//! not follow the framing (a value the caller counts, never a panic).

/// Why a rules file was refused. Every message names where: the table,
/// the index of the `[[...]]` entry and the field, e.g.
/// `rewrite[2].from: no capture named "tokn"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    /// The user's file failed: it is not TOML at all (an unclosed string, a
    /// key without a value...). The message says the line and column.
    #[error("not valid TOML: {0}")]
    Syntax(String),
    /// The user's file failed: a field is unknown, missing, of the wrong
    /// type or out of range, or rules contradict each other.
    #[error("{at}: {message}")]
    Invalid {
        /// Where: `capture[0]`, `rewrite[1].field.int`, `framing`...
        at: String,
        /// What is wrong, and what would be right.
        message: String,
    },
}

impl RulesError {
    /// An [`RulesError::Invalid`] at `at`.
    pub(crate) fn invalid(at: impl Into<String>, message: impl Into<String>) -> RulesError {
        RulesError::Invalid {
            at: at.into(),
            message: message.into(),
        }
    }
}

/// Why a byte stream stopped following the framing. The framer hands the
/// rest of the stream on unparsed after it (one raw message per chunk).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// The stream (or the rules' `length`) failed: a length prefix announces
    /// a body larger than the cap, which no sane message is.
    #[error(
        "a length prefix announces {length} bytes, more than the {max} bytes a message may have"
    )]
    TooLong {
        /// The body length the prefix gave (after `length_adjust`).
        length: u64,
        /// [`MAX_MESSAGE`](super::MAX_MESSAGE).
        max: u64,
    },
    /// The stream (or the rules' `length_adjust`) failed: the prefix plus
    /// `length_adjust` is negative.
    #[error("a length prefix of {value} with length_adjust {adjust} gives a negative length")]
    NegativeLength {
        /// The prefix as read.
        value: u64,
        /// The rules' `length_adjust`.
        adjust: i64,
    },
    /// The stream failed: a varint prefix goes on beyond the bytes any
    /// length below the cap needs.
    #[error("a varint length prefix does not end within {max} bytes")]
    VarintTooLong {
        /// [`MAX_VARINT_BYTES`](super::MAX_VARINT_BYTES).
        max: usize,
    },
    /// The stream (or the rules' `delimiter`) failed: no delimiter within
    /// the cap.
    #[error("no delimiter within {max} bytes")]
    NoDelimiter {
        /// [`MAX_MESSAGE`](super::MAX_MESSAGE).
        max: u64,
    },
}
