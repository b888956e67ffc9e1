//! Disk limits for recordings: a quota over the data directory and a floor
//! of free space on its filesystem. A recording that would cross either ends
//! with a marker and an event; the proxies keep forwarding.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

pub use crate::error::LimitError;

/// The limits in force (both optional).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiskLimits {
    /// Most bytes all recordings in the data directory may take.
    pub max_disk: Option<u64>,
    /// Least free space to leave on the data directory's filesystem.
    pub min_free: Option<u64>,
}

/// Shared by the catalog and every recorder.
#[derive(Debug)]
pub struct Quota {
    dir: PathBuf,
    limits: RwLock<DiskLimits>,
    /// Bytes the recordings in the data directory take now.
    used: AtomicU64,
}

impl Quota {
    pub fn new(dir: PathBuf, used: u64) -> Self {
        Self {
            dir,
            limits: RwLock::new(DiskLimits::default()),
            used: AtomicU64::new(used),
        }
    }

    pub fn set_limits(&self, limits: DiskLimits) {
        *self.limits.write().unwrap_or_else(|e| e.into_inner()) = limits;
    }

    pub fn limits(&self) -> DiskLimits {
        *self.limits.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    pub fn add(&self, n: u64) {
        self.used.fetch_add(n, Ordering::Relaxed);
    }

    pub fn sub(&self, n: u64) {
        let _ = self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| {
                Some(u.saturating_sub(n))
            });
    }

    /// Counts `extra` more bytes if they fit under `--max-disk` (checked and
    /// added in one step, so two writers cannot both take the last room);
    /// why not otherwise, and nothing is counted then.
    pub fn try_add(&self, extra: u64) -> Result<(), LimitError> {
        let max = self.limits().max_disk;
        self.used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| match max {
                Some(max) if used.saturating_add(extra) > max => None,
                _ => Some(used.saturating_add(extra)),
            })
            .map(|_| ())
            .map_err(|used| LimitError::QuotaReached {
                used,
                max: max.unwrap_or(0),
            })
    }

    /// Whether `extra` more bytes fit under `--max-disk`; why not otherwise.
    pub fn admit(&self, extra: u64) -> Result<(), LimitError> {
        let Some(max) = self.limits().max_disk else {
            return Ok(());
        };
        let used = self.used();
        if used.saturating_add(extra) > max {
            return Err(LimitError::QuotaReached { used, max });
        }
        Ok(())
    }

    /// Whether the filesystem still has the free space `--min-free` asks.
    pub fn free_space_ok(&self) -> Result<(), LimitError> {
        let Some(floor) = self.limits().min_free else {
            return Ok(());
        };
        let free = free_bytes(&self.dir).map_err(|e| LimitError::FreeSpaceUnknown {
            dir: self.dir.clone(),
            error: e.to_string(),
        })?;
        if free < floor {
            return Err(LimitError::BelowFloor {
                free,
                floor,
                dir: self.dir.clone(),
            });
        }
        Ok(())
    }
}

/// Bytes of a file still being written outside the recorders (an upload),
/// counted against the quota as they arrive: a permit over disk bytes. They
/// are given back when the charge is dropped (the file was removed), unless
/// [`Charge::settle`] made them the size of a recording in the catalog.
#[derive(Debug)]
pub struct Charge {
    quota: Arc<Quota>,
    /// Bytes this charge holds in `quota.used`.
    bytes: u64,
}

impl Charge {
    pub fn new(quota: Arc<Quota>) -> Self {
        Self { quota, bytes: 0 }
    }

    /// Counts `n` more bytes, or says which limit they would cross.
    pub fn grow(&mut self, n: u64) -> Result<(), LimitError> {
        self.quota.try_add(n)?;
        self.bytes += n;
        Ok(())
    }

    /// Bytes held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The file became a recording of `size` bytes: keep that much counted.
    pub fn settle(mut self, size: u64) {
        if size >= self.bytes {
            self.quota.add(size - self.bytes);
        } else {
            self.quota.sub(self.bytes - size);
        }
        self.bytes = 0;
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.quota.sub(self.bytes);
    }
}

/// Bytes available to unprivileged users on the filesystem holding `dir`.
pub fn free_bytes(dir: &std::path::Path) -> std::io::Result<u64> {
    let st = rustix::fs::statvfs(dir)?;
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_admits_up_to_the_limit() {
        let q = Quota::new(std::env::temp_dir(), 900);
        assert!(q.admit(1 << 40).is_ok(), "no limit, no refusal");
        q.set_limits(DiskLimits {
            max_disk: Some(1000),
            min_free: None,
        });
        assert!(q.admit(100).is_ok());
        assert!(q.admit(101).unwrap_err().to_string().contains("--max-disk"));
        q.sub(500);
        assert!(q.admit(600).is_ok());
    }

    #[test]
    fn a_charge_counts_what_fits_and_gives_it_back_on_drop() {
        let q = Arc::new(Quota::new(std::env::temp_dir(), 100));
        q.set_limits(DiskLimits {
            max_disk: Some(1000),
            min_free: None,
        });
        let mut c = Charge::new(q.clone());
        assert!(c.grow(800).is_ok());
        assert_eq!(q.used(), 900);
        assert!(c.grow(101).unwrap_err().to_string().contains("--max-disk"));
        assert_eq!(
            (q.used(), c.bytes()),
            (900, 800),
            "a refusal counts nothing"
        );
        drop(c);
        assert_eq!(q.used(), 100);
        let mut c = Charge::new(q.clone());
        c.grow(500).unwrap();
        c.settle(400);
        assert_eq!(q.used(), 500, "a settled charge stays as the file's size");
    }

    #[test]
    fn free_space_floor() {
        let q = Quota::new(std::env::temp_dir(), 0);
        q.set_limits(DiskLimits {
            max_disk: None,
            min_free: Some(u64::MAX),
        });
        assert!(
            q.free_space_ok()
                .unwrap_err()
                .to_string()
                .contains("--min-free")
        );
        q.set_limits(DiskLimits {
            max_disk: None,
            min_free: Some(1),
        });
        assert!(q.free_space_ok().is_ok());
    }
}
