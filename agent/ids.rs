//! Ids of proxies and recordings: how they are made and what a valid one is.
//! Recording ids become file names, so validation is what keeps a request from
//! reaching outside the data directory (`..`, `/`, NUL).

use std::time::SystemTime;

use crate::error::{Error, Result, echo};

/// Longest id accepted; file names stay well under any filesystem's limit.
pub const MAX_ID_LEN: usize = 64;

/// Checks that `id` is 1–64 letters, digits, `-` or `_`: safe as a file name
/// on every platform and in a shell.
///
/// # Errors
/// `InvalidArgument` naming `field` and the offending value.
pub fn validate(field: &'static str, id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if id.len() > MAX_ID_LEN {
        return Err(Error::invalid(
            field,
            format!("{} is longer than {MAX_ID_LEN} characters", echo(id)),
        ));
    }
    if let Some(bad) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(Error::invalid(
            field,
            format!(
                "{} contains {bad:?}; ids use only letters, digits, '-' and '_'",
                echo(id)
            ),
        ));
    }
    Ok(())
}

/// A new recording id: `YYYYMMDD-HHMMSS-xxxx` (UTC, then 4 random hex digits),
/// so listings sort by time like the original tool's `160907152758` names and
/// two recordings started in the same second still differ.
pub fn new_recording_id(now: SystemTime) -> String {
    let stamp = humantime::format_rfc3339_seconds(now).to_string();
    // "2026-11-26T22:15:03Z" -> "20261126-221503"
    let digits: String = stamp.chars().filter(char::is_ascii_digit).collect();
    let suffix: u16 = rand::random();
    format!("{}-{}-{suffix:04x}", &digits[..8], &digits[8..14])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_ids() {
        for id in ["p1", "20261126-221503-a3f9", "my_proxy", "A-b_9"] {
            validate("id", id).unwrap();
        }
    }

    #[test]
    fn refuses_paths_and_odd_characters() {
        for id in [
            "",
            "..",
            "../etc",
            "a/b",
            "a\\b",
            "a b",
            "a\0b",
            "é",
            &"x".repeat(65),
        ] {
            let err = validate("id", id).unwrap_err().to_string();
            assert!(err.starts_with("invalid id"), "{id:?}: {err}");
        }
    }

    #[test]
    fn recording_ids_are_valid_and_time_ordered() {
        let t = humantime::parse_rfc3339("2026-11-26T22:15:03Z").unwrap();
        let id = new_recording_id(t);
        assert!(id.starts_with("20261126-221503-"), "{id}");
        validate("id", &id).unwrap();
    }
}
