//! Resolves the global command-line options into `Settings` before any
//! command runs: which agents (flags > $REEL_AGENTS > fleet file > local
//! default), the per-agent deadline, and the output mode.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::args::GlobalArgs;
use crate::credentials::{self, CredentialFiles};
use crate::fleet_file;

/// The agent used when no flag, environment variable or fleet file names any.
pub(crate) const DEFAULT_AGENT: &str = "127.0.0.1:7700";

/// Environment variable holding comma-separated agent addresses.
pub(crate) const AGENTS_ENV: &str = "REEL_AGENTS";

/// One agent to drive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AgentTarget {
    /// HOST:PORT exactly as the user gave it; results are keyed by it.
    pub(crate) address: String,
    /// Set when the agent came from a fleet file.
    pub(crate) name: Option<String>,
}

impl AgentTarget {
    /// How a human sees this agent: `name (address)` or the address.
    pub(crate) fn label(&self) -> String {
        match &self.name {
            Some(name) => format!("{name} ({})", self.address),
            None => self.address.clone(),
        }
    }
}

/// How much the human output says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verbosity {
    /// `-q`: ids only, or nothing.
    Quiet,
    /// Tables and one-line summaries.
    Normal,
    /// `-v`: extra columns and details.
    Verbose,
}

/// Where and how results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OutputMode {
    /// One JSON document (JSON Lines for watch) instead of human text.
    pub(crate) json: bool,
    pub(crate) verbosity: Verbosity,
}

/// Everything a command needs besides its own arguments.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// The selected agents, in the order given; never empty.
    pub(crate) agents: Vec<AgentTarget>,
    /// Deadline of each unary operation on one agent, connecting included.
    pub(crate) timeout: Duration,
    pub(crate) output: OutputMode,
    /// Things the user should know about their options (printed on stderr).
    pub(crate) warnings: Vec<String>,
    /// Credentials per agent address (token, TLS CA, client certificate).
    pub(crate) access: std::collections::HashMap<String, crate::access::Access>,
}

/// Why the options cannot be used: always the user's input, so exit code 2.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SettingsError {
    /// The fleet file cannot be read (missing, unreadable).
    #[error("cannot read fleet file {}: {source}", path.display())]
    FleetRead {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The fleet file is not valid TOML, or not the expected shape.
    #[error("invalid fleet file {}: {message}", path.display())]
    FleetInvalid { path: PathBuf, message: String },
    /// An agent address is not HOST:PORT.
    #[error("invalid agent address {address:?} (from {origin}): {reason}")]
    BadAddress {
        address: String,
        origin: String,
        reason: String,
    },
    /// `--agent` was given but held no address (e.g. `--agent ,`).
    #[error("--agent was given without any address")]
    NoAgents,
    /// The environment variable is not UTF-8.
    #[error("${AGENTS_ENV} is not valid UTF-8")]
    EnvNotUnicode,
    /// A token, CA, client certificate or key file cannot be used.
    #[error("{0}")]
    Credentials(String),
}

impl Settings {
    /// Resolves the options, reading `$REEL_AGENTS` and the fleet file.
    ///
    /// # Errors
    /// A usage error: bad address, unreadable or malformed fleet file.
    pub(crate) fn from_args(global: &GlobalArgs) -> Result<Settings, SettingsError> {
        let env = match std::env::var(AGENTS_ENV) {
            Ok(value) => Some(value),
            Err(std::env::VarError::NotPresent) => None,
            Err(std::env::VarError::NotUnicode(_)) => return Err(SettingsError::EnvNotUnicode),
        };
        Self::resolve(global, env.as_deref())
    }

    /// Resolves the options given the value of `$REEL_AGENTS`.
    fn resolve(global: &GlobalArgs, env_agents: Option<&str>) -> Result<Settings, SettingsError> {
        let mut warnings = Vec::new();
        let env_list = env_agents.map(split_list).filter(|list| !list.is_empty());
        let flag_list: Vec<String> = global.agents.iter().flat_map(|a| split_list(a)).collect();

        let mut per_agent_files = std::collections::HashMap::new();
        let agents = if !global.agents.is_empty() {
            if flag_list.is_empty() {
                return Err(SettingsError::NoAgents);
            }
            warn_fleet_ignored(global, "--agent", &mut warnings);
            unnamed(flag_list, "--agent")?
        } else if let Some(list) = env_list {
            warn_fleet_ignored(global, AGENTS_ENV, &mut warnings);
            unnamed(list, AGENTS_ENV)?
        } else if let Some(path) = &global.fleet {
            from_fleet_file(path, &mut per_agent_files)?
        } else {
            unnamed(vec![DEFAULT_AGENT.to_owned()], "the default")?
        };

        let verbosity = if global.quiet {
            Verbosity::Quiet
        } else if global.verbose {
            Verbosity::Verbose
        } else {
            Verbosity::Normal
        };
        let access = credentials::resolve(&global_files(global), &agents, &per_agent_files)
            .map_err(SettingsError::Credentials)?;
        Ok(Settings {
            access,
            agents,
            timeout: global.timeout,
            output: OutputMode {
                json: global.json,
                verbosity,
            },
            warnings,
        })
    }
}

/// Splits a comma-separated list, trimming blanks and dropping empty items.
fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn warn_fleet_ignored(global: &GlobalArgs, source: &str, warnings: &mut Vec<String>) {
    if let Some(path) = &global.fleet {
        warnings.push(format!(
            "--fleet {} ignored: agents are taken from {source}",
            path.display()
        ));
    }
}

/// Validated targets without names, duplicates removed (first one kept).
fn unnamed(addresses: Vec<String>, origin: &str) -> Result<Vec<AgentTarget>, SettingsError> {
    let mut targets: Vec<AgentTarget> = Vec::with_capacity(addresses.len());
    for address in addresses {
        check_address(&address, origin)?;
        if !targets.iter().any(|t| t.address == address) {
            targets.push(AgentTarget {
                address,
                name: None,
            });
        }
    }
    Ok(targets)
}

/// Credential files named per agent (by address) in a fleet file.
type AgentFiles = std::collections::HashMap<String, CredentialFiles>;

/// The credential files the global flags name.
fn global_files(global: &GlobalArgs) -> CredentialFiles {
    CredentialFiles {
        token_file: global.token_file.clone(),
        tls_ca: global.tls_ca.clone(),
        tls_cert: global.tls_cert.clone().zip(global.tls_key.clone()),
    }
}

fn from_fleet_file(path: &Path, files: &mut AgentFiles) -> Result<Vec<AgentTarget>, SettingsError> {
    let text = std::fs::read_to_string(path).map_err(|source| SettingsError::FleetRead {
        path: path.to_owned(),
        source,
    })?;
    let entries = fleet_file::parse(&text).map_err(|message| SettingsError::FleetInvalid {
        path: path.to_owned(),
        message,
    })?;
    entries
        .into_iter()
        .map(|entry| {
            let origin = format!("fleet file {}, agent {:?}", path.display(), entry.name);
            check_address(&entry.address, &origin)?;
            let base = path.parent().unwrap_or(Path::new("."));
            let path = |f: &PathBuf| base.join(f);
            files.insert(
                entry.address.clone(),
                CredentialFiles {
                    token_file: entry.token_file.as_ref().map(path),
                    tls_ca: entry.tls_ca.as_ref().map(path),
                    tls_cert: entry
                        .tls_cert
                        .as_ref()
                        .map(path)
                        .zip(entry.tls_key.as_ref().map(path)),
                },
            );
            Ok(AgentTarget {
                address: entry.address,
                name: Some(entry.name),
            })
        })
        .collect()
}

/// Checks that `address` is HOST:PORT and makes a valid `http://` URI.
fn check_address(address: &str, origin: &str) -> Result<(), SettingsError> {
    let bad = |reason: &str| SettingsError::BadAddress {
        address: address.to_owned(),
        origin: origin.to_owned(),
        reason: reason.to_owned(),
    };
    let Some((host, port)) = address.rsplit_once(':') else {
        return Err(bad("expected HOST:PORT"));
    };
    if host.is_empty() {
        return Err(bad("the host is empty"));
    }
    if host.contains(':') && !(host.starts_with('[') && host.ends_with(']')) {
        return Err(bad("IPv6 addresses go in brackets, e.g. [::1]:7700"));
    }
    match port.parse::<u16>() {
        Ok(0) | Err(_) => return Err(bad("the port must be a number from 1 to 65535")),
        Ok(_) => {}
    }
    tonic::transport::Endpoint::from_shared(format!("http://{address}"))
        .map_err(|_| bad("not a valid host name"))?;
    Ok(())
}

#[cfg(test)]
mod tests;
