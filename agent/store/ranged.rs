//! Reading one object of the store as a `std::io::Read`, a few MiB at a
//! time with ranged GETs, so a replay or an analysis of a stored recording
//! streams it with bounded memory. The readers that use it run on blocking
//! threads (replay and stats do), so each range is fetched by blocking on
//! the runtime's handle; never call `read` from an async task.

use std::io::{self, Read};
use std::sync::Arc;

use bytes::Bytes;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use tokio::runtime::Handle;

use super::remote::STORE_CALL_TIMEOUT;

/// Bytes one ranged GET fetches: the memory a reader holds.
pub const RANGE_BYTES: u64 = 4 * 1024 * 1024;

/// An object read front to back by ranges.
pub struct RangedRead {
    store: Arc<dyn ObjectStore>,
    key: ObjectPath,
    size: u64,
    /// Offset of the next byte not yet fetched.
    fetched_to: u64,
    buf: Bytes,
    handle: Handle,
}

impl std::fmt::Debug for RangedRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RangedRead")
            .field("key", &self.key)
            .field("size", &self.size)
            .field("fetched_to", &self.fetched_to)
            .finish_non_exhaustive()
    }
}

impl RangedRead {
    /// A reader of `size` bytes at `key`; nothing is fetched yet.
    pub fn new(store: Arc<dyn ObjectStore>, key: ObjectPath, size: u64, handle: Handle) -> Self {
        Self {
            store,
            key,
            size,
            fetched_to: 0,
            buf: Bytes::new(),
            handle,
        }
    }

    fn fetch(&mut self) -> io::Result<()> {
        let start = self.fetched_to;
        let end = (start + RANGE_BYTES).min(self.size);
        let store = self.store.clone();
        let key = self.key.clone();
        let got = self.handle.block_on(async move {
            tokio::time::timeout(STORE_CALL_TIMEOUT, store.get_range(&key, start..end)).await
        });
        let bytes = match got {
            Ok(Ok(b)) => b,
            Ok(Err(e)) => {
                return Err(io::Error::other(format!(
                    "reading {} bytes {start}..{end}: {e}",
                    self.key
                )));
            }
            Err(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "reading {} bytes {start}..{end}: no answer within {} s",
                        self.key,
                        STORE_CALL_TIMEOUT.as_secs()
                    ),
                ));
            }
        };
        if bytes.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "{} ended at {start}, before its {} bytes",
                    self.key, self.size
                ),
            ));
        }
        self.fetched_to = start + bytes.len() as u64;
        self.buf = bytes;
        Ok(())
    }
}

impl Read for RangedRead {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.buf.is_empty() {
            if self.fetched_to >= self.size || out.is_empty() {
                return Ok(0);
            }
            self.fetch()?;
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf.split_to(n));
        Ok(n)
    }
}
