//! Faults as one connection lives them: whether it is affected (decided once,
//! at accept), and per direction the random draws, the release clock that
//! keeps stream order, the bandwidth buckets and the byte counts that
//! trigger resets and limits. The proxy's profile can change at any time;
//! each connection follows it through a watch channel.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::RngExt;
use rand::rngs::StdRng;
use tokio::sync::watch;

use super::bucket::TokenBucket;
use super::random::{STREAM_TOXIC, draw, rng, stream_of};
use super::spec::FaultSpec;
use crate::format::Direction;

/// A proxy's live profile and what its connections share.
#[derive(Debug)]
pub struct ProxyFaults {
    tx: watch::Sender<Arc<FaultSpec>>,
    /// Accept order, for reproducible per-connection draws.
    next_ordinal: AtomicU64,
    /// Per-direction buckets shared by every connection (`proxy_bandwidth`).
    shared: [Mutex<Option<TokenBucket>>; 2],
}

fn index(dir: Direction) -> usize {
    match dir {
        Direction::C2s => 0,
        Direction::S2c => 1,
    }
}

impl ProxyFaults {
    pub fn new(spec: FaultSpec) -> Self {
        Self {
            tx: watch::Sender::new(Arc::new(spec)),
            next_ordinal: AtomicU64::new(0),
            shared: [Mutex::new(None), Mutex::new(None)],
        }
    }

    pub fn current(&self) -> Arc<FaultSpec> {
        self.tx.borrow().clone()
    }

    /// Replaces the profile; open connections pick it up at their next
    /// chunk, and chunks they hold are rescheduled at once. Never waits.
    pub fn update(&self, spec: FaultSpec) {
        self.tx.send_replace(Arc::new(spec));
    }

    /// The faults of a connection just accepted.
    pub fn connection(self: &Arc<Self>) -> ConnFaults {
        let ordinal = self.next_ordinal.fetch_add(1, Ordering::Relaxed);
        let spec = self.current();
        let toxic = spec.toxicity >= 1.0
            || rng(spec.seed, ordinal, STREAM_TOXIC).random::<f64>() < spec.toxicity;
        ConnFaults {
            proxy: self.clone(),
            ordinal,
            toxic,
            seed: spec.seed,
        }
    }

    fn shared_wait(&self, dir: Direction, rate: Option<u64>, n: usize, now: Instant) -> Duration {
        let mut slot = self.shared[index(dir)]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match rate {
            None => {
                *slot = None;
                Duration::ZERO
            }
            Some(r) => {
                let b = slot.get_or_insert_with(|| TokenBucket::new(r, now));
                b.set_rate(r);
                b.take(n, now)
            }
        }
    }
}

/// One connection's view of its proxy's faults.
#[derive(Debug)]
pub struct ConnFaults {
    proxy: Arc<ProxyFaults>,
    ordinal: u64,
    toxic: bool,
    seed: Option<u64>,
}

impl ConnFaults {
    /// The profile that applies now; `None` when the connection is spared
    /// (toxicity) or the profile is empty.
    pub fn active(&self) -> Option<Arc<FaultSpec>> {
        if !self.toxic {
            return None;
        }
        let spec = self.proxy.current();
        (!spec.is_none()).then_some(spec)
    }

    pub fn toxic(&self) -> bool {
        self.toxic
    }

    /// Wakes on every profile change.
    pub fn subscribe(&self) -> watch::Receiver<Arc<FaultSpec>> {
        self.proxy.tx.subscribe()
    }

    /// The state of one direction, for that direction's pump.
    pub fn direction(&self, dir: Direction) -> DirFaults {
        DirFaults {
            proxy: self.proxy.clone(),
            rx: self.proxy.tx.subscribe(),
            toxic: self.toxic,
            dir,
            seed: self.seed,
            ordinal: self.ordinal,
            shaping: None,
            forwarded: 0,
        }
    }
}

/// One direction of one connection.
#[derive(Debug)]
pub struct DirFaults {
    proxy: Arc<ProxyFaults>,
    pub rx: watch::Receiver<Arc<FaultSpec>>,
    toxic: bool,
    dir: Direction,
    seed: Option<u64>,
    ordinal: u64,
    /// Made when a profile first shapes this direction: most connections
    /// never are, and every byte here is in each connection's future.
    shaping: Option<Box<Shaping>>,
    /// Bytes passed on in this direction (for reset/limit after bytes).
    pub forwarded: u64,
}

/// The state only a shaped direction needs.
#[derive(Debug, Default)]
struct Shaping {
    /// Made at the first draw (the same one a seed gives at any time).
    rng: Option<StdRng>,
    last_release: Option<Instant>,
    bucket: Option<TokenBucket>,
}

/// What to do with the next bytes of a chunk, given the byte triggers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Pass all of it.
    All,
    /// Pass `n` bytes, then reset the connection.
    ResetAfter(usize),
    /// Pass `n` bytes, then close the connection.
    CloseAfter(usize),
}

impl DirFaults {
    /// The profile for this direction now (see `ConnFaults::active`).
    pub fn active(&self) -> Option<Arc<FaultSpec>> {
        if !self.toxic {
            return None;
        }
        let spec = self.rx.borrow().clone();
        (!spec.is_none()).then_some(spec)
    }

    /// Whether chunks must go through the shaping queue.
    pub fn shaping(&self) -> bool {
        self.active().is_some_and(|s| s.shapes(self.dir))
    }

    /// Delay drawn for a chunk arriving now under `spec`.
    pub fn draw_delay(&mut self, spec: &FaultSpec) -> Duration {
        match spec.latency {
            Some(l) if spec.directions.has(self.dir) => {
                let (seed, ordinal, stream) = (self.seed, self.ordinal, stream_of(self.dir));
                let rng = self
                    .shaped()
                    .rng
                    .get_or_insert_with(|| rng(seed, ordinal, stream));
                draw(&l, rng)
            }
            _ => Duration::ZERO,
        }
    }

    /// Release instant of a chunk: its own arrival plus delay, but never
    /// before the previous chunk's, so the stream keeps its order.
    pub fn release(&mut self, arrival: Instant, delay: Duration) -> Instant {
        let own = arrival + delay;
        let last = &mut self.shaped().last_release;
        let at = last.map_or(own, |prev| own.max(prev));
        *last = Some(at);
        at
    }

    /// Forgets the release clock, for rescheduling held chunks after a change.
    pub fn reset_clock(&mut self) {
        if let Some(s) = &mut self.shaping {
            s.last_release = None;
        }
    }

    fn shaped(&mut self) -> &mut Shaping {
        self.shaping.get_or_insert_with(Box::default)
    }

    /// Extra wait so `n` bytes respect the connection's and the proxy's caps.
    pub fn bandwidth_wait(&mut self, spec: &FaultSpec, n: usize, now: Instant) -> Duration {
        let own = match spec.bandwidth {
            None => {
                if let Some(s) = &mut self.shaping {
                    s.bucket = None;
                }
                Duration::ZERO
            }
            Some(r) => {
                let b = self
                    .shaped()
                    .bucket
                    .get_or_insert_with(|| TokenBucket::new(r, now));
                b.set_rate(r);
                b.take(n, now)
            }
        };
        let shared = self
            .proxy
            .shared_wait(self.dir, spec.proxy_bandwidth, n, now);
        own.max(shared)
    }

    /// Whether this direction's bytes are dropped.
    pub fn black_hole(&self, spec: &FaultSpec) -> bool {
        spec.black_hole && spec.directions.has(self.dir)
    }

    /// How much of an `n`-byte chunk may pass before a byte trigger fires.
    pub fn cut(&self, spec: &FaultSpec, n: usize) -> Cut {
        if !spec.directions.has(self.dir) {
            return Cut::All;
        }
        let left = |limit: u64| limit.saturating_sub(self.forwarded);
        // A trigger fires within this chunk when the bytes left before it
        // are at most the chunk's size; the earlier of the two wins.
        let within = |left: u64| (left <= n as u64).then_some(left as usize);
        let reset = spec.reset_after_bytes.map(left).and_then(within);
        let limit = spec.limit_bytes.map(left).and_then(within);
        match (reset, limit) {
            (Some(r), Some(l)) if l < r => Cut::CloseAfter(l),
            (Some(r), _) => Cut::ResetAfter(r),
            (None, Some(l)) => Cut::CloseAfter(l),
            (None, None) => Cut::All,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::spec::Latency;

    fn spec(f: impl FnOnce(&mut FaultSpec)) -> FaultSpec {
        let mut s = FaultSpec::default();
        f(&mut s);
        s
    }

    #[test]
    fn order_is_kept_when_a_later_chunk_draws_less() {
        let p = Arc::new(ProxyFaults::new(FaultSpec::default()));
        let mut d = p.connection().direction(Direction::C2s);
        let t = Instant::now();
        let a = d.release(t, Duration::from_millis(80));
        let b = d.release(t + Duration::from_millis(1), Duration::from_millis(50));
        assert_eq!(b, a, "released right after the earlier chunk, not before");
    }

    /// The clock seam (`crate::timer`): under a test's paused clock a
    /// 30 s latency schedule is planned from `timer::now()` and slept
    /// through at once, each chunk due at its arrival plus the delay.
    #[tokio::test(start_paused = true)]
    async fn a_latency_schedule_runs_on_paused_time() {
        use crate::timer;
        let delay = Duration::from_secs(30);
        let p = Arc::new(ProxyFaults::new(spec(|s| {
            s.latency = Some(Latency::Fixed(delay));
        })));
        let mut d = p.connection().direction(Direction::C2s);
        let active = d.active().expect("a latency profile");
        let t0 = timer::now();
        let mut plan = Vec::new();
        for gap_ms in [0, 10, 250] {
            tokio::time::advance(Duration::from_millis(gap_ms)).await;
            let arrival = timer::now();
            let delay = d.draw_delay(&active);
            plan.push(d.release(arrival, delay));
        }
        let ms = Duration::from_millis;
        assert_eq!(
            plan,
            [t0 + delay, t0 + delay + ms(10), t0 + delay + ms(260)],
            "each chunk due at its own arrival plus the delay"
        );
        for at in plan {
            timer::sleep_until(at).await;
            let woke = timer::now();
            assert!(woke >= at && woke - at <= ms(1), "{:?}", woke - t0);
        }
    }

    #[test]
    fn toxicity_zero_spares_every_connection() {
        let p = Arc::new(ProxyFaults::new(spec(|s| {
            s.latency = Some(Latency::Fixed(Duration::from_millis(5)));
            s.toxicity = 0.0;
            s.seed = Some(1);
        })));
        assert!((0..100).all(|_| p.connection().active().is_none()));
    }

    #[test]
    fn toxicity_is_reproducible_with_a_seed() {
        let mk = || {
            let p = Arc::new(ProxyFaults::new(spec(|s| {
                s.latency = Some(Latency::Fixed(Duration::from_millis(5)));
                s.toxicity = 0.5;
                s.seed = Some(42);
            })));
            (0..64).map(|_| p.connection().toxic()).collect::<Vec<_>>()
        };
        let a = mk();
        assert_eq!(a, mk());
        let hit = a.iter().filter(|t| **t).count();
        assert!((16..=48).contains(&hit), "{hit} of 64");
    }

    #[test]
    fn byte_triggers_cut_exactly() {
        let p = Arc::new(ProxyFaults::new(FaultSpec::default()));
        let mut d = p.connection().direction(Direction::S2c);
        let s = spec(|s| s.reset_after_bytes = Some(100));
        assert_eq!(d.cut(&s, 60), Cut::All);
        d.forwarded = 60;
        assert_eq!(d.cut(&s, 60), Cut::ResetAfter(40));
        let s = spec(|s| s.limit_bytes = Some(100));
        assert_eq!(d.cut(&s, 30), Cut::All);
        assert_eq!(d.cut(&s, 40), Cut::CloseAfter(40));
        let s = spec(|s| {
            s.limit_bytes = Some(100);
            s.directions = crate::faults::Directions::parse("c2s").unwrap();
        });
        assert_eq!(d.cut(&s, 400), Cut::All);
    }
}
