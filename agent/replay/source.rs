//! Reading recordings for a replay: one pass over the files to build the
//! plan, then, for every pass of the replay, a stream of events read as the
//! replay goes, so memory does not grow with the recordings' size.
//!
//! Several recordings are merged by timestamp (each keeps its own file
//! order: the causal order is the file order); files that end truncated or
//! corrupted are replayed up to their last valid frame. Files are read on a
//! blocking thread and handed over in batches bounded in events and bytes.

use std::sync::Arc;

use tokio::sync::mpsc;
use tracing::warn;

use super::plan::{Plan, PlanBuilder};
use super::script::{Event, Scripter};
use crate::error::{Error, Result};
use crate::format::{End, Frame, Next, Source, SourceReader};
use crate::rewrite::Framing;

/// Most events in one batch handed from the reading thread.
pub const BATCH_EVENTS: usize = 256;
/// Most payload bytes in one batch (a batch ends after the chunk that
/// crosses it).
pub const BATCH_BYTES: usize = 1 << 20;
/// Batches between the reading thread and the replay.
pub const CHANNEL_BATCHES: usize = 4;

/// The recordings of a replay: (id, where it is read from).
pub type Files = Arc<[(String, Source)]>;

fn open(id: &str, source: &Source) -> Result<SourceReader> {
    SourceReader::open(source).map_err(|e| match (source, e) {
        (Source::File(path), crate::format::FormatError::Io(e)) => {
            Error::io(format!("opening {}", path.display()), e)
        }
        (_, source) => Error::Format {
            id: id.to_string(),
            source,
        },
    })
}

/// The next frame of one recording; `None` at its end, however it ends.
fn next(id: &str, reader: &mut SourceReader, warn_damage: bool) -> Result<Option<Frame>> {
    match reader.next().map_err(|source| Error::Format {
        id: id.to_string(),
        source,
    })? {
        Next::Frame(f) => Ok(Some(f)),
        Next::End(End::Complete(_)) => Ok(None),
        Next::End(end) => {
            if warn_damage {
                warn!(recording = %id, ?end, "replaying a recording up to its last complete frame");
            }
            Ok(None)
        }
    }
}

/// Reads the recordings once into a plan (blocking).
///
/// # Errors
/// `Io` when a file cannot be opened, `Format` when it is not a recording
/// or cannot be read.
pub fn load_plan(files: &[(String, Source)], framing: Option<Framing>) -> Result<Plan> {
    let mut b = PlanBuilder::with_framing(framing);
    for (id, path) in files {
        let rec = b.recording(id);
        let mut reader = open(id, path)?;
        while let Some(f) = next(id, &mut reader, true)? {
            b.add(rec, &f);
        }
    }
    Ok(b.finish())
}

/// The recordings' frames merged by timestamp, each file in its own order.
struct Merge {
    files: Files,
    readers: Vec<SourceReader>,
    heads: Vec<Option<Frame>>,
}

impl Merge {
    fn open(files: Files) -> Result<Self> {
        let mut readers = Vec::new();
        let mut heads = Vec::new();
        for (id, path) in files.iter() {
            let mut r = open(id, path)?;
            heads.push(next(id, &mut r, false)?);
            readers.push(r);
        }
        Ok(Self {
            files,
            readers,
            heads,
        })
    }

    /// The next frame and its recording's index.
    fn next(&mut self) -> Result<Option<(usize, Frame)>> {
        let pick = self
            .heads
            .iter()
            .enumerate()
            .filter_map(|(i, h)| h.as_ref().map(|f| (f.ts_ns, i)))
            .min();
        let Some((_, i)) = pick else {
            return Ok(None);
        };
        let id = &self.files[i].0;
        let refill = next(id, &mut self.readers[i], false)?;
        let frame = std::mem::replace(&mut self.heads[i], refill);
        Ok(frame.map(|f| (i, f)))
    }
}

/// Streams the events of one pass. The reading thread stops at the end of
/// the recordings, on an error (sent as the last item), or when the
/// receiver is dropped.
pub fn stream(
    files: Files,
    plan: Arc<Plan>,
    max_idle_ns: Option<u64>,
    framing: Option<Framing>,
) -> mpsc::Receiver<Result<Vec<Event>>> {
    let (tx, rx) = mpsc::channel(CHANNEL_BATCHES);
    tokio::task::spawn_blocking(move || {
        let mut merge = match Merge::open(files) {
            Ok(m) => m,
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        };
        let mut scripter = Scripter::new(&plan, max_idle_ns, framing.as_ref());
        let mut batch = Vec::with_capacity(BATCH_EVENTS);
        let mut bytes = 0usize;
        loop {
            match merge.next() {
                Ok(Some((rec, frame))) => {
                    bytes += frame_bytes(&frame);
                    scripter.frame(&plan, rec, frame, &mut batch);
                    if batch.len() >= BATCH_EVENTS || bytes >= BATCH_BYTES {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH_EVENTS));
                        bytes = 0;
                        if tx.blocking_send(Ok(full)).is_err() {
                            return;
                        }
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = tx.blocking_send(Ok(batch));
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        }
        if !batch.is_empty() {
            let _ = tx.blocking_send(Ok(batch));
        }
    });
    rx
}

fn frame_bytes(f: &Frame) -> usize {
    match &f.body {
        crate::format::FrameBody::Data { payload, .. } => payload.len(),
        _ => 0,
    }
}
