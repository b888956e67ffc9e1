//! The object store for recordings (`reel-agent --store URL`): sealed
//! segments of segmented recordings uploaded while they are written, the
//! index last; the fleet's recordings listed from the store; stored ones
//! read back with ranged reads. docs/STORE.md describes the layout and the
//! guarantees.
//!
//! # Layout
//! - `location`: `--store URL` into an `object_store` store and prefix.
//! - `remote`: the store as recordings use it (keys, bounded calls,
//!   streaming uploads, listing, delete index-first).
//! - `index`: `index.json` read back from the store, checked.
//! - `uploader`: the queue and task that upload, retry with backoff,
//!   resume after a restart and release local copies.
//! - `ranged`, `source`: reading a stored segment by ranges, as a
//!   `SegmentSource`.
//! - `fleet`: local and stored recordings merged, with where each lives.
//! - `attached`: what an agent holds and asks of its store.
//! - `error`: what can fail.

mod attached;
mod error;
#[cfg(test)]
mod fixtures;
mod fleet;
mod index;
mod location;
mod ranged;
mod remote;
mod source;
mod uploader;

pub use attached::Attached;
pub use error::StoreError;
pub use fleet::{Listed, Location, merge};
pub use index::{INDEX_NAME, parse_index};
pub use location::{Location as StoreLocation, parse as parse_url};
pub use ranged::{RANGE_BYTES, RangedRead};
pub use remote::{STORE_CALL_TIMEOUT, Store};
pub use source::StoreSource;
pub use uploader::{Release, SkipSealed, UploadCounts, Uploader};
