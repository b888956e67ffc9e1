//! The collector: worst-first order, the cap with its omitted totals, and
//! relaxations counted and listed.

use std::time::Duration;

use super::*;
use crate::replay::report::{RelaxReason, ReplayState};
use crate::replay::verify::Divergence;

fn conn(copy: u32, rec_conn: u64) -> ConnReport {
    ConnReport {
        recording: "r".into(),
        rec_conn,
        copy,
        opened: true,
        bytes_sent: 10,
        bytes_received: 20,
        ..ConnReport::default()
    }
}

fn empty_report() -> ReplayReport {
    ReplayReport::blank("rp-1", ReplayState::Running)
}

fn late(max_ms: u64) -> Lateness {
    let mut l = Lateness::default();
    l.record(Duration::from_millis(max_ms));
    l
}

fn filled(c: &Collector) -> ReplayReport {
    let mut r = empty_report();
    c.fill(&mut r);
    r
}

#[test]
fn worst_first_in_the_documented_order() {
    let mut col = Collector::new();
    let divergence = Divergence {
        offset: 1,
        expected: vec![1],
        received: vec![2],
        reason: "different bytes".into(),
    };
    let cases: Vec<(u64, ConnReport)> = vec![
        (9, conn(0, 9)),
        (
            7,
            ConnReport {
                lateness: late(5),
                ..conn(0, 7)
            },
        ),
        (
            6,
            ConnReport {
                lateness: late(50),
                ..conn(0, 6)
            },
        ),
        (
            5,
            ConnReport {
                relaxations: 1,
                ..conn(0, 5)
            },
        ),
        (
            4,
            ConnReport {
                server_timeouts: 1,
                relaxations: 0,
                ..conn(0, 4)
            },
        ),
        (
            3,
            ConnReport {
                server_timeouts: 2,
                ..conn(0, 3)
            },
        ),
        (
            2,
            ConnReport {
                closed_early: Some((Duration::ZERO, 0)),
                ..conn(0, 2)
            },
        ),
        (
            1,
            ConnReport {
                divergence: Some(divergence),
                ..conn(0, 1)
            },
        ),
        (
            0,
            ConnReport {
                error: Some("connect failed".into()),
                ..conn(0, 0)
            },
        ),
        // Ties: lower copy first, then connection id.
        (10, conn(1, 1)),
        (8, conn(0, 10)),
    ];
    for (_, c) in cases.into_iter().rev() {
        col.add(c);
    }
    let r = filled(&col);
    let order: Vec<(u32, u64)> = r.connections.iter().map(|c| (c.copy, c.rec_conn)).collect();
    assert_eq!(
        order,
        [
            (0, 0),
            (0, 1),
            (0, 2),
            (0, 3),
            (0, 4),
            (0, 5),
            (0, 6),
            (0, 7),
            (0, 9),
            (0, 10),
            (1, 1)
        ]
    );
    assert_eq!(
        (
            r.connections_total,
            r.divergences,
            r.closed_early,
            r.server_timeouts
        ),
        (11, 1, 1, 3)
    );
    assert_eq!(r.omitted, Omitted::default());
    assert_eq!(r.lateness.samples, 2);
    assert_eq!(r.lateness.max_us, 50_000);
}

#[test]
fn keeps_only_the_worst_and_sums_the_rest() {
    let mut col = Collector::new();
    let n = REPORT_CONNECTIONS as u64 * 3 + 7;
    for i in 0..n {
        let mut c = conn(0, i);
        // Every 10th connection timed out (301 of them).
        if i % 10 == 0 {
            c.server_timeouts = 1 + i % 7;
        }
        if i == n - 1 {
            c.error = Some("reset".into());
        }
        col.add(c);
    }
    let r = filled(&col);
    assert_eq!(r.connections_total, n);
    assert_eq!(r.connections.len(), REPORT_CONNECTIONS);
    assert_eq!(r.connections[0].rec_conn, n - 1, "the failed one first");
    let timed_out = (0..n).filter(|i| i % 10 == 0).count();
    assert!(
        r.connections[1..=timed_out]
            .iter()
            .all(|c| c.server_timeouts > 0)
    );
    assert!(
        r.connections[timed_out + 1..]
            .iter()
            .all(|c| c.server_timeouts == 0)
    );
    // The clean ones kept are the lowest ids.
    let clean: Vec<u64> = r.connections[timed_out + 1..]
        .iter()
        .map(|c| c.rec_conn)
        .collect();
    assert!(clean.windows(2).all(|w| w[0] < w[1]));
    let omitted = n - REPORT_CONNECTIONS as u64;
    assert_eq!(
        r.omitted,
        Omitted {
            count: omitted,
            failed: 0,
            divergences: 0,
            closed_early: 0,
            server_timeouts: 0,
            bytes_sent: 10 * omitted,
            bytes_received: 20 * omitted,
        }
    );
    let listed: u64 = r.connections.iter().map(|c| c.server_timeouts).sum();
    assert_eq!(r.server_timeouts, listed + r.omitted.server_timeouts);
}

#[test]
fn evicted_detail_moves_into_the_omitted_totals() {
    let mut col = Collector::new();
    for i in 0..REPORT_CONNECTIONS as u64 {
        col.add(ConnReport {
            server_timeouts: 1,
            ..conn(0, i)
        });
    }
    // Worse ones push the mildest out, with their timeouts.
    for i in 0..5 {
        col.add(ConnReport {
            error: Some("x".into()),
            ..conn(1, i)
        });
    }
    col.add(conn(2, 0));
    let r = filled(&col);
    assert_eq!(r.connections.len(), REPORT_CONNECTIONS);
    assert_eq!(r.omitted.count, 6);
    assert_eq!(r.omitted.server_timeouts, 5);
    assert_eq!(r.omitted.failed, 0);
    assert_eq!(r.server_timeouts, REPORT_CONNECTIONS as u64);
    assert!(r.connections[..5].iter().all(|c| c.error.is_some()));
    // The evicted were the highest ids among equals.
    let last = r.connections.last().map(|c| c.rec_conn);
    assert_eq!(last, Some(REPORT_CONNECTIONS as u64 - 6));
}

#[test]
fn relaxations_are_counted_and_the_first_listed() {
    let mut col = Collector::new();
    for i in 0..KEPT_RELAXATIONS as u64 + 20 {
        col.relaxation(Relaxation {
            recording: "r".into(),
            awaited_conn: i,
            copy: 0,
            pass: 0,
            expected: 10,
            received: 3,
            waited: Duration::from_millis(40),
            reason: RelaxReason::Silent,
            at: Duration::from_secs(1),
            held_conn: i + 1,
        });
    }
    let r = filled(&col);
    assert_eq!(r.relaxations, KEPT_RELAXATIONS as u64 + 20);
    assert_eq!(r.relaxed.len(), KEPT_RELAXATIONS);
    assert_eq!(r.relaxed[0].awaited_conn, 0);
    assert_eq!(
        r.relaxed[KEPT_RELAXATIONS - 1].awaited_conn,
        KEPT_RELAXATIONS as u64 - 1
    );
    let mut totals = empty_report();
    col.fill_totals(&mut totals);
    assert_eq!(totals.relaxations, r.relaxations);
    assert!(totals.relaxed.is_empty() && totals.connections.is_empty());
}

#[test]
fn udp_sessions_are_summed_in_datagrams() {
    let mut col = Collector::new();
    assert_eq!(filled(&col).udp, None, "no UDP session, no datagram totals");
    col.add(conn(0, 1));
    for (rec_conn, missing) in [(2, 0), (3, 2)] {
        col.add(ConnReport {
            udp: Some(UdpCounts {
                sent: 5,
                received: 5 - missing,
                expected_sent: 5,
                expected_received: 5,
                missing,
                refused: 1,
            }),
            ..conn(0, rec_conn)
        });
    }
    let r = filled(&col);
    assert_eq!(r.udp_sessions, 2);
    let u = r.udp.unwrap();
    assert_eq!((u.sent, u.received, u.expected_received), (10, 8, 10));
    assert_eq!((u.missing, u.refused), (2, 2));
    let mut summary = empty_report();
    col.fill_totals(&mut summary);
    assert_eq!(summary.summary().udp, Some(u), "listings keep the totals");
}
