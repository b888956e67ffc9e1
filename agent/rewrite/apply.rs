//! Rewriting one client message, as pure functions: a rewrite rule applied
//! to a body given the capture's recorded and live values, and the wire
//! bytes rebuilt around a body whose length may have changed.

use std::borrow::Cow;

use super::MAX_MESSAGE;
use super::captures::Value;
use super::message::Message;
use super::rules::{Field, Framing, Rewrite, Target};

/// What one rewrite did to a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// This many values written (occurrences, for `anywhere`).
    Applied(u64),
    /// The recorded value stays: a value is not known, the field is not in
    /// the body, or the live value does not fit it.
    Missed,
    /// `anywhere`: the recorded value does not occur; nothing to do.
    Absent,
}

/// Applies `rule` to `body`, given the capture's latest `recorded` and
/// `live` values.
pub(crate) fn apply(
    rule: &Rewrite,
    body: &mut Vec<u8>,
    recorded: Option<&Value>,
    live: Option<&Value>,
) -> Outcome {
    let Some(live) = live else {
        return Outcome::Missed;
    };
    match &rule.target {
        Target::Anywhere => anywhere(body, recorded, live),
        Target::Field(field) => {
            let Some(range) = field.locate(body) else {
                return Outcome::Missed;
            };
            let bytes: Cow<'_, [u8]> = match field {
                Field::Raw { len, .. } if live.bytes.len() != *len => return Outcome::Missed,
                Field::Raw { .. } | Field::Regex(_) => Cow::Borrowed(&live.bytes),
                Field::Int(int) => {
                    let value = if rule.shift {
                        let (Some(old), Some(from), Some(to)) = (
                            int.int.read(&body[range.clone()]),
                            recorded.and_then(|v| v.int),
                            live.int,
                        ) else {
                            return Outcome::Missed;
                        };
                        old.wrapping_add(to.wrapping_sub(from)) & int.int.max()
                    } else {
                        match live.int {
                            Some(v) => v,
                            None => return Outcome::Missed,
                        }
                    };
                    match int.int.encode(value) {
                        Some(bytes) => Cow::Owned(bytes),
                        None => return Outcome::Missed,
                    }
                }
            };
            body.splice(range, bytes.iter().copied());
            Outcome::Applied(1)
        }
    }
}

/// Every occurrence of the recorded bytes replaced by the live ones.
fn anywhere(body: &mut Vec<u8>, recorded: Option<&Value>, live: &Value) -> Outcome {
    let Some(recorded) = recorded.filter(|r| !r.bytes.is_empty()) else {
        return Outcome::Missed;
    };
    let needle = &recorded.bytes;
    let found: Vec<usize> = memchr::memmem::find_iter(body, needle).collect();
    if found.is_empty() {
        return Outcome::Absent;
    }
    // find_iter yields non-overlapping matches, left to right.
    let mut out = Vec::with_capacity(body.len() + found.len() * live.bytes.len());
    let mut last = 0;
    for &at in &found {
        out.extend_from_slice(&body[last..at]);
        out.extend_from_slice(&live.bytes);
        last = at + needle.len();
    }
    out.extend_from_slice(&body[last..]);
    *body = out;
    Outcome::Applied(found.len() as u64)
}

/// The bytes before a body of `body_len` bytes in `original`'s place: the
/// original ones when the length is unchanged or not framed by length,
/// else a new length prefix (honouring `length_adjust`). `None` when the
/// new length cannot be written (beyond the prefix's width or the cap,
/// or negative after `length_adjust`).
pub(crate) fn head<'m>(
    framing: &Framing,
    original: &'m Message,
    body_len: usize,
) -> Option<Cow<'m, [u8]>> {
    let old_head = &original.wire()[..original.body_range().start];
    match framing {
        Framing::Length { prefix, adjust } if body_len != original.body().len() => {
            if body_len > MAX_MESSAGE {
                return None;
            }
            let value = u64::try_from(body_len as i128 - i128::from(*adjust)).ok()?;
            prefix.encode(value).map(Cow::Owned)
        }
        _ => Some(Cow::Borrowed(old_head)),
    }
}

/// `original` with its body replaced by `body` and `head` before it.
pub(crate) fn rebuild(original: &Message, head: &[u8], body: &[u8]) -> Message {
    let tail = &original.wire()[original.body_range().end..];
    let mut wire = Vec::with_capacity(head.len() + body.len() + tail.len());
    wire.extend_from_slice(head);
    wire.extend_from_slice(body);
    wire.extend_from_slice(tail);
    Message::new(wire.into(), head.len()..head.len() + body.len())
}
