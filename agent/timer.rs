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
//!
//! Scheduled starts name a wall-clock instant (`sleep_until_wall`): it is
//! turned into a monotonic instant shortly before it, after a coarse wait on
//! tokio's timer, so that agents sharing a clock start within tens of
//! microseconds of each other instead of on their own millisecond ticks.
//!
//! The clock seam: pacing code reads the time with `now()`, tokio's clock,
//! which is the OS's monotonic clock unless a test paused it
//! (`#[tokio::test(start_paused = true)]`), and `sleep_until` then sleeps on
//! tokio's timer alone. So a fault-delay or replay schedule of minutes runs
//! in a test in no real time, and the test asserts the instants the engine
//! planned, never when bytes arrived.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::thread::Thread;
use std::time::{Duration, Instant, SystemTime};

/// How long before its instant a sleep moves from tokio's timer to the
/// timer thread: more than tokio's rounding (1 ms) plus a late tick.
pub const FINE_WINDOW: Duration = Duration::from_millis(2);

/// How long before a wall-clock instant `sleep_until_wall` reads the wall
/// clock again and fixes the monotonic instant it wakes at. A scheduled
/// start may wait an hour, during which the wall clock can be stepped (NTP,
/// an operator); re-reading it this close to the end follows any step made
/// before. Far enough ahead that a recheck woken late on a busy host (tokio
/// rounds to 1 ms, a loaded CPU adds more) still comes before the instant.
pub const WALL_RECHECK: Duration = Duration::from_millis(20);

/// Longest coarse wait between two readings of the wall clock, so a wait
/// that was made long by a forward step of the clock ends at most this late.
pub const WALL_POLL: Duration = Duration::from_secs(60);

/// Sleeps until this host's wall clock reads `at` (returns at once if it
/// already does), as precisely as `sleep_until`. Scheduled starts of
/// recordings and replays use it: agents on one host given the same `at`
/// wake within tens of microseconds of each other, where tokio's timer alone
/// would wake each on its own millisecond tick.
///
/// It never returns before the wall clock reads `at`, unless the clock is
/// stepped back within the last `WALL_RECHECK`.
///
/// # Cancel safety
/// As `sleep_until`.
pub async fn sleep_until_wall(at: SystemTime) {
    loop {
        // Wall clock first: the monotonic reading after it can only make
        // the computed instant later, never early.
        let wall_now = SystemTime::now();
        match wall_step(at, wall_now, Instant::now()) {
            WallStep::Recheck(then) => {
                tokio::time::sleep_until(tokio::time::Instant::from_std(then)).await;
            }
            WallStep::Final(then) => return sleep_until(then).await,
        }
    }
}

/// What `sleep_until_wall` does next, from the two clocks read together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WallStep {
    /// Sleep on tokio's timer until this instant, then read the clocks again.
    Recheck(Instant),
    /// The last stretch: sleep precisely until this instant, when the wall
    /// clock reads the target.
    Final(Instant),
}

/// The wall-clock instant `at` on the monotonic clock, given that the wall
/// clock read `wall_now` at `mono_now` (an `at` already passed is now):
/// `Final` within `WALL_RECHECK` of it, else a `Recheck` at most `WALL_POLL`
/// away and `WALL_RECHECK` before it. The one place scheduled starts turn a
/// wall-clock instant into a monotonic one.
fn wall_step(at: SystemTime, wall_now: SystemTime, mono_now: Instant) -> WallStep {
    let left = at.duration_since(wall_now).unwrap_or(Duration::ZERO);
    match left.checked_sub(WALL_RECHECK) {
        Some(early) if !early.is_zero() => {
            let step = early.min(WALL_POLL);
            // `WALL_POLL` past a real instant cannot overflow; if it did,
            // the clocks are read again at once.
            WallStep::Recheck(mono_now.checked_add(step).unwrap_or(mono_now))
        }
        _ => WallStep::Final(mono_now.checked_add(left).unwrap_or(mono_now)),
    }
}

/// The agent's monotonic clock for pacing (fault delays, replay timing):
/// the OS's, or a test's paused tokio clock. Instants compared with, or
/// slept until by, `sleep_until` come from here.
pub fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Whether tokio's clock is paused (only possible in tests, with tokio's
/// `test-util`). Tokio's clock reads the OS's unless paused, and a paused
/// one stands still within a poll: read it, wait until the OS's clock has
/// moved on, and read it again. Costs a few clock reads (tens of ns).
fn clock_paused() -> bool {
    let before = tokio::time::Instant::now();
    let real = Instant::now();
    while Instant::now() == real {
        std::hint::spin_loop();
    }
    tokio::time::Instant::now() == before
}

/// Sleeps until `at` (an instant of `now()`), give or take the OS's
/// wake-up latency; on tokio's timer alone when a test paused its clock.
///
/// # Cancel safety
/// Dropping it is fine: a task registered with the timer thread is then
/// woken once, needlessly, at `at`.
pub async fn sleep_until(at: Instant) {
    if clock_paused() {
        tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
        return;
    }
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
struct Sleeper {
    at: Instant,
    waker: Waker,
}

impl PartialEq for Sleeper {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at
    }
}

impl Eq for Sleeper {}

impl PartialOrd for Sleeper {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Sleeper {
    fn cmp(&self, other: &Self) -> Ordering {
        other.at.cmp(&self.at)
    }
}

/// Sleeps handed to the timer thread. Never held while waking tasks or parking.
static HEAP: Mutex<BinaryHeap<Sleeper>> = Mutex::new(BinaryHeap::new());
/// The timer thread, started on first use; `None` if it could not be.
static THREAD: OnceLock<Option<Thread>> = OnceLock::new();

fn heap() -> std::sync::MutexGuard<'static, BinaryHeap<Sleeper>> {
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
        heap.push(Sleeper { at, waker });
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
    // Linux lets a thread's timed waits end up to its timer slack (50 µs by
    // default) late, to batch wake-ups; this thread's whole job is waking
    // on time (measured on a 2-vCPU VM: 30-90 µs late instead of 80-150).
    // Best effort: with the default slack it still works.
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::set_current_timer_slack(std::num::NonZeroU64::new(1));
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

    /// Behaviour only: never early, and every sleep ends (within 10 s, a
    /// bound no load reaches). How late a busy host wakes is a figure for
    /// bench/run.sh (f, g: replay lateness, delay accuracy), not a test
    /// assertion: a 20 ms bound here failed once under load.
    #[tokio::test]
    async fn wakes_never_early_and_always_wakes() {
        let mut worst = Duration::ZERO;
        for i in 0..20u64 {
            let at = Instant::now() + Duration::from_micros(300 + 700 * (i % 5));
            tokio::time::timeout(Duration::from_secs(10), sleep_until(at))
                .await
                .expect("the timer fires");
            let now = Instant::now();
            assert!(now >= at, "woke {:?} early", at - now);
            worst = worst.max(now - at);
        }
        eprintln!("latest wake: {worst:?} after its instant");
    }

    #[test]
    fn wall_instants_become_monotonic_ones() {
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_714_564_984);
        let mono = Instant::now();
        let ms = Duration::from_millis;
        // (target − wall now, expected step); a negative target is passed.
        let cases: [(i64, WallStep); 8] = [
            (-5_000, WallStep::Final(mono)),
            (0, WallStep::Final(mono)),
            (1, WallStep::Final(mono + ms(1))),
            (20, WallStep::Final(mono + ms(20))),
            (21, WallStep::Recheck(mono + ms(1))),
            (1_000, WallStep::Recheck(mono + ms(980))),
            (60_020, WallStep::Recheck(mono + ms(60_000))),
            (3_600_000, WallStep::Recheck(mono + WALL_POLL)),
        ];
        for (ahead_ms, expected) in cases {
            let at = if ahead_ms >= 0 {
                wall + ms(ahead_ms.unsigned_abs())
            } else {
                wall - ms(ahead_ms.unsigned_abs())
            };
            assert_eq!(wall_step(at, wall, mono), expected, "{ahead_ms} ms ahead");
        }
        // Sub-millisecond targets keep their nanoseconds.
        let at = wall + Duration::from_nanos(1_234_567);
        assert_eq!(
            wall_step(at, wall, mono),
            WallStep::Final(mono + Duration::from_nanos(1_234_567))
        );
    }

    #[test]
    fn a_stepped_wall_clock_is_followed_at_the_recheck() {
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_714_564_984);
        let mono = Instant::now();
        let at = wall + Duration::from_secs(10);
        let WallStep::Recheck(then) = wall_step(at, wall, mono) else {
            panic!("10 s ahead is a recheck");
        };
        // By then the monotonic clock advanced 9.98 s, but the wall clock was
        // stepped 3 ms forward meanwhile: the final stretch is 3 ms shorter.
        let stepped = wall + (then - mono) + Duration::from_millis(3);
        assert_eq!(
            wall_step(at, stepped, then),
            WallStep::Final(then + Duration::from_millis(17))
        );
    }

    #[tokio::test]
    async fn wall_sleeps_never_end_early() {
        for ahead_us in [0, 500, 5_000, 30_000] {
            let at = SystemTime::now() + Duration::from_micros(ahead_us);
            sleep_until_wall(at).await;
            assert!(SystemTime::now() >= at, "{ahead_us} µs ahead: woke early");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn under_a_paused_clock_an_hour_passes_at_once() {
        assert!(clock_paused());
        let t0 = now();
        let at = t0 + Duration::from_secs(3600);
        sleep_until(at).await;
        let woke = now();
        // Tokio's timer counts whole milliseconds: it wakes on the tick
        // at or after `at`, never before.
        assert!(
            woke >= at && woke - at <= Duration::from_millis(1),
            "{:?}",
            woke - t0
        );
    }

    #[tokio::test]
    async fn a_running_clock_is_not_taken_for_a_paused_one() {
        assert!(!clock_paused());
        assert!(now() <= Instant::now());
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
