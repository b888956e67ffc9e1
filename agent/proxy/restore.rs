//! Proxies that survive a restart: the registry writes its API-started
//! proxies to `<data>/proxies.json` whenever one starts, stops or has its
//! faults changed (not when the agent shuts down: they are to come back),
//! and starts them again when the agent starts.
//!
//! Restoring never fails the agent: a proxy that cannot start again (its
//! listen address is taken, its upstream is now refused, its name is taken by
//! a config-file proxy) is skipped with a warning, and a damaged file is
//! logged, set aside as `proxies.json.corrupt` and ignored.

use std::path::Path;

use tracing::{info, warn};

use super::registry::{Origin, Proxies};
use super::running::Proxy;
use super::saved::{self, SAVED_PROXIES_FILE, SavedError, SavedFaults, SavedProxy};
use super::spec::ProxySpec;

/// What `restore` did, for the log and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestoreSummary {
    /// Proxies listening again.
    pub restored: usize,
    /// Proxies that could not start again (each logged).
    pub skipped: usize,
    /// The file was unreadable or damaged and was ignored.
    pub ignored_file: bool,
}

impl Proxies {
    /// Saves the running proxies in `data_dir` from now on, after each
    /// start, stop and faults change.
    pub fn keep_in(&self, data_dir: &Path) {
        *self.saved_path.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(data_dir.join(SAVED_PROXIES_FILE));
    }

    /// Starts the proxies saved in `data_dir`, each marked restored. Call it
    /// after the config file's proxies started and before `keep_in`: the
    /// file is not rewritten meanwhile, so a proxy skipped now (its port
    /// briefly taken) is still there for the next start, until the next
    /// change rewrites the file with what runs.
    pub async fn restore(&self, data_dir: &Path) -> RestoreSummary {
        let mut summary = RestoreSummary::default();
        let path = data_dir.join(SAVED_PROXIES_FILE);
        let saved = match saved::load(&path) {
            Ok(Some(saved)) => saved,
            Ok(None) => return summary,
            Err(e) => {
                summary.ignored_file = true;
                if matches!(e, SavedError::Corrupt { .. }) {
                    let aside = path.with_extension("json.corrupt");
                    let _ = std::fs::rename(&path, &aside);
                    warn!(error = %e, kept_as = %aside.display(), "saved proxies ignored");
                } else {
                    warn!(error = %e, "saved proxies ignored");
                }
                return summary;
            }
        };
        for p in &saved {
            self.skip_id(&p.name);
        }
        for p in saved {
            let name = p.name.clone();
            let faults = match p.faults.to_spec() {
                Ok(f) => f,
                Err(e) => {
                    summary.skipped += 1;
                    warn!(proxy = %name, error = %e, "saved proxy not restored: bad faults");
                    continue;
                }
            };
            let spec = ProxySpec {
                listen: p.listen,
                upstream: p.upstream,
                name: Some(p.name),
                faults,
                max_connections: Some(p.max_connections),
                origin: Origin::Restored,
                udp: p.udp,
                idle_timeout: p.idle_timeout,
            };
            match self.start(spec).await {
                Ok(info) => {
                    summary.restored += 1;
                    info!(proxy = %info.id, name = %info.name, listen = %info.listen, "proxy restored");
                }
                Err(e) => {
                    summary.skipped += 1;
                    warn!(proxy = %name, error = %e, "saved proxy not restored");
                }
            }
        }
        summary
    }

    /// Writes the running proxies (the config file's aside) to the file, if
    /// `keep_in` was called. A failure is logged: the proxies keep running.
    pub(super) fn save(&self) {
        let Some(path) = self
            .saved_path
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        else {
            return;
        };
        // Under the lock, the snapshot and the write: the last write made
        // holds the latest state.
        let _order = self.save_lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut proxies: Vec<SavedProxy> = self
            .all()
            .iter()
            .filter(|p| p.origin != Origin::Config)
            .map(|p| saved_of(p))
            .collect();
        proxies.extend(
            self.udp()
                .iter()
                .filter(|p| p.origin != Origin::Config)
                .map(|p| SavedProxy {
                    name: p.name.clone(),
                    listen: p.listen().to_string(),
                    upstream: p.upstream.clone(),
                    max_connections: p.max_sessions,
                    faults: SavedFaults::from(&*p.faults()),
                    udp: true,
                    idle_timeout: Some(p.idle_timeout),
                }),
        );
        if let Err(e) = saved::save(&path, proxies) {
            warn!(error = %e, "saving the running proxies failed; they will not be restored");
        }
    }
}

fn saved_of(p: &Proxy) -> SavedProxy {
    SavedProxy {
        name: p.name.clone(),
        listen: p.listen.to_string(),
        upstream: p.upstream.clone(),
        max_connections: p.max_connections,
        faults: SavedFaults::from(&*p.faults.current()),
        udp: false,
        idle_timeout: None,
    }
}
