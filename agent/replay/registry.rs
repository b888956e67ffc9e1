//! The replays of an agent: start (load the recordings into a plan, then run
//! it in the background), follow, stop. A replay's report is collected with
//! bounded memory (`collect`) and written to the data directory (`store`)
//! when it is accepted, starts and ends; once ended only its summary stays
//! in memory. What is kept, listed and read back is in `kept`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::info;

use super::collect::Collector;
use super::feed::Feed;
use super::options::ReplayOptions;
use super::plan::Plan;
use super::progress::Progress;
use super::report::{ReplayReport, ReplayState};
use super::source::{self, Files};
use super::store::ReportStore;
use super::units;
use super::waits::Waits;
use crate::error::{Error, Result};
use crate::events::EventBus;
use crate::fds::FdBudget;
use crate::histogram::AtomicHistogram;
use crate::record::{RecordingStatus, Recordings};

/// Most ended replays kept (in memory and on disk); the oldest go first.
pub const KEPT_REPLAYS: usize = 256;
/// Most waiting connections a live report lists.
pub const SHOWN_WAITS: usize = 50;
/// Whether a replay in `state` may still change: its report is live.
pub(super) fn running(state: ReplayState) -> bool {
    matches!(state, ReplayState::Running | ReplayState::Scheduled)
}

/// One replay, running or done.
pub struct Replay {
    pub id: String,
    pub(super) opts: Arc<ReplayOptions>,
    /// The recordings' connections; dropped when the replay ends.
    pub(super) plan: Mutex<Option<Arc<Plan>>>,
    pub(super) files: Files,
    pub(super) progress: Arc<Progress>,
    /// What its connections wait for now.
    pub(super) waits: Arc<Waits>,
    pub(super) feed: Arc<Feed>,
    pub(super) cancel: CancellationToken,
    /// The report's header and totals. While the replay runs its lists are
    /// in `collector`; once ended this is the summary when the final
    /// report is on disk, else the whole final report.
    report: Mutex<ReplayReport>,
    /// Every finished connection and relaxation, with bounded memory.
    /// Emptied once the final report is on disk.
    pub(super) collector: Arc<Mutex<Collector>>,
    /// Whether the final report is on disk (`report` is then its summary).
    pub(super) saved: AtomicBool,
    /// Where its report file is written at the start and the end.
    pub(super) store: Arc<ReportStore>,
    /// When the agent accepted it: listings sort by it.
    pub(super) accepted: SystemTime,
    created: Instant,
}

/// Where a replay's whole report is.
pub(super) enum Whole {
    Here(ReplayReport),
    /// In its file; the summary stands in if the file cannot be read.
    OnDisk(ReplayReport),
}

/// A replay of this agent: one started since it runs, or one whose report
/// it found on disk at start.
#[derive(Clone)]
pub(super) enum ReplayEntry {
    Live(Arc<Replay>),
    Stored {
        accepted: SystemTime,
        /// The report's summary; the whole report is in its file.
        summary: Box<ReplayReport>,
    },
}

impl Replay {
    pub(super) fn lock(&self) -> MutexGuard<'_, ReplayReport> {
        self.report.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn collector(&self) -> MutexGuard<'_, Collector> {
        self.collector.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn plan(&self) -> Option<Arc<Plan>> {
        self.plan.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Live counters into `r`. Timeouts and relaxations are counted twice
    /// by the engine: when they happen (`progress`) and per connection as
    /// it finishes (the collector); the larger is the truth at any moment.
    pub(super) fn add_live(&self, r: &mut ReplayReport) {
        let p = &self.progress;
        r.opened = p.opened.load(Ordering::Relaxed);
        r.failed = p.failed.load(Ordering::Relaxed);
        r.finished = p.finished.load(Ordering::Relaxed);
        r.bytes_sent = p.bytes_sent.load(Ordering::Relaxed);
        r.bytes_received = p.bytes_received.load(Ordering::Relaxed);
        r.server_timeouts = r
            .server_timeouts
            .max(p.server_timeouts.load(Ordering::Relaxed));
        r.relaxations = r.relaxations.max(p.relaxations.load(Ordering::Relaxed));
    }

    /// The report as of now: live counters and lists while running; once
    /// ended and on disk, only its summary (`Replays::get` reads the rest).
    pub fn report(&self) -> ReplayReport {
        match self.whole() {
            Whole::Here(r) | Whole::OnDisk(r) => r,
        }
    }

    pub(super) fn whole(&self) -> Whole {
        let header = self.lock();
        let mut r = header.clone();
        if !running(r.state) {
            return if self.saved.load(Ordering::Acquire) {
                Whole::OnDisk(r)
            } else {
                Whole::Here(r)
            };
        }
        // Under the header's lock: the end cannot empty the collector
        // between the two reads.
        self.collector().fill(&mut r);
        drop(header);
        self.add_live(&mut r);
        if let Some(plan) = self.plan() {
            r.waits = self.waits.snapshot(&plan, SHOWN_WAITS, crate::timer::now());
        }
        r.rules = self.feed.rule_counts(self.opts.rules.as_deref());
        r.unparsed_messages = self.feed.unparsed();
        if r.started_at.is_some() {
            r.duration = self.created.elapsed();
        }
        Whole::Here(r)
    }

    /// The report without its lists, as listings show it.
    pub fn summary(&self) -> ReplayReport {
        let header = self.lock();
        let mut r = header.summary();
        if running(r.state) {
            self.collector().fill_totals(&mut r);
            drop(header);
            self.add_live(&mut r);
            if r.started_at.is_some() {
                r.duration = self.created.elapsed();
            }
        }
        r
    }
}

/// Every replay of the agent.
pub struct Replays {
    pub(super) map: Mutex<BTreeMap<String, ReplayEntry>>,
    pub(super) store: Arc<ReportStore>,
    pub(super) bus: EventBus,
    pub(super) tracker: TaskTracker,
    pub(super) cancel: CancellationToken,
    /// Data-path file descriptors, shared with the proxies (`crate::fds`).
    pub(super) fds: Mutex<FdBudget>,
    /// How late paced replays sent their chunks, every replay since the
    /// agent started (for metrics; each report keeps its own).
    pub(super) lateness: Arc<AtomicHistogram>,
}

impl Replays {
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
        opts.check_start(SystemTime::now())?;
        let mut files = Vec::new();
        for id in &opts.recordings {
            let info = recordings.get(id)?;
            if info.status == RecordingStatus::Recording {
                return Err(Error::FailedPrecondition(format!(
                    "recording {id:?} is still being written; stop it before replaying it"
                )));
            }
            files.push((id.clone(), recordings.source_of(id)?));
        }
        self.start_with(files, opts).await
    }

    /// [`Replays::start`] of recordings already found (`(id, source)` in
    /// the order of `opts.recordings`): some may come from elsewhere than
    /// the data directory, such as the object store (`Agent::source_of`).
    ///
    /// # Errors
    /// As [`Replays::start`], but for the lookups.
    pub async fn start_with(
        &self,
        files: Vec<(String, crate::format::Source)>,
        opts: ReplayOptions,
    ) -> Result<ReplayReport> {
        opts.validate()?;
        opts.check_start(SystemTime::now())?;
        let files: Files = files.into();
        let scan = files.clone();
        let framing = units::framing_of(opts.rules.as_deref());
        let mut plan = tokio::task::spawn_blocking(move || source::load_plan(&scan, framing))
            .await
            .map_err(|e| Error::io("loading recordings", std::io::Error::other(e.to_string())))??;
        if let Some((i, n)) = opts.shard {
            plan = plan.shard(i, n);
        }
        let per_pass = plan.conns.len() as u64 * u64::from(opts.multiply);
        if per_pass == 0 && opts.shard.is_none() {
            return Err(Error::FailedPrecondition(
                "nothing to replay: the recordings hold no connection".into(),
            ));
        }
        let accepted = SystemTime::now();
        let id = self.new_id(accepted);
        let state = if opts.start_at.is_some() {
            ReplayState::Scheduled
        } else {
            ReplayState::Running
        };
        let report = ReplayReport {
            speed: opts.speed,
            recordings: opts.recordings.clone(),
            scheduled_start: opts.start_at,
            planned: per_pass * u64::from(opts.loops),
            expected_sent: plan.c2s_total() * u64::from(opts.multiply) * u64::from(opts.loops),
            expected_received: plan.s2c_total() * u64::from(opts.multiply) * u64::from(opts.loops),
            ..ReplayReport::empty(&id, state, opts.mode)
        };
        let collector = Arc::new(Mutex::new(Collector::new()));
        let replay = Arc::new(Replay {
            id: id.clone(),
            opts: Arc::new(opts),
            plan: Mutex::new(Some(Arc::new(plan))),
            files,
            progress: Arc::new(Progress {
                lateness: self.lateness.clone(),
                ..Progress::default()
            }),
            waits: Arc::new(Waits::default()),
            feed: Arc::new(Feed {
                collector: collector.clone(),
                error: Mutex::new(None),
                rules: Mutex::new(None),
            }),
            cancel: self.cancel.child_token(),
            report: Mutex::new(report.clone()),
            collector,
            saved: AtomicBool::new(false),
            store: self.store.clone(),
            accepted,
            created: crate::timer::now(),
        });
        self.keep(&replay, &report).await;
        info!(replay = %id, mode = replay.opts.mode.as_str(), planned = report.planned, "replay accepted");
        self.tracker
            .spawn(replay.run(self.bus.clone(), self.fd_budget()));
        Ok(report)
    }

    /// Stops a replay; its connections close and the report says `stopped`.
    /// A replay that has ended already is left as it is.
    ///
    /// # Errors
    /// As `get`.
    pub async fn stop(&self, id: &str) -> Result<ReplayReport> {
        let replay = match self.find(id)? {
            ReplayEntry::Live(r) => r,
            ReplayEntry::Stored { summary, .. } => {
                return Ok(self.read_whole(Whole::OnDisk(*summary)).await);
            }
        };
        replay.cancel.cancel();
        // The run task publishes the final report once its tasks are done.
        for _ in 0..200 {
            if !running(replay.lock().state) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Ok(self.read_whole(replay.whole()).await)
    }

    /// Stops every replay (agent shutdown); their tasks end on their own.
    pub fn stop_all(&self) {
        for e in self.map().values() {
            if let ReplayEntry::Live(r) = e {
                r.cancel.cancel();
            }
        }
    }
}
