//! Gate decisions driven with instants: order kept, silent servers set
//! aside, stalls, the server timeout, and the pending cap.

use super::*;

const ST: Duration = Duration::from_secs(5);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn expect(bytes: u64, answer: Duration) -> Option<Expect> {
    Some(Expect { bytes, answer })
}

#[test]
fn bounds_scale_with_the_recorded_answer_and_stop_at_the_server_timeout() {
    assert_eq!(bound(Duration::ZERO, ST), GATE_FLOOR);
    assert_eq!(bound(ms(10), ST), ms(40) + GATE_FLOOR);
    assert_eq!(bound(ms(10_000), ST), ST);
    assert_eq!(stall_bound(Duration::ZERO, ST), STALL_QUIET);
    assert_eq!(stall_bound(ms(10), ST), ms(40));
    assert_eq!(stall_bound(ms(10_000), ST), ST);
}

#[test]
fn an_action_waits_for_earlier_events_of_other_connections_only() {
    let t0 = Instant::now();
    let mut g = Gates::new(t0, ST);
    g.open(0, t0);
    g.open(1, t0);
    g.push(0, 0, None, t0); // A sends
    g.push(0, 1, expect(10, ms(2)), t0); // A's answer
    g.push(1, 2, None, t0); // B sends
    g.push(0, 3, None, t0); // A sends again
    // A's first action is free; B is held by A's cursor.
    assert_eq!(g.check(0, 0), None);
    assert_eq!(g.check(1, 2).map(|b| b.on), Some(0));
    g.acted(0, 0, t0);
    let b = g.check(1, 2).unwrap();
    assert_eq!((b.on, b.expected, b.received), (0, 10, 0));
    assert_eq!(b.until, t0 + ms(8) + GATE_FLOOR);
    g.received(0, 6, t0 + ms(5));
    assert!(g.check(1, 2).is_some(), "6 of 10 bytes");
    g.received(0, 10, t0 + ms(6));
    assert_eq!(g.check(1, 2), None);
    // A's next action (g 3) waits for B's (g 2).
    assert_eq!(g.check(0, 3).map(|b| b.on), Some(1));
    g.acted(1, 2, t0 + ms(7));
    assert_eq!(g.check(0, 3), None);
}

#[test]
fn a_silent_server_is_set_aside_until_it_moves() {
    let t0 = Instant::now();
    let mut g = Gates::new(t0, ST);
    for c in 0..3 {
        g.open(c, t0);
    }
    g.push(0, 0, None, t0);
    g.push(0, 1, expect(5, ms(1)), t0);
    g.push(0, 2, None, t0);
    g.push(0, 3, expect(9, ms(1)), t0);
    g.push(1, 4, None, t0);
    g.push(2, 5, None, t0); // C: not waiting, so no stall
    g.acted(0, 0, t0);
    assert_eq!(
        g.relax(1, 4, t0 + ms(23), Duration::ZERO),
        None,
        "not overdue yet"
    );
    let r = g.relax(1, 4, t0 + ms(24), Duration::ZERO).unwrap();
    assert_eq!((r.conn, r.expected, r.received), (0, 5, 0));
    assert_eq!(r.reason, RelaxReason::Silent);
    // A is set aside: B goes, though A's later events are still pending.
    assert_eq!(g.check(1, 4), None);
    // A's answer comes: it holds the others again, from its cursor on.
    g.received(0, 5, t0 + ms(40));
    assert_eq!(g.check(1, 4).map(|b| b.on), Some(0));
}

#[test]
fn when_everyone_waits_the_oldest_gate_goes_after_a_quiet_spell() {
    let t0 = Instant::now();
    let mut g = Gates::new(t0, ST);
    g.open(0, t0);
    g.open(1, t0);
    g.push(0, 0, None, t0);
    g.push(0, 1, expect(5, ms(200)), t0);
    g.push(0, 2, None, t0);
    g.push(1, 3, None, t0);
    g.acted(0, 0, t0);
    assert_eq!(g.check(1, 3).unwrap().until, t0 + ms(800) + GATE_FLOOR);
    g.set_waiting(0, true);
    g.set_waiting(1, true);
    let b = g.check(1, 3).unwrap();
    assert_eq!(b.until, t0 + ms(800), "no floor when everyone waits");
    assert_eq!(g.relax(1, 3, t0 + ms(799), Duration::ZERO), None);
    let r = g.relax(1, 3, t0 + ms(800), Duration::ZERO).unwrap();
    assert_eq!(r.reason, RelaxReason::Stalled);
}

#[test]
fn shortfall_and_end_release_what_can_never_come() {
    let t0 = Instant::now();
    let mut g = Gates::new(t0, ST);
    g.open(0, t0);
    g.open(1, t0);
    g.push(0, 0, expect(100, ms(20)), t0);
    g.push(1, 1, None, t0);
    g.shortfall(0, 100, t0);
    assert_eq!(g.check(1, 1), None);
    g.push(0, 2, expect(150, ms(20)), t0);
    g.push(1, 3, None, t0);
    assert!(g.check(1, 3).is_some());
    g.end(0);
    assert_eq!(g.check(1, 3), None);
    // Expected bytes already there are not even queued.
    g.received(1, 50, t0);
    g.push(1, 4, expect(40, ms(20)), t0);
    assert_eq!(g.head(), [Some((1, 1)), None]);
}

#[test]
fn the_server_timeout_is_the_last_word() {
    let t0 = Instant::now();
    let mut g = Gates::new(t0, ms(50));
    g.open(0, t0);
    g.open(1, t0);
    g.push(0, 0, expect(5, ms(10_000)), t0);
    g.push(1, 1, None, t0);
    let r = g.relax(1, 1, t0 + ms(50), Duration::ZERO).unwrap();
    assert_eq!(r.reason, RelaxReason::Timeout);
}

#[test]
fn a_connection_far_behind_its_recording_gives_up_its_oldest_bytes() {
    let t0 = Instant::now();
    let mut g = Gates::new(t0, Duration::from_secs(5));
    g.open(0, t0);
    let e = |bytes| {
        Some(Expect {
            bytes,
            answer: Duration::ZERO,
        })
    };
    for i in 0..MAX_PENDING as u64 {
        assert_eq!(g.push(0, i, e(i + 1), t0), None);
    }
    let r = g
        .push(0, MAX_PENDING as u64, e(MAX_PENDING as u64 + 1), t0)
        .unwrap();
    assert_eq!((r.conn, r.expected, r.received), (0, 1, 0));
    assert_eq!(g.head(), [Some((1, 0)), None]);
}

/// Two connections, both waiting: 1's action at 3 is held by 0's server
/// bytes (recorded as answered at once) after 0's action at `t0`.
fn both_waiting(t0: Instant) -> Gates {
    let mut g = Gates::new(t0, ST);
    g.open(0, t0);
    g.open(1, t0);
    g.push(0, 0, None, t0);
    g.push(0, 1, expect(5, Duration::ZERO), t0);
    g.push(1, 3, None, t0);
    g.acted(0, 0, t0);
    g.set_waiting(0, true);
    g.set_waiting(1, true);
    g
}

#[test]
fn a_late_wake_up_lengthens_the_quiet_spell_a_stall_needs() {
    let t0 = Instant::now();
    let mut g = both_waiting(t0);
    assert_eq!(g.check(1, 3).unwrap().until, t0 + STALL_QUIET);
    // Woken 6 ms late on a loaded host: the server is as late, so the
    // quiet spell must last 4 × 5 ms (past the timer's grain) instead.
    let woken = t0 + STALL_QUIET + ms(6);
    assert_eq!(g.relax(1, 3, woken, ms(6)), None, "not a stall yet");
    assert_eq!(g.check(1, 3).unwrap().until, t0 + ms(20));
    let r = g.relax(1, 3, t0 + ms(20), Duration::ZERO).unwrap();
    assert_eq!(r.reason, RelaxReason::Stalled);
    // Never past the silent bound, however loaded the host.
    let mut g = both_waiting(t0);
    assert_eq!(g.relax(1, 3, t0 + STALL_QUIET, ms(10)), None);
    assert_eq!(g.check(1, 3).unwrap().until, t0 + GATE_FLOOR);
    let r = g.relax(1, 3, t0 + GATE_FLOOR, Duration::ZERO).unwrap();
    assert_eq!(r.reason, RelaxReason::Silent);
}
