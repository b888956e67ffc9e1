//! The recorder: one OS thread per recording that turns tap messages into
//! frames. Blocking file I/O stays off the async runtime; the bounded queue in
//! front of it is what backpressures the proxies when the disk is slow.
//!
//! The thread only carries out decisions: when to write, flush, sync and
//! check free space is `policy.rs`, and the file is any format `Sink`, so a
//! full disk or a torn write is a unit test with a model sink (tests below).
//!
//! Durability: buffered frames are handed to the OS whenever the queue is
//! empty and at least every `RECORDER_FLUSH_INTERVAL`, so `kill -9` of the
//! agent loses nothing already handed over; the file is fsynced every
//! `RECORDER_SYNC_INTERVAL` and at stop, bounding what a power loss can take.

use std::collections::VecDeque;
use std::fs::File;
use std::io::BufWriter;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tracing::info;

use super::error::RecordError;
use super::frames::{Books, frames_for};
use super::policy::{Pending, Policy, WriteStep};
use super::quota::Quota;
use super::syncer::Syncer;
use crate::format::{Finished, Footer, FormatError, Header, RecordingWriter, Sink, Summary};
use crate::record::info::time_to_unix_ns;
use crate::tap::{Intake, Tap, TapKind, TapMsg};
use ending::Ending;
pub(crate) use rotate::Segments;
use rotate::rotate;

pub use super::policy::{RECORDER_FLUSH_INTERVAL, RECORDER_SYNC_INTERVAL};

/// Most messages the recorder takes from its queue at once.
const RECORDER_BATCH: usize = 256;
/// Buffer in front of the file: one write syscall per this many bytes under load.
const WRITE_BUFFER: usize = 256 * 1024;
/// A frame's fixed bytes in the file: header (length, conn, ts, kind) and CRC.
const FRAME_OVERHEAD: u64 = 28;
/// Room an OPEN frame takes (addresses, proxy id), charged on every message
/// since the recorder cannot know ahead which one is a connection's first.
const OPEN_ALLOWANCE: u64 = 160;

/// Figures of a recording in progress, updated by its recorder thread and read
/// by listings.
#[derive(Debug, Default)]
pub(crate) struct LiveFigures {
    pub frames: AtomicU64,
    pub connections: AtomicU64,
    pub bytes_c2s: AtomicU64,
    pub bytes_s2c: AtomicU64,
    /// LOSS frames in the file plus `dropped`.
    pub lost_bytes: AtomicU64,
    /// Chunks the recorder could not write (a limit or a write error ended
    /// the recording): lost too, but no LOSS frame says so.
    dropped: AtomicU64,
    /// Bytes the lane wrote, sealed segments and the open one.
    pub size_bytes: AtomicU64,
    /// Bytes of the open segment alone (a flight recorder drops sealed ones).
    pub open_bytes: AtomicU64,
    pub last_ts_ns: AtomicU64,
    pub failed: AtomicBool,
    pub error: Mutex<Option<String>>,
}

impl LiveFigures {
    fn publish(&self, s: &Summary, sealed: u64, open: u64) {
        let size = sealed + open;
        self.open_bytes.store(open, Ordering::Relaxed);
        self.frames.store(s.frames, Ordering::Relaxed);
        self.connections.store(s.connections, Ordering::Relaxed);
        self.bytes_c2s.store(s.bytes_c2s, Ordering::Relaxed);
        self.bytes_s2c.store(s.bytes_s2c, Ordering::Relaxed);
        let dropped = self.dropped.load(Ordering::Relaxed);
        self.lost_bytes
            .store(s.lost_bytes.saturating_add(dropped), Ordering::Relaxed);
        self.size_bytes.store(size, Ordering::Relaxed);
        self.last_ts_ns.store(s.last_ts_ns, Ordering::Relaxed);
    }

    pub fn error(&self) -> Option<String> {
        self.error.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn lose(&self, tap: Option<&TapMsg>) {
        if let Some(TapMsg {
            kind: TapKind::Data(_, b) | TapKind::Datagram(_, b),
            ..
        }) = tap
        {
            self.dropped.fetch_add(b.len() as u64, Ordering::Relaxed);
            self.lost_bytes.fetch_add(b.len() as u64, Ordering::Relaxed);
        }
    }
}

/// How a recorder thread ended, sent to whoever asked it to stop.
pub(crate) type StopReply = Result<Footer, RecordError>;

/// Told once if a recording ends early, with why (publishes the event).
pub(crate) type OnFailure = Box<dyn FnOnce(&RecordError) + Send>;

/// Everything the recorder thread owns.
pub(crate) struct Recorder<S: Sink> {
    pub writer: RecordingWriter<S>,
    pub rx: mpsc::Receiver<Intake>,
    /// The queue's byte budget, closed at the end so no proxy waits on a
    /// recorder that is gone.
    pub budget: Arc<Semaphore>,
    /// Where the outcome goes when the recorder ends, however it ends.
    pub outcome: oneshot::Sender<StopReply>,
    /// Instant of ts 0 in the file.
    pub start: Instant,
    pub live: Arc<LiveFigures>,
    /// Disk quota and free-space floor.
    pub quota: Arc<Quota>,
    /// Called once if the recording ends early, with why (publishes the event).
    pub on_failure: OnFailure,
    pub id: String,
    /// Makes the file durable beside the writer; `None` syncs in line (a
    /// sink that is not a file, or a thread that could not start).
    pub syncer: Option<Syncer>,
    /// Every segment's header (the recording's).
    pub header: Header,
    /// Where the lane's next segments come from and when to rotate; `None`
    /// writes one file (a model sink in tests).
    pub segments: Option<Box<dyn Segments<S>>>,
}

pub(crate) fn open_sink(file: File) -> BufWriter<File> {
    BufWriter::with_capacity(WRITE_BUFFER, file)
}

/// Bytes a tap message adds to the file, near enough for the quota.
fn frame_cost(tap: &TapMsg) -> u64 {
    let payload = match &tap.kind {
        TapKind::Data(_, b) | TapKind::Datagram(_, b) => b.len() as u64,
        TapKind::Close(r) => r.len() as u64,
        _ => 0,
    };
    payload + FRAME_OVERHEAD + OPEN_ALLOWANCE
}

/// The writer while a recording is live, then how it ended.
enum State<S: Sink> {
    Writing(RecordingWriter<S>),
    /// Ended early (quota, free space, write error); the outcome is kept for
    /// the stop request, and later bytes are counted as lost.
    Ended(StopReply),
}

impl<S: Sink> Recorder<S> {
    /// Runs until a `Stop` arrives or every sender is gone.
    pub fn run(self) {
        let Recorder {
            writer,
            mut rx,
            budget,
            outcome,
            start,
            live,
            quota,
            on_failure,
            id,
            mut syncer,
            header,
            mut segments,
        } = self;
        let mut state = State::Writing(writer);
        let idle_gap = segments
            .as_deref()
            .map_or(std::time::Duration::ZERO, |s| s.idle_flush_gap());
        let mut policy = Policy::new(Instant::now()).with_idle_gap(idle_gap);
        let mut books = Books {
            opened: Some(Instant::now()),
            ..Books::default()
        };
        let mut on_failure = Some(on_failure);

        // Messages are taken from the queue in batches: one wake-up of this
        // thread, and one burst of freed queue slots for the proxies, per
        // batch rather than per chunk.
        let mut batch: VecDeque<Intake> = VecDeque::with_capacity(RECORDER_BATCH);
        let mut taken = Vec::with_capacity(RECORDER_BATCH);
        // The budget of the messages read since the last write, held until
        // they are written (or dropped): then the proxies may queue as much
        // again.
        let mut held: Option<OwnedSemaphorePermit> = None;
        let reason = loop {
            if batch.is_empty() {
                held = None;
                if rx.blocking_recv_many(&mut taken, RECORDER_BATCH) > 0 {
                    batch.extend(taken.drain(..));
                }
            }
            let Some(msg) = batch.pop_front() else {
                break "agent stopped".to_string();
            };
            let mut seal = None;
            let tap = match msg {
                Intake::Stop { reason } => break reason,
                Intake::Tick => None,
                Intake::Seal(reply) => {
                    seal = Some(reply);
                    None
                }
                Intake::Tap(mut t) => {
                    if let Some(p) = t.permit.take() {
                        match &mut held {
                            Some(h) => h.merge(p),
                            None => held = Some(p),
                        }
                    }
                    Some(t)
                }
            };
            let State::Writing(writer) = &mut state else {
                // Nothing more can be written; count what is dropped.
                live.lose(tap.as_ref());
                continue;
            };
            let pending = |writer: &RecordingWriter<S>| Pending {
                batch_left: !batch.is_empty(),
                queued: !rx.is_empty(),
                staged_bytes: writer.staged_bytes(),
            };
            let outcome = record_one(writer, tap, &mut policy, &quota, &live, start, &mut books)
                .and_then(|()| {
                    let p = pending(writer);
                    carry_out(writer, policy.step(Instant::now(), p), syncer.as_ref())
                });
            if writer.staged_bytes() == 0 {
                // Written: the proxies may queue as much again, while the
                // rest of a large batch is being written.
                held = None;
            }
            let outcome = outcome.and_then(|()| match segments.as_deref_mut() {
                Some(files) => {
                    let now = seal.is_some();
                    if now {
                        writer.write_staged().map_err(RecordError::write)?;
                    }
                    if writer.staged_bytes() > 0 {
                        return Ok(());
                    }
                    rotate(writer, &mut syncer, files, &header, &quota, &mut books, now)
                }
                None => Ok(()),
            });
            if let Some(reply) = seal {
                // Sealed (or this lane cannot: the sender sees it dropped).
                let _ = reply.send(());
            }
            let position = writer.position();
            quota.add(position.saturating_sub(books.counted));
            books.counted = position;
            live.publish(&books.totals(writer.summary()), books.sealed_size, position);
            if let Err(why) = outcome {
                let ends = Ending {
                    id: &id,
                    live: &live,
                    quota: &quota,
                    counted: books.counted,
                };
                state = ends.fail(state, why, &mut on_failure);
            }
        };

        budget.close();
        // The sync in flight ends before the footer's own, in line.
        if let Some(Err(e)) = syncer.take().map(Syncer::finish)
            && matches!(state, State::Writing(_))
        {
            let ends = Ending {
                id: &id,
                live: &live,
                quota: &quota,
                counted: books.counted,
            };
            state = ends.fail(state, RecordError::write(e.into()), &mut on_failure);
        }
        let result = match state {
            State::Ended(outcome) => outcome,
            State::Writing(writer) => {
                let ended = time_to_unix_ns(SystemTime::now());
                match writer.finish_sized(ended, &reason, None) {
                    Ok(Finished { footer, size, .. }) => {
                        quota.add(size.saturating_sub(books.counted));
                        info!(recording = %id, frames = footer.summary.frames, "recording finished");
                        live.publish(&books.totals(&footer.summary), books.sealed_size, size);
                        Ok(footer)
                    }
                    Err(e) => Err(RecordError::Finish(Arc::new(e))),
                }
            }
        };
        if let Some(files) = segments.as_deref_mut() {
            files.ended(books.index);
        }
        // Nobody may be waiting (the agent is going away); that is fine.
        let _ = outcome.send(result);
    }
}

/// Stages the frames of one message, if the disk limits allow; a message
/// refused by a limit is counted as lost and ends the recording.
fn record_one<S: Sink>(
    writer: &mut RecordingWriter<S>,
    tap: Option<TapMsg>,
    policy: &mut Policy,
    quota: &Quota,
    live: &LiveFigures,
    start: Instant,
    books: &mut Books,
) -> Result<(), RecordError> {
    if policy.space_check_due(Instant::now())
        && let Err(e) = quota.free_space_ok()
    {
        live.lose(tap.as_ref());
        return Err(e.into());
    }
    let Some(tap) = tap else {
        return Ok(());
    };
    // Staged bytes are not in the quota's count yet: a batch must not
    // overshoot `--max-disk` by up to a megabyte.
    if let Err(e) = quota.admit(frame_cost(&tap) + writer.staged_bytes() as u64) {
        live.lose(Some(&tap));
        return Err(e.into());
    }
    for frame in frames_for(&tap, start, books) {
        writer.stage(frame).map_err(RecordError::write)?;
    }
    policy.staged();
    Ok(())
}

/// Does what the policy decided.
fn carry_out<S: Sink>(
    writer: &mut RecordingWriter<S>,
    step: Option<WriteStep>,
    syncer: Option<&Syncer>,
) -> Result<(), RecordError> {
    let r = match (step, syncer) {
        (None | Some(WriteStep::Stage), _) => Ok(()),
        (Some(WriteStep::Write), _) => writer.write_staged(),
        (Some(WriteStep::Flush), _) => writer.flush(),
        // Handed to the OS here; made durable beside the writer.
        (Some(WriteStep::Sync), Some(s)) => writer
            .flush()
            .and_then(|()| s.request().map_err(FormatError::from)),
        (Some(WriteStep::Sync), None) => writer.sync(),
    };
    r.map_err(RecordError::write)
}

/// Sends a `Tick` every `RECORDER_FLUSH_INTERVAL` so an idle recorder still
/// syncs; ends when the recorder is gone.
pub(crate) async fn tick(tap: Tap) {
    let mut every = tokio::time::interval(RECORDER_FLUSH_INTERVAL);
    loop {
        every.tick().await;
        if !tap.try_control(|| Intake::Tick) {
            break;
        }
    }
}

/// Asks a recording's recorders (one per lane) to finish and waits for
/// their outcomes (already there for a lane that ended on its own).
pub(crate) async fn stop(
    tap: &Tap,
    outcomes: Vec<oneshot::Receiver<StopReply>>,
    reason: &str,
) -> Vec<StopReply> {
    tap.control(|| Intake::Stop {
        reason: reason.to_string(),
    })
    .await;
    let mut replies = Vec::with_capacity(outcomes.len());
    for outcome in outcomes {
        replies.push(outcome.await.unwrap_or(Err(RecordError::NoReply)));
    }
    replies
}

mod ending;
mod rotate;
#[cfg(test)]
mod tests;
