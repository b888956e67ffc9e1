//! Session rewriting for replays on real servers (issue 12): a TOML rules
//! file says how each direction's stream splits into messages, which
//! values the server hands out (captures), where the client repeats them
//! (rewrites), which checksums to recompute and which bytes `--verify`
//! skips. Pure: bytes and rules in, bytes and counts out; no sockets, no
//! tasks. `docs/REWRITE.md` is the user's reference.
//!
//! # Layout
//! - `schema`: the TOML tables as written; `validate` (+ `fields`): checks
//!   and types them into [`Rules`] (`rules`), errors naming table, index
//!   and field.
//! - `int`, `algorithm`, `hex`: field types and length prefixes, checksum
//!   algorithms, hex and ASCII.
//! - `message`, `framer`: [`Message`]s cut from a stream by a [`Framer`].
//! - `locate`: offsets, conditions and fields within a body.
//! - `captures`: captured values, per connection or [`SharedCaptures`].
//! - `apply`: one rewrite on a body, and the message rebuilt around it.
//! - `conn`: [`ConnRewriter`], the rules at work on one connection.
//! - `stats`: [`Stats`] per rule, mergeable.
//! - `check`: the dry run of `reelctl rules check` over a recording;
//!   `report`: what it finds.

mod algorithm;
mod apply;
mod captures;
mod check;
mod conn;
mod error;
mod fields;
mod framer;
mod hex;
mod int;
mod locate;
mod message;
mod report;
mod rules;
mod schema;
mod stats;
mod validate;

#[cfg(test)]
mod tests;

pub use algorithm::Algorithm;
pub use captures::{SharedCaptures, Slot, Value};
pub use check::{Checker, check};
pub use conn::ConnRewriter;
pub use error::{FramingError, RulesError};
pub use framer::{Framer, MAX_MESSAGE};
pub use hex::{ascii, encode as hex};
pub use int::{IntType, LengthType, MAX_VARINT_BYTES, Prefix};
pub use message::Message;
pub use report::{
    CaptureFound, ChangedSample, CheckReport, ConnCaptures, EXCERPT_BYTES, MAX_SAMPLES, RuleCheck,
    UnparsedSample,
};
pub use rules::{
    Capture, Checksum, Field, Framing, Ignore, IntField, Rewrite, Rules, Scope, Span, Target, When,
};
pub use stats::{RuleKind, RuleStats, Stats};
pub use validate::MAX_RULES;
