//! Checks of the parts every table shares: `direction`, offsets, `when`,
//! `field` (and `at`), `over`; each error names where it is.

use regex::bytes::RegexBuilder;

use super::MAX_MESSAGE;
use super::error::RulesError;
use super::hex;
use super::int::IntType;
use super::rules::{Field, IntField, Span, When};
use super::schema::{RawField, RawOver, RawWhen};
use crate::format::Direction;

/// Largest compiled regex: ample for a field pattern, and it keeps a hostile
/// pattern from costing seconds or megabytes per rules file.
const MAX_REGEX_BYTES: usize = 1 << 20;

type Result<T> = std::result::Result<T, RulesError>;

/// `{table}[{index}]`, and `.field` below it.
pub(crate) fn at(table: &str, index: usize) -> String {
    format!("{table}[{index}]")
}

pub(crate) fn missing(at: &str, field: &str) -> RulesError {
    RulesError::invalid(at, format!("missing field {field}"))
}

/// `"x" is not one of a, b, c`.
pub(crate) fn not_one_of(value: &str, names: &[&str]) -> String {
    format!("{value:?} is not one of {}", names.join(", "))
}

/// `direction`: required, `c2s` or `s2c`.
pub(crate) fn direction(at: &str, raw: Option<String>) -> Result<Direction> {
    match raw.as_deref() {
        None => Err(missing(at, "direction")),
        Some("c2s") => Ok(Direction::C2s),
        Some("s2c") => Ok(Direction::S2c),
        Some(other) => Err(RulesError::invalid(
            format!("{at}.direction"),
            not_one_of(other, &["c2s", "s2c"]),
        )),
    }
}

/// `direction` of what the replay sends: `c2s`, the default.
pub(crate) fn sent_direction(at: &str, raw: Option<String>, what: &str) -> Result<Direction> {
    let raw = raw.or_else(|| Some("c2s".to_owned()));
    match direction(at, raw)? {
        Direction::C2s => Ok(Direction::C2s),
        Direction::S2c => Err(RulesError::invalid(
            format!("{at}.direction"),
            format!("{what} applies to what the replay sends: only \"c2s\""),
        )),
    }
}

/// An offset within the message cap.
fn offset(at: &str, value: Option<i64>) -> Result<i64> {
    let value = value.unwrap_or(0);
    if value.unsigned_abs() > MAX_MESSAGE as u64 {
        return Err(RulesError::invalid(
            at,
            format!("{value} is beyond the {MAX_MESSAGE} bytes a message may have"),
        ));
    }
    Ok(value)
}

pub(crate) fn when(at: &str, raw: Option<RawWhen>) -> Result<Option<When>> {
    let Some(raw) = raw else { return Ok(None) };
    let at = format!("{at}.when");
    let offset = offset(&format!("{at}.offset"), raw.offset)?;
    let hex = raw.hex.ok_or_else(|| missing(&at, "hex"))?;
    let bytes = hex::parse(&hex).map_err(|m| RulesError::invalid(format!("{at}.hex"), m))?;
    Ok(Some(When { offset, bytes }))
}

fn int_type(at: &str, name: &str) -> Result<IntType> {
    IntType::from_name(name).ok_or_else(|| {
        let names = IntType::ALL.map(IntType::as_str);
        RulesError::invalid(format!("{at}.int"), not_one_of(name, &names))
    })
}

/// A `field` (`at` names it, e.g. `capture[0].field`).
pub(crate) fn field(at: &str, raw: RawField) -> Result<Field> {
    if let Some(pattern) = raw.regex {
        if raw.offset.is_some() || raw.len.is_some() || raw.int.is_some() {
            return Err(RulesError::invalid(at, "regex takes no offset, len or int"));
        }
        let regex = RegexBuilder::new(&pattern)
            .size_limit(MAX_REGEX_BYTES)
            .build()
            .map_err(|e| RulesError::invalid(format!("{at}.regex"), e.to_string()))?;
        if regex.captures_len() < 2 {
            return Err(RulesError::invalid(
                format!("{at}.regex"),
                format!("{pattern:?} has no group; the value is the first (...) group"),
            ));
        }
        return Ok(Field::Regex(regex));
    }
    let offset = offset(&format!("{at}.offset"), raw.offset)?;
    match (raw.len, raw.int) {
        (Some(_), Some(_)) => Err(RulesError::invalid(at, "give len or int, not both")),
        (None, None) => Err(RulesError::invalid(at, "give len, int or regex")),
        (Some(len), None) => {
            if !(1..=MAX_MESSAGE as i64).contains(&len) {
                return Err(RulesError::invalid(
                    format!("{at}.len"),
                    format!("{len} is not within 1 to {MAX_MESSAGE}"),
                ));
            }
            Ok(Field::Raw {
                offset,
                len: len as usize,
            })
        }
        (None, Some(int)) => Ok(Field::Int(IntField {
            offset,
            int: int_type(at, &int)?,
        })),
    }
}

pub(crate) fn over(at: &str, raw: Option<RawOver>) -> Result<Span> {
    let raw = raw.ok_or_else(|| missing(at, "over"))?;
    let at = format!("{at}.over");
    Ok(Span {
        from: offset(&format!("{at}.from"), raw.from)?,
        to: match raw.to {
            Some(to) => Some(offset(&format!("{at}.to"), Some(to))?),
            None => None,
        },
    })
}
