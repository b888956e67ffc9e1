//! The Watch RPC: the request becomes an engine filter, the subscription
//! (one of at most `--max-watchers`) becomes the response stream.
//!
//! The stream reads the subscription directly, with no task of its own:
//! tonic polls it when the connection can take more, so a client that does
//! not read leaves its events in its own bounded queue on the bus, where
//! the fan-out counts what it loses. Each event is converted to proto once,
//! by whichever stream reads it first (`Event::rendered`), and cloned for
//! the others, since tonic takes its messages by value.
//!
//! Events arrive in bursts (the fan-out passes at most every 20 ms,
//! `events::PASS_EVERY`), and tonic encodes everything ready into one
//! HTTP/2 DATA frame. One frame per event cost a write per event per
//! stream, and a client that buffers thousands of tiny frames unread is
//! closed by its own HTTP/2 library (h2's "too_many_data_frames").

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio_stream::Stream;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tonic::Status;

use super::convert;
use crate::agent::Agent;
use crate::events::{Delivery, EventKind, Filter, KindSet, Subscription};
use crate::proto as pb;

/// Subscribes for a Watch request.
///
/// # Errors
/// INVALID_ARGUMENT naming an unknown kind; RESOURCE_EXHAUSTED when the
/// agent already serves `--max-watchers` streams.
pub(super) fn watch(
    agent: &Agent,
    r: pb::WatchRequest,
    shutdown: CancellationToken,
) -> Result<WatchStream, Status> {
    let mut kinds = KindSet::NONE;
    for k in &r.kinds {
        match pb::EventKind::try_from(*k)
            .ok()
            .and_then(convert::event_kind)
        {
            Some(kind) => kinds = kinds.with(kind),
            None => {
                return Err(Status::invalid_argument(format!(
                    "kinds: unknown event kind {k}"
                )));
            }
        }
    }
    if kinds == KindSet::NONE {
        // Transfers are one event per chunk: they must be asked for.
        kinds = KindSet::ALL.without(EventKind::Transfer);
    }
    // Names are resolved now; anything else is taken as an id, so a
    // watcher may name a proxy that is not started yet.
    let proxies = r.proxies.iter().map(|p| match agent.proxies.find_any(p) {
        Ok(proxy) => proxy.id().to_string(),
        Err(_) => p.clone(),
    });
    let subscription = agent.bus.watch(Filter::new(kinds, proxies))?;
    Ok(WatchStream {
        subscription,
        shutdown: Box::pin(shutdown.cancelled_owned()),
    })
}

/// A Watch response: events as the bus hands them, ended at shutdown so the
/// server can stop. Dropped by tonic when the client goes, which ends the
/// subscription and frees its place under the limit.
pub(super) struct WatchStream {
    subscription: Subscription,
    shutdown: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl Stream for WatchStream {
    type Item = Result<pb::Event, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.shutdown.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        self.subscription.poll_recv(cx).map(|d| {
            d.map(|d| {
                Ok(match d {
                    Delivery::Event(e) => (*e.rendered(convert::event)).clone(),
                    Delivery::Missed(n) => convert::lagged(n),
                })
            })
        })
    }
}
