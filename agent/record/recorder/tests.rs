//! The recorder thread's tests. This file holds the harness: a model sink
//! (a disk that fills up, a sink that takes a few bytes per write, one that
//! tears a batch) and a recorder thread run against it with a quota;
//! `tests/sinks.rs` runs the recorder against those sinks, `tests/frames.rs`
//! checks the frames a tap message becomes (OPENs, mid-session, the clock).

mod frames;
mod sinks;

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
