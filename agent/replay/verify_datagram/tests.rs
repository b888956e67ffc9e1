//! The datagram verifier's classifications: each kind alone, loss counted,
//! order told apart from content, and both sides arriving in any order.

use super::*;

fn b(s: &'static [u8]) -> Bytes {
    Bytes::from_static(s)
}

/// A verifier that read `recorded` first, then received `live`.
fn run(recorded: &[&'static [u8]], live: &[&'static [u8]]) -> DatagramVerifier {
    let mut v = DatagramVerifier::new(recorded.len() as u64);
    for d in recorded {
        v.expect(b(d));
    }
    for d in live {
        v.feed(d);
    }
    v
}

#[test]
fn the_same_datagrams_in_order_match() {
    let v = run(&[b"a", b"bb", b"a"], &[b"a", b"bb", b"a"]);
    assert_eq!(v.finish(), None);
    assert_eq!(v.counts().matched, 3);
}

#[test]
fn received_datagrams_wait_for_the_recorded_ones() {
    let mut v = DatagramVerifier::new(2);
    v.feed(b"x");
    assert!(v.needs_expected());
    assert_eq!(v.backlog(), 1);
    v.expect(b(b"x"));
    assert!(!v.needs_expected());
    v.expect(b(b"y"));
    v.feed(b"y");
    assert_eq!(v.finish(), None);
}

#[test]
fn a_lost_datagram_is_missing_and_counted() {
    let v = run(&[b"1", b"2", b"3", b"4"], &[b"1", b"3", b"4"]);
    let c = v.counts();
    assert_eq!((c.matched, c.missing, c.reordered), (3, 1, 0), "{c:?}");
    let d = v.finish().unwrap();
    assert_eq!((d.offset, d.expected.as_slice()), (1, &b"2"[..]));
    assert!(d.reason.contains("datagram 1 missing"), "{}", d.reason);
    assert!(d.reason.contains("1 missing"), "{}", d.reason);
}

#[test]
fn datagrams_never_read_are_missing_too() {
    // The server sent two of five; the rest were never handed in.
    let mut v = DatagramVerifier::new(5);
    v.expect(b(b"1"));
    v.feed(b"1");
    v.expect(b(b"2"));
    v.feed(b"2");
    assert_eq!(v.counts().missing, 3);
    assert!(v.finish().unwrap().reason.contains("missing"));
}

#[test]
fn an_extra_datagram_is_extra() {
    let v = run(&[b"1", b"2"], &[b"1", b"2", b"3"]);
    let c = v.counts();
    assert_eq!((c.extra, c.missing, c.different), (1, 0, 0));
    let d = v.finish().unwrap();
    assert_eq!((d.offset, d.received.as_slice()), (2, &b"3"[..]));
    assert!(d.reason.contains("more datagrams"), "{}", d.reason);
}

#[test]
fn a_changed_datagram_is_different_with_excerpts_from_the_first_byte() {
    let v = run(
        &[b"hello", b"score=41", b"bye"],
        &[b"hello", b"score=42", b"bye"],
    );
    let c = v.counts();
    assert_eq!((c.different, c.missing, c.extra), (1, 0, 0));
    let d = v.finish().unwrap();
    assert_eq!(d.offset, 1);
    assert_eq!(
        (d.expected.as_slice(), d.received.as_slice()),
        (&b"1"[..], &b"2"[..])
    );
    assert!(
        d.reason.contains("datagram 1 differs from byte 7"),
        "{}",
        d.reason
    );
}

#[test]
fn the_same_datagrams_in_another_order_are_an_order_difference() {
    let v = run(&[b"1", b"2", b"3", b"4"], &[b"1", b"3", b"2", b"4"]);
    let c = v.counts();
    assert_eq!(
        (c.matched, c.reordered, c.different, c.missing),
        (4, 1, 0, 0)
    );
    let d = v.finish().unwrap();
    assert!(d.reason.starts_with("order differs"), "{}", d.reason);
    assert_eq!(d.offset, 1, "the recorded datagram 1 came after datagram 2");
    // Received first, recorded read later: the same.
    let mut v = DatagramVerifier::new(3);
    for d in [b"c", b"a", b"b"] {
        v.feed(d);
    }
    for d in [b"a", b"b", b"c"] {
        v.expect(b(d));
    }
    let c = v.counts();
    assert_eq!((c.matched, c.reordered, c.extra), (3, 1, 0), "{c:?}");
}

#[test]
fn giving_up_is_told_not_counted_as_loss() {
    let mut v = DatagramVerifier::new(10);
    v.expect(b(b"1"));
    v.feed(b"1");
    v.feed(b"2");
    v.stop_expecting();
    assert!(!v.needs_expected());
    let d = v.finish().unwrap();
    assert!(
        d.reason.contains("not compared beyond datagram 1"),
        "{}",
        d.reason
    );
}

#[test]
fn unmatched_datagrams_are_bounded() {
    let mut v = DatagramVerifier::new(MAX_PENDING as u64 + 10);
    for i in 0..MAX_PENDING + 10 {
        v.expect(Bytes::from(format!("{i}")));
    }
    assert_eq!(v.expected.len(), MAX_PENDING);
    let c = v.counts();
    assert_eq!(c.missing, MAX_PENDING as u64 + 10);
    assert_eq!(v.finish().unwrap().offset, 0, "the first lost one is named");
}

#[test]
fn a_lost_and_a_changed_datagram_are_told_apart_by_place() {
    // The server lost reply 1 and changed reply 3.
    let v = run(
        &[b"r0", b"r1", b"r2", b"r3", b"r4"],
        &[b"r0", b"r2", b"X3", b"r4"],
    );
    let c = v.counts();
    assert_eq!(
        (c.matched, c.different, c.missing, c.extra),
        (3, 1, 1, 0),
        "{c:?}"
    );
    let d = v.finish().unwrap();
    assert_eq!(d.offset, 3, "{}", d.reason);
    assert!(
        d.reason.contains("datagram 3 differs from byte 0"),
        "{}",
        d.reason
    );
    assert!(
        d.reason.contains("1 different, 1 missing, 0 extra"),
        "{}",
        d.reason
    );
    // Received first, recorded read later: the same places.
    let mut v = DatagramVerifier::new(5);
    for d in [&b"r0"[..], b"r2", b"X3", b"r4"] {
        v.feed(d);
    }
    for d in [b"r0", b"r1", b"r2", b"r3", b"r4"] {
        v.expect(b(d));
    }
    assert_eq!(v.finish().unwrap().offset, 3);
}

#[test]
fn an_extra_datagram_is_placed_after_the_one_before_it() {
    let v = run(&[b"a", b"b", b"c"], &[b"a", b"b", b"dup", b"c"]);
    let c = v.counts();
    assert_eq!((c.matched, c.extra, c.different), (3, 1, 0), "{c:?}");
    let d = v.finish().unwrap();
    assert_eq!((d.offset, d.received.as_slice()), (2, &b"dup"[..]));
    assert!(
        d.reason.contains("received after datagram 1"),
        "{}",
        d.reason
    );
}

#[test]
fn remembered_matches_stay_bounded() {
    let mut v = DatagramVerifier::new(10_000);
    for i in 0..10_000u32 {
        v.expect(Bytes::from(i.to_be_bytes().to_vec()));
        v.feed(&i.to_be_bytes());
    }
    assert_eq!(
        v.matches.len(),
        1,
        "nothing unmatched: only the last is kept"
    );
    assert_eq!(v.finish(), None);
}
