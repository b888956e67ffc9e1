//! Disk limits for recordings: a quota over the data directory and a floor
//! of free space on its filesystem. A recording that would cross either ends
//! with a marker and an event; the proxies keep forwarding.

use std::path::PathBuf;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

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

    /// Whether `extra` more bytes fit under `--max-disk`; why not otherwise.
    pub fn admit(&self, extra: u64) -> Result<(), String> {
        let Some(max) = self.limits().max_disk else {
            return Ok(());
        };
        let used = self.used();
        if used.saturating_add(extra) > max {
            return Err(format!(
                "disk quota reached: recordings use {used} bytes and the limit (--max-disk) is {max}"
            ));
        }
        Ok(())
    }

    /// Whether the filesystem still has the free space `--min-free` asks.
    pub fn free_space_ok(&self) -> Result<(), String> {
        let Some(floor) = self.limits().min_free else {
            return Ok(());
        };
        let free = free_bytes(&self.dir)
            .map_err(|e| format!("cannot read free space of {}: {e}", self.dir.display()))?;
        if free < floor {
            return Err(format!(
                "free space below the floor: {free} bytes free on {}, the floor (--min-free) is {floor}",
                self.dir.display()
            ));
        }
        Ok(())
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
        assert!(q.admit(101).unwrap_err().contains("--max-disk"));
        q.sub(500);
        assert!(q.admit(600).is_ok());
    }

    #[test]
    fn free_space_floor() {
        let q = Quota::new(std::env::temp_dir(), 0);
        q.set_limits(DiskLimits {
            max_disk: None,
            min_free: Some(u64::MAX),
        });
        assert!(q.free_space_ok().unwrap_err().contains("--min-free"));
        q.set_limits(DiskLimits {
            max_disk: None,
            min_free: Some(1),
        });
        assert!(q.free_space_ok().is_ok());
    }
}
