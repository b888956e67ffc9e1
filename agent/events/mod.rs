//! Live events for Watch subscribers and the delay log. Publishing never
//! waits and costs the same whatever the number of subscribers; one fan-out
//! task hands events on, and a subscriber that falls behind learns how many
//! it missed instead of slowing anything.
//!
//! - `event`: the event types and their kinds.
//! - `filter`: what a subscriber wants (kinds, proxies).
//! - `bus`: publishing, subscribing, the Watch limit.
//! - `fanout`: the task between the shared queue and the subscribers.

mod bus;
mod event;
mod fanout;
mod filter;
#[cfg(test)]
mod tests;

pub use bus::{
    BusMeters, DEFAULT_MAX_WATCHERS, EVENT_QUEUE, EventBus, Subscription, WATCHER_QUEUE,
};
pub use event::{Event, EventBody, EventKind, ProxyStats, RecordingPhase, ReplayProgress};
pub use fanout::{Delivery, PASS_EVERY};
pub use filter::{Filter, KindSet};
