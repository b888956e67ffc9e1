//! The replays of an agent: start (load the recordings into a plan, then run
//! it in the background), follow, stop. Reports are kept in memory until
//! the agent stops.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use super::conn::Progress;
use super::options::ReplayOptions;
use super::plan::{Plan, PlanBuilder};
use super::report::{ReplayReport, ReplayState};
use super::session::Pass;
use crate::error::{Error, Result};
use crate::events::{EventBody, EventBus, ReplayProgress};
use crate::faults::ProxyFaults;
use crate::format::{End, Next, RecordingReader};
use crate::ids;
use crate::record::{RecordingStatus, Recordings};

/// Most finished replays kept for GetReplay; the oldest go first.
pub const KEPT_REPLAYS: usize = 256;

/// One replay, running or done.
pub struct Replay {
    pub id: String,
    opts: Arc<ReplayOptions>,
    plan: Arc<Plan>,
    progress: Arc<Progress>,
    cancel: CancellationToken,
    report: Mutex<ReplayReport>,
    created: Instant,
}

impl Replay {
    fn lock(&self) -> MutexGuard<'_, ReplayReport> {
        self.report.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The report as of now (live counters while running).
    pub fn report(&self) -> ReplayReport {
        let mut r = self.lock().clone();
        if matches!(r.state, ReplayState::Running | ReplayState::Scheduled) {
            let p = &self.progress;
            r.opened = p.opened.load(Ordering::Relaxed);
            r.failed = p.failed.load(Ordering::Relaxed);
            r.finished = p.finished.load(Ordering::Relaxed);
            r.bytes_sent = p.bytes_sent.load(Ordering::Relaxed);
            r.bytes_received = p.bytes_received.load(Ordering::Relaxed);
            if r.started_at.is_some() {
                r.duration = self.created.elapsed();
            }
        }
        r
    }

    fn progress_event(&self) -> EventBody {
        let r = self.report();
        EventBody::Replay(ReplayProgress {
            id: self.id.clone(),
            state: r.state,
            planned: r.planned,
            opened: r.opened,
            failed: r.failed,
            finished: r.finished,
            bytes_sent: r.bytes_sent,
            bytes_received: r.bytes_received,
            expected_sent: r.expected_sent,
        })
    }
}

/// Every replay of the agent.
pub struct Replays {
    map: Mutex<BTreeMap<String, Arc<Replay>>>,
    bus: EventBus,
    tracker: TaskTracker,
    cancel: CancellationToken,
}

impl Replays {
    pub fn new(bus: EventBus, tracker: TaskTracker, cancel: CancellationToken) -> Self {
        Self {
            map: Mutex::default(),
            bus,
            tracker,
            cancel,
        }
    }

    fn map(&self) -> MutexGuard<'_, BTreeMap<String, Arc<Replay>>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Loads the recordings and starts replaying them in the background.
    ///
    /// # Errors
    /// `InvalidArgument` for bad options, `UnknownRecording`,
    /// `FailedPrecondition` for a recording still being written or a plan
    /// with no connection, `Format`/`Io` when a file cannot be read.
    pub async fn start(
        &self,
        recordings: &Recordings,
        opts: ReplayOptions,
    ) -> Result<ReplayReport> {
        opts.validate()?;
        let mut files = Vec::new();
        for id in &opts.recordings {
            let info = recordings.get(id)?;
            if info.status == RecordingStatus::Recording {
                return Err(Error::FailedPrecondition(format!(
                    "recording {id:?} is still being written; stop it before replaying it"
                )));
            }
            files.push((id.clone(), recordings.file_of(id)?));
        }
        let mut plan = tokio::task::spawn_blocking(move || load_plan(&files))
            .await
            .map_err(|e| Error::io("loading recordings", std::io::Error::other(e.to_string())))??;
        if let Some(max_idle) = opts.max_idle {
            plan.clamp_idle(u64::try_from(max_idle.as_nanos()).unwrap_or(u64::MAX));
        }
        if let Some((i, n)) = opts.shard {
            plan = plan.shard(i, n);
        }
        let per_pass = plan.conns.len() as u64 * u64::from(opts.multiply);
        if per_pass == 0 && opts.shard.is_none() {
            return Err(Error::FailedPrecondition(
                "nothing to replay: the recordings hold no connection".into(),
            ));
        }
        let id = format!("rp-{}", ids::new_recording_id(SystemTime::now()));
        let report = ReplayReport {
            id: id.clone(),
            state: if opts.start_at.is_some() {
                ReplayState::Scheduled
            } else {
                ReplayState::Running
            },
            mode: opts.mode.as_str(),
            speed: opts.speed,
            recordings: opts.recordings.clone(),
            scheduled_start: opts.start_at,
            started_at: None,
            duration: Duration::ZERO,
            planned: per_pass * u64::from(opts.loops),
            opened: 0,
            failed: 0,
            finished: 0,
            bytes_sent: 0,
            bytes_received: 0,
            expected_sent: plan.c2s_total() * u64::from(opts.multiply) * u64::from(opts.loops),
            expected_received: plan.s2c_total() * u64::from(opts.multiply) * u64::from(opts.loops),
            lateness: Default::default(),
            divergences: 0,
            closed_early: 0,
            server_timeouts: 0,
            connections: Vec::new(),
            error: None,
            relaxations: 0,
            relaxed: Vec::new(),
            waits: Vec::new(),
        };
        let replay = Arc::new(Replay {
            id: id.clone(),
            opts: Arc::new(opts),
            plan: Arc::new(plan),
            progress: Arc::new(Progress::default()),
            cancel: self.cancel.child_token(),
            report: Mutex::new(report.clone()),
            created: Instant::now(),
        });
        {
            let mut map = self.map();
            map.insert(id.clone(), replay.clone());
            prune(&mut map);
        }
        info!(replay = %id, mode = replay.opts.mode.as_str(), planned = report.planned, "replay accepted");
        self.tracker.spawn(run(replay, self.bus.clone()));
        Ok(report)
    }

    /// # Errors
    /// `InvalidArgument` for a malformed id, `UnknownReplay`.
    pub fn get(&self, id: &str) -> Result<ReplayReport> {
        Ok(self.find(id)?.report())
    }

    fn find(&self, id: &str) -> Result<Arc<Replay>> {
        ids::validate("id", id)?;
        self.map()
            .get(id)
            .cloned()
            .ok_or_else(|| Error::UnknownReplay(id.to_string()))
    }

    /// Stops a replay; its connections close and the report says `stopped`.
    ///
    /// # Errors
    /// As `get`.
    pub async fn stop(&self, id: &str) -> Result<ReplayReport> {
        let replay = self.find(id)?;
        replay.cancel.cancel();
        // The run task publishes the final report once its tasks are done.
        for _ in 0..200 {
            let r = replay.report();
            if !matches!(r.state, ReplayState::Running | ReplayState::Scheduled) {
                return Ok(r);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Ok(replay.report())
    }

    /// Stops every replay (agent shutdown); their tasks end on their own.
    pub fn stop_all(&self) {
        for r in self.map().values() {
            r.cancel.cancel();
        }
    }

    pub fn list(&self) -> Vec<ReplayReport> {
        self.map().values().map(|r| r.report()).collect()
    }
}

/// Drops the oldest finished replays beyond `KEPT_REPLAYS`.
fn prune(map: &mut BTreeMap<String, Arc<Replay>>) {
    while map.len() > KEPT_REPLAYS {
        let oldest = map
            .iter()
            .filter(|(_, r)| {
                !matches!(
                    r.lock().state,
                    ReplayState::Running | ReplayState::Scheduled
                )
            })
            .min_by_key(|(_, r)| r.created)
            .map(|(k, _)| k.clone());
        match oldest {
            Some(k) => {
                map.remove(&k);
            }
            None => break,
        }
    }
}

/// Reads the recordings into one plan. Files that end truncated or
/// corrupted are replayed up to their last valid frame.
fn load_plan(files: &[(String, PathBuf)]) -> Result<Plan> {
    let mut b = PlanBuilder::new();
    for (id, path) in files {
        let rec = b.recording(id);
        let file = std::fs::File::open(path)
            .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
        let mut reader =
            RecordingReader::open(std::io::BufReader::new(file)).map_err(|source| {
                Error::Format {
                    id: id.clone(),
                    source,
                }
            })?;
        loop {
            match reader.next().map_err(|source| Error::Format {
                id: id.clone(),
                source,
            })? {
                Next::Frame(f) => b.add(rec, f),
                Next::End(End::Complete(_)) => break,
                Next::End(end) => {
                    warn!(recording = %id, ?end, "replaying a recording up to its last complete frame");
                    break;
                }
            }
        }
    }
    Ok(b.finish())
}

/// Publishes progress once a second while `replay` runs.
async fn progress_loop(replay: Arc<Replay>, bus: EventBus, done: CancellationToken) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = done.cancelled() => break,
            _ = every.tick() => bus.publish(None, replay.progress_event()),
        }
    }
}

async fn run(replay: Arc<Replay>, bus: EventBus) {
    let cancel = replay.cancel.clone();
    if let Some(at) = replay.opts.start_at {
        tokio::select! {
            _ = cancel.cancelled() => {}
            _ = crate::timer::sleep_until_wall(at) => {}
        }
    }
    let started_at = SystemTime::now();
    {
        let mut r = replay.lock();
        r.started_at = Some(started_at);
        if r.state == ReplayState::Scheduled {
            r.state = ReplayState::Running;
        }
    }
    let t_start = Instant::now();
    let done = CancellationToken::new();
    tokio::spawn(progress_loop(replay.clone(), bus.clone(), done.clone()));
    let mut all = Vec::new();
    // One fault state for the whole replay, like one proxy: connection k of
    // the replay gets the same draws for the same seed.
    let faults = Arc::new(ProxyFaults::new(replay.opts.faults.clone()));
    for pass in 0..replay.opts.loops {
        if cancel.is_cancelled() {
            break;
        }
        let p = Arc::new(Pass {
            plan: replay.plan.clone(),
            opts: replay.opts.clone(),
            progress: replay.progress.clone(),
            faults: faults.clone(),
            cancel: cancel.clone(),
            pass,
            t0: Instant::now(),
        });
        all.extend(p.run().await);
    }
    done.cancel();
    {
        let mut r = replay.lock();
        let p = &replay.progress;
        r.opened = p.opened.load(Ordering::Relaxed);
        r.failed = p.failed.load(Ordering::Relaxed);
        r.finished = p.finished.load(Ordering::Relaxed);
        r.bytes_sent = p.bytes_sent.load(Ordering::Relaxed);
        r.bytes_received = p.bytes_received.load(Ordering::Relaxed);
        r.duration = t_start.elapsed();
        r.connections = all;
        r.total_from_connections();
        r.state = if cancel.is_cancelled() {
            ReplayState::Stopped
        } else {
            ReplayState::Finished
        };
        info!(replay = %replay.id, state = r.state.as_str(), opened = r.opened, failed = r.failed,
              divergences = r.divergences, "replay ended");
    }
    bus.publish(None, replay.progress_event());
}
