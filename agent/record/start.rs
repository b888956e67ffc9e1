//! Starting a recording: the checks made before anything is created (label,
//! disk room, scheduled start), the file and its header, the recorder thread
//! and its tick, and attaching the tap through the caller.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::oneshot;
use tracing::{info, warn};

use super::active::Active;
use super::catalog::{CatalogEntry, Recordings};
use super::error::RecordError;
use super::files::create_file;
use super::info::{RecordingInfo, time_to_unix_ns};
use super::recorder::{self, LiveFigures, Recorder};
use super::syncer::Syncer;
use crate::error::{Error, Result};
use crate::events::{EventBody, RecordingPhase};
use crate::format::{Header, ProxyMeta, RecordingWriter};
use crate::ids;
use crate::tap::{self, ConnMeta, Tap, TapKind};

/// Room a new recording needs under the disk quota to be worth starting.
pub const MIN_RECORDING_ROOM: u64 = 64 * 1024;

/// Furthest ahead a scheduled start may be.
pub const MAX_SCHEDULE_AHEAD: Duration = Duration::from_secs(3600);

/// Refuses a label over [`MAX_LABEL_LEN`] bytes (`InvalidArgument`).
///
/// # Errors
/// As said.
pub fn check_label(label: &str) -> Result<()> {
    if label.len() > MAX_LABEL_LEN {
        return Err(Error::invalid(
            "label",
            format!("is {} bytes, longer than {MAX_LABEL_LEN}", label.len()),
        ));
    }
    Ok(())
}

/// Refuses a scheduled start (of a recording or a replay) more than
/// `MAX_SCHEDULE_AHEAD` after `now`.
///
/// # Errors
/// `InvalidArgument` naming `start_at`.
pub fn check_start_at(at: SystemTime, now: SystemTime) -> Result<()> {
    let wait = at.duration_since(now).unwrap_or(Duration::ZERO);
    if wait > MAX_SCHEDULE_AHEAD {
        return Err(Error::invalid(
            "start_at",
            format!(
                "{} is more than {}s ahead",
                humantime::format_rfc3339_millis(at),
                MAX_SCHEDULE_AHEAD.as_secs()
            ),
        ));
    }
    Ok(())
}

/// Longest label accepted, in bytes. The header's metadata (label, agent
/// and proxies, as JSON) must fit `format::MAX_META_LEN` (1 MiB); a label is
/// a human note, so it gets a small share of that.
pub const MAX_LABEL_LEN: usize = 1024;

impl Recordings {
    /// Starts recording `proxy_ids` (ids or names, each proxy once however
    /// often it is named; every running proxy when empty), at
    /// `start_at` on this host's clock when given (coordinated starts across
    /// a fleet), else now.
    ///
    /// # Errors
    /// `InvalidArgument` for a label over [`MAX_LABEL_LEN`] bytes,
    /// `FailedPrecondition` when `targets` is empty or the disk limits
    /// leave no room, `InvalidArgument` for a start more than
    /// `MAX_SCHEDULE_AHEAD` away, `Io`/`Format` when the file cannot be
    /// created.
    ///
    /// `attach` connects the new recording's tap to the proxies (the
    /// caller's business: the catalog knows no proxy) and returns the
    /// connections already open, which the file describes as mid-session.
    pub async fn start(
        &self,
        targets: Vec<ProxyMeta>,
        label: String,
        start_at: Option<SystemTime>,
        attach: impl FnOnce(&Tap) -> Vec<Arc<ConnMeta>>,
    ) -> Result<RecordingInfo> {
        // Checked before anything is created, so a refusal leaves no file.
        check_label(&label)?;
        if targets.is_empty() {
            return Err(Error::FailedPrecondition(
                "no proxy is running: start a proxy before recording".into(),
            ));
        }
        self.quota
            .admit(MIN_RECORDING_ROOM)
            .and_then(|()| self.quota.free_space_ok())?;
        if let Some(at) = start_at {
            check_start_at(at, SystemTime::now())?;
            crate::timer::sleep_until_wall(at).await;
        }
        // Read right after the wait: the start reelctl reports and measures
        // the skew with.
        let started_at = SystemTime::now();
        let started = Instant::now();
        let id = ids::new_recording_id(started_at);
        let header = Header {
            id: id.clone(),
            label: label.clone(),
            agent_name: self.agent.name.clone(),
            agent_id: self.agent.id.clone(),
            started_at_unix_ns: time_to_unix_ns(started_at),
            proxies: targets,
        };
        let path = self.path_of(&id);
        let file = create_file(&path)?;
        // A second descriptor of the file, for the syncs beside the writer.
        let for_sync = file.try_clone();
        let writer = match RecordingWriter::new(recorder::open_sink(file), &header) {
            Ok(w) => w,
            Err(source) => {
                // An error never leaves a file behind: this one holds no
                // header, is not in the catalog and could not be deleted.
                if let Err(e) = std::fs::remove_file(&path) {
                    warn!(path = %path.display(), error = %e, "cannot remove a recording that failed to start");
                }
                return Err(Error::Format {
                    id: id.clone(),
                    source,
                });
            }
        };

        let (tap, rx, budget) = tap::queue(&id);
        let (outcome_tx, outcome) = oneshot::channel();
        let live = Arc::new(LiveFigures::default());
        let active = Arc::new(Active {
            id: id.clone(),
            label,
            proxies: header.proxies.iter().map(|p| p.id.clone()).collect(),
            started_at,
            started,
            agent_name: self.agent.name.clone(),
            live: live.clone(),
            tap: tap.clone(),
            outcome: Mutex::new(Some(outcome)),
        });
        let on_failure = {
            let bus = self.bus.clone();
            let active = active.clone();
            Box::new(move |_err: &RecordError| {
                bus.publish(
                    None,
                    EventBody::Recording {
                        phase: RecordingPhase::Failed,
                        info: Box::new(active.info()),
                    },
                );
            })
        };
        let syncer = for_sync
            .and_then(|f| Syncer::spawn(&id, move || f.sync_data()))
            .inspect_err(|e| {
                warn!(recording = %id, error = %e, "syncing in line: no background sync");
            })
            .ok();
        let rec = Recorder {
            syncer,
            writer,
            rx,
            budget,
            outcome: outcome_tx,
            start: started,
            live,
            quota: self.quota.clone(),
            on_failure,
            id: id.clone(),
        };
        std::thread::Builder::new()
            .name(format!("rec-{id}"))
            .spawn(move || rec.run())
            .map_err(|e| Error::io("starting the recorder thread", e))?;
        tokio::spawn(recorder::tick(tap.clone()));

        self.entries()
            .insert(id.clone(), CatalogEntry::Active(active.clone()));
        for conn in attach(&tap) {
            tap.send(&conn, conn.opened, TapKind::Open).await;
        }
        info!(recording = %id, proxies = ?active.proxies, "recording started");
        let info = active.info();
        self.bus.publish(
            None,
            EventBody::Recording {
                phase: RecordingPhase::Started,
                info: Box::new(info.clone()),
            },
        );
        Ok(info)
    }
}
