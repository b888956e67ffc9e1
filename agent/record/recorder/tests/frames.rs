//! The frames a tap message becomes: a connection's OPEN at first sight
//! (mid-session when it was open before the recording), again when it
//! goes on in a new segment, and a clock that never runs backwards.

use super::*;

#[test]
fn first_sight_of_a_connection_writes_its_open() {
    let start = Instant::now();
    let before = start - Duration::from_secs(1);
    let mut books = crate::record::frames::Books::default();
    let tap = TapMsg {
        conn: meta(7, before),
        ts_ns: 5_000_000,
        kind: TapKind::Data(Direction::C2s, Bytes::from_static(b"hi")),
        permit: None,
    };
    let frames = frames_for(&tap, start, &mut books);
    assert_eq!(frames.len(), 2);
    match &frames[0].body {
        FrameBody::Open(o) => assert!(o.mid_session),
        other => panic!("{other:?}"),
    }
    assert_eq!(frames[1].ts_ns, 5_000_000);
    // Second message: no new OPEN, and the clock never runs backwards.
    let tap = TapMsg {
        conn: meta(7, before),
        ts_ns: 1,
        kind: TapKind::Close("client closed".into()),
        permit: None,
    };
    let frames = frames_for(&tap, start, &mut books);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].ts_ns, 5_000_000);
}

#[test]
fn a_connection_continued_in_a_new_segment_opens_again_mid_session() {
    let start = Instant::now();
    let mut books = crate::record::frames::Books::default();
    let msg = |ts_ns, kind| TapMsg {
        conn: meta(3, start + Duration::from_millis(1)),
        ts_ns,
        kind,
        permit: None,
    };
    let data = || TapKind::Data(Direction::C2s, Bytes::from_static(b"x"));
    let first = frames_for(&msg(10, data()), start, &mut books);
    assert!(matches!(&first[0].body, FrameBody::Open(o) if !o.mid_session));
    // The segment rotates: the connection's next message opens it again.
    books.known.clear();
    let again = frames_for(&msg(20, data()), start, &mut books);
    assert!(matches!(&again[0].body, FrameBody::Open(o) if o.mid_session));
    assert_eq!(books.reopened, 1);
    let close = frames_for(&msg(30, TapKind::Close("done".into())), start, &mut books);
    assert_eq!(close.len(), 1);
    assert!(books.live.is_empty(), "a closed connection is forgotten");
}
