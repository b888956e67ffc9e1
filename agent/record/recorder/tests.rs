//! The recorder thread against model sinks: a disk that fills up, a sink
//! that takes a few bytes per write, one that tears a batch, and the quota.
//! What a root-only tmpfs mount showed before, without root and in
//! milliseconds.

use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{Semaphore, oneshot};

use super::*;
use crate::format::{Direction, End, Frame, FrameBody, Header, Next, ProxyMeta, RecordingReader};
use crate::record::quota::DiskLimits;
use crate::tap::{self, ConnMeta, TAP_QUEUE_BYTES};

/// A sink in memory that can run out of room, take at most `max_write`
/// bytes per call, or fail after taking part of a write.
#[derive(Clone)]
struct Model {
    data: Arc<Mutex<Vec<u8>>>,
    /// Bytes it can hold; a write beyond fails with ENOSPC (after taking
    /// what fits, as a real file does).
    capacity: usize,
    max_write: usize,
}

impl Model {
    fn new(capacity: usize, max_write: usize) -> Self {
        Self {
            data: Arc::default(),
            capacity,
            max_write,
        }
    }

    fn bytes(&self) -> Vec<u8> {
        self.data.lock().unwrap().clone()
    }
}

impl Write for Model {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut data = self.data.lock().unwrap();
        let room = self.capacity - data.len();
        if room == 0 {
            return Err(io::Error::from_raw_os_error(28)); // ENOSPC
        }
        let n = buf.len().min(room).min(self.max_write);
        data.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Sink for Model {
    fn sync(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn header() -> Header {
    Header {
        id: "rec-model".into(),
        label: String::new(),
        agent_name: "host".into(),
        agent_id: "a1".into(),
        started_at_unix_ns: 0,
        proxies: vec![ProxyMeta {
            id: "p1".into(),
            name: "game".into(),
            listen: "127.0.0.1:1".into(),
            upstream: "127.0.0.1:2".into(),
            transport: crate::format::Transport::Tcp,
        }],
    }
}

fn meta(id: u64, opened: Instant) -> Arc<ConnMeta> {
    let mut m = ConnMeta::new(
        id,
        "p1".into(),
        "127.0.0.1:5000".parse().unwrap(),
        "127.0.0.1:6000".parse().unwrap(),
    );
    m.opened = opened;
    Arc::new(m)
}

/// A recorder thread writing into `sink`, and what the test holds of it.
struct Running {
    tap: Tap,
    budget: Arc<Semaphore>,
    outcome: oneshot::Receiver<StopReply>,
    rt: tokio::runtime::Runtime,
    live: Arc<LiveFigures>,
    failures: Arc<Mutex<Vec<String>>>,
    thread: std::thread::JoinHandle<()>,
    start: Instant,
}

fn run(sink: Model, quota: Arc<Quota>) -> Running {
    run_synced(sink, quota, None)
}

/// As `run`, with the periodic syncs made by `syncer`.
fn run_synced(sink: Model, quota: Arc<Quota>, syncer: Option<Syncer>) -> Running {
    let start = Instant::now();
    let (tap, mut lanes) = tap::queue("rec-model", 1, start);
    let tap::LaneIntake { rx, budget } = lanes.remove(0);
    let (outcome_tx, outcome) = oneshot::channel();
    let live = Arc::new(LiveFigures::default());
    let failures = Arc::new(Mutex::new(Vec::new()));
    let rec = Recorder {
        writer: RecordingWriter::new(sink, &header()).unwrap(),
        rx,
        budget: budget.clone(),
        outcome: outcome_tx,
        start,
        live: live.clone(),
        quota,
        on_failure: {
            let failures = failures.clone();
            Box::new(move |e: &RecordError| failures.lock().unwrap().push(e.to_string()))
        },
        id: "rec-model".into(),
        syncer,
        header: header(),
        segments: None,
    };
    let thread = std::thread::spawn(move || rec.run());
    Running {
        tap,
        budget,
        outcome,
        rt: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap(),
        live,
        failures,
        thread,
        start,
    }
}

impl Running {
    /// Sends `n` chunks of `size` bytes on one connection, then stops.
    fn send_and_stop(self, n: usize, size: usize) -> (StopReply, Arc<LiveFigures>, Vec<String>) {
        let conn = meta(1, self.start);
        for i in 0..n {
            let at = self.start + Duration::from_micros(i as u64);
            let kind = TapKind::Data(Direction::C2s, Bytes::from(vec![i as u8; size]));
            self.rt.block_on(self.tap.send(&conn, at, kind));
        }
        // Let the recorder take the chunks as batches of their own, so the
        // stop comes after they were written (or failed).
        std::thread::sleep(Duration::from_millis(200));
        if !self.live.failed.load(Ordering::Relaxed) {
            assert_eq!(
                self.budget.available_permits(),
                TAP_QUEUE_BYTES,
                "every written byte's budget is back"
            );
        }
        let stop = || Intake::Stop {
            reason: "stopped by test".into(),
        };
        self.rt.block_on(self.tap.control(stop));
        let outcome = self
            .outcome
            .blocking_recv()
            .expect("the recorder leaves its outcome");
        assert!(
            self.budget.is_closed(),
            "no proxy waits on an ended recorder"
        );
        self.thread.join().unwrap();
        let failures = self.failures.lock().unwrap().clone();
        (outcome, self.live, failures)
    }
}

/// Every data payload in a file, and how it ends.
fn read_back(bytes: &[u8]) -> (Vec<Bytes>, End) {
    let mut r = RecordingReader::open(bytes).unwrap();
    let mut data = Vec::new();
    loop {
        match r.next().unwrap() {
            Next::Frame(Frame {
                body: FrameBody::Data { payload, .. },
                ..
            }) => data.push(payload),
            Next::Frame(_) => {}
            Next::End(end) => return (data, end),
        }
    }
}

fn unlimited() -> Arc<Quota> {
    Arc::new(Quota::new(std::env::temp_dir(), 0))
}

#[test]
fn a_sink_that_takes_seven_bytes_per_write_still_gets_every_byte() {
    let sink = Model::new(usize::MAX, 7);
    let (outcome, live, failures) = run(sink.clone(), unlimited()).send_and_stop(200, 1_000);
    let footer = outcome.expect("a slow sink is not a failure");
    assert!(failures.is_empty());
    assert_eq!(footer.summary.bytes_c2s, 200_000);
    let (data, end) = read_back(&sink.bytes());
    assert!(matches!(end, End::Complete(_)), "{end:?}");
    assert_eq!(data.len(), 200);
    assert!(
        data.iter()
            .enumerate()
            .all(|(i, d)| d[..] == [i as u8; 1_000])
    );
    assert_eq!(
        live.size_bytes.load(Ordering::Relaxed),
        sink.bytes().len() as u64
    );
}

#[test]
fn a_full_disk_ends_the_recording_once_and_keeps_every_complete_frame() {
    // Room for the header and a few dozen frames, not for 500.
    let sink = Model::new(40_000, usize::MAX);
    let (outcome, live, failures) = run(sink.clone(), unlimited()).send_and_stop(500, 1_000);
    let err = outcome.expect_err("a full disk fails the recording");
    assert!(
        matches!(err, RecordError::FooterAfter { ref why, .. } if matches!(**why, RecordError::Write(_))),
        "{err:?}"
    );
    assert!(err.to_string().contains("write failed"), "{err}");
    assert_eq!(
        failures.len(),
        1,
        "the failure is reported once: {failures:?}"
    );
    assert!(live.failed.load(Ordering::Relaxed));
    assert!(live.error().unwrap().contains("No space left"));
    // What reached the disk reads back up to its last complete frame, and
    // everything else is counted as lost.
    let (data, end) = read_back(&sink.bytes());
    assert!(matches!(end, End::Truncated { .. }), "{end:?}");
    assert!(!data.is_empty() && data.len() < 500);
    assert!(
        data.iter()
            .enumerate()
            .all(|(i, d)| d[..] == [i as u8; 1_000])
    );
    let lost = live.lost_bytes.load(Ordering::Relaxed);
    assert!(
        lost >= ((500 - data.len() - 256) * 1_000) as u64,
        "lost {lost}"
    );
}

#[test]
fn a_torn_batch_is_cut_at_the_last_complete_frame() {
    // Takes 3,000 bytes, then fails in the middle of a frame.
    let sink = Model::new(3_000, 700);
    let (outcome, _live, failures) = run(sink.clone(), unlimited()).send_and_stop(10, 500);
    assert!(outcome.is_err());
    assert_eq!(failures.len(), 1);
    let bytes = sink.bytes();
    assert_eq!(bytes.len(), 3_000, "the sink took what it could");
    let (data, end) = read_back(&bytes);
    match end {
        End::Truncated {
            valid_bytes,
            cut_bytes,
        } => {
            assert!(cut_bytes > 0, "a partial frame was written and is dropped");
            assert_eq!(valid_bytes + cut_bytes, 3_000);
        }
        other => panic!("expected a truncated file, got {other:?}"),
    }
    assert!(
        data.iter()
            .enumerate()
            .all(|(i, d)| d[..] == [i as u8; 500])
    );
}

#[test]
fn the_quota_ends_the_recording_with_a_marker_and_a_footer() {
    let quota = unlimited();
    quota.set_limits(DiskLimits {
        max_disk: Some(20_000),
        min_free: None,
    });
    let sink = Model::new(usize::MAX, usize::MAX);
    let (outcome, live, failures) = run(sink.clone(), quota.clone()).send_and_stop(100, 1_000);
    // The file itself ends cleanly: marker, then a footer naming the limit.
    let footer = outcome.expect("a quota stop still finishes the file");
    assert!(footer.error.as_deref().unwrap().contains("--max-disk"));
    assert_eq!(failures.len(), 1);
    assert!(failures[0].contains("disk quota reached"));
    let (data, end) = read_back(&sink.bytes());
    assert!(matches!(end, End::Complete(_)), "{end:?}");
    assert!(data.len() < 100);
    assert_eq!(
        live.lost_bytes.load(Ordering::Relaxed),
        ((100 - data.len()) * 1_000) as u64,
        "every chunk not written is counted lost"
    );
    assert_eq!(
        quota.used(),
        sink.bytes().len() as u64,
        "the quota counts the file"
    );
}

#[test]
fn first_sight_of_a_connection_writes_its_open() {
    let start = Instant::now();
    let before = start - Duration::from_secs(1);
    let mut books = crate::record::frames::Books::default();
    let tap = TapMsg {
        conn: meta(7, before),
        ts_ns: 5_000_000,
        kind: TapKind::Data(Direction::C2s, Bytes::from_static(b"hi")),
        permit: None,
    };
    let frames = frames_for(&tap, start, &mut books);
    assert_eq!(frames.len(), 2);
    match &frames[0].body {
        FrameBody::Open(o) => assert!(o.mid_session),
        other => panic!("{other:?}"),
    }
    assert_eq!(frames[1].ts_ns, 5_000_000);
    // Second message: no new OPEN, and the clock never runs backwards.
    let tap = TapMsg {
        conn: meta(7, before),
        ts_ns: 1,
        kind: TapKind::Close("client closed".into()),
        permit: None,
    };
    let frames = frames_for(&tap, start, &mut books);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].ts_ns, 5_000_000);
}

#[test]
fn a_connection_continued_in_a_new_segment_opens_again_mid_session() {
    let start = Instant::now();
    let mut books = crate::record::frames::Books::default();
    let msg = |ts_ns, kind| TapMsg {
        conn: meta(3, start + Duration::from_millis(1)),
        ts_ns,
        kind,
        permit: None,
    };
    let data = || TapKind::Data(Direction::C2s, Bytes::from_static(b"x"));
    let first = frames_for(&msg(10, data()), start, &mut books);
    assert!(matches!(&first[0].body, FrameBody::Open(o) if !o.mid_session));
    // The segment rotates: the connection's next message opens it again.
    books.known.clear();
    let again = frames_for(&msg(20, data()), start, &mut books);
    assert!(matches!(&again[0].body, FrameBody::Open(o) if o.mid_session));
    assert_eq!(books.reopened, 1);
    let close = frames_for(&msg(30, TapKind::Close("done".into())), start, &mut books);
    assert_eq!(close.len(), 1);
    assert!(books.live.is_empty(), "a closed connection is forgotten");
}

#[test]
fn a_background_sync_that_fails_ends_the_recording_with_its_error() {
    let syncer =
        Syncer::spawn("model", || Err(std::io::Error::other("EIO from the disk"))).unwrap();
    let sink = Model::new(usize::MAX, usize::MAX);
    let running = run_synced(sink.clone(), unlimited(), Some(syncer));
    let conn = meta(1, running.start);
    let send = |i: u8| {
        let kind = TapKind::Data(Direction::C2s, Bytes::from(vec![i; 100]));
        running
            .rt
            .block_on(running.tap.send(&conn, Instant::now(), kind));
    };
    send(0);
    // Past the sync interval, the next chunk makes the recorder ask for a
    // sync; the thread's failure then ends the recording.
    std::thread::sleep(RECORDER_SYNC_INTERVAL + Duration::from_millis(200));
    send(1);
    let (outcome, live, failures) = running.send_and_stop(0, 1);
    // Ended early, as after a failed write: the footer says why.
    let footer = outcome.expect("the file is closed with a footer");
    let error = footer.error.unwrap_or_default();
    assert!(error.contains("EIO from the disk"), "{error}");
    assert_eq!(footer.end_reason, "ended early");
    assert_eq!(failures.len(), 1, "told once: {failures:?}");
    assert!(live.failed.load(Ordering::Relaxed));
    // Everything handed over before is in the file, which ends cleanly
    // with the reason.
    let (data, end) = read_back(&sink.bytes());
    assert_eq!(data.len(), 2);
    assert!(matches!(end, End::Complete(_)), "{end:?}");
}
