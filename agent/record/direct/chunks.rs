//! The two ways a segment's bytes reach its file, and the thread that
//! writes whole chunks beside the recorder.
//!
//! Whole chunks go with `O_DIRECT`: from the lane's own buffers straight to
//! the device, never copied into the page cache (on this project's VMs the
//! page cache's first touch of fresh pages was what bounded a recording; see
//! docs/PERFORMANCE.md). A flush's last partial page goes through the page
//! cache on a second descriptor, so the file is always exactly as long as
//! what was handed over and never ends in padding. Every write of an offset
//! carries the same bytes, so which descriptor writes a range last does not
//! matter; the kernel keeps the two views of the file coherent.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;

use tracing::warn;

use super::buf::AlignedBuf;

/// A segment file's descriptors.
pub(crate) struct Target {
    /// Opened with `O_DIRECT`; `None` when the filesystem refused it.
    direct: Option<File>,
    /// The same file through the page cache: tails, fallbacks and syncs.
    pub(crate) buffered: File,
    /// Cleared when a direct write is refused (`EINVAL`: an alignment the
    /// device wants larger); the file goes on through the page cache.
    direct_ok: AtomicBool,
}

impl Target {
    /// Opens a second, direct descriptor of `path` beside `buffered` when
    /// `direct` is asked and the filesystem allows it.
    pub(crate) fn open(path: &Path, buffered: File, direct: bool) -> Target {
        let direct = direct
            .then(|| {
                OpenOptions::new()
                    .write(true)
                    .custom_flags(o_direct())
                    .open(path)
            })
            .and_then(|r| {
                r.inspect_err(|e| {
                    warn!(path = %path.display(), error = %e, "no O_DIRECT here: recording through the page cache");
                })
                .ok()
            });
        Target {
            direct_ok: AtomicBool::new(direct.is_some()),
            direct,
            buffered,
        }
    }

    /// Whether chunks still go around the page cache.
    #[cfg(test)]
    pub(crate) fn is_direct(&self) -> bool {
        self.direct.is_some() && self.direct_ok.load(Ordering::Relaxed)
    }

    /// Writes page-aligned `data` at page-aligned `offset`, directly when
    /// it can.
    pub(crate) fn write_aligned(&self, data: &[u8], offset: u64) -> io::Result<()> {
        if let Some(direct) = &self.direct
            && self.direct_ok.load(Ordering::Relaxed)
        {
            match direct.write_all_at(data, offset) {
                Err(e) if e.kind() == io::ErrorKind::InvalidInput => {
                    warn!(error = %e, "O_DIRECT write refused: recording through the page cache");
                    self.direct_ok.store(false, Ordering::Relaxed);
                }
                r => return r,
            }
        }
        self.buffered.write_all_at(data, offset)
    }

    /// Writes `data` at `offset` through the page cache.
    pub(crate) fn write_cached(&self, data: &[u8], offset: u64) -> io::Result<()> {
        self.buffered.write_all_at(data, offset)
    }
}

fn o_direct() -> i32 {
    i32::try_from(rustix::fs::OFlags::DIRECT.bits()).unwrap_or(0)
}

/// A full chunk to write: `buf`'s bytes from `from` (page-aligned) to its
/// end, at file offset `offset`.
pub(crate) struct Job {
    pub buf: AlignedBuf,
    pub from: usize,
    pub offset: u64,
}

/// A written chunk's buffer, back for reuse, with how the write went.
pub(crate) type Done = (AlignedBuf, io::Result<()>);

/// The thread writing a segment's full chunks while the recorder fills the
/// next one.
pub(crate) struct IoThread {
    jobs: Option<Sender<Job>>,
    pub(crate) done: Receiver<Done>,
    thread: Option<JoinHandle<()>>,
}

impl IoThread {
    /// # Errors
    /// The thread could not be started.
    pub(crate) fn spawn(name: String, target: Arc<Target>) -> io::Result<IoThread> {
        let (jobs, rx) = channel::<Job>();
        let (tx, done) = channel::<Done>();
        let thread = std::thread::Builder::new().name(name).spawn(move || {
            while let Ok(job) = rx.recv() {
                let end = job.buf.len();
                let r = target.write_aligned(job.buf.get(job.from..end), job.offset);
                if tx.send((job.buf, r)).is_err() {
                    break;
                }
            }
        })?;
        Ok(IoThread {
            jobs: Some(jobs),
            done,
            thread: Some(thread),
        })
    }

    /// Queues `job`; gives it back when the thread is gone.
    pub(crate) fn send(&self, job: Job) -> Result<(), Job> {
        match &self.jobs {
            Some(jobs) => jobs.send(job).map_err(|e| e.0),
            None => Err(job),
        }
    }

    /// Lets the thread finish what is queued, and waits for it.
    pub(crate) fn stop(&mut self) {
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for IoThread {
    fn drop(&mut self) {
        self.stop();
    }
}
