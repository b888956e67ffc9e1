//! Starting a recording: the checks made before anything is created (label,
//! disk room, scheduled start), its directory and each lane's first
//! segment, the recorder threads (one per lane) and their tick, and
//! attaching the tap through the caller.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::oneshot;
use tracing::{info, warn};

use super::active::Active;
use super::catalog::{CatalogEntry, Recordings};
use super::error::RecordError;
use super::files::create_private_dir;
use super::info::{RecordingInfo, time_to_unix_ns};
use super::recorder::{self, LiveFigures, Recorder, Segments};
use super::ring::{MAX_RING, MIN_RING, Ring};
use super::segments::FileSegments;
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

/// Refuses a flight recorder's window outside [`MIN_RING`]..=[`MAX_RING`]
/// (`InvalidArgument` naming `ring`).
///
/// # Errors
/// As said.
pub fn check_ring(window: Duration) -> Result<()> {
    if !(MIN_RING..=MAX_RING).contains(&window) {
        return Err(Error::invalid(
            "ring",
            format!(
                "{} is outside {}..={}",
                humantime::format_duration(window),
                humantime::format_duration(MIN_RING),
                humantime::format_duration(MAX_RING)
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
        ring: Option<Duration>,
        attach: impl FnOnce(&Tap) -> Vec<Arc<ConnMeta>>,
    ) -> Result<RecordingInfo> {
        // Checked before anything is created, so a refusal leaves no file.
        check_label(&label)?;
        if let Some(window) = ring {
            check_ring(window)?;
        }
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
        let dir = self.segments_dir(&id);
        create_private_dir(&dir)?;
        let policy = self.segment_policy();
        let ring = ring.map(|window| Arc::new(Ring::new(window, self.quota.clone())));
        let (tap, intakes) = tap::queue(&id, policy.lanes, started);
        let mut lanes = Vec::with_capacity(intakes.len());
        for (lane, intake) in intakes.into_iter().enumerate() {
            let mut files = FileSegments {
                dir: dir.clone(),
                lane: u16::try_from(lane).unwrap_or(u16::MAX),
                id: id.clone(),
                policy,
                observer: self.observer(),
                ring: ring.clone(),
                sealing: Vec::new(),
            };
            let first = files.open(0).and_then(|(sink, syncer)| {
                RecordingWriter::new(sink, &header)
                    .and_then(|mut w| w.flush().map(|()| (w, syncer)))
                    .map_err(RecordError::write)
            });
            match first {
                Ok((writer, syncer)) => lanes.push((intake, files, writer, syncer)),
                Err(e) => {
                    // An error never leaves a recording behind: this one
                    // is not in the catalog yet.
                    if let Err(e) = std::fs::remove_dir_all(&dir) {
                        warn!(path = %dir.display(), error = %e, "cannot remove a recording that failed to start");
                    }
                    return Err(Error::Io {
                        context: format!("creating the segments of recording {id}"),
                        source: std::io::Error::other(e.to_string()),
                    });
                }
            }
        }

        let mut outcomes = Vec::with_capacity(lanes.len());
        let mut figures = Vec::with_capacity(lanes.len());
        let mut recorders = Vec::with_capacity(lanes.len());
        for (intake, files, writer, syncer) in lanes {
            let (outcome_tx, outcome) = oneshot::channel();
            let live = Arc::new(LiveFigures::default());
            outcomes.push(outcome);
            figures.push(live.clone());
            recorders.push(Recorder {
                syncer,
                writer,
                rx: intake.rx,
                budget: intake.budget,
                outcome: outcome_tx,
                start: started,
                live,
                quota: self.quota.clone(),
                // Set below, once the recording's listing exists.
                on_failure: Box::new(|_: &RecordError| {}),
                id: id.clone(),
                header: header.clone(),
                segments: Some(Box::new(files)),
            });
        }
        let active = Arc::new(Active {
            id: id.clone(),
            label,
            proxies: header.proxies.iter().map(|p| p.id.clone()).collect(),
            started_at,
            started,
            agent_name: self.agent.name.clone(),
            live: figures,
            tap: tap.clone(),
            outcomes: Mutex::new(Some(outcomes)),
            ring,
        });
        // Told once per recording, whichever lane fails first.
        let told = Arc::new(std::sync::atomic::AtomicBool::new(false));
        for (lane, mut rec) in recorders.into_iter().enumerate() {
            let bus = self.bus.clone();
            let active_for_event = active.clone();
            let told = told.clone();
            rec.on_failure = Box::new(move |_err: &RecordError| {
                if told.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    return;
                }
                bus.publish(
                    None,
                    EventBody::Recording {
                        phase: RecordingPhase::Failed,
                        info: Box::new(active_for_event.info()),
                    },
                );
            });
            std::thread::Builder::new()
                .name(format!("rec-{lane}-{id}"))
                .spawn(move || rec.run())
                .map_err(|e| Error::io("starting the recorder thread", e))?;
        }
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
