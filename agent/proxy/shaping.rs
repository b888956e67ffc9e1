//! One direction under a fault profile that shapes it (latency, bandwidth,
//! slicing, black hole, byte triggers): each chunk waits in a small queue
//! until its release instant while reading goes on, so each chunk's delay
//! counts from its own arrival (TcpDelay's semantics) and the stream keeps
//! its order. The plain path and the direction's entry point are in `pump`,
//! what both share in `flow`.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{ReadHalf, WriteHalf};

use super::buffer;
use super::flow::{CHUNK_SIZE, Leg, LegEnd, sleep_for, write_all};
use crate::faults::{Cut, DirFaults, FaultSpec};

/// Most chunks a direction holds back under a fault profile; reading pauses
/// (backpressure) beyond it, bounding memory to this many chunks.
pub const MAX_HELD_CHUNKS: usize = 256;
/// After the last byte allowed by a reset-after-bytes fault, how long the
/// connection stays up so those bytes reach the peer before the RST.
pub const RESET_GRACE: Duration = Duration::from_millis(20);

/// Chunks held back by a fault profile, and whether the sender has finished.
#[derive(Default)]
pub(super) struct Queue {
    pub held: VecDeque<Held>,
    pub eof: bool,
}

/// A chunk held back by a fault profile.
pub(super) struct Held {
    arrival: Instant,
    release: Instant,
    /// The latency the profile drew for this chunk.
    drawn: Duration,
    chunk: Bytes,
}

impl Leg<'_> {
    /// Relaying under a shaping profile: chunks wait in the queue for their
    /// release instants while reading goes on. Returns `None` once nothing
    /// is held and the profile no longer shapes, or at EOF with nothing held.
    pub(super) async fn shaped(
        &self,
        from: &mut ReadHalf<'_>,
        to: &mut WriteHalf<'_>,
        faults: &mut DirFaults,
        buf: &mut BytesMut,
        queue: &mut Queue,
    ) -> Option<LegEnd> {
        let Queue { held, eof } = queue;
        loop {
            if held.is_empty() && (*eof || !faults.shaping()) {
                return None;
            }
            if held.is_empty() {
                // Nothing held: a profile change has nothing to reschedule.
                faults.rx.borrow_and_update();
            }
            let head = held.front().map(|h| h.release);
            // Held chunks share the buffer they were read into (zero copy):
            // a new one is taken only when its room runs short, not per chunk.
            buffer::take(buf);
            let mut room = (&mut *buf).limit(CHUNK_SIZE);
            tokio::select! {
                _ = self.cancel.cancelled() => return Some(LegEnd::Cancelled),
                r = faults.rx.changed() => {
                    if r.is_ok() {
                        reschedule(held, faults);
                    }
                }
                r = from.read_buf(&mut room), if !*eof && held.len() < MAX_HELD_CHUNKS => {
                    let at = crate::timer::now();
                    match r {
                        Ok(0) => {
                            self.half_close(at).await;
                            *eof = true;
                        }
                        Ok(_) => {
                            let chunk = buf.split().freeze();
                            self.hold(held, faults, at, chunk).await;
                        }
                        Err(e) => return Some(LegEnd::ReadFailed(e)),
                    }
                }
                _ = sleep_until(head), if head.is_some() => {
                    if let Some(h) = held.pop_front()
                        && let Some(end) = self.release(to, faults, h).await
                    {
                        return Some(end);
                    }
                }
            }
        }
    }

    /// Logs a chunk at its arrival and queues it for release (or drops it
    /// into a black hole).
    pub(super) async fn hold(
        &self,
        held: &mut VecDeque<Held>,
        faults: &mut DirFaults,
        at: Instant,
        chunk: Bytes,
    ) {
        self.arrived(&self.proxy.taps(), at, &chunk).await;
        let Some(spec) = faults.active() else {
            held.push_back(Held {
                arrival: at,
                release: at,
                drawn: Duration::ZERO,
                chunk,
            });
            return;
        };
        if faults.black_hole(&spec) {
            return;
        }
        let delay = faults.draw_delay(&spec);
        let release = faults.release(at, delay);
        held.push_back(Held {
            arrival: at,
            release,
            drawn: delay,
            chunk,
        });
    }

    /// Sends a held chunk whose time has come, through the bandwidth caps,
    /// slicer and byte triggers. `Some(end)` when a fault ends the connection.
    async fn release(
        &self,
        to: &mut WriteHalf<'_>,
        faults: &mut DirFaults,
        h: Held,
    ) -> Option<LegEnd> {
        let profiled = faults.active();
        let spec = profiled
            .clone()
            .unwrap_or_else(|| Arc::new(FaultSpec::default()));
        let wait = faults.bandwidth_wait(&spec, h.chunk.len(), crate::timer::now());
        if !wait.is_zero() && !sleep_for(wait, self.cancel).await {
            return Some(LegEnd::Cancelled);
        }
        let cut = faults.cut(&spec, h.chunk.len());
        let n = match cut {
            Cut::All => h.chunk.len(),
            Cut::ResetAfter(k) | Cut::CloseAfter(k) => k,
        };
        let delay = crate::timer::now().saturating_duration_since(h.arrival);
        let pieces = spec.slicer.filter(|_| spec.directions.has(self.dir));
        let data = &h.chunk[..n];
        let written = match pieces {
            None => write_all(to, data, self.cancel).await,
            Some(s) => {
                let mut r = Ok(true);
                for (i, piece) in data.chunks(s.size).enumerate() {
                    if i > 0 && !s.pause.is_zero() && !sleep_for(s.pause, self.cancel).await {
                        r = Ok(false);
                        break;
                    }
                    r = write_all(to, piece, self.cancel).await;
                    if !matches!(r, Ok(true)) {
                        break;
                    }
                }
                r
            }
        };
        match written {
            Ok(true) => {}
            Ok(false) => return Some(LegEnd::Cancelled),
            Err(e) => return Some(LegEnd::WriteFailed(e)),
        }
        faults.forwarded += n as u64;
        // Chunks still held when a profile was cleared pass here too: only
        // those a profile governed, in a direction it applies to, count.
        if profiled.is_some_and(|p| p.directions.has(self.dir)) {
            self.proxy.counters.add_fault_delay(self.dir, delay);
        }
        self.transfer_event(n, delay, h.drawn);
        match cut {
            Cut::All => None,
            Cut::ResetAfter(_) => {
                let _ = to.flush().await;
                sleep_for(RESET_GRACE, self.cancel).await;
                Some(LegEnd::Fault {
                    reason: format!(
                        "fault: reset after {} bytes {}",
                        faults.forwarded,
                        self.dir.as_str()
                    ),
                    reset: true,
                })
            }
            Cut::CloseAfter(_) => Some(LegEnd::Fault {
                reason: format!(
                    "fault: closed after {} bytes {} (limit)",
                    faults.forwarded,
                    self.dir.as_str()
                ),
                reset: false,
            }),
        }
    }
}

/// After a profile change, held chunks get new draws under the new profile,
/// still released in order.
fn reschedule(held: &mut VecDeque<Held>, faults: &mut DirFaults) {
    faults.reset_clock();
    let spec = faults.active();
    for h in held.iter_mut() {
        let delay = spec
            .as_ref()
            .map_or(Duration::ZERO, |s| faults.draw_delay(s));
        h.release = faults.release(h.arrival, delay);
        h.drawn = delay;
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => crate::timer::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
