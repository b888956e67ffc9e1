//! The engine's root: one value that owns the proxies, the recordings and the
//! event bus of an agent. The gRPC service and tests drive it directly.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::config::{AgentConfig, SHUTDOWN_GRACE};
use crate::error::{Error, Result};
use crate::events::EventBus;
use crate::format::Source;
use crate::proxy::{AnyProxy, Proxies, RestoreSummary};
use crate::record::{AgentIdentity, RecordingInfo, RecordingStatus, Recordings, SegmentObserver};
use crate::replay::Replays;
use crate::store::{Attached, Store, Uploader};

/// File in the data directory that keeps the agent id across restarts.
const AGENT_ID_FILE: &str = "agent-id";

/// A running agent.
pub struct Agent {
    pub identity: AgentIdentity,
    pub data_dir: PathBuf,
    pub proxies: Proxies,
    pub recordings: Recordings,
    pub replays: Replays,
    pub bus: EventBus,
    /// The object store (`--store`), when there is one.
    store: std::sync::OnceLock<Attached>,
    started: Instant,
    tracker: TaskTracker,
}

/// Identity and clock, for GetInfo.
#[derive(Debug, Clone)]
pub struct AgentStatus {
    pub name: String,
    pub agent_id: String,
    pub version: &'static str,
    pub now: SystemTime,
    pub uptime: Duration,
    pub proxies: usize,
    pub recordings: usize,
    pub data_dir: PathBuf,
}

impl Agent {
    /// Prepares the data directory (created owner-only if missing), loads the
    /// catalog of recordings (recovering files left by a crash) and the
    /// reports of earlier replays.
    ///
    /// # Errors
    /// `Io` when the data directory cannot be created or read.
    pub fn open(config: AgentConfig, cancel: CancellationToken) -> Result<Arc<Self>> {
        let dir = &config.data_dir;
        create_private_dir(dir)?;
        let id = agent_id(dir)?;
        let identity = AgentIdentity {
            name: config.name.clone(),
            id,
        };
        let bus = EventBus::with_max_watchers(config.max_watchers);
        let tracker = TaskTracker::new();
        let recordings = Recordings::open(dir, identity.clone(), bus.clone())?;
        let replays = Replays::open(dir, bus.clone(), tracker.clone(), cancel.clone())?;
        info!(name = %identity.name, id = %identity.id, data_dir = %dir.display(), recordings = recordings.count(), "agent ready");
        Ok(Arc::new(Self {
            identity,
            data_dir: dir.clone(),
            proxies: Proxies::new(bus.clone(), tracker.clone(), cancel.clone()),
            recordings,
            replays,
            bus,
            store: std::sync::OnceLock::new(),
            started: Instant::now(),
            tracker,
        }))
    }

    /// Keeps the proxies started from now on in the data directory (they
    /// come back after a restart) and, unless `restore` is false
    /// (`--no-restore-proxies`), starts those saved by the previous run.
    /// Call it once the config file's proxies run, before serving.
    pub async fn restore_proxies(&self, restore: bool) -> RestoreSummary {
        let summary = if restore {
            self.proxies.restore(&self.data_dir).await
        } else {
            info!("saved proxies not restored (--no-restore-proxies)");
            RestoreSummary::default()
        };
        if summary.restored + summary.skipped > 0 {
            info!(
                restored = summary.restored,
                skipped = summary.skipped,
                "saved proxies restored"
            );
        }
        self.proxies.keep_in(&self.data_dir);
        summary
    }

    /// Sets the file-descriptor budget proxy clients and replayed
    /// connections share (see `crate::fds`); call it before any proxy or
    /// replay starts.
    pub fn set_fd_budget(&self, budget: crate::fds::FdBudget) {
        self.proxies.set_fd_budget(budget.clone());
        self.replays.set_fd_budget(budget);
    }

    /// Applies `--max-disk` / `--min-free` to recordings from now on.
    pub fn set_disk_limits(&self, limits: crate::record::DiskLimits) {
        self.recordings.set_disk_limits(limits);
    }

    /// Uploads recordings to `store` from now on (and those a previous run
    /// left half uploaded), lists the store's recordings beside the local
    /// ones, and releases a local copy once it is complete in the store.
    /// Call once, after `open`, before serving; a second call is ignored.
    pub fn attach_store(self: &Arc<Self>, store: Arc<Store>, cancel: CancellationToken) {
        let weak = Arc::downgrade(self);
        let release: crate::store::Release = Box::new(move |id, dir| {
            if let Some(agent) = weak.upgrade() {
                agent.release_local(id, dir);
            }
        });
        let weak = Arc::downgrade(self);
        let skip_sealed: crate::store::SkipSealed = Box::new(move |id| {
            weak.upgrade()
                .and_then(|agent| agent.recordings.get(id).ok())
                .is_some_and(|info| info.ring.is_some())
        });
        let uploader = Uploader::start(store.clone(), release, skip_sealed, cancel);
        if self
            .store
            .set(Attached {
                store,
                uploader: uploader.clone(),
            })
            .is_err()
        {
            warn!("a store is already attached; ignoring another");
            return;
        }
        self.recordings
            .observe_segments(Arc::new(uploader.clone()) as Arc<dyn SegmentObserver>);
        uploader.resume(&self.data_dir);
    }

    /// What to read for finished recording `id` (replay, analysis, pull):
    /// its files here, else, with `--store`, its copy in the store, read by
    /// ranges as the reader goes.
    ///
    /// # Errors
    /// As [`Recordings::get`]; `FailedPrecondition` while it is being
    /// written; `Io` when the store cannot be asked.
    pub async fn source_of(&self, id: &str) -> Result<(RecordingInfo, Source)> {
        match self.recordings.get(id) {
            Ok(info) if info.status == RecordingStatus::Recording => {
                Err(Error::FailedPrecondition(format!(
                    "recording {id:?} is still being written; stop it first"
                )))
            }
            Ok(info) => Ok((info, self.recordings.source_of(id)?)),
            Err(Error::UnknownRecording(_)) if self.store().is_some() => {
                let store = self
                    .store()
                    .ok_or_else(|| Error::UnknownRecording(id.into()))?;
                let found = store.source(id).await.map_err(|e| {
                    Error::io(
                        format!("reading recording {id} from the store"),
                        std::io::Error::other(e),
                    )
                })?;
                match found {
                    Some(source) => {
                        let info = crate::record::from_index(source.index_ref());
                        Ok((info, Source::Segments(Arc::new(source))))
                    }
                    None => Err(Error::UnknownRecording(id.to_owned())),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// The object store, when `--store` gave one.
    pub fn store(&self) -> Option<&Attached> {
        self.store.get()
    }

    /// Drops the local copy of a recording now complete in the store: out
    /// of the catalog (and the disk quota) when it is there, else its
    /// directory is removed.
    fn release_local(&self, id: &str, dir: &Path) {
        match self.recordings.delete(id) {
            Ok(_) => {}
            Err(Error::UnknownRecording(_)) => {}
            Err(e) => {
                warn!(recording = %id, error = %e, "cannot release the local copy of a stored recording");
                return;
            }
        }
        match std::fs::remove_dir_all(dir) {
            Ok(()) => info!(recording = %id, "local copy released: the recording is in the store"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                warn!(recording = %id, error = %e, "cannot remove the local copy of a stored recording")
            }
        }
    }

    pub fn status(&self) -> AgentStatus {
        AgentStatus {
            name: self.identity.name.clone(),
            agent_id: self.identity.id.clone(),
            version: env!("CARGO_PKG_VERSION"),
            now: SystemTime::now(),
            uptime: self.started.elapsed(),
            proxies: self.proxies.list().len(),
            recordings: self.recordings.count(),
            data_dir: self.data_dir.clone(),
        }
    }

    /// Starts recording the proxies named by id or name (every running one
    /// when none is named), each once however often it is named: the
    /// catalog writes the file, and the recording's tap is attached here,
    /// so recording never needs to know proxies.
    ///
    /// # Errors
    /// As [`Recordings::start`], and `UnknownProxy`.
    pub async fn start_recording(
        &self,
        proxy_ids: &[String],
        label: String,
        start_at: Option<SystemTime>,
        ring: Option<std::time::Duration>,
    ) -> Result<RecordingInfo> {
        crate::record::check_label(&label)?;
        let mut targets: Vec<AnyProxy> = if proxy_ids.is_empty() {
            self.proxies.all_any()
        } else {
            proxy_ids
                .iter()
                .map(|p| self.proxies.find_any(p))
                .collect::<Result<_>>()?
        };
        // One tap per proxy: a proxy named twice (by name and by id, or
        // repeated) would otherwise record every byte once per mention.
        let mut seen = std::collections::HashSet::new();
        targets.retain(|p| seen.insert(p.id().clone()));
        let metas = targets.iter().map(|p| p.meta()).collect();
        self.recordings
            .start(metas, label, start_at, ring, |tap| {
                targets.iter().flat_map(|p| p.attach(tap.clone())).collect()
            })
            .await
    }

    /// Stops a recording, taking its tap off the proxies first.
    ///
    /// # Errors
    /// As [`Recordings::stop`].
    pub async fn stop_recording(&self, id: &str, reason: &str) -> Result<RecordingInfo> {
        self.recordings
            .stop(id, reason, |proxies| self.detach(id, proxies))
            .await
    }

    /// Takes recording `id`'s tap off the proxies (ids) still running.
    fn detach(&self, id: &str, proxies: &[String]) {
        for p in proxies {
            if let Ok(proxy) = self.proxies.find_any(p) {
                proxy.detach(id);
            }
        }
    }

    /// Stops every proxy, lets connections tell recordings they closed (up to
    /// `SHUTDOWN_GRACE`), then finishes every recording with its footer.
    pub async fn shutdown(&self) {
        self.proxies.stop_all();
        self.replays.stop_all();
        self.tracker.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, self.tracker.wait())
            .await
            .is_err()
        {
            warn!("connections still open after the shutdown grace period");
        }
        self.recordings
            .stop_all("agent shutting down", |id, proxies| {
                self.detach(id, proxies)
            })
            .await;
        info!("agent stopped");
    }
}

fn create_private_dir(dir: &Path) -> Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
        .map_err(|e| Error::io(format!("creating data directory {}", dir.display()), e))
}

/// Reads the agent id, or makes one on first start.
fn agent_id(dir: &Path) -> Result<String> {
    let path = dir.join(AGENT_ID_FILE);
    match std::fs::read_to_string(&path) {
        Ok(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        Ok(_) | Err(_) => {
            let id = uuid::Uuid::new_v4().to_string();
            std::fs::write(&path, format!("{id}\n"))
                .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
            Ok(id)
        }
    }
}
