//! The running proxies as kept in the data directory (`proxies.json`), so
//! they come back after a crash or an upgrade: the file's shape, and reading
//! and writing it (whole: temporary file, fsync, rename, fsync of the
//! directory, so a crash leaves the old file or the new one, never half).
//!
//! Faults are kept as values (durations, bytes), except a latency, kept in
//! the text syntax reelctl's flags use (`500ms..800ms`), which
//! `faults::parse` reads back exactly.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::faults::datagram::{GilbertElliott, Loss, Reorder};
use crate::faults::{DatagramFields, Directions, FaultSpec, Slicer, parse};

/// The file in the data directory.
pub const SAVED_PROXIES_FILE: &str = "proxies.json";

/// Version of the file's shape. Changing the shape without a new version
/// makes old files unreadable (they are then ignored, with a warning).
const FORMAT_VERSION: u32 = 1;

/// A file larger than this is not read: a few thousand proxies fit.
const MAX_FILE_BYTES: u64 = 4 << 20;

/// Why the file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SavedError {
    /// The disk or the permissions failed us.
    #[error("{context}: {source}")]
    Io { context: String, source: io::Error },
    /// The file is not what this agent writes (damaged, edited, too new).
    #[error("{} is not a valid proxies file: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: String },
}

/// The whole file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedFile {
    version: u32,
    proxies: Vec<SavedProxy>,
}

/// One running proxy, as saved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedProxy {
    pub name: String,
    /// The bound address, so a proxy started on port 0 keeps its port.
    pub listen: String,
    pub upstream: String,
    pub max_connections: u64,
    pub faults: SavedFaults,
    /// A UDP proxy (absent in files written before UDP proxies: TCP).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub udp: bool,
    /// A UDP proxy's session idle timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<Duration>,
}

/// A fault profile, field for field (see `FaultSpec`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedFaults {
    latency: Option<String>,
    directions: String,
    bandwidth: Option<u64>,
    proxy_bandwidth: Option<u64>,
    reset_after_bytes: Option<u64>,
    reset_after: Option<Duration>,
    black_hole: bool,
    black_hole_close_after: Option<Duration>,
    slow_close: Option<Duration>,
    slice_size: Option<usize>,
    slice_pause: Option<Duration>,
    limit_bytes: Option<u64>,
    connect_delay: Option<Duration>,
    toxicity: f64,
    seed: Option<u64>,
    /// A UDP proxy's datagram faults (absent in older files: none).
    #[serde(default, skip_serializing_if = "SavedDatagram::is_none")]
    datagram: SavedDatagram,
}

/// `DatagramFields`, field for field; shares as fractions.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedDatagram {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    loss: Option<f64>,
    /// p, r, 1-h, 1-k (netem's order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    loss_bursts: Option<[f64; 4]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    duplicate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reorder: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reorder_window: Option<u32>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    keep_order: bool,
}

impl SavedDatagram {
    fn is_none(&self) -> bool {
        *self == SavedDatagram::default()
    }

    fn from_fields(d: &DatagramFields) -> SavedDatagram {
        SavedDatagram {
            loss: match d.loss {
                Some(Loss::Random(p)) => Some(p),
                _ => None,
            },
            loss_bursts: match d.loss {
                Some(Loss::Bursts(ge)) => Some([ge.p, ge.r, ge.bad_loss, ge.good_loss]),
                _ => None,
            },
            duplicate: d.duplicate,
            reorder: d.reorder.map(|r| r.probability),
            reorder_window: d.reorder.map(|r| r.window),
            keep_order: d.keep_order,
        }
    }

    fn to_fields(&self) -> DatagramFields {
        let loss = match (self.loss_bursts, self.loss) {
            (Some([p, r, bad_loss, good_loss]), _) => Some(Loss::Bursts(GilbertElliott {
                p,
                r,
                bad_loss,
                good_loss,
            })),
            (None, l) => l.map(Loss::Random),
        };
        DatagramFields {
            loss,
            duplicate: self.duplicate,
            reorder: self.reorder.map(|probability| Reorder {
                probability,
                window: self
                    .reorder_window
                    .unwrap_or(crate::faults::udp::DEFAULT_REORDER_WINDOW),
            }),
            keep_order: self.keep_order,
        }
    }
}

impl From<&FaultSpec> for SavedFaults {
    fn from(f: &FaultSpec) -> Self {
        Self {
            latency: f.latency.map(|l| l.to_string()),
            directions: f.directions.as_str().to_owned(),
            bandwidth: f.bandwidth,
            proxy_bandwidth: f.proxy_bandwidth,
            reset_after_bytes: f.reset_after_bytes,
            reset_after: f.reset_after,
            black_hole: f.black_hole,
            black_hole_close_after: f.black_hole_close_after,
            slow_close: f.slow_close,
            slice_size: f.slicer.map(|s| s.size),
            slice_pause: f.slicer.map(|s| s.pause),
            limit_bytes: f.limit_bytes,
            connect_delay: f.connect_delay,
            toxicity: f.toxicity,
            seed: f.seed,
            datagram: SavedDatagram::from_fields(&f.datagram),
        }
    }
}

impl SavedFaults {
    /// The profile back; the registry validates its values as for any start.
    ///
    /// # Errors
    /// A latency or direction that does not parse.
    pub fn to_spec(&self) -> Result<FaultSpec, SavedFaultError> {
        Ok(FaultSpec {
            latency: self
                .latency
                .as_deref()
                .map(parse::latency)
                .transpose()
                .map_err(SavedFaultError::Latency)?,
            directions: Directions::parse(&self.directions).map_err(SavedFaultError::Directions)?,
            bandwidth: self.bandwidth,
            proxy_bandwidth: self.proxy_bandwidth,
            reset_after_bytes: self.reset_after_bytes,
            reset_after: self.reset_after,
            black_hole: self.black_hole,
            black_hole_close_after: self.black_hole_close_after,
            slow_close: self.slow_close,
            slicer: self.slice_size.map(|size| Slicer {
                size,
                pause: self.slice_pause.unwrap_or_default(),
            }),
            limit_bytes: self.limit_bytes,
            connect_delay: self.connect_delay,
            toxicity: self.toxicity,
            seed: self.seed,
            datagram: self.datagram.to_fields(),
        })
    }
}

/// A saved fault profile that no longer parses (a file edited by hand, or
/// written by another version).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SavedFaultError {
    #[error("latency: {0}")]
    Latency(parse::ValueError),
    #[error("directions: {0}")]
    Directions(crate::faults::UnknownDirections),
}

/// Reads the saved proxies; `Ok(None)` when there is no file.
///
/// # Errors
/// `Io` when it cannot be read, `Corrupt` when it is not a proxies file.
pub fn load(path: &Path) -> Result<Option<Vec<SavedProxy>>, SavedError> {
    let io_err = |source| SavedError::Io {
        context: format!("reading {}", path.display()),
        source,
    };
    let corrupt = |reason: String| SavedError::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    let size = match std::fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(e)),
    };
    if size > MAX_FILE_BYTES {
        return Err(corrupt(format!("{size} bytes, more than {MAX_FILE_BYTES}")));
    }
    let body = std::fs::read(path).map_err(io_err)?;
    let file: SavedFile = serde_json::from_slice(&body).map_err(|e| corrupt(e.to_string()))?;
    if file.version != FORMAT_VERSION {
        return Err(corrupt(format!(
            "version {} (this agent reads {FORMAT_VERSION})",
            file.version
        )));
    }
    Ok(Some(file.proxies))
}

/// Replaces the file with `proxies`, atomically.
///
/// # Errors
/// `Io` (disk full, permissions); the previous file is then intact.
pub fn save(path: &Path, proxies: Vec<SavedProxy>) -> Result<(), SavedError> {
    let io_err = |source| SavedError::Io {
        context: format!("writing {}", path.display()),
        source,
    };
    let body = serde_json::to_vec_pretty(&SavedFile {
        version: FORMAT_VERSION,
        proxies,
    })
    .map_err(|e| io_err(e.into()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".{SAVED_PROXIES_FILE}.tmp"));
    crate::durable::replace(path, &tmp, &body).map_err(io_err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::Latency;

    #[test]
    fn profiles_round_trip() {
        let ms = Duration::from_millis;
        for spec in [
            FaultSpec::default(),
            FaultSpec {
                latency: Some(Latency::Uniform(ms(500), ms(800))),
                directions: Directions::parse("s2c").unwrap(),
                bandwidth: Some(65_536),
                reset_after: Some(ms(1500)),
                slicer: Some(Slicer {
                    size: 16,
                    pause: ms(2),
                }),
                toxicity: 0.25,
                seed: Some(7),
                ..FaultSpec::default()
            },
            FaultSpec {
                latency: Some(Latency::Normal(ms(100), ms(20))),
                black_hole: true,
                black_hole_close_after: Some(ms(300)),
                connect_delay: Some(ms(20)),
                limit_bytes: Some(10),
                ..FaultSpec::default()
            },
            FaultSpec {
                bandwidth: Some(1_000),
                datagram: DatagramFields {
                    loss: Some(Loss::Bursts(GilbertElliott::simple(0.01, 0.25))),
                    duplicate: Some(0.5),
                    reorder: Some(Reorder {
                        probability: 0.1,
                        window: 4,
                    }),
                    keep_order: true,
                },
                ..FaultSpec::default()
            },
        ] {
            let json = serde_json::to_string(&SavedFaults::from(&spec)).unwrap();
            let back: SavedFaults = serde_json::from_str(&json).unwrap();
            assert_eq!(back.to_spec().unwrap(), spec, "{json}");
        }
    }

    #[test]
    fn files_round_trip_and_damage_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SAVED_PROXIES_FILE);
        assert!(load(&path).unwrap().is_none());
        let p = SavedProxy {
            name: "game".into(),
            listen: "127.0.0.1:7000".into(),
            upstream: "127.0.0.1:7001".into(),
            max_connections: 5,
            faults: SavedFaults::from(&FaultSpec::default()),
            udp: false,
            idle_timeout: None,
        };
        let voice = SavedProxy {
            name: "voice".into(),
            udp: true,
            idle_timeout: Some(Duration::from_secs(30)),
            ..p.clone()
        };
        save(&path, vec![p.clone(), voice.clone()]).unwrap();
        assert_eq!(load(&path).unwrap(), Some(vec![p.clone(), voice]));
        // A file from before UDP proxies (no udp field) reads as TCP.
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.matches("\"udp\"").count(), 1, "{text}");
        for bad in ["", "{", "[]", r#"{"version":9,"proxies":[]}"#] {
            std::fs::write(&path, bad).unwrap();
            let e = load(&path).unwrap_err();
            assert!(matches!(e, SavedError::Corrupt { .. }), "{bad:?}: {e}");
        }
    }
}
