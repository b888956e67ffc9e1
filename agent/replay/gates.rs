//! Causal gates: which client action of which connection may go now, so a
//! replay keeps the cross-connection order the proxy saw and still never
//! makes a server wait forever.
//!
//! Every connection has a cursor: its earliest event of the log that is not
//! done yet, an action (done once it has happened) or expected server
//! bytes (done when they have arrived). An action at log position `g` may go
//! once every *other* connection's cursor is past `g`. Its own server bytes
//! are waited for apart, hard, as in `reactive`.
//!
//! The order the proxy saw is not always the order the server takes: two
//! statements that reach it microseconds apart may be served the other way
//! round, and under a row lock that turns the recorded order into a wait
//! cycle between the replay and the server. So a wait for another
//! connection's server bytes is soft: when that server has been silent for
//! longer than its recorded answer time allows (`bound`), or every live
//! connection is waiting and nothing has moved for a few times that answer
//! time (`stall_bound`: nobody but the server could move), the
//! connection holding the others is set aside (its cursor no longer holds
//! anyone) until it moves again. Each such relaxation is returned so the
//! report lists it. Pure: instants in, decisions out; the session does I/O.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::report::RelaxReason;

/// Least time a gate waits for a silent server, whatever its recorded
/// answer time: more than a loaded machine's scheduling hiccup.
pub const GATE_FLOOR: Duration = Duration::from_millis(20);
/// A gate waits this many times the recorded answer time (plus the floor).
pub const GATE_FACTOR: u32 = 4;
/// With every live connection waiting, nothing but the server can move, and
/// a server silent for `GATE_FACTOR` × the recorded answer time (at least
/// this) is taken to wait for the replay: the gate goes without the floor.
pub const STALL_QUIET: Duration = Duration::from_millis(2);
/// Lateness of a gate's wake-up put down to the timer's own grain (tokio's
/// wheel ticks every millisecond), not to the host.
pub const TIMER_GRAIN: Duration = Duration::from_millis(1);
/// On a loaded host a quiet spell means nothing until it is this many times
/// the scheduling delay the replay's own wake-ups see (`Gates::noise`): the
/// server is delayed as much, and a stall judged sooner sets aside a
/// connection whose server is only slow, reordering what it would have
/// kept.
pub const NOISE_FACTOR: u32 = 4;

/// How long a gate waits for server bytes that took `answer` in the
/// recording: `GATE_FACTOR` × `answer` + `GATE_FLOOR`, at most
/// `server_timeout`.
pub fn bound(answer: Duration, server_timeout: Duration) -> Duration {
    answer
        .saturating_mul(GATE_FACTOR)
        .saturating_add(GATE_FLOOR)
        .min(server_timeout)
}

/// How long, when every live connection waits, nothing may move before the
/// gate holding them goes: `GATE_FACTOR` × `answer`, at least
/// `STALL_QUIET`, at most the silent bound.
pub fn stall_bound(answer: Duration, server_timeout: Duration) -> Duration {
    answer
        .saturating_mul(GATE_FACTOR)
        .max(STALL_QUIET)
        .min(bound(answer, server_timeout))
}

/// Most events a connection's gates hold before its oldest expected server
/// bytes are given up (see `Gates::push`).
pub const MAX_PENDING: usize = 16_384;

/// Expected server bytes: the connection has `bytes` in all once they
/// came, which took `answer` in the recording (scaled by the speed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expect {
    pub bytes: u64,
    pub answer: Duration,
}

#[derive(Debug)]
struct Pending {
    g: u64,
    /// `None`: a client action.
    expect: Option<Expect>,
}

#[derive(Debug)]
struct Track {
    pending: VecDeque<Pending>,
    received: u64,
    /// Server bytes known missing (own waits that timed out).
    shortfall: u64,
    /// When the cursor last advanced or server bytes last arrived.
    moved: Instant,
    /// Set aside by a relaxation until it moves again.
    excluded: bool,
    waiting: bool,
}

impl Track {
    fn satisfied(&self, e: &Expect) -> bool {
        self.received.saturating_add(self.shortfall) >= e.bytes
    }
}

/// Why an action may not go yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blocked {
    /// The connection whose cursor holds it.
    pub on: usize,
    /// Its awaited server bytes in all and received (0, 0 for an action).
    pub expected: u64,
    pub received: u64,
    /// When the gate is released if nothing moves.
    pub until: Instant,
}

/// A connection set aside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Relaxed {
    pub conn: usize,
    pub expected: u64,
    pub received: u64,
    pub waited: Duration,
    pub reason: RelaxReason,
}

/// The gates of one copy of a causal pass.
#[derive(Debug)]
pub struct Gates {
    tracks: HashMap<usize, Track>,
    /// (cursor, conn) of every connection with pending events, not set aside.
    fronts: BTreeSet<(u64, usize)>,
    waiting: usize,
    last_move: Instant,
    server_timeout: Duration,
    /// How late the gates' timers have been woken lately past their grain:
    /// the delay a loaded host adds to every wait, the server's too. Each
    /// wake-up past a deadline takes the larger of its own lateness and
    /// seven eighths of this, so it fades once the load does.
    noise: Duration,
}

impl Gates {
    pub fn new(now: Instant, server_timeout: Duration) -> Self {
        Self {
            tracks: HashMap::new(),
            fronts: BTreeSet::new(),
            waiting: 0,
            last_move: now,
            server_timeout,
            noise: Duration::ZERO,
        }
    }

    /// The two first cursors: what `check` looks at. A change here is what
    /// waiters must be told of.
    pub fn head(&self) -> [Option<(u64, usize)>; 2] {
        let mut it = self.fronts.iter().copied();
        [it.next(), it.next()]
    }

    /// A connection of the log starts (its OPEN is read).
    pub fn open(&mut self, conn: usize, now: Instant) {
        self.tracks.entry(conn).or_insert(Track {
            pending: VecDeque::new(),
            received: 0,
            shortfall: 0,
            moved: now,
            excluded: false,
            waiting: false,
        });
    }

    /// Adds the next event of `conn`, in log order.
    ///
    /// Expected server bytes take no share of the look-ahead budget (a
    /// server behind the recording must not stop the reading); instead a
    /// connection holds at most `MAX_PENDING` events, and beyond that its
    /// oldest expected bytes are given up: returned as a relaxation.
    pub fn push(
        &mut self,
        conn: usize,
        g: u64,
        expect: Option<Expect>,
        now: Instant,
    ) -> Option<Relaxed> {
        let t = self.tracks.get_mut(&conn)?;
        if let Some(e) = &expect
            && t.pending.is_empty()
            && t.satisfied(e)
        {
            return None;
        }
        t.pending.push_back(Pending { g, expect });
        if t.pending.len() == 1 && !t.excluded {
            self.fronts.insert((g, conn));
        }
        if t.pending.len() <= MAX_PENDING {
            return None;
        }
        let Pending {
            expect: Some(e), ..
        } = *t.pending.front()?
        else {
            return None;
        };
        let given_up = Relaxed {
            conn,
            expected: e.bytes,
            received: t.received,
            waited: now.saturating_duration_since(t.moved),
            reason: RelaxReason::Silent,
        };
        // As if those bytes had come: the cursor moves past them.
        let shortfall = e.bytes.saturating_sub(t.received);
        self.shortfall(conn, shortfall, now);
        Some(given_up)
    }

    /// Pops what is done at the head of `conn`'s events; `upto` also pops
    /// every event up to that position (the action the client starts).
    fn advance(&mut self, conn: usize, upto: Option<u64>, now: Instant) {
        let Some(t) = self.tracks.get_mut(&conn) else {
            return;
        };
        let before = t.pending.front().map(|p| p.g);
        while let Some(p) = t.pending.front() {
            let done =
                upto.is_some_and(|u| p.g <= u) || p.expect.as_ref().is_some_and(|e| t.satisfied(e));
            if !done {
                break;
            }
            t.pending.pop_front();
        }
        let after = t.pending.front().map(|p| p.g);
        if before == after {
            return;
        }
        t.moved = now;
        self.last_move = now;
        if let Some(b) = before {
            self.fronts.remove(&(b, conn));
        }
        t.excluded = false;
        if let Some(a) = after {
            self.fronts.insert((a, conn));
        }
    }

    /// `conn` starts its action at `g`.
    pub fn acted(&mut self, conn: usize, g: u64, now: Instant) {
        self.advance(conn, Some(g), now);
        self.last_move = now;
    }

    /// `conn` has received `total` server bytes.
    pub fn received(&mut self, conn: usize, total: u64, now: Instant) {
        if let Some(t) = self.tracks.get_mut(&conn)
            && total > t.received
        {
            t.received = total;
            t.moved = now;
            self.last_move = now;
            self.advance(conn, None, now);
        }
    }

    /// `conn` now knows it lacks `shortfall` server bytes in all.
    pub fn shortfall(&mut self, conn: usize, shortfall: u64, now: Instant) {
        if let Some(t) = self.tracks.get_mut(&conn) {
            t.shortfall = shortfall;
            self.advance(conn, None, now);
        }
    }

    /// `conn` is done (closed, failed, finished): it holds nobody.
    pub fn end(&mut self, conn: usize) {
        if let Some(t) = self.tracks.remove(&conn) {
            if let Some(p) = t.pending.front() {
                self.fronts.remove(&(p.g, conn));
            }
            if t.waiting {
                self.waiting -= 1;
            }
        }
    }

    /// Whether `conn` is blocked on a gate (its own or another's), for the
    /// stall rule.
    pub fn set_waiting(&mut self, conn: usize, waiting: bool) {
        if let Some(t) = self.tracks.get_mut(&conn)
            && t.waiting != waiting
        {
            t.waiting = waiting;
            if waiting {
                self.waiting += 1;
            } else {
                self.waiting -= 1;
            }
        }
    }

    /// The cursor holding `conn`'s action at `g`, if any.
    fn holder(&self, conn: usize, g: u64) -> Option<(u64, usize)> {
        self.fronts
            .iter()
            .copied()
            .find(|&(_, c)| c != conn)
            .filter(|&(fg, _)| fg < g)
    }

    /// When the holder's gate is released if nothing moves, and why.
    fn deadline(&self, holder: usize) -> (Instant, RelaxReason, Expect) {
        let t = &self.tracks[&holder];
        let (expect, silent, stall) = match t.pending.front().and_then(|p| p.expect) {
            Some(e) => (
                e,
                bound(e.answer, self.server_timeout),
                stall_bound(e.answer, self.server_timeout),
            ),
            // An action that does not start: only the server timeout.
            None => (
                Expect {
                    bytes: 0,
                    answer: Duration::ZERO,
                },
                self.server_timeout,
                self.server_timeout,
            ),
        };
        let reason = if silent >= self.server_timeout {
            RelaxReason::Timeout
        } else {
            RelaxReason::Silent
        };
        let mut at = (t.moved + silent, reason);
        let stall = stall.max(self.noise.saturating_mul(NOISE_FACTOR));
        let stalled = self.last_move.max(t.moved) + stall;
        if self.waiting == self.tracks.len() && stalled < at.0 {
            at = (stalled, RelaxReason::Stalled);
        }
        (at.0, at.1, expect)
    }

    /// Whether `conn` may start its action at `g` now.
    pub fn check(&self, conn: usize, g: u64) -> Option<Blocked> {
        let (_, on) = self.holder(conn, g)?;
        let (until, _, expect) = self.deadline(on);
        let t = &self.tracks[&on];
        Some(Blocked {
            on,
            expected: expect.bytes,
            received: t.received,
            until,
        })
    }

    /// Releases the gate holding `conn`'s action at `g` if it is overdue.
    /// `late` is how long after its deadline (or after it began to wait,
    /// when the deadline had passed already) the waiter was woken: more
    /// than the timer's grain is the host's load, which lengthens the quiet
    /// spell a stall needs, this one's included.
    pub fn relax(&mut self, conn: usize, g: u64, now: Instant, late: Duration) -> Option<Relaxed> {
        let (fg, on) = self.holder(conn, g)?;
        if now < self.deadline(on).0 {
            return None;
        }
        let late = late.saturating_sub(TIMER_GRAIN);
        self.noise = late.max(self.noise - self.noise / 8);
        let (until, reason, expect) = self.deadline(on);
        if now < until {
            return None;
        }
        self.fronts.remove(&(fg, on));
        let t = self.tracks.get_mut(&on)?;
        t.excluded = true;
        let waited = now.saturating_duration_since(t.moved);
        // What moved since does not count as progress of the set-aside one.
        self.last_move = now;
        Some(Relaxed {
            conn: on,
            expected: expect.bytes,
            received: t.received,
            waited,
            reason,
        })
    }
}

#[cfg(test)]
mod tests;
