//! What `rules check` reports: the types of a dry run's findings (serde,
//! for `--json`), and how rules, values and samples are turned into them.

use serde::{Deserialize, Serialize};

use super::captures::Slot;
use super::hex;
use super::rules::{Field, Rules, Target};
use super::stats::{RuleKind, Stats};
use crate::format::Direction;

/// Messages listed in each sample list of a report (unparsed, changed).
pub const MAX_SAMPLES: usize = 5;

/// Bytes of a message a sample shows.
pub const EXCERPT_BYTES: usize = 32;

/// What a dry run found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReport {
    /// Connections with at least one frame.
    pub connections: u64,
    /// Messages the framing cut, client to server.
    pub messages_c2s: u64,
    /// Messages the framing cut, server to client.
    pub messages_s2c: u64,
    /// Messages the framing could not parse (after a break, and tails that
    /// never completed).
    pub unparsed: u64,
    /// Client messages the rules would change even when the live server
    /// sends what the recording holds; 0 for consistent rules.
    pub changed: u64,
    /// Every rule, in file order by kind.
    pub rules: Vec<RuleCheck>,
    /// Per connection (by id), the per-connection values captured.
    pub captures: Vec<ConnCaptures>,
    /// The `scope = "replay"` values captured.
    pub replay_captures: Vec<CaptureFound>,
    /// The first unparsed messages.
    pub unparsed_samples: Vec<UnparsedSample>,
    /// The first changed client messages.
    pub changed_samples: Vec<ChangedSample>,
}

impl CheckReport {
    /// The rules that matched no message (`rules check` exits 1 for them).
    pub fn unmatched(&self) -> impl Iterator<Item = &RuleCheck> {
        self.rules.iter().filter(|r| r.matched == 0)
    }
}

/// One rule's figures over the recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleCheck {
    /// Its table.
    pub kind: RuleKind,
    /// Its index in the table.
    pub index: usize,
    /// What it is about: a capture's name, a rewrite's `from`, a checksum's
    /// algorithm, an ignore's field.
    pub label: String,
    /// Its direction.
    pub direction: Direction,
    /// Messages of its direction meeting its `when`.
    pub matched: u64,
    /// Of those, the ones it could not apply to (see
    /// [`RuleStats::missed`](super::RuleStats::missed)).
    pub missed: u64,
    /// Checksums: matched messages whose recorded checksum is not the one
    /// the rule computes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mismatched: Option<u64>,
}

/// The values one connection captured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnCaptures {
    /// Connection id in the recording.
    pub conn: u64,
    /// Per capture name, when captured at least once.
    pub captures: Vec<CaptureFound>,
}

/// A captured value as the recording holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureFound {
    /// The capture's name.
    pub name: String,
    /// The latest value, in hex.
    pub hex: String,
    /// The same as text, when every byte is printable ASCII.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ascii: Option<String>,
    /// The integer, for int captures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub int: Option<u64>,
    /// How many times it was captured.
    pub seen: u64,
}

/// A message the framing could not parse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnparsedSample {
    /// Connection id.
    pub conn: u64,
    /// Its direction.
    pub direction: Direction,
    /// Index of the message in its direction (0 = the first).
    pub message: u64,
    /// Its size.
    pub bytes: u64,
    /// Why it did not parse.
    pub reason: String,
    /// Its first bytes (at most [`EXCERPT_BYTES`]), in hex.
    pub hex: String,
}

/// A client message the rules change in the dry run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangedSample {
    /// Connection id.
    pub conn: u64,
    /// Index of the message among the connection's client messages.
    pub message: u64,
    /// Offset in the wire bytes of the first byte that differs.
    pub offset: u64,
    /// The recorded bytes from there (at most [`EXCERPT_BYTES`]), in hex.
    pub recorded: String,
    /// The rewritten bytes from there, in hex.
    pub rewritten: String,
}

/// A slot's recorded value as reported, when there is one.
pub(crate) fn found(name: &str, slot: &Slot) -> Option<CaptureFound> {
    let value = slot.recorded.as_ref()?;
    Some(CaptureFound {
        name: name.to_owned(),
        hex: hex::encode(&value.bytes),
        ascii: hex::ascii(&value.bytes),
        int: value.int,
        seen: slot.recorded_seen,
    })
}

pub(crate) fn excerpt(bytes: &[u8]) -> String {
    hex::encode(&bytes[..bytes.len().min(EXCERPT_BYTES)])
}

pub(crate) fn changed(conn: u64, message: u64, recorded: &[u8], rewritten: &[u8]) -> ChangedSample {
    let offset = recorded
        .iter()
        .zip(rewritten)
        .position(|(a, b)| a != b)
        .unwrap_or(recorded.len().min(rewritten.len()));
    ChangedSample {
        conn,
        message,
        offset: offset as u64,
        recorded: excerpt(&recorded[offset..]),
        rewritten: excerpt(&rewritten[offset..]),
    }
}

/// Every rule with its totals.
pub(crate) fn rule_checks(rules: &Rules, totals: &Stats, mismatched: &[u64]) -> Vec<RuleCheck> {
    totals
        .iter()
        .filter_map(|(kind, index, stats)| {
            let (label, direction) = match kind {
                RuleKind::Capture => {
                    let c = rules.captures().get(index)?;
                    (c.name.clone(), c.direction)
                }
                RuleKind::Rewrite => {
                    let r = rules.rewrites().get(index)?;
                    let how = match (&r.target, r.shift) {
                        (Target::Anywhere, _) => " anywhere",
                        (_, true) => " shift",
                        _ => "",
                    };
                    (format!("from {}{how}", r.from), r.direction)
                }
                RuleKind::Checksum => {
                    let c = rules.checksums().get(index)?;
                    (c.algorithm.as_str().to_owned(), c.direction)
                }
                RuleKind::Ignore => {
                    let g = rules.ignores().get(index)?;
                    (describe(&g.field), g.direction)
                }
            };
            Some(RuleCheck {
                kind,
                index,
                label,
                direction,
                matched: stats.matched,
                missed: stats.missed,
                mismatched: (kind == RuleKind::Checksum)
                    .then(|| mismatched.get(index).copied().unwrap_or(0)),
            })
        })
        .collect()
}

/// A field as a short text: `offset 1 len 12`, `offset -4 u32le`, `regex ...`.
fn describe(field: &Field) -> String {
    match field {
        Field::Raw { offset, len } => format!("offset {offset} len {len}"),
        Field::Int(f) => format!("offset {} {}", f.offset, f.int.as_str()),
        Field::Regex(r) => format!("regex {}", r.as_str()),
    }
}
