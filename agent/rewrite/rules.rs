//! The rules as the engine uses them: typed, validated, names resolved to
//! value slots. Built only by [`Rules::parse`] (see `schema` for the TOML
//! and `validate` for the checks), so every `Rules` is consistent.

use regex::bytes::Regex;

use super::algorithm::Algorithm;
use super::int::{IntType, LengthType};
use crate::format::Direction;

/// A parsed rules file: how each direction's stream splits into messages,
/// and what to learn, rewrite, recompute and not compare in them.
#[derive(Debug, Clone)]
pub struct Rules {
    pub(crate) framing: Framing,
    pub(crate) captures: Vec<Capture>,
    pub(crate) rewrites: Vec<Rewrite>,
    pub(crate) checksums: Vec<Checksum>,
    pub(crate) ignores: Vec<Ignore>,
    /// One per distinct capture name; `Capture::slot` and `Rewrite::slot`
    /// index it. Several `[[capture]]` may fill one name (a token sent in
    /// the login answer or in a reconnect answer).
    pub(crate) slots: Vec<SlotInfo>,
}

impl Rules {
    /// How each direction splits into messages.
    pub fn framing(&self) -> &Framing {
        &self.framing
    }

    /// The `[[capture]]` rules, in file order.
    pub fn captures(&self) -> &[Capture] {
        &self.captures
    }

    /// The `[[rewrite]]` rules, in file order (and the order they apply).
    pub fn rewrites(&self) -> &[Rewrite] {
        &self.rewrites
    }

    /// The `[[checksum]]` rules, in file order.
    pub fn checksums(&self) -> &[Checksum] {
        &self.checksums
    }

    /// The `[[ignore]]` rules, in file order.
    pub fn ignores(&self) -> &[Ignore] {
        &self.ignores
    }

    /// The distinct capture names, in order of first appearance.
    pub fn capture_names(&self) -> impl Iterator<Item = &str> {
        self.slots.iter().map(|s| s.name.as_str())
    }
}

/// What one capture name holds, shared by the `[[capture]]` rules of that name.
#[derive(Debug, Clone)]
pub(crate) struct SlotInfo {
    pub(crate) name: String,
    pub(crate) scope: Scope,
    /// The captures of this name read integers (so `shift` and int fields
    /// may use it).
    pub(crate) int: bool,
}

/// How a direction's byte stream splits into messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framing {
    /// No `[framing]`: each recorded chunk (each live read) is one message.
    Chunks,
    /// A length prefix before each body.
    Length {
        /// How the prefix is written.
        prefix: LengthType,
        /// Added to the prefix value to get the body length (`-2` when a
        /// u16 prefix counts itself).
        adjust: i64,
    },
    /// Each message ends with these bytes (not part of the body).
    Delimiter(Vec<u8>),
}

/// A condition on a message: these bytes at this body offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct When {
    /// Body offset; negative counts from the end.
    pub offset: i64,
    /// The bytes that must be there (`hex` in the file).
    pub bytes: Vec<u8>,
}

/// Where a value is in a message body.
#[derive(Debug, Clone)]
pub enum Field {
    /// `{offset, len}`: raw bytes.
    Raw {
        /// Body offset; negative counts from the end.
        offset: i64,
        /// Bytes.
        len: usize,
    },
    /// `{offset, int}`: an unsigned integer.
    Int(IntField),
    /// `{regex}`: the first group of the first match (bytes, so the body
    /// need not be UTF-8).
    Regex(Regex),
}

/// `{offset, int}`: an integer field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntField {
    /// Body offset; negative counts from the end.
    pub offset: i64,
    /// Width and byte order.
    pub int: IntType,
}

/// Who shares a captured value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The default: a value captured on a connection rewrites that connection.
    Connection,
    /// `scope = "replay"`: one value for every connection (a world id).
    Replay,
}

/// `[[capture]]`: learn a value from messages of one direction.
#[derive(Debug, Clone)]
pub struct Capture {
    /// The name rewrites refer to with `from`.
    pub name: String,
    /// Messages of this direction (usually `s2c`).
    pub direction: Direction,
    /// Only messages meeting this condition.
    pub when: Option<When>,
    /// Where the value is.
    pub field: Field,
    /// Per connection or for the whole replay.
    pub scope: Scope,
    pub(crate) slot: usize,
}

/// Where a rewrite writes.
#[derive(Debug, Clone)]
pub enum Target {
    /// `field = ...`: this field takes the live value.
    Field(Field),
    /// `anywhere = true`: every occurrence of the recorded value in the
    /// body becomes the live value (the length may change).
    Anywhere,
}

/// `[[rewrite]]`: where the client repeats a captured value.
#[derive(Debug, Clone)]
pub struct Rewrite {
    /// Always `c2s`: replay sends only client bytes.
    pub direction: Direction,
    /// Only messages meeting this condition.
    pub when: Option<When>,
    /// Where the value goes.
    pub target: Target,
    /// The capture whose live value is written (or whose recorded/live
    /// pair gives the shift).
    pub from: String,
    /// Integers: live = recorded + (live `from` - recorded `from`),
    /// wrapping at the field's width, instead of the live value itself.
    pub shift: bool,
    pub(crate) slot: usize,
}

/// `over = {from, to}`: a body range; negative ends count from the end,
/// `to` is exclusive and defaults to the end of the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// First byte.
    pub from: i64,
    /// End (exclusive); `None` is the end of the body.
    pub to: Option<i64>,
}

/// `[[checksum]]`: recomputed after rewriting.
#[derive(Debug, Clone)]
pub struct Checksum {
    /// Always `c2s`, like rewrites.
    pub direction: Direction,
    /// Only messages meeting this condition.
    pub when: Option<When>,
    /// How it is computed.
    pub algorithm: Algorithm,
    /// Over which body bytes.
    pub over: Span,
    /// Where it is written (modulo the field's width).
    pub at: IntField,
}

/// `[[ignore]]`: bytes `--verify` does not compare.
#[derive(Debug, Clone)]
pub struct Ignore {
    /// Messages of this direction (usually `s2c`).
    pub direction: Direction,
    /// Only messages meeting this condition.
    pub when: Option<When>,
    /// The bytes not compared.
    pub field: Field,
}
