//! From TOML text to [`Rules`]: serde reads the tables of `schema`
//! (unknown fields refused, the path of a bad one kept), then each rule is
//! checked and typed here (the parts every table shares in `fields`),
//! every error naming its table, index and field.

use std::collections::HashMap;

use super::algorithm::Algorithm;
use super::error::RulesError;
use super::fields::{at, direction, field, missing, not_one_of, over, sent_direction, when};
use super::int::LengthType;
use super::rules::{
    Capture, Checksum, Field, Framing, Ignore, Rewrite, Rules, Scope, SlotInfo, Target,
};
use super::schema::{RawCapture, RawChecksum, RawFraming, RawIgnore, RawRewrite, RawRules};

/// Most rules of one kind: far more than a protocol needs, few enough that
/// a runaway file cannot make every message slow.
pub const MAX_RULES: usize = 1024;

/// Largest `length_adjust` either way: a length field is at most 32 bits.
const MAX_ADJUST: i64 = 1 << 32;

/// Largest delimiter.
const MAX_DELIMITER: usize = 256;

type Result<T> = std::result::Result<T, RulesError>;

/// Parses and checks a rules file.
pub(crate) fn parse(text: &str) -> Result<Rules> {
    let deserializer =
        toml::de::Deserializer::parse(text).map_err(|e| RulesError::Syntax(located(text, &e)))?;
    let raw: RawRules = serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let at = e.path().to_string();
        let inner = e.into_inner();
        let at = if at == "." { "rules".to_owned() } else { at };
        RulesError::invalid(at, located(text, &inner))
    })?;
    build(raw)
}

/// The message of a toml error with the line and column it points at.
fn located(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim_end().to_owned();
    let Some(before) = error.span().and_then(|s| text.get(..s.start)) else {
        return message;
    };
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("{message} (line {line}, column {column})")
}

fn build(raw: RawRules) -> Result<Rules> {
    let framing = framing(raw.framing)?;
    for (table, n) in [
        ("capture", raw.capture.len()),
        ("rewrite", raw.rewrite.len()),
        ("checksum", raw.checksum.len()),
        ("ignore", raw.ignore.len()),
    ] {
        if n > MAX_RULES {
            return Err(RulesError::invalid(
                table,
                format!("{n} rules; at most {MAX_RULES} are allowed"),
            ));
        }
    }
    let mut slots: Vec<SlotInfo> = Vec::new();
    // Capture name -> (its slot, the first capture of that name).
    let mut first_of: HashMap<String, (usize, usize)> = HashMap::new();
    let mut captures = Vec::with_capacity(raw.capture.len());
    for (i, c) in raw.capture.into_iter().enumerate() {
        captures.push(capture(i, c, &mut slots, &mut first_of)?);
    }
    let by_name: HashMap<&str, usize> = slots
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    let rewrites = raw
        .rewrite
        .into_iter()
        .enumerate()
        .map(|(i, r)| rewrite(i, r, &slots, &by_name))
        .collect::<Result<Vec<_>>>()?;
    let checksums = raw
        .checksum
        .into_iter()
        .enumerate()
        .map(|(i, c)| checksum(i, c))
        .collect::<Result<Vec<_>>>()?;
    let ignores = raw
        .ignore
        .into_iter()
        .enumerate()
        .map(|(i, g)| ignore(i, g))
        .collect::<Result<Vec<_>>>()?;
    Ok(Rules {
        framing,
        captures,
        rewrites,
        checksums,
        ignores,
        slots,
    })
}

fn framing(raw: Option<RawFraming>) -> Result<Framing> {
    let Some(raw) = raw else {
        return Ok(Framing::Chunks);
    };
    match (raw.length, raw.delimiter) {
        (Some(_), Some(_)) => Err(RulesError::invalid(
            "framing",
            "give length or delimiter, not both",
        )),
        (None, None) => Err(RulesError::invalid(
            "framing",
            "give length or delimiter (or leave [framing] out: each chunk is then one message)",
        )),
        (Some(length), None) => {
            let prefix = LengthType::from_name(&length).ok_or_else(|| {
                RulesError::invalid("framing.length", not_one_of(&length, &LengthType::NAMES))
            })?;
            let adjust = raw.length_adjust.unwrap_or(0);
            if adjust.abs() > MAX_ADJUST {
                return Err(RulesError::invalid(
                    "framing.length_adjust",
                    format!("{adjust} is beyond ±{MAX_ADJUST}"),
                ));
            }
            Ok(Framing::Length { prefix, adjust })
        }
        (None, Some(delimiter)) => {
            if raw.length_adjust.is_some() {
                return Err(RulesError::invalid(
                    "framing.length_adjust",
                    "only with length, not with delimiter",
                ));
            }
            let bytes = delimiter.into_bytes();
            if bytes.is_empty() || bytes.len() > MAX_DELIMITER {
                return Err(RulesError::invalid(
                    "framing.delimiter",
                    format!("must be 1 to {MAX_DELIMITER} bytes, e.g. \"\\r\\n\""),
                ));
            }
            Ok(Framing::Delimiter(bytes))
        }
    }
}

fn capture(
    i: usize,
    raw: RawCapture,
    slots: &mut Vec<SlotInfo>,
    first_of: &mut HashMap<String, (usize, usize)>,
) -> Result<Capture> {
    let at = at("capture", i);
    let name = raw.name.ok_or_else(|| missing(&at, "name"))?;
    if name.is_empty() {
        return Err(RulesError::invalid(format!("{at}.name"), "is empty"));
    }
    let direction = direction(&at, raw.direction)?;
    let when = when(&at, raw.when)?;
    let raw_field = raw.field.ok_or_else(|| missing(&at, "field"))?;
    let field = field(&format!("{at}.field"), raw_field)?;
    let scope = match raw.scope.as_deref() {
        None | Some("connection") => Scope::Connection,
        Some("replay") => Scope::Replay,
        Some(other) => {
            return Err(RulesError::invalid(
                format!("{at}.scope"),
                not_one_of(other, &["connection", "replay"]),
            ));
        }
    };
    let int = field.int().is_some();
    let slot = match first_of.get(&name) {
        Some(&(slot, first)) => {
            let same = slots.get(slot).map(|s| (s.scope, s.int));
            if same.is_some_and(|(s, _)| s != scope) {
                return Err(RulesError::invalid(
                    format!("{at}.scope"),
                    format!(
                        "capture {name:?} is also capture[{first}], with another scope; \
                         give both the same"
                    ),
                ));
            }
            if same.is_some_and(|(_, i)| i != int) {
                return Err(RulesError::invalid(
                    format!("{at}.field"),
                    format!(
                        "capture {name:?} is also capture[{first}]; both must read an int, \
                         or both bytes"
                    ),
                ));
            }
            slot
        }
        None => {
            slots.push(SlotInfo {
                name: name.clone(),
                scope,
                int,
            });
            first_of.insert(name.clone(), (slots.len() - 1, i));
            slots.len() - 1
        }
    };
    Ok(Capture {
        name,
        direction,
        when,
        field,
        scope,
        slot,
    })
}

fn rewrite(
    i: usize,
    raw: RawRewrite,
    slots: &[SlotInfo],
    by_name: &HashMap<&str, usize>,
) -> Result<Rewrite> {
    let at = at("rewrite", i);
    let direction = sent_direction(&at, raw.direction, "a rewrite")?;
    let when = when(&at, raw.when)?;
    let target = match (raw.field, raw.anywhere.unwrap_or(false)) {
        (Some(_), true) => {
            return Err(RulesError::invalid(
                &at,
                "give field or anywhere = true, not both",
            ));
        }
        (None, false) => {
            return Err(RulesError::invalid(&at, "give field or anywhere = true"));
        }
        (Some(raw_field), false) => Target::Field(field(&format!("{at}.field"), raw_field)?),
        (None, true) => Target::Anywhere,
    };
    let from = raw.from.ok_or_else(|| missing(&at, "from"))?;
    let Some(&slot) = by_name.get(from.as_str()) else {
        let known: Vec<&str> = slots.iter().map(|s| s.name.as_str()).collect();
        let known = if known.is_empty() {
            "there is no [[capture]]".to_owned()
        } else {
            format!("captures: {}", known.join(", "))
        };
        return Err(RulesError::invalid(
            format!("{at}.from"),
            format!("no capture named {from:?} ({known})"),
        ));
    };
    let int_capture = slots.get(slot).is_some_and(|s| s.int);
    let shift = raw.shift.unwrap_or(false);
    let int_field = matches!(&target, Target::Field(Field::Int(_)));
    if shift && !int_field {
        return Err(RulesError::invalid(
            format!("{at}.shift"),
            "only for an int field ({offset, int})",
        ));
    }
    if int_field && !int_capture {
        return Err(RulesError::invalid(
            format!("{at}.from"),
            format!("capture {from:?} reads bytes; an int field needs a capture that reads an int"),
        ));
    }
    Ok(Rewrite {
        direction,
        when,
        target,
        from,
        shift,
        slot,
    })
}

fn checksum(i: usize, raw: RawChecksum) -> Result<Checksum> {
    let at = at("checksum", i);
    let direction = sent_direction(&at, raw.direction, "a checksum")?;
    let when = when(&at, raw.when)?;
    let name = raw.algorithm.ok_or_else(|| missing(&at, "algorithm"))?;
    let algorithm = Algorithm::from_name(&name).ok_or_else(|| {
        let names = Algorithm::ALL.map(Algorithm::as_str);
        RulesError::invalid(format!("{at}.algorithm"), not_one_of(&name, &names))
    })?;
    let over = over(&at, raw.over)?;
    let raw_at = raw.at.ok_or_else(|| missing(&at, "at"))?;
    let at_at = format!("{at}.at");
    let not_int =
        || RulesError::invalid(&at_at, "the checksum field must be an int ({offset, int})");
    if raw_at.int.is_none() {
        return Err(not_int());
    }
    let Field::Int(field) = field(&at_at, raw_at)? else {
        return Err(not_int());
    };
    Ok(Checksum {
        direction,
        when,
        algorithm,
        over,
        at: field,
    })
}

fn ignore(i: usize, raw: RawIgnore) -> Result<Ignore> {
    let at = at("ignore", i);
    let direction = direction(&at, raw.direction)?;
    let when = when(&at, raw.when)?;
    let raw_field = raw.field.ok_or_else(|| missing(&at, "field"))?;
    Ok(Ignore {
        direction,
        when,
        field: field(&format!("{at}.field"), raw_field)?,
    })
}

impl Rules {
    /// Parses and validates a rules file (defined here, beside the checks,
    /// so the rule types do not depend on their validation).
    ///
    /// # Errors
    /// [`RulesError`] naming the table, index and field at fault.
    pub fn parse(text: &str) -> Result<Rules> {
        parse(text)
    }
}
