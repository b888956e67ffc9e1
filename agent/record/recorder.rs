//! The recorder: one OS thread per recording that turns tap messages into
//! frames. Blocking file I/O stays off the async runtime; the bounded queue in
//! front of it is what backpressures the proxies when the disk is slow.
//!
//! Durability: buffered frames are handed to the OS whenever the queue is
//! empty and at least every `RECORDER_FLUSH_INTERVAL`, so `kill -9` of the
//! agent loses nothing already handed over; the file is fsynced every
//! `RECORDER_SYNC_INTERVAL` and at stop, bounding what a power loss can take.

use std::collections::{HashSet, VecDeque};
use std::fs::File;
use std::io::BufWriter;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{Semaphore, mpsc, oneshot};
use tracing::{error, info};

use super::quota::Quota;
use super::tap::{self, RecorderMsg, TapKind, TapMsg};
use crate::format::{Footer, Frame, FrameBody, OpenInfo, RecordingWriter, Summary};
use crate::record::info::time_to_unix_ns;

/// Longest time a frame may sit in the recorder's buffer before it is handed to the OS.
pub const RECORDER_FLUSH_INTERVAL: Duration = Duration::from_millis(100);
/// Longest time between fsyncs while a recording has unsynced data.
pub const RECORDER_SYNC_INTERVAL: Duration = Duration::from_secs(1);
/// Most messages the recorder takes from its queue at once.
const RECORDER_BATCH: usize = 256;
/// Staged bytes the recorder writes at once, even mid-batch, so the byte
/// budget flows back to the proxies in steps of this size rather than one
/// whole queue at a time.
const RECORDER_WRITE_BYTES: usize = 1024 * 1024;
/// Buffer in front of the file: one write syscall per this many bytes under load.
const WRITE_BUFFER: usize = 256 * 1024;

/// Figures of a recording in progress, updated by its recorder thread and read
/// by listings.
#[derive(Debug, Default)]
pub(crate) struct Live {
    pub frames: AtomicU64,
    pub connections: AtomicU64,
    pub bytes_c2s: AtomicU64,
    pub bytes_s2c: AtomicU64,
    pub lost_bytes: AtomicU64,
    pub size_bytes: AtomicU64,
    pub last_ts_ns: AtomicU64,
    pub failed: AtomicBool,
    pub error: Mutex<Option<String>>,
}

impl Live {
    fn publish(&self, s: &Summary, size: u64) {
        self.frames.store(s.frames, Ordering::Relaxed);
        self.connections.store(s.connections, Ordering::Relaxed);
        self.bytes_c2s.store(s.bytes_c2s, Ordering::Relaxed);
        self.bytes_s2c.store(s.bytes_s2c, Ordering::Relaxed);
        self.lost_bytes.store(s.lost_bytes, Ordering::Relaxed);
        self.size_bytes.store(size, Ordering::Relaxed);
        self.last_ts_ns.store(s.last_ts_ns, Ordering::Relaxed);
    }

    pub fn error(&self) -> Option<String> {
        self.error.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// How a recorder thread ended, sent to whoever asked it to stop.
pub(crate) type StopReply = Result<Footer, String>;

/// Everything the recorder thread owns.
pub(crate) struct Recorder {
    pub writer: RecordingWriter<BufWriter<File>>,
    pub rx: mpsc::Receiver<RecorderMsg>,
    /// The queue's byte budget: given back as bytes are written, closed at
    /// the end so no proxy waits on a recorder that is gone.
    pub budget: Arc<Semaphore>,
    /// Instant of ts 0 in the file.
    pub start: Instant,
    pub live: Arc<Live>,
    /// Disk quota and free-space floor.
    pub quota: Arc<Quota>,
    /// Called once if the recording ends early, with why (publishes the event).
    pub on_failure: Box<dyn FnOnce(String) + Send>,
    pub id: String,
}

pub(crate) fn open_sink(file: File) -> BufWriter<File> {
    BufWriter::with_capacity(WRITE_BUFFER, file)
}

/// Bytes a tap message adds to the file, near enough for the quota.
fn frame_cost(tap: &TapMsg) -> u64 {
    let payload = match &tap.kind {
        TapKind::Data(_, b) => b.len() as u64,
        TapKind::Close(r) => r.len() as u64,
        _ => 0,
    };
    // Header and CRC of the frame, plus an OPEN the first time.
    payload + 28 + 160
}

/// The writer while a recording is live, then how it ended.
enum State {
    Writing(RecordingWriter<BufWriter<File>>),
    /// Ended early (quota, free space, write error); the outcome is kept for
    /// the stop request, and later bytes are counted as lost.
    Ended(StopReply),
}

impl Recorder {
    /// Runs until a `Stop` arrives or every sender is gone.
    pub fn run(self) {
        let Recorder {
            writer,
            mut rx,
            budget,
            start,
            live,
            quota,
            on_failure,
            id,
        } = self;
        let mut state = State::Writing(writer);
        let mut known: HashSet<u64> = HashSet::new();
        let mut last_ts = 0u64;
        let mut last_flush = Instant::now();
        let mut last_sync = Instant::now();
        let mut last_space_check = Instant::now();
        let mut dirty = false;
        let mut on_failure = Some(on_failure);
        let mut written_before = 0u64;

        // Messages are taken from the queue in batches: one wake-up of this
        // thread, and one burst of freed queue slots for the proxies, per
        // batch rather than per chunk.
        let mut batch: VecDeque<RecorderMsg> = VecDeque::with_capacity(RECORDER_BATCH);
        let mut taken = Vec::with_capacity(RECORDER_BATCH);
        // Budget taken by the messages read since the last write, given
        // back once they are written (or dropped).
        let mut in_batch = 0usize;
        let (reason, reply) = loop {
            if batch.is_empty() {
                budget.add_permits(std::mem::take(&mut in_batch));
                if rx.blocking_recv_many(&mut taken, RECORDER_BATCH) > 0 {
                    batch.extend(taken.drain(..));
                }
            }
            let Some(msg) = batch.pop_front() else {
                break ("agent stopped".to_string(), None);
            };
            let tap = match msg {
                RecorderMsg::Stop { reason, reply } => break (reason, Some(reply)),
                RecorderMsg::Tick => None,
                RecorderMsg::Tap(t) => {
                    in_batch += tap::weight(&t.kind) as usize;
                    Some(t)
                }
            };
            let State::Writing(writer) = &mut state else {
                // Nothing more can be written; count what is dropped.
                if let Some(TapMsg {
                    kind: TapKind::Data(_, b),
                    ..
                }) = &tap
                {
                    live.lost_bytes.fetch_add(b.len() as u64, Ordering::Relaxed);
                }
                continue;
            };
            let mut stop_early: Option<String> = None;
            let now = Instant::now();
            if now.duration_since(last_space_check) >= RECORDER_SYNC_INTERVAL {
                last_space_check = now;
                if let Err(e) = quota.free_space_ok() {
                    stop_early = Some(e);
                }
            }
            if let Some(tap) = tap.filter(|_| stop_early.is_none()) {
                match quota.admit(frame_cost(&tap)) {
                    Err(e) => {
                        if let TapKind::Data(_, b) = &tap.kind {
                            live.lost_bytes.fetch_add(b.len() as u64, Ordering::Relaxed);
                        }
                        stop_early = Some(e);
                    }
                    Ok(()) => {
                        for frame in frames_for(&tap, start, &mut known, &mut last_ts) {
                            if let Err(e) = writer.stage(frame) {
                                stop_early = Some(format!(
                                    "write failed: {}",
                                    crate::error::with_causes(&e)
                                ));
                                break;
                            }
                        }
                        dirty = true;
                    }
                }
            }
            if stop_early.is_none() && dirty {
                let now = Instant::now();
                // The batch's frames go out in one vectored write (no copy),
                // before its byte budget is given back.
                let r = if now.duration_since(last_sync) >= RECORDER_SYNC_INTERVAL {
                    last_sync = now;
                    last_flush = now;
                    dirty = false;
                    writer.sync()
                } else if (batch.is_empty() && rx.is_empty())
                    || now.duration_since(last_flush) >= RECORDER_FLUSH_INTERVAL
                {
                    last_flush = now;
                    writer.flush()
                } else if batch.is_empty() || writer.staged_bytes() >= RECORDER_WRITE_BYTES {
                    writer.write_staged()
                } else {
                    Ok(())
                };
                if let Err(e) = r {
                    stop_early = Some(format!("write failed: {}", crate::error::with_causes(&e)));
                }
                if writer.staged_bytes() == 0 {
                    // Written: the proxies may queue as much again, while
                    // the rest of a large batch is being written.
                    budget.add_permits(std::mem::take(&mut in_batch));
                }
            }
            let position = writer.position();
            quota.add(position.saturating_sub(written_before));
            written_before = position;
            live.publish(writer.summary(), position);
            if let Some(why) = stop_early {
                error!(recording = %id, reason = %why, "recording ended early; the proxies keep forwarding");
                live.failed.store(true, Ordering::Relaxed);
                *live.error.lock().unwrap_or_else(|e| e.into_inner()) = Some(why.clone());
                let State::Writing(writer) =
                    std::mem::replace(&mut state, State::Ended(Err(why.clone())))
                else {
                    unreachable!("checked above");
                };
                state = State::Ended(end_early(writer, &why, &quota, written_before));
                if let Some(f) = on_failure.take() {
                    f(why);
                }
            }
        };

        budget.close();
        let result = match state {
            State::Ended(outcome) => outcome,
            State::Writing(writer) => {
                let ended = time_to_unix_ns(SystemTime::now());
                match writer.finish(ended, &reason, None) {
                    Ok((sink, footer)) => {
                        let size = sink
                            .get_ref()
                            .metadata()
                            .map(|m| m.len())
                            .unwrap_or(written_before);
                        quota.add(size.saturating_sub(written_before));
                        info!(recording = %id, frames = footer.summary.frames, "recording finished");
                        live.publish(&footer.summary, size);
                        Ok(footer)
                    }
                    Err(e) => Err(e.to_string()),
                }
            }
        };
        if let Some(reply) = reply {
            let _ = reply.send(result);
        }
    }
}

/// Ends a recording that cannot go on: a marker saying why, then the footer
/// (with the reason as its error), so the file reads as complete up to here.
/// On a full disk these writes may fail too; the file then reads back as
/// recovered, up to its last complete frame.
fn end_early(
    mut writer: RecordingWriter<BufWriter<File>>,
    why: &str,
    quota: &Quota,
    written: u64,
) -> StopReply {
    let ts = writer.summary().last_ts_ns;
    let marker = Frame {
        conn: 0,
        ts_ns: ts,
        body: FrameBody::Annotation {
            text: format!("recording ended: {why}"),
        },
    };
    let _ = writer.write_frame(&marker);
    let ended = time_to_unix_ns(SystemTime::now());
    match writer.finish(ended, "ended early", Some(why.to_string())) {
        Ok((sink, footer)) => {
            let size = sink
                .get_ref()
                .metadata()
                .map(|m| m.len())
                .unwrap_or(written);
            quota.add(size.saturating_sub(written));
            Ok(footer)
        }
        Err(e) => Err(format!(
            "{why}; the footer could not be written either: {e}"
        )),
    }
}

/// The frames one tap message becomes: an OPEN first for a connection this
/// recording has not described yet (mid-session when it opened before the
/// recording started). Timestamps never go backwards in the file, so the
/// file's order and its clock agree.
fn frames_for(
    tap: &TapMsg,
    start: Instant,
    known: &mut HashSet<u64>,
    last_ts: &mut u64,
) -> Vec<Frame> {
    let conn = &tap.conn;
    let ts = (tap.at.saturating_duration_since(start).as_nanos() as u64).max(*last_ts);
    *last_ts = ts;
    let mut out = Vec::with_capacity(2);
    if known.insert(conn.id) {
        out.push(Frame {
            conn: conn.id,
            ts_ns: ts,
            body: FrameBody::Open(OpenInfo {
                client: conn.client.to_string(),
                proxy_id: conn.proxy_id.to_string(),
                upstream: conn.upstream.to_string(),
                mid_session: conn.opened < start,
                opened_unix_ns: time_to_unix_ns(conn.opened_at),
            }),
        });
    }
    let body = match &tap.kind {
        TapKind::Open => None,
        TapKind::Data(dir, bytes) => Some(FrameBody::Data {
            dir: *dir,
            payload: bytes.clone(),
        }),
        TapKind::HalfClose(dir) => Some(FrameBody::HalfClose { dir: *dir }),
        TapKind::Close(reason) => Some(FrameBody::Close {
            reason: reason.clone(),
        }),
    };
    if let Some(body) = body {
        out.push(Frame {
            conn: conn.id,
            ts_ns: ts,
            body,
        });
    }
    out
}

/// Sends a `Tick` every `RECORDER_FLUSH_INTERVAL` so an idle recorder still
/// syncs; ends when the recorder is gone.
pub(crate) async fn tick(tx: mpsc::Sender<RecorderMsg>) {
    let mut every = tokio::time::interval(RECORDER_FLUSH_INTERVAL);
    loop {
        every.tick().await;
        match tx.try_send(RecorderMsg::Tick) {
            // A full queue wakes the recorder anyway.
            Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => {}
            Err(mpsc::error::TrySendError::Closed(_)) => break,
        }
    }
}

/// Asks a recorder to finish and waits for its outcome.
pub(crate) async fn stop(tx: &mpsc::Sender<RecorderMsg>, reason: &str) -> StopReply {
    let (reply, rx) = oneshot::channel();
    tx.send(RecorderMsg::Stop {
        reason: reason.to_string(),
        reply,
    })
    .await
    .map_err(|_| "the recorder has already ended".to_string())?;
    rx.await
        .map_err(|_| "the recorder ended without finishing the file".to_string())?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Direction;
    use crate::proxy::ConnMeta;

    fn meta(id: u64, opened: Instant) -> Arc<crate::proxy::ConnMeta> {
        let mut m = ConnMeta::new(
            id,
            "p1".into(),
            "127.0.0.1:5000".parse().unwrap(),
            "127.0.0.1:6000".parse().unwrap(),
        );
        m.opened = opened;
        Arc::new(m)
    }

    #[test]
    fn first_sight_of_a_connection_writes_its_open() {
        let start = Instant::now();
        let before = start - Duration::from_secs(1);
        let mut known = HashSet::new();
        let mut last = 0;
        let tap = TapMsg {
            conn: meta(7, before),
            at: start + Duration::from_millis(5),
            kind: TapKind::Data(Direction::C2s, bytes::Bytes::from_static(b"hi")),
        };
        let frames = frames_for(&tap, start, &mut known, &mut last);
        assert_eq!(frames.len(), 2);
        match &frames[0].body {
            FrameBody::Open(o) => assert!(o.mid_session),
            other => panic!("{other:?}"),
        }
        assert_eq!(frames[1].ts_ns, 5_000_000);
        // Second message: no new OPEN, and the clock never runs backwards.
        let tap = TapMsg {
            conn: meta(7, before),
            at: start,
            kind: TapKind::Close("client closed".into()),
        };
        let frames = frames_for(&tap, start, &mut known, &mut last);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].ts_ns, 5_000_000);
    }
}
