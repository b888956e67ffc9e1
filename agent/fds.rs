//! File descriptors: the open-file limit (raised to its hard ceiling at
//! start) and the budget that keeps part of it in reserve. Clients of the
//! proxies are the one thing that grows with outsiders' whim: left
//! unchecked, 9,995 idle game clients took an agent to its 20,000-fd limit
//! and its control port could no longer accept (issue 13, finding 2). So
//! the data path (proxy clients and their upstreams, replayed connections)
//! may hold at most `limit - reserve` descriptors, counted with permits
//! taken at accept or before a replay's connect; the reserve stays for the
//! control plane, recording files and the agent's own files.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tracing::{info, warn};

/// Descriptors kept out of the data path's reach unless `--fd-reserve`
/// says otherwise: room for a few hundred control calls, Watch streams and
/// recording files at once, whatever the clients do.
pub const DEFAULT_FD_RESERVE: u64 = 256;

/// Descriptors one proxied client costs: its socket and its upstream's.
/// Both are taken at accept, so a client waiting for its upstream already
/// holds the one it is about to open.
pub const FDS_PER_CONNECTION: u32 = 2;

/// The open-file limit of this process; `None` is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFileLimit {
    /// The soft limit found at start.
    pub before: Option<u64>,
    /// The soft limit in force: the one that counts.
    pub soft: Option<u64>,
    pub hard: Option<u64>,
}

/// Raises the soft open-file limit to the hard one. Shells and service
/// managers often start programs at a soft limit of 1,024 while allowing
/// far more; a proxy should use what it is allowed.
///
/// # Errors
/// When `setrlimit` fails; the limit in force is then [`current_limit`].
pub fn raise_open_file_limit() -> std::io::Result<OpenFileLimit> {
    let now = getrlimit(Resource::Nofile);
    let mut limit = OpenFileLimit {
        before: now.current,
        soft: now.current,
        hard: now.maximum,
    };
    // An unlimited hard limit (not on Linux, where `nr_open` caps it) is
    // not a value the soft limit may take everywhere: leave it as it is.
    if let Some(hard) = now.maximum
        && now.current.is_some_and(|soft| soft < hard)
    {
        setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(hard),
                maximum: Some(hard),
            },
        )?;
        limit.soft = Some(hard);
    }
    Ok(limit)
}

/// The open-file limit in force, unchanged.
pub fn current_limit() -> OpenFileLimit {
    let now = getrlimit(Resource::Nofile);
    OpenFileLimit {
        before: now.current,
        soft: now.current,
        hard: now.maximum,
    }
}

/// A reserve the limit cannot hold.
#[derive(Debug, thiserror::Error)]
pub enum FdError {
    /// The operator asked for a reserve at least as large as the limit:
    /// no client could ever be accepted.
    #[error(
        "--fd-reserve {reserve} leaves no file descriptors for proxy clients under the \
         open-file limit of {limit} (raise the hard limit: `ulimit -Hn`, systemd \
         LimitNOFILE=; or lower --fd-reserve)"
    )]
    ReserveTooLarge { reserve: u64, limit: u64 },
}

/// How many descriptors the data path may hold, agent-wide. Cheap to clone.
#[derive(Debug, Clone)]
pub struct FdBudget(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    /// One permit per descriptor the data path may open.
    permits: Arc<Semaphore>,
    /// `limit - reserve`; `None` when the limit is unlimited.
    size: Option<u64>,
    reserve: u64,
    /// Set at the first refusal, cleared at the next client let in: the
    /// log says when refusing starts and stops, not once per client of a
    /// flood.
    refusing: AtomicBool,
    /// Woken when a client's descriptors leave the budget short (see
    /// `pressed`): idle holders of spare descriptors give them back.
    short: Notify,
}

impl FdBudget {
    /// No budget (in-process engines, unlimited hosts): never refuses.
    pub fn unlimited() -> Self {
        Self::sized(None, 0)
    }

    /// The budget under `limit` (the soft open-file limit) keeping
    /// `reserve` descriptors out of the data path's reach.
    ///
    /// # Errors
    /// `ReserveTooLarge` when nothing would be left for clients.
    pub fn new(limit: Option<u64>, reserve: u64) -> Result<Self, FdError> {
        match limit {
            Some(limit) if reserve >= limit => Err(FdError::ReserveTooLarge { reserve, limit }),
            Some(limit) => Ok(Self::sized(Some(limit - reserve), reserve)),
            None => Ok(Self::sized(None, reserve)),
        }
    }

    fn sized(size: Option<u64>, reserve: u64) -> Self {
        let permits = size
            .and_then(|s| usize::try_from(s).ok())
            .unwrap_or(Semaphore::MAX_PERMITS)
            .min(Semaphore::MAX_PERMITS);
        Self(Arc::new(Inner {
            permits: Arc::new(Semaphore::new(permits)),
            size,
            reserve,
            refusing: AtomicBool::new(false),
            short: Notify::new(),
        }))
    }

    /// Descriptors the data path may hold; `None` is no bound.
    pub fn size(&self) -> Option<u64> {
        self.0.size
    }

    pub fn reserve(&self) -> u64 {
        self.0.reserve
    }

    /// Descriptors the data path holds now.
    pub fn in_use(&self) -> u64 {
        self.0.size.map_or(0, |size| {
            size.saturating_sub(self.0.permits.available_permits() as u64)
        })
    }

    /// Why a connection found no descriptors, for its close event or its
    /// replay report.
    pub(crate) fn refusal(&self) -> String {
        format!(
            "refused: file descriptors reserved for the control plane (proxy clients \
             and replays hold the agent's budget of {})",
            show(self.0.size)
        )
    }

    /// Takes `n` descriptors for one client until the permit is dropped;
    /// `None` when that would eat into the reserve (the client is to be
    /// turned away at once). Logs when refusing starts and when it ends.
    pub(crate) fn try_take(&self, n: u32) -> Option<OwnedSemaphorePermit> {
        match self.0.permits.clone().try_acquire_many_owned(n) {
            Ok(permit) => {
                if self.pressed(0) {
                    self.0.short.notify_waiters();
                }
                if self.0.refusing.load(Ordering::Relaxed)
                    && self.0.refusing.swap(false, Ordering::Relaxed)
                {
                    info!(
                        budget = self.0.size,
                        "file descriptors free again: accepting proxy clients and replay connections"
                    );
                }
                Some(permit)
            }
            Err(_) => {
                self.0.short.notify_waiters();
                if !self.0.refusing.swap(true, Ordering::Relaxed) {
                    warn!(
                        budget = self.0.size,
                        reserve = self.0.reserve,
                        "refusing new proxy clients and replay connections: they hold the whole \
                         file-descriptor budget and the rest is reserved for the control plane \
                         (counted in each proxy's refused_connections and each replay's failed)"
                    );
                }
                None
            }
        }
    }
}

impl FdBudget {
    /// Takes `n` descriptors for something the data path can do without (a
    /// zero-copy relay's pipe) only while at least half of the budget
    /// stays free: extras never hold more than half of it, and idle ones
    /// are given back once it runs short (`pressed`). Never logs.
    pub(crate) fn try_spare(&self, n: u32) -> Option<OwnedSemaphorePermit> {
        if self.pressed(n) {
            return None;
        }
        self.0.permits.clone().try_acquire_many_owned(n).ok()
    }

    /// Resolves once a client's descriptors leave the budget short (or a
    /// client found none): an idle holder of spare ones then gives them
    /// back. Only notifications after this call count.
    pub(crate) fn short(&self) -> tokio::sync::futures::Notified<'_> {
        self.0.short.notified()
    }

    /// Whether `n` more descriptors would leave less than half of the budget
    /// free: extras are then not taken, and idle ones given back.
    pub(crate) fn pressed(&self, n: u32) -> bool {
        self.0.size.is_some_and(|size| {
            let free = self.0.permits.available_permits() as u64;
            free < u64::from(n) + size / 2
        })
    }
}

/// Proxies whose connection limits, all reached, would need more
/// descriptors than the budget holds. Not an error (clients past the budget
/// are refused, and limits are ceilings, not expectations) but worth a
/// warning: the operator may want a higher hard limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overcommit {
    /// Sum of the proxies' `max_connections`.
    pub connections: u64,
    /// What they would hold: `FDS_PER_CONNECTION` each.
    pub fds: u64,
    /// What the data path may hold.
    pub budget: u64,
}

/// `Some` when the connection limits `max_connections` (one per proxy)
/// need more descriptors than `budget`.
pub fn overcommit(
    budget: Option<u64>,
    max_connections: impl IntoIterator<Item = u64>,
) -> Option<Overcommit> {
    let budget = budget?;
    let connections = max_connections
        .into_iter()
        .fold(0u64, |sum, n| sum.saturating_add(n));
    let fds = connections.saturating_mul(u64::from(FDS_PER_CONNECTION));
    (fds > budget).then_some(Overcommit {
        connections,
        fds,
        budget,
    })
}

/// At agent start: raises the open-file limit, builds the budget keeping
/// `reserve`, and says in the log what was found, what was raised and
/// whether one proxy at `default_max_connections` fits.
///
/// # Errors
/// `ReserveTooLarge` (see [`FdBudget::new`]).
pub fn prepare(reserve: u64, default_max_connections: u64) -> Result<FdBudget, FdError> {
    let limit = match raise_open_file_limit() {
        Ok(limit) => limit,
        Err(e) => {
            let limit = current_limit();
            warn!(soft = limit.soft, hard = limit.hard, error = %e, "cannot raise the open-file limit");
            limit
        }
    };
    let budget = FdBudget::new(limit.soft, reserve)?;
    let what = if limit.soft == limit.before {
        "open-file limit"
    } else {
        "open-file limit raised to the hard limit"
    };
    // Unlimited values are left out of the fields.
    info!(
        old_soft = limit.before,
        soft = limit.soft,
        hard = limit.hard,
        fd_reserve = reserve,
        fd_budget = budget.size(),
        "{what}: {} kept for the control plane, the rest for proxy clients",
        reserve,
    );
    if let Some(o) = overcommit(budget.size(), [default_max_connections]) {
        warn!(
            max_connections = default_max_connections,
            needs = o.fds,
            budget = o.budget,
            "one proxy at --max-connections {} may hold {} file descriptors ({} per client) but \
             only {} are left for proxy clients (open-file limit {} less --fd-reserve {}): \
             clients past about {} in all are refused",
            default_max_connections,
            o.fds,
            FDS_PER_CONNECTION,
            o.budget,
            show(limit.soft),
            reserve,
            o.budget / u64::from(FDS_PER_CONNECTION),
        );
    }
    Ok(budget)
}

fn show(n: Option<u64>) -> String {
    n.map_or_else(|| "unlimited".to_string(), |n| n.to_string())
}

#[cfg(test)]
mod tests;
