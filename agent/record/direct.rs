//! A segment file written around the page cache (issue 17, item 2).
//!
//! With one connection, a recording was bounded by its writer thread's
//! copy of every byte into the page cache (`copy_folio_from_iter_atomic`
//! was 58 % of the agent's samples), which on this project's VMs is slow
//! because fresh page-cache pages are first-touched memory. Here the
//! recorder copies frames into a few reused, page-aligned 2 MiB chunks, and
//! a thread beside it writes each full chunk with `O_DIRECT` while the next
//! fills. Where the filesystem refuses `O_DIRECT`, the same chunks go
//! through the page cache, still off the recorder's thread.
//!
//! Flushing keeps its meaning (everything written so far is with the OS,
//! so `kill -9` of the agent loses none of it): the chunk's whole pages go
//! directly and its last partial page through the page cache, so the file
//! is exactly as long as what was handed over. Flushing costs a direct
//! write, so the recorder flushes an idle lane at most every
//! [`IDLE_FLUSH_GAP`] (and at least every `RECORDER_FLUSH_INTERVAL`, as
//! before).

use std::fs::File;
use std::io::{self, IoSlice, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tracing::warn;

use crate::format::Sink;
use buf::{AlignedBuf, align_down};
use chunks::{Done, IoThread, Job, Target};

/// Bytes written per direct write: large enough for the device's full
/// rate (1.1 to 1.4 GB/s for 1 to 4 MiB writes on the bench VM's disk).
pub(crate) const CHUNK: usize = 2 * 1024 * 1024;
/// Chunks per open segment: one filling, two written or waiting.
const BUFFERS: usize = 3;
/// Shortest time between two flushes of a lane that ran out of work: a
/// recorder that keeps up with a bulk flow would otherwise flush (a
/// direct write of a few pages, and a page-cache page the next chunk
/// write must write back) after every message.
pub(crate) const IDLE_FLUSH_GAP: Duration = Duration::from_millis(20);

/// One open segment's file.
pub(crate) struct SegmentFile {
    target: Arc<Target>,
    /// Writes full chunks; `None` writes them in line (no thread could be
    /// started).
    io: Option<IoThread>,
    /// The chunk being filled.
    cur: AlignedBuf,
    /// File offset of `cur`'s first byte.
    base: u64,
    /// Bytes of `cur` already with the OS.
    flushed: usize,
    /// Written chunks, for reuse.
    free: Vec<AlignedBuf>,
    /// Chunks allocated so far (at most [`BUFFERS`]).
    made: usize,
    /// Chunks handed to the thread and not back yet.
    in_flight: usize,
    /// The first write that failed: every later write and flush fails too.
    failed: Option<io::Error>,
}

impl SegmentFile {
    /// Writes to `file` (just created at `path`), around the page cache
    /// when `direct` and the filesystem allows it.
    pub(crate) fn new(path: &Path, file: File, direct: bool, thread_name: String) -> SegmentFile {
        let target = Arc::new(Target::open(path, file, direct));
        let io = IoThread::spawn(thread_name, target.clone())
            .inspect_err(|e| warn!(error = %e, "segment chunks written in line: no thread"))
            .ok();
        SegmentFile {
            target,
            io,
            cur: AlignedBuf::new(CHUNK),
            base: 0,
            flushed: 0,
            free: Vec::new(),
            made: 1,
            in_flight: 0,
            failed: None,
        }
    }

    /// Whether full chunks bypass the page cache.
    #[cfg(test)]
    pub(crate) fn is_direct(&self) -> bool {
        self.target.is_direct()
    }

    /// A duplicate descriptor, to make the file durable beside the writer.
    ///
    /// # Errors
    /// The descriptor could not be duplicated.
    pub(crate) fn try_clone_file(&self) -> io::Result<File> {
        self.target.buffered.try_clone()
    }

    /// The sticky failure (a chunk that came back failed included), as a
    /// new error of the same kind and text.
    fn check(&mut self) -> io::Result<()> {
        while let Some(done) = self.io.as_ref().and_then(|io| io.done.try_recv().ok()) {
            self.settle(done);
        }
        match &self.failed {
            Some(e) => Err(io::Error::new(e.kind(), e.to_string())),
            None => Ok(()),
        }
    }

    fn settle(&mut self, (mut buf, result): Done) {
        self.in_flight -= 1;
        buf.clear();
        self.free.push(buf);
        if let Err(e) = result {
            self.failed.get_or_insert(e);
        }
    }

    /// Waits for one chunk in flight; false when none is or the thread is
    /// gone.
    fn wait_one(&mut self) -> bool {
        if self.in_flight == 0 {
            return false;
        }
        match self.io.as_ref().map(|io| io.done.recv()) {
            Some(Ok(done)) => {
                self.settle(done);
                true
            }
            _ => {
                self.in_flight = 0;
                self.failed
                    .get_or_insert_with(|| io::Error::other("the segment's write thread ended"));
                false
            }
        }
    }

    /// An empty chunk: a written one, a new one, or the next to come back.
    fn next_chunk(&mut self) -> io::Result<AlignedBuf> {
        loop {
            if let Some(b) = self.free.pop() {
                return Ok(b);
            }
            if self.made < BUFFERS {
                self.made += 1;
                return Ok(AlignedBuf::new(CHUNK));
            }
            if !self.wait_one() {
                self.check()?;
                return Err(io::Error::other("no chunk came back from the write thread"));
            }
        }
    }

    /// Sends the full chunk to be written (the part not flushed yet) and
    /// starts the next.
    fn submit(&mut self) -> io::Result<()> {
        let next = self.next_chunk()?;
        let buf = std::mem::replace(&mut self.cur, next);
        let from = align_down(self.flushed);
        let job = Job {
            offset: self.base + from as u64,
            from,
            buf,
        };
        self.base += CHUNK as u64;
        self.flushed = 0;
        self.in_flight += 1;
        let job = match &self.io {
            Some(io) => match io.send(job) {
                Ok(()) => return Ok(()),
                Err(job) => job,
            },
            None => job,
        };
        let result = self
            .target
            .write_aligned(job.buf.get(job.from..job.buf.len()), job.offset);
        self.settle((job.buf, result));
        self.check()
    }
}

impl Write for SegmentFile {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.check()?;
        let mut n = 0;
        while n < data.len() {
            n += self.cur.push(&data[n..]);
            if self.cur.is_full()
                && let Err(e) = self.submit()
            {
                return if n > 0 { Ok(n) } else { Err(e) };
            }
        }
        Ok(n)
    }

    /// Copies every slice into the chunks: one call per batch of frames.
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let mut total = 0;
        for b in bufs {
            match self.write(b) {
                Ok(n) if n == b.len() => total += n,
                Ok(n) => return Ok(total + n),
                Err(e) if total == 0 => return Err(e),
                Err(_) => return Ok(total),
            }
        }
        Ok(total)
    }

    /// Waits for the chunks in flight, then writes the filling chunk's
    /// new whole pages directly and its partial last page through the
    /// page cache.
    fn flush(&mut self) -> io::Result<()> {
        while self.wait_one() {}
        self.check()?;
        let len = self.cur.len();
        let from = align_down(self.flushed);
        let pages_end = align_down(len);
        let tail = pages_end.max(self.flushed);
        let at = |i: usize| self.base + i as u64;
        let pages = if pages_end > from {
            self.target
                .write_aligned(self.cur.get(from..pages_end), at(from))
        } else {
            Ok(())
        };
        let written = pages.and_then(|()| {
            if len > tail {
                self.target.write_cached(self.cur.get(tail..len), at(tail))
            } else {
                Ok(())
            }
        });
        if let Err(e) = written {
            self.failed.get_or_insert(e);
            return self.check();
        }
        self.flushed = len;
        Ok(())
    }
}

impl Sink for SegmentFile {
    fn sync(&mut self) -> io::Result<()> {
        self.flush()?;
        self.target.buffered.sync_data()
    }
}

impl Drop for SegmentFile {
    /// As a `BufWriter` does: what was written reaches the OS.
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

mod buf;
mod chunks;
#[cfg(test)]
mod tests;
