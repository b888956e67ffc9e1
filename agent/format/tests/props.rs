//! Proptests: arbitrary frame sequences round-trip, and arbitrary cuts and
//! flipped bytes are reported as damage.

use std::io::Cursor;

use proptest::collection::vec;
use proptest::prelude::*;

use super::damage::assert_detected;
use super::*;

fn arb_dir() -> impl Strategy<Value = Direction> {
    prop_oneof![Just(Direction::C2s), Just(Direction::S2c)]
}

fn arb_frame() -> impl Strategy<Value = Frame> {
    let open = (
        any::<String>(),
        any::<String>(),
        any::<bool>(),
        any::<i64>(),
    )
        .prop_map(|(client, upstream, mid_session, opened_unix_ns)| {
            let proxy_id = "p1".into();
            FrameBody::Open(OpenInfo {
                client,
                proxy_id,
                upstream,
                mid_session,
                opened_unix_ns,
                transport: Transport::Tcp,
            })
        });
    let body = prop_oneof![
        open,
        (arb_dir(), vec(any::<u8>(), 0..64)).prop_map(|(dir, p)| FrameBody::Data {
            dir,
            payload: Bytes::from(p)
        }),
        arb_dir().prop_map(|dir| FrameBody::HalfClose { dir }),
        any::<String>().prop_map(|reason| FrameBody::Close { reason }),
        (arb_dir(), any::<u64>(), any::<String>())
            .prop_map(|(dir, bytes, reason)| FrameBody::Loss { dir, bytes, reason }),
        any::<String>().prop_map(|text| FrameBody::Annotation { text }),
    ];
    (0u64..4, any::<u64>(), body).prop_map(|(conn, ts_ns, body)| Frame { conn, ts_ns, body })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn arbitrary_frames_round_trip(frames in vec(arb_frame(), 0..12), finish: bool) {
        let w = write(&frames, finish);
        let (got, end) = read_all(Cursor::new(&w.bytes)).unwrap();
        prop_assert_eq!(got, frames);
        match w.footer {
            Some(footer) => prop_assert_eq!(end, End::Complete(footer)),
            None => prop_assert!(matches!(end, End::Truncated { cut_bytes: 0, .. }), "{:?}", end),
        }
    }

    #[test]
    fn arbitrary_cut_keeps_the_complete_prefix(frames in vec(arb_frame(), 1..8), cut in any::<prop::sample::Index>()) {
        let w = write(&frames, false);
        let cut = w.starts[0] as usize + cut.index(w.bytes.len() - w.starts[0] as usize);
        let (got, end) = read_all(Cursor::new(&w.bytes[..cut])).unwrap();
        let complete = w.starts.iter().filter(|&&s| s <= cut as u64).count() - 1;
        prop_assert_eq!(got, frames[..complete].to_vec());
        let boundary = w.starts[complete];
        prop_assert_eq!(end, End::Truncated { valid_bytes: boundary, cut_bytes: cut as u64 - boundary });
    }

    #[test]
    fn arbitrary_flip_is_detected(frames in vec(arb_frame(), 1..8), pos in any::<prop::sample::Index>(), mask in 1u8..=255) {
        let mut w = write(&frames, true);
        with_trailer_start(&mut w);
        let pos = pos.index(w.bytes.len());
        let mut damaged = w.bytes.clone();
        damaged[pos] ^= mask;
        assert_detected(&w, &frames, &damaged, pos);
    }
}
