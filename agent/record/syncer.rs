//! Durability beside the writer (issue 17, item 2): the periodic `fdatasync`
//! of a recording runs on a thread of its own, on a duplicate of the file's
//! descriptor, so the recorder thread goes on writing while the disk
//! catches up instead of stopping for the sync's whole length on every
//! interval. Requests coalesce: while a sync runs, one more is remembered,
//! never a queue. A failed sync is not lost: the next request returns it,
//! and the recording ends with it as after a failed write.
//!
//! What a power loss can take grows by the length of one sync: everything
//! handed to the OS before the start of the last sync that completed is on
//! the disk. The final sync at stop stays on the writer's path (the footer
//! must be durable before the stop is answered).

use std::io;
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// A background syncer of one recording file.
pub(crate) struct Syncer {
    /// One slot: a request while one waits is the same request.
    tx: Option<SyncSender<()>>,
    failed: Arc<Mutex<Option<io::Error>>>,
    thread: Option<JoinHandle<()>>,
}

impl Syncer {
    /// Starts the thread; `sync` makes what was written so far durable
    /// (`File::sync_data` on a duplicate of the recording's descriptor).
    ///
    /// # Errors
    /// The thread could not be started.
    pub(crate) fn spawn(
        name: &str,
        mut sync: impl FnMut() -> io::Result<()> + Send + 'static,
    ) -> io::Result<Syncer> {
        let (tx, rx) = mpsc::sync_channel::<()>(1);
        let failed: Arc<Mutex<Option<io::Error>>> = Arc::default();
        let failure = failed.clone();
        let thread = std::thread::Builder::new()
            .name(format!("sync-{name}"))
            .spawn(move || {
                while rx.recv().is_ok() {
                    if let Err(e) = sync() {
                        *failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                        break;
                    }
                }
            })?;
        Ok(Syncer {
            tx: Some(tx),
            failed,
            thread: Some(thread),
        })
    }

    /// Asks for a sync of what was handed to the OS so far, without waiting
    /// for it.
    ///
    /// # Errors
    /// The error of an earlier sync that failed.
    pub(crate) fn request(&self) -> io::Result<()> {
        if let Some(e) = self.failed.lock().unwrap_or_else(|p| p.into_inner()).take() {
            return Err(e);
        }
        if let Some(tx) = &self.tx {
            match tx.try_send(()) {
                // Full: a request is already waiting and covers this one.
                Ok(()) | Err(TrySendError::Full(())) => {}
                Err(TrySendError::Disconnected(())) => {
                    return Err(io::Error::other("the sync thread has ended"));
                }
            }
        }
        Ok(())
    }

    /// Waits for the sync in flight (if any) and ends the thread, so the
    /// descriptor is closed before the recording is finished.
    ///
    /// # Errors
    /// The error of a sync that failed and was not reported yet.
    pub(crate) fn finish(mut self) -> io::Result<()> {
        self.stop();
        match self.failed.lock().unwrap_or_else(|p| p.into_inner()).take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn stop(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn a_slow_sync_never_holds_the_writer_and_requests_coalesce() {
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (started_tx, started_rx) = mpsc::channel::<()>();
        let count = Arc::new(AtomicUsize::new(0));
        let c = count.clone();
        let syncer = Syncer::spawn("t", move || {
            c.fetch_add(1, Ordering::SeqCst);
            started_tx.send(()).unwrap();
            // A disk that takes its time: held until the test lets go.
            release_rx.recv().unwrap();
            Ok(())
        })
        .unwrap();
        syncer.request().unwrap();
        started_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        // The sync is in flight and blocked: requests still return at once,
        // and however many come, one more sync is remembered, not a queue.
        for _ in 0..100 {
            syncer.request().unwrap();
        }
        release_tx.send(()).unwrap();
        started_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        release_tx.send(()).unwrap();
        syncer.finish().unwrap();
        assert_eq!(count.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_failed_sync_is_told_by_the_next_request() {
        let syncer = Syncer::spawn("t", || Err(io::Error::other("EIO from the disk"))).unwrap();
        syncer.request().unwrap();
        // The failure arrives from the thread; the next request reports it.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let err = loop {
            match syncer.request() {
                Err(e) => break e,
                Ok(()) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Ok(()) => panic!("the failed sync was never reported"),
            }
        };
        assert!(err.to_string().contains("EIO"), "{err}");
    }

    #[test]
    fn finish_waits_for_the_sync_in_flight() {
        let done = Arc::new(AtomicUsize::new(0));
        let d = done.clone();
        let syncer = Syncer::spawn("t", move || {
            std::thread::sleep(Duration::from_millis(50));
            d.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .unwrap();
        syncer.request().unwrap();
        // The request is taken even though finishing closes the channel.
        syncer.finish().unwrap();
        assert_eq!(done.load(Ordering::SeqCst), 1);
    }
}
