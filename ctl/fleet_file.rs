//! The fleet file: a TOML list of agents, one `[[agent]]` table each with a
//! `name` and an `address`, optionally `token_file`, `tls_ca` and a client
//! certificate (`tls_cert` with `tls_key`). Parsing is pure (text in, entries
//! out); `settings` reads the file and validates the addresses.

use std::collections::HashSet;

use serde::Deserialize;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FleetFile {
    /// The `[[agent]]` tables, in file order (the order results are printed in).
    #[serde(default)]
    agent: Vec<FleetEntry>,
}

/// One `[[agent]]` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FleetEntry {
    /// A name for humans; printed beside the address and put in JSON results.
    pub(crate) name: String,
    /// The agent's control address, HOST:PORT.
    pub(crate) address: String,
    /// Token file for this agent (relative paths from the fleet file's folder).
    #[serde(default)]
    pub(crate) token_file: Option<std::path::PathBuf>,
    /// CA certificate (PEM) that signed this agent's TLS certificate.
    #[serde(default)]
    pub(crate) tls_ca: Option<std::path::PathBuf>,
    /// Client certificate (PEM) for an agent started with `--tls-client-ca`.
    #[serde(default)]
    pub(crate) tls_cert: Option<std::path::PathBuf>,
    /// The private key of `tls_cert`.
    #[serde(default)]
    pub(crate) tls_key: Option<std::path::PathBuf>,
}

/// Parses a fleet file's text.
///
/// # Errors
/// A message saying what is wrong (with line and column for TOML and schema
/// errors); the caller adds the file name.
pub(crate) fn parse(text: &str) -> Result<Vec<FleetEntry>, String> {
    let file: FleetFile = toml::from_str(text).map_err(|e| describe(text, &e))?;
    if file.agent.is_empty() {
        return Err("no [[agent]] tables: the fleet is empty".to_owned());
    }
    let mut names = HashSet::new();
    for entry in &file.agent {
        if entry.name.trim().is_empty() {
            return Err(format!("agent {:?} has an empty name", entry.address));
        }
        match (&entry.tls_cert, &entry.tls_key) {
            (Some(_), None) => {
                return Err(format!(
                    "agent {:?} has tls_cert without tls_key",
                    entry.name
                ));
            }
            (None, Some(_)) => {
                return Err(format!(
                    "agent {:?} has tls_key without tls_cert",
                    entry.name
                ));
            }
            _ => {}
        }
        if !names.insert(entry.name.as_str()) {
            return Err(format!(
                "agent name {:?} appears more than once",
                entry.name
            ));
        }
    }
    Ok(file.agent)
}

/// One line for a TOML error: `line L, column C: message`.
fn describe(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim_end();
    match error.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_file_keeps_order() {
        let entries = parse(
            r#"
            [[agent]]
            name = "web-1"
            address = "10.0.0.1:7700"

            [[agent]]
            name = "web-2"
            address = "10.0.0.2:7700"
            "#,
        )
        .unwrap();
        let names: Vec<_> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["web-1", "web-2"]);
        assert_eq!(entries[1].address, "10.0.0.2:7700");
    }

    #[test]
    fn invalid_files_say_what_is_wrong() {
        let cases = [
            (
                "[[agent]]\nname = \"a\"\naddress = \"h:1\"\nport = 3\n",
                "unknown field `port`",
            ),
            ("[[agent]]\nname = \"a\"\n", "missing field `address`"),
            ("[[agent]]\naddress = \"h:1\"\n", "missing field `name`"),
            ("[[agents]]\nname = \"a\"\n", "unknown field `agents`"),
            ("[[agent]\nname = ", "line 1"),
            ("", "fleet is empty"),
            (
                "[[agent]]\nname = \"a\"\naddress = \"h:1\"\n[[agent]]\nname = \"a\"\naddress = \"h:2\"\n",
                "more than once",
            ),
            ("[[agent]]\nname = \" \"\naddress = \"h:1\"\n", "empty name"),
            (
                "[[agent]]\nname = \"a\"\naddress = \"h:1\"\ntls_key = \"k.pem\"\n",
                "agent \"a\" has tls_key without tls_cert",
            ),
            (
                "[[agent]]\nname = \"a\"\naddress = \"h:1\"\ntls_cert = \"c.pem\"\n",
                "agent \"a\" has tls_cert without tls_key",
            ),
        ];
        for (text, expected) in cases {
            let err = parse(text).unwrap_err();
            assert!(err.contains(expected), "{text:?}: {err}");
        }
    }

    #[test]
    fn errors_point_at_the_line() {
        let err = parse("[[agent]]\nname = \"a\"\naddress = \"h:1\"\nport = 3\n").unwrap_err();
        assert!(err.starts_with("line 4, column 1:"), "{err}");
    }
}
