//! The look-ahead budget of a replay: how far the reading of recordings may
//! run ahead of the connections that act on it. Every queued event holds an
//! entry permit, and the chunk it carries holds bytes (once, whatever the
//! number of copies); both go back when the event is done with, so a replay
//! needs the same memory for a 1 MiB and a 1 TiB recording.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

/// Most events (times copies) read but not yet acted on.
pub const WINDOW_EVENTS: u32 = 65_536;
/// Most payload bytes read but not yet acted on.
pub const WINDOW_BYTES: u32 = 32 << 20;

/// What one queued event holds of the budget; released on drop.
#[derive(Debug)]
pub struct Hold {
    _entry: OwnedSemaphorePermit,
    _bytes: Option<Arc<OwnedSemaphorePermit>>,
}

/// The budget of one pass.
#[derive(Debug, Clone)]
pub struct Budget {
    events: Arc<Semaphore>,
    bytes: Arc<Semaphore>,
}

impl Default for Budget {
    fn default() -> Self {
        Self::new(WINDOW_EVENTS, WINDOW_BYTES)
    }
}

impl Budget {
    pub fn new(events: u32, bytes: u32) -> Self {
        Self {
            events: Arc::new(Semaphore::new(events as usize)),
            bytes: Arc::new(Semaphore::new(bytes as usize)),
        }
    }

    /// Room for a chunk of `len` bytes, shared by its copies; `None` when
    /// cancelled. A chunk larger than the whole budget takes all of it.
    pub async fn chunk(
        &self,
        len: usize,
        cancel: &CancellationToken,
    ) -> Option<Option<Arc<OwnedSemaphorePermit>>> {
        if len == 0 {
            return Some(None);
        }
        let want = u32::try_from(len).unwrap_or(u32::MAX).min(WINDOW_BYTES);
        tokio::select! {
            _ = cancel.cancelled() => None,
            p = self.bytes.clone().acquire_many_owned(want) => p.ok().map(|p| Some(Arc::new(p))),
        }
    }

    /// Room for one queued event; `None` when cancelled.
    pub async fn entry(
        &self,
        bytes: &Option<Arc<OwnedSemaphorePermit>>,
        cancel: &CancellationToken,
    ) -> Option<Hold> {
        tokio::select! {
            _ = cancel.cancelled() => None,
            p = self.events.clone().acquire_owned() => p.ok().map(|p| Hold {
                _entry: p,
                _bytes: bytes.clone(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn holds_give_the_budget_back_when_dropped() {
        let b = Budget::new(2, 10);
        let cancel = CancellationToken::new();
        let bytes = b.chunk(8, &cancel).await.unwrap();
        let h1 = b.entry(&bytes, &cancel).await.unwrap();
        let h2 = b.entry(&bytes, &cancel).await.unwrap();
        drop(bytes);
        assert_eq!(b.events.available_permits(), 0);
        assert_eq!(b.bytes.available_permits(), 2, "bytes counted once");
        drop(h1);
        assert_eq!(
            b.bytes.available_permits(),
            2,
            "still held by the other copy"
        );
        drop(h2);
        assert_eq!(
            (b.events.available_permits(), b.bytes.available_permits()),
            (2, 10)
        );
        // A full budget waits, and a cancelled wait gives up.
        let _all = b.chunk(10, &cancel).await.unwrap();
        cancel.cancel();
        assert!(b.chunk(1, &cancel).await.is_none());
    }
}
