//! The agent's TOML config file (`reel-agent --config FILE`): the control
//! and metrics addresses, data directory and name (command-line flags override them), and
//! `[[proxy]]` tables started at boot, each with its fault profile written in
//! the same text syntax as reelctl's flags (`latency = "500ms..800ms"`).
//!
//! Parsing is strict (`deny_unknown_fields`); validation runs after it and
//! reports every problem with the proxy and field it belongs to, so a bad
//! file is refused as a whole before anything binds.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::faults::parse;
use crate::host_port;
use crate::proxy::{Origin, ProxySpec};

/// A config file, read and validated.
#[derive(Debug, Clone, Default)]
pub struct ConfigFile {
    /// Control service address, unless `--listen` is given.
    pub listen: Option<String>,
    /// Prometheus metrics address, unless `--metrics-listen` is given.
    pub metrics_listen: Option<String>,
    /// Data directory, unless `--data-dir` is given; a relative path is
    /// taken from the config file's directory.
    pub data_dir: Option<PathBuf>,
    /// Agent name, unless `--name` is given.
    pub name: Option<String>,
    /// Object store URL for recordings, unless `--store` is given.
    pub store: Option<String>,
    /// Proxies to start at boot, in file order.
    pub proxies: Vec<ProxySpec>,
}

/// Why a config file was refused. Always the file's fault (or its
/// absence): the agent exits before binding anything.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read (missing, unreadable).
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Not TOML, or not the expected shape (unknown or missing fields).
    #[error("invalid config file {}: {message}", path.display())]
    Syntax { path: PathBuf, message: String },
    /// Well-formed, but values out of range: every problem found.
    #[error("invalid config file {}: {}", path.display(), Problems(problems))]
    Invalid {
        path: PathBuf,
        problems: Vec<String>,
    },
}

/// `a; b; c`.
struct Problems<'a>(&'a [String]);

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("; "))
    }
}

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    listen: Option<String>,
    metrics_listen: Option<String>,
    data_dir: Option<PathBuf>,
    name: Option<String>,
    store: Option<String>,
    #[serde(default)]
    proxy: Vec<RawProxy>,
}

/// One `[[proxy]]` table; fault fields are named like reelctl's flags.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProxy {
    name: String,
    listen: String,
    upstream: String,
    latency: Option<Scalar>,
    direction: Option<String>,
    bandwidth: Option<Scalar>,
    proxy_bandwidth: Option<Scalar>,
    reset_after_bytes: Option<Scalar>,
    reset_after: Option<Scalar>,
    #[serde(default)]
    black_hole: bool,
    black_hole_close_after: Option<Scalar>,
    slow_close: Option<Scalar>,
    slice: Option<Scalar>,
    limit_data: Option<Scalar>,
    connect_delay: Option<Scalar>,
    toxicity: Option<f64>,
    seed: Option<u64>,
    /// UDP only: `10%` or `0.1`.
    loss: Option<Scalar>,
    /// UDP only: `"1%,25%"` (netem's gemodel p, r[, 1-h[, 1-k]]).
    loss_bursts: Option<Scalar>,
    duplicate: Option<Scalar>,
    /// UDP only: `"5%:3"`.
    reorder: Option<Scalar>,
    #[serde(default)]
    keep_order: bool,
    /// Relay UDP datagrams: takes latency, bandwidth, direction, seed and
    /// the UDP-only fields above.
    #[serde(default)]
    udp: bool,
    /// UDP: a session's life without a datagram (`30s`, or seconds).
    idle_timeout: Option<Scalar>,
}

/// A value written as text (`"64KiB/s"`) or as a bare number (`65536`,
/// `0.5` seconds): numbers are read with the same parser as their text.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Scalar {
    Int(i64),
    Float(f64),
    Text(String),
}

impl Scalar {
    fn text(&self) -> String {
        match self {
            Scalar::Int(n) => n.to_string(),
            Scalar::Float(x) => x.to_string(),
            Scalar::Text(s) => s.clone(),
        }
    }
}

impl ConfigFile {
    /// Reads and validates `path`.
    ///
    /// # Errors
    /// `Read`, `Syntax` (with line and column) or `Invalid` (every problem).
    pub fn load(path: &Path) -> Result<ConfigFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut file = Self::parse(&text).map_err(|e| e.at(path))?;
        if let Some(dir) = &file.data_dir
            && dir.is_relative()
            && let Some(base) = path.parent()
        {
            file.data_dir = Some(base.join(dir));
        }
        Ok(file)
    }

    /// Parses and validates a file's text (paths stay as written).
    ///
    /// # Errors
    /// As `load`, with an empty path.
    pub fn parse(text: &str) -> Result<ConfigFile, ConfigError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: PathBuf::new(),
            message: describe_toml(text, &e),
        })?;
        let mut problems = Vec::new();
        if let Some(url) = &raw.store
            && let Err(e) = crate::store::parse_url(url)
        {
            problems.push(format!(
                "store: {}",
                e.to_string().replacen("invalid --store ", "", 1)
            ));
        }
        if let Some(listen) = &raw.listen
            && let Err(e) = host_port::validate_listen("listen", listen)
        {
            problems.push(e.to_string().replacen("invalid listen: ", "listen: ", 1));
        }
        if let Some(listen) = &raw.metrics_listen
            && let Err(e) = host_port::validate_listen("metrics_listen", listen)
        {
            problems.push(e.to_string().replacen(
                "invalid metrics_listen: ",
                "metrics_listen: ",
                1,
            ));
        }
        if raw.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
            problems.push("name: must not be empty".to_owned());
        }
        let mut names = HashSet::new();
        let mut listens = HashSet::new();
        let mut proxies = Vec::new();
        for (i, p) in raw.proxy.iter().enumerate() {
            let before = problems.len();
            let mut problem = |field: &str, reason: String| {
                let who = if p.name.is_empty() {
                    format!("proxy #{}", i + 1)
                } else {
                    format!("proxy {:?}", p.name)
                };
                problems.push(format!("{who}: {field}: {reason}"));
            };
            if let Err(e) = crate::ids::validate("name", &p.name) {
                problem("name", reason_of(&e));
            } else if !names.insert(p.name.as_str()) {
                problem("name", "appears more than once".to_owned());
            }
            for (field, value) in [("listen", &p.listen), ("upstream", &p.upstream)] {
                let checked = if field == "listen" {
                    host_port::validate_listen(field, value)
                } else {
                    host_port::validate(field, value)
                };
                if let Err(e) = checked {
                    problem(field, reason_of(&e));
                }
            }
            // A TCP and a UDP proxy may share a port: different sockets.
            if !p.listen.ends_with(":0") && !listens.insert((p.listen.as_str(), p.udp)) {
                problem("listen", format!("{:?} is used by another proxy", p.listen));
            }
            let faults = faults::faults_of(p, &mut problem);
            if p.udp {
                for field in faults.tcp_only_fields() {
                    let field = if field == "limit_bytes" {
                        "limit_data"
                    } else {
                        field
                    };
                    problem(
                        field,
                        "TCP-only: a UDP proxy takes latency, bandwidth, direction, seed, \
                         loss, loss_bursts, duplicate, reorder and keep_order"
                            .to_owned(),
                    );
                }
            } else {
                for field in faults.datagram.set_fields() {
                    problem(field, "for UDP proxies only (udp = true)".to_owned());
                }
            }
            let idle_timeout = match (&p.idle_timeout, p.udp) {
                (None, _) => None,
                (Some(_), false) => {
                    problem(
                        "idle_timeout",
                        "applies to UDP proxies only (udp = true)".to_owned(),
                    );
                    None
                }
                (Some(v), true) => match parse::duration(&v.text()) {
                    Ok(d) if d.is_zero() => {
                        problem("idle_timeout", "must be more than 0".to_owned());
                        None
                    }
                    Ok(d) => Some(d),
                    Err(e) => {
                        problem("idle_timeout", e.to_string());
                        None
                    }
                },
            };
            if problems.len() == before {
                proxies.push(ProxySpec {
                    listen: p.listen.clone(),
                    upstream: p.upstream.clone(),
                    name: Some(p.name.clone()),
                    faults,
                    origin: Origin::Config,
                    udp: p.udp,
                    idle_timeout,
                    ..ProxySpec::default()
                });
            }
        }
        if !problems.is_empty() {
            return Err(ConfigError::Invalid {
                path: PathBuf::new(),
                problems,
            });
        }
        Ok(ConfigFile {
            listen: raw.listen,
            metrics_listen: raw.metrics_listen,
            data_dir: raw.data_dir,
            name: raw.name,
            store: raw.store,
            proxies,
        })
    }
}

impl ConfigError {
    /// The same error, naming the file.
    fn at(self, file: &Path) -> ConfigError {
        let path = file.to_path_buf();
        match self {
            ConfigError::Read { source, .. } => ConfigError::Read { path, source },
            ConfigError::Syntax { message, .. } => ConfigError::Syntax { path, message },
            ConfigError::Invalid { problems, .. } => ConfigError::Invalid { path, problems },
        }
    }
}

/// The reason part of an engine `InvalidArgument` (the field is said apart).
fn reason_of(e: &crate::Error) -> String {
    match e {
        crate::Error::InvalidArgument { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}

/// `line L, column C: message` for a TOML or schema error.
fn describe_toml(text: &str, error: &toml::de::Error) -> String {
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

mod faults;
#[cfg(test)]
mod tests;
