//! What an agent keeps of its replays: the entries of its map (started
//! since it runs, or loaded from the data directory at start), pruning to
//! `KEPT_REPLAYS`, finding one, pages of summaries, and whole reports read
//! back from their files.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use super::page::{PageKey, PageRequest};
use super::registry::{KEPT_REPLAYS, Replay, ReplayEntry, Replays, Whole, running};
use super::report::ReplayReport;
use super::store::{self, ReportStore, Stored};
use crate::error::{Error, Result};
use crate::events::EventBus;
use crate::fds::FdBudget;
use crate::histogram::HistogramSnapshot;
use crate::ids;

impl ReplayEntry {
    pub(super) fn key(&self, id: &str) -> PageKey {
        match self {
            ReplayEntry::Live(r) => PageKey::new(r.accepted, id),
            ReplayEntry::Stored { accepted, .. } => PageKey::new(*accepted, id),
        }
    }

    pub(super) fn ended(&self) -> bool {
        match self {
            ReplayEntry::Live(r) => !running(r.lock().state),
            ReplayEntry::Stored { .. } => true,
        }
    }
}

impl Replays {
    /// Loads the reports kept in `data_dir` (the newest `KEPT_REPLAYS`;
    /// older files are deleted, unreadable ones skipped with a warning).
    ///
    /// # Errors
    /// `Io` when the reports folder cannot be created.
    pub fn open(
        data_dir: &Path,
        bus: EventBus,
        tracker: TaskTracker,
        cancel: CancellationToken,
    ) -> Result<Self> {
        let store = ReportStore::open(data_dir)?;
        let map = store
            .load_all(KEPT_REPLAYS)
            .into_iter()
            .map(|Stored { accepted, report }| {
                let summary = Box::new(report.summary());
                (report.id, ReplayEntry::Stored { accepted, summary })
            })
            .collect::<BTreeMap<_, _>>();
        if !map.is_empty() {
            info!(replays = map.len(), "loaded the reports of earlier replays");
        }
        Ok(Self {
            map: Mutex::new(map),
            store: Arc::new(store),
            bus,
            tracker,
            cancel,
            fds: Mutex::new(FdBudget::unlimited()),
            lateness: Arc::default(),
        })
    }

    /// Sets the file-descriptor budget the replays started from now on
    /// share with the proxies: each replayed connection takes one.
    pub fn set_fd_budget(&self, budget: FdBudget) {
        *self.fds.lock().unwrap_or_else(|e| e.into_inner()) = budget;
    }

    pub(super) fn fd_budget(&self) -> FdBudget {
        self.fds.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(super) fn map(&self) -> MutexGuard<'_, BTreeMap<String, ReplayEntry>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a replay just accepted, dropping the oldest ended ones beyond
    /// `KEPT_REPLAYS` (their files too), and writes its first report file:
    /// after a crash it comes back `failed`.
    pub(super) async fn keep(&self, replay: &Arc<Replay>, report: &ReplayReport) {
        let pruned = {
            let mut map = self.map();
            map.insert(replay.id.clone(), ReplayEntry::Live(replay.clone()));
            prune(&mut map)
        };
        store::write(&self.store, replay.accepted, report.clone()).await;
        for old in pruned {
            self.store.remove(&old);
        }
    }

    /// A fresh id, `rp-` and a recording-style time stamp, unlike any kept.
    pub(super) fn new_id(&self, now: SystemTime) -> String {
        let map = self.map();
        loop {
            let id = format!("rp-{}", ids::new_recording_id(now));
            if !map.contains_key(&id) {
                return id;
            }
        }
    }

    /// A replay's whole report (its bounded connection list included).
    ///
    /// # Errors
    /// `InvalidArgument` for a malformed id, `UnknownReplay`.
    pub async fn get(&self, id: &str) -> Result<ReplayReport> {
        let whole = match self.find(id)? {
            ReplayEntry::Live(r) => r.whole(),
            ReplayEntry::Stored { summary, .. } => Whole::OnDisk(*summary),
        };
        Ok(self.read_whole(whole).await)
    }

    pub(super) async fn read_whole(&self, whole: Whole) -> ReplayReport {
        let summary = match whole {
            Whole::Here(r) => return r,
            Whole::OnDisk(summary) => summary,
        };
        let store = self.store.clone();
        let id = summary.id.clone();
        match tokio::task::spawn_blocking(move || store.load(&id)).await {
            Ok(Ok(stored)) => stored.report,
            Ok(Err(e)) => {
                warn!(replay = %summary.id, error = %e, "showing the summary of a replay whose report file cannot be read");
                summary
            }
            Err(e) => {
                warn!(replay = %summary.id, error = %e, "reading a replay report failed");
                summary
            }
        }
    }

    /// The replay `id`, out of the map's lock.
    pub(super) fn find(&self, id: &str) -> Result<ReplayEntry> {
        ids::validate("id", id)?;
        self.map()
            .get(id)
            .cloned()
            .ok_or_else(|| Error::UnknownReplay(id.to_string()))
    }

    /// The summaries of the replays running or scheduled now (no lists),
    /// for the metrics exporter.
    pub fn running(&self) -> Vec<ReplayReport> {
        let live: Vec<Arc<Replay>> = self
            .map()
            .values()
            .filter_map(|e| match e {
                ReplayEntry::Live(r) => Some(r.clone()),
                ReplayEntry::Stored { .. } => None,
            })
            .collect();
        live.iter()
            .map(|r| r.summary())
            .filter(|r| running(r.state))
            .collect()
    }

    /// Lateness of every paced replay since the agent started.
    pub fn lateness(&self) -> HistogramSnapshot {
        self.lateness.snapshot()
    }

    /// One page of summaries (no connection, relaxation or wait lists),
    /// newest first, and the token of the next page (empty on the last).
    ///
    /// # Errors
    /// `InvalidArgument` naming `page_token` for a token this agent did not
    /// give.
    pub fn list_page(
        &self,
        page_size: u32,
        page_token: &str,
    ) -> Result<(Vec<ReplayReport>, String)> {
        let request = PageRequest::parse(page_size, page_token)?;
        let picked: Vec<ReplayEntry>;
        let next;
        {
            let map = self.map();
            let mut keyed: Vec<(PageKey, &ReplayEntry)> =
                map.iter().map(|(id, e)| (e.key(id), e)).collect();
            keyed.sort_by(|a, b| b.0.cmp(&a.0));
            let keys: Vec<PageKey> = keyed.iter().map(|(k, _)| k.clone()).collect();
            let (range, token) = request.select(&keys);
            next = token;
            picked = keyed[range].iter().map(|(_, e)| (*e).clone()).collect();
        }
        let page = picked
            .into_iter()
            .map(|e| match e {
                ReplayEntry::Live(r) => r.summary(),
                ReplayEntry::Stored { summary, .. } => *summary,
            })
            .collect();
        Ok((page, next))
    }
}

/// Drops the oldest ended replays beyond `KEPT_REPLAYS`; returns their ids,
/// whose files the caller deletes (out of the lock).
fn prune(map: &mut BTreeMap<String, ReplayEntry>) -> Vec<String> {
    let mut pruned = Vec::new();
    while map.len() > KEPT_REPLAYS {
        let oldest = map
            .iter()
            .filter(|(_, e)| e.ended())
            .min_by_key(|(id, e)| e.key(id))
            .map(|(k, _)| k.clone());
        match oldest {
            Some(k) => {
                map.remove(&k);
                pruned.push(k);
            }
            None => break,
        }
    }
    pruned
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::replay::report::{ConnReport, ReplayState};

    fn open(dir: &Path) -> Replays {
        Replays::open(
            dir,
            EventBus::new(),
            TaskTracker::new(),
            CancellationToken::new(),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn stored_reports_are_listed_by_page_and_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let store = ReportStore::open(dir.path()).unwrap();
        for i in 0..7u64 {
            let mut r = ReplayReport::blank(&format!("rp-{i}"), ReplayState::Finished);
            r.connections = vec![ConnReport::default(); 3];
            r.connections_total = 3;
            let accepted = UNIX_EPOCH + Duration::from_secs(1_800_000_000 + i);
            store.save(accepted, &r).unwrap();
        }
        let replays = open(dir.path());

        let mut token = String::new();
        let mut pages = Vec::new();
        loop {
            let (page, next) = replays.list_page(3, &token).unwrap();
            assert!(page.iter().all(|r| r.connections.is_empty()));
            pages.push(page.iter().map(|r| r.id.clone()).collect::<Vec<_>>());
            if next.is_empty() {
                break;
            }
            token = next;
        }
        assert_eq!(
            pages,
            [
                vec!["rp-6", "rp-5", "rp-4"],
                vec!["rp-3", "rp-2", "rp-1"],
                vec!["rp-0"]
            ]
        );

        let whole = replays.get("rp-3").await.unwrap();
        assert_eq!((whole.connections.len(), whole.connections_total), (3, 3));
        let stopped = replays.stop("rp-3").await.unwrap();
        assert_eq!(stopped.state, ReplayState::Finished);
        assert!(matches!(
            replays.get("rp-9").await,
            Err(Error::UnknownReplay(_))
        ));
        let e = replays.list_page(0, "nope").unwrap_err().to_string();
        assert!(e.starts_with("invalid page_token"), "{e}");

        // A file gone since the start: the summary stands in.
        std::fs::remove_file(dir.path().join("replays/rp-2.json")).unwrap();
        let summary = replays.get("rp-2").await.unwrap();
        assert_eq!(
            (summary.connections.len(), summary.connections_total),
            (0, 3)
        );
    }
}
