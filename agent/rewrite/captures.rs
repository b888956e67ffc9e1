//! Captured values: what a capture name holds on the recorded side and on
//! the live side, per connection or shared by a whole replay
//! (`scope = "replay"`, behind a std `Mutex` never held across anything
//! but a copy).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// A captured value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value {
    /// The bytes of the field (for an int, as they were encoded).
    pub bytes: Vec<u8>,
    /// The integer, for `{offset, int}` captures.
    pub int: Option<u64>,
}

/// Which stream a value was learned from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// The recording's server (or client) bytes.
    Recorded,
    /// The live server's bytes during the replay.
    Live,
}

/// What one capture name holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Slot {
    /// The latest value learned from the recording.
    pub recorded: Option<Value>,
    /// The latest value learned from the live server.
    pub live: Option<Value>,
    /// How many times the recording gave a value.
    pub recorded_seen: u64,
    /// How many times the live server gave a value.
    pub live_seen: u64,
}

impl Slot {
    pub(crate) fn learn(&mut self, side: Side, value: Value) {
        match side {
            Side::Recorded => {
                self.recorded = Some(value);
                self.recorded_seen += 1;
            }
            Side::Live => {
                self.live = Some(value);
                self.live_seen += 1;
            }
        }
    }
}

/// The values of `scope = "replay"` captures, shared by every connection
/// of one replay: make one per replay (per copy, if copies must not share)
/// and hand an `Arc` of it to each [`ConnRewriter`](super::ConnRewriter).
#[derive(Debug, Default)]
pub struct SharedCaptures {
    slots: Mutex<HashMap<usize, Slot>>,
}

impl SharedCaptures {
    /// Empty: nothing captured yet.
    pub fn new() -> SharedCaptures {
        SharedCaptures::default()
    }

    /// Runs `f` on slot `index` under the lock. A poisoned lock is taken
    /// over: a slot is only ever replaced whole, so it cannot be half written.
    pub(crate) fn with<R>(&self, index: usize, f: impl FnOnce(&mut Slot) -> R) -> R {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        f(slots.entry(index).or_default())
    }
}
