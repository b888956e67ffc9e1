//! Tests of `timeline`.

use super::*;

const S: u64 = NS_PER_SEC;

fn instants(intervals: &[(u64, Option<u64>)]) -> Instants {
    let mut i = Instants::default();
    for &(open, close) in intervals {
        i.opens.push(open);
        if let Some(c) = close {
            i.closes.push(c.max(open));
        }
    }
    i.opens.sort_unstable();
    i.closes.sort_unstable();
    i
}

#[test]
fn buckets_and_online_counts() {
    let mut t = Timeline::default();
    t.data(100, Direction::C2s, 5);
    t.data(S - 1, Direction::C2s, 1);
    t.data(2 * S, Direction::S2c, 7);
    let intervals = instants(&[
        // open 0.5 s, closed 2.5 s
        (S / 2, Some(2 * S + S / 2)),
        // open and closed inside second 1
        (S + 1, Some(S + 2)),
        // open at 1.5 s, never closed
        (S + S / 2, None),
    ]);
    let f = t.finish(true, 3 * S, 3 * S, &intervals);
    let got: Vec<_> = f
        .rows
        .iter()
        .map(|r| {
            (
                r.second,
                r.seconds,
                r.bytes_c2s,
                r.bytes_s2c,
                r.chunks_c2s,
                r.chunks_s2c,
                r.online,
                r.online_peak,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (0, 1, 6, 0, 2, 0, 1, 1),
            (1, 1, 0, 0, 0, 0, 2, 2),
            (2, 1, 0, 7, 0, 1, 1, 2),
            (3, 1, 0, 0, 0, 0, 1, 1),
        ]
    );
    assert_eq!(f.peak_online, 2);
    assert_eq!((f.seconds, f.peak_bytes, f.p95_bytes), (4, [6, 7], [6, 7]));
}

#[test]
fn zero_length_connection_counts_in_the_peak() {
    let t = Timeline::default();
    let f = t.finish(true, 5, 5, &instants(&[(5, Some(5))]));
    assert_eq!((f.rows[0].online, f.rows[0].online_peak), (0, 1));
    assert_eq!(f.peak_online, 1);
}

#[test]
fn long_recordings_get_wide_rows_and_keep_per_second_peaks() {
    // 50 h: 180,000 seconds in rows of 180 s.
    let mut t = Timeline::default();
    t.data(0, Direction::C2s, 10);
    t.data(179 * S, Direction::C2s, 5);
    t.data(50 * 3600 * S - 1, Direction::S2c, 3);
    let f = t.finish(
        true,
        50 * 3600 * S - 1,
        50 * 3600 * S - 1,
        &instants(&[(0, None)]),
    );
    assert_eq!(f.rows.len() as u64, MAX_TIMELINE_ROWS);
    assert_eq!((f.rows[0].seconds, f.rows[0].bytes_c2s), (180, 15));
    let last = f.rows[f.rows.len() - 1];
    assert_eq!(
        (last.second, last.seconds, last.bytes_s2c),
        (179_820, 180, 3)
    );
    assert_eq!((last.online, last.online_peak), (1, 1));
    assert_eq!(f.peak_bytes, [10, 3]);
    assert_eq!(f.p95_bytes, [0, 0]);
}

#[test]
fn any_duration_gives_at_most_the_row_cap() {
    for duration in [0, S, 999 * S, 1000 * S, 1001 * S, 7 * 86_400 * S, u64::MAX] {
        let mut t = Timeline::default();
        t.data(duration, Direction::C2s, 1);
        let f = t.finish(true, duration, duration, &instants(&[(duration, None)]));
        assert!(f.rows.len() as u64 <= MAX_TIMELINE_ROWS, "{duration}");
        let last = f.rows[f.rows.len() - 1];
        assert_eq!(last.second + last.seconds, duration / S + 1, "{duration}");
        assert_eq!(f.peak_online, 1, "{duration}");
    }
    let mut t = Timeline::default();
    t.data(MAX_TIMELINE_SECONDS * S, Direction::C2s, 1);
    assert_eq!(t.clipped(), 1);
    assert!(
        Timeline::default()
            .finish(false, 0, 0, &Instants::default())
            .rows
            .is_empty()
    );
}
