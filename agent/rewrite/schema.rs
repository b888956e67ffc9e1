//! The rules file as TOML, before any check: one struct per table, every
//! field optional so that `validate` (not serde) says what is missing, and
//! unknown fields refused (a typo must not silently disable a rule).
//! These names are the public interface (issue 12): extend, never rename.

use serde::Deserialize;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRules {
    pub(crate) framing: Option<RawFraming>,
    #[serde(default)]
    pub(crate) capture: Vec<RawCapture>,
    #[serde(default)]
    pub(crate) rewrite: Vec<RawRewrite>,
    #[serde(default)]
    pub(crate) checksum: Vec<RawChecksum>,
    #[serde(default)]
    pub(crate) ignore: Vec<RawIgnore>,
}

/// `[framing]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFraming {
    pub(crate) length: Option<String>,
    pub(crate) length_adjust: Option<i64>,
    pub(crate) delimiter: Option<String>,
}

/// `when = {offset, hex}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWhen {
    pub(crate) offset: Option<i64>,
    pub(crate) hex: Option<String>,
}

/// `field = {offset, len}`, `{offset, int}` or `{regex}`; also `at`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawField {
    pub(crate) offset: Option<i64>,
    pub(crate) len: Option<i64>,
    pub(crate) int: Option<String>,
    pub(crate) regex: Option<String>,
}

/// `over = {from, to}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOver {
    pub(crate) from: Option<i64>,
    pub(crate) to: Option<i64>,
}

/// `[[capture]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCapture {
    pub(crate) name: Option<String>,
    pub(crate) direction: Option<String>,
    pub(crate) when: Option<RawWhen>,
    pub(crate) field: Option<RawField>,
    pub(crate) scope: Option<String>,
}

/// `[[rewrite]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRewrite {
    pub(crate) direction: Option<String>,
    pub(crate) when: Option<RawWhen>,
    pub(crate) field: Option<RawField>,
    pub(crate) anywhere: Option<bool>,
    pub(crate) from: Option<String>,
    pub(crate) shift: Option<bool>,
}

/// `[[checksum]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawChecksum {
    pub(crate) direction: Option<String>,
    pub(crate) when: Option<RawWhen>,
    pub(crate) algorithm: Option<String>,
    pub(crate) over: Option<RawOver>,
    pub(crate) at: Option<RawField>,
}

/// `[[ignore]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawIgnore {
    pub(crate) direction: Option<String>,
    pub(crate) when: Option<RawWhen>,
    pub(crate) field: Option<RawField>,
}
