//! Sleeps that end within tens of microseconds of their instant, for the
//! timed replay and the fault delay line. Tokio's timer counts whole
//! milliseconds and ends a sleep on the tick after its deadline, which alone
//! makes every timed send or delayed chunk about 1 ms late. A precise sleep
//! waits on tokio's timer until `FINE_WINDOW` before its instant (cheap, and
//! cancellable like any sleep), then hands the rest to one timer thread that
//! parks with a nanosecond timeout and wakes each task at its instant. The
//! thread holds only the sleeps of the next `FINE_WINDOW`, and wakes every
//! task due at once in one pass, so 1,000 connections × 20 sends a second
//! cost little CPU.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// How long before its instant a sleep moves from tokio's timer to the
/// timer thread: more than tokio's rounding (1 ms) plus a late tick.
pub const FINE_WINDOW: Duration = Duration::from_millis(2);

/// Sleeps until `at`, give or take the OS's wake-up latency.
///
/// # Cancel safety
/// Dropping it is fine: a task registered with the timer thread is then
/// woken once, needlessly, at `at`.
pub async fn sleep_until(at: Instant) {
    if let Some(coarse) = at.checked_sub(FINE_WINDOW)
        && coarse > Instant::now()
    {
        tokio::time::sleep_until(tokio::time::Instant::from_std(coarse)).await;
    }
    Fine {
        at,
        registered: false,
    }
    .await;
}

/// The last stretch of a sleep, on the timer thread.
struct Fine {
    at: Instant,
    registered: bool,
}

impl Future for Fine {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.at {
            return Poll::Ready(());
        }
        if !self.registered {
            if let Err(waker) = register(self.at, cx.waker().clone()) {
                // No timer thread (it could not be started): a plain sleep.
                let at = self.at;
                tokio::spawn(async move {
                    tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
                    waker.wake();
                });
            }
            self.registered = true;
        }
        Poll::Pending
    }
}

/// A task waiting for its instant; the heap's top is the earliest.
struct Entry {
    at: Instant,
    waker: Waker,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        other.at.cmp(&self.at)
    }
}

/// Sleeps handed to the timer thread. Never held while waking tasks or parking.
static HEAP: Mutex<BinaryHeap<Entry>> = Mutex::new(BinaryHeap::new());
/// The timer thread, started on first use; `None` if it could not be.
static THREAD: OnceLock<Option<Thread>> = OnceLock::new();

fn heap() -> std::sync::MutexGuard<'static, BinaryHeap<Entry>> {
    HEAP.lock().unwrap_or_else(|e| e.into_inner())
}

/// Queues `waker` for `at`; false when there is no timer thread.
fn register(at: Instant, waker: Waker) -> Result<(), Waker> {
    let thread = THREAD.get_or_init(|| {
        std::thread::Builder::new()
            .name("reel-timer".into())
            .spawn(run)
            .ok()
            .map(|h| h.thread().clone())
    });
    let Some(thread) = thread else {
        return Err(waker);
    };
    let first = {
        let mut heap = heap();
        let first = heap.peek().is_none_or(|e| at < e.at);
        heap.push(Entry { at, waker });
        first
    };
    // A new earliest instant: the thread may be parked until a later one.
    if first {
        thread.unpark();
    }
    Ok(())
}

/// The timer thread: wakes every task whose instant has come, then parks
/// until the next instant (or until a nearer one is registered).
fn run() {
    let mut due = Vec::new();
    loop {
        let next = {
            let mut heap = heap();
            let now = Instant::now();
            while heap.peek().is_some_and(|e| e.at <= now) {
                if let Some(e) = heap.pop() {
                    due.push(e.waker);
                }
            }
            heap.peek().map(|e| e.at)
        };
        for w in due.drain(..) {
            w.wake();
        }
        match next {
            Some(at) => std::thread::park_timeout(at.saturating_duration_since(Instant::now())),
            None => std::thread::park(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wakes_on_time_not_early() {
        let mut worst = Duration::ZERO;
        for i in 0..20u64 {
            let at = Instant::now() + Duration::from_micros(300 + 700 * (i % 5));
            sleep_until(at).await;
            let now = Instant::now();
            assert!(now >= at, "woke {:?} early", at - now);
            worst = worst.max(now - at);
        }
        // Generous for a loaded CI machine; typically tens of microseconds.
        assert!(worst < Duration::from_millis(20), "{worst:?} late");
    }

    #[tokio::test]
    async fn many_sleepers_all_wake() {
        let t0 = Instant::now();
        let tasks: Vec<_> = (0..200u64)
            .map(|i| tokio::spawn(sleep_until(t0 + Duration::from_micros(50 * i))))
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert!(Instant::now() >= t0 + Duration::from_micros(50 * 199));
    }
}
