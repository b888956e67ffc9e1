//! The rewriter: captures learned on both sides, what a client message
//! waits for, rewrites of every kind (raw, int, shift, regex, anywhere),
//! the length prefix and checksums fixed after them, ignores, replay-scope
//! sharing, and misses counted (never a panic) whatever the bytes.

use std::sync::Arc;

use proptest::collection::vec;
use proptest::prelude::*;

use super::*;
use crate::format::Direction::{C2s, S2c};

fn rewriter(text: &str) -> ConnRewriter {
    ConnRewriter::new(Arc::new(rules(text)), Arc::new(SharedCaptures::new()))
}

const A: &[u8; 8] = b"AAAAAAAA";
const B: &[u8; 8] = b"BBBBBBBB";

#[test]
fn the_game_protocol_gets_the_live_token_sequence_and_checksum() {
    let mut rw = rewriter(GAME_RULES);
    rw.recorded(S2c, &framed(&login(A, 100)));
    let recorded = framed(&action(A, 101, b"move north"));
    assert_eq!(rw.needs(&recorded), ["token", "seq0"]);
    assert!(rw.waits(&recorded));

    // Without the live values the recorded bytes go out, counted as missed.
    assert_eq!(rw.rewrite_c2s(&recorded), recorded);
    assert_eq!(
        (rw.stats().rewrite[0].missed, rw.stats().rewrite[1].missed),
        (1, 1)
    );

    rw.live(S2c, &framed(&login(B, 5000)));
    assert!(rw.needs(&recorded).is_empty());
    let sent = rw.rewrite_c2s(&recorded);
    assert_eq!(sent, framed(&action(B, 5001, b"move north")));

    let s = rw.stats();
    assert_eq!(
        (s.capture[0].learned_recorded, s.capture[0].learned_live),
        (1, 1)
    );
    assert_eq!((s.rewrite[0].matched, s.rewrite[0].applied), (2, 1));
    assert_eq!((s.rewrite[1].applied, s.rewrite[1].missed), (1, 1));
    assert_eq!(s.checksum[0].checksums_fixed, 2);
    // A server message of another type matches nothing.
    rw.recorded(S2c, &framed(b"\x09hello"));
    assert_eq!(rw.stats().capture[0].matched, 2, "one recorded, one live");
}

#[test]
fn ignored_ranges_are_in_wire_bytes() {
    let mut rw = rewriter(GAME_RULES);
    let answer = framed(&login(A, 1));
    // Body offset 1, 12 bytes; the u16 prefix puts it at wire offset 3.
    assert_eq!(rw.ignored(S2c, &answer), vec![3..15]);
    assert!(rw.ignored(C2s, &answer).is_empty());
    assert!(rw.ignored(S2c, &framed(b"\x02short")).is_empty());
    let s = rw.stats().ignore[0];
    assert_eq!((s.matched, s.bytes_ignored, s.missed), (2, 12, 1));
}

#[test]
fn a_renewed_token_is_waited_for() {
    let mut rw = rewriter(GAME_RULES);
    rw.recorded(S2c, &framed(&login(A, 1)));
    rw.live(S2c, &framed(&login(B, 7)));
    let act = framed(&action(A, 2, b""));
    assert!(rw.needs(&act).is_empty());
    rw.recorded(S2c, &framed(&login(b"CCCCCCCC", 1)));
    assert_eq!(
        rw.needs(&act),
        ["token", "seq0"],
        "the live server has not renewed yet"
    );
    rw.live(S2c, &framed(&login(b"DDDDDDDD", 7)));
    assert!(rw.needs(&act).is_empty());
}

#[test]
fn replay_scope_values_are_shared_by_connections() {
    let rules = Arc::new(rules(
        r#"
[[capture]]
name = "world"
direction = "s2c"
field = { offset = 0, int = "u16be" }
scope = "replay"

[[rewrite]]
field = { offset = 0, int = "u16be" }
from = "world"
"#,
    ));
    let shared = Arc::new(SharedCaptures::new());
    let mut one = ConnRewriter::new(Arc::clone(&rules), Arc::clone(&shared));
    let mut two = ConnRewriter::new(Arc::clone(&rules), Arc::clone(&shared));
    let client = Message::chunk(Bytes::from_static(b"\x00\x07join"));
    assert_eq!(two.needs(&client), ["world"]);
    one.recorded(S2c, &Message::chunk(Bytes::from_static(b"\x00\x07")));
    one.live(S2c, &Message::chunk(Bytes::from_static(b"\x01\x00")));
    assert!(
        two.needs(&client).is_empty(),
        "learned on another connection"
    );
    assert_eq!(&two.rewrite_c2s(&client).wire()[..], b"\x01\x00join");
    assert_eq!(
        two.values("world").and_then(|s| s.live).and_then(|v| v.int),
        Some(256)
    );
}

/// Rules for one int type: capture `v` at 0, rewrite at 1 (shift or not).
fn int_rules(int: IntType, shift: bool) -> String {
    format!(
        "[[capture]]\nname = \"v\"\ndirection = \"s2c\"\nfield = {{ int = \"{t}\" }}\n\
         [[rewrite]]\nfield = {{ offset = 1, int = \"{t}\" }}\nfrom = \"v\"\nshift = {shift}\n",
        t = int.as_str()
    )
}

fn int_arb() -> impl Strategy<Value = IntType> {
    proptest::sample::select(IntType::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn shift_wraps_at_the_width(int in int_arb(), rec: u64, live: u64, old: u64, tail in vec(any::<u8>(), 0..3)) {
        let (rec, live, old) = (rec & int.max(), live & int.max(), old & int.max());
        let mut rw = rewriter(&int_rules(int, true));
        let chunk = |v: u64| Message::chunk(int.encode(v).unwrap_or_default().into());
        rw.recorded(S2c, &chunk(rec));
        rw.live(S2c, &chunk(live));
        let mut body = vec![0xee];
        body.extend(int.encode(old).unwrap_or_default());
        body.extend(&tail);
        let sent = rw.rewrite_c2s(&Message::chunk(body.clone().into()));
        let expected = old.wrapping_add(live.wrapping_sub(rec)) & int.max();
        prop_assert_eq!(int.read(&sent.body()[1..]), Some(expected));
        prop_assert_eq!(sent.body().len(), body.len());
        prop_assert_eq!(&sent.body()[1 + int.width()..], &tail[..]);
        prop_assert_eq!(rw.stats().rewrite[0].applied, 1);
    }

    #[test]
    fn int_fields_take_the_live_value(int in int_arb(), live: u64) {
        let live = live & int.max();
        let mut rw = rewriter(&int_rules(int, false));
        rw.live(S2c, &Message::chunk(int.encode(live).unwrap_or_default().into()));
        let body = vec![0u8; 1 + int.width()];
        let sent = rw.rewrite_c2s(&Message::chunk(body.into()));
        prop_assert_eq!(int.read(&sent.body()[1..]), Some(live));
    }

    /// Any rules of the game protocol over any bytes: no panic, every
    /// matched rewrite is applied or missed, the framing stays consistent.
    #[test]
    fn arbitrary_messages_never_panic(bodies in vec(vec(any::<u8>(), 0..40), 1..12)) {
        let mut rw = rewriter(GAME_RULES);
        for (i, body) in bodies.iter().enumerate() {
            let msg = framed(body);
            if i % 2 == 0 {
                rw.recorded(S2c, &msg);
                rw.live(S2c, &msg);
                rw.ignored(S2c, &msg);
            } else {
                let _ = rw.needs(&msg);
                let sent = rw.rewrite_c2s(&msg);
                let len = u16::from_be_bytes([sent.wire()[0], sent.wire()[1]]);
                prop_assert_eq!(usize::from(len), sent.body().len());
            }
        }
        for s in &rw.stats().rewrite {
            prop_assert!(s.applied + s.missed <= s.matched);
        }
    }
}

#[test]
fn out_of_range_fields_are_counted_misses() {
    let mut rw = rewriter(
        r#"
[[capture]]
name = "t"
direction = "s2c"
field = { offset = -4, len = 4 }

[[rewrite]]
field = { offset = -6, len = 4 }
from = "t"

[[checksum]]
algorithm = "xor8"
over = { from = 6 }
at = { offset = 0, int = "u8" }
"#,
    );
    rw.recorded(S2c, &Message::chunk(Bytes::from_static(b"abc")));
    rw.live(S2c, &Message::chunk(Bytes::from_static(b"..WXYZ")));
    assert_eq!(rw.stats().capture[0].missed, 1);
    assert_eq!(rw.stats().capture[0].learned_live, 1);
    let short = Message::chunk(Bytes::from_static(b"12345"));
    assert_eq!(rw.rewrite_c2s(&short), short);
    assert_eq!(rw.stats().rewrite[0].missed, 1);
    assert_eq!(rw.stats().checksum[0].checksums_fixed, 0);
    assert_eq!(
        rw.stats().checksum[0].missed,
        1,
        "over starts past the body"
    );
    let long = Message::chunk(Bytes::from_static(b"1234567"));
    // -6 in 7 bytes is offset 1: "2345" becomes WXYZ; xor8 over "7" at 0.
    let sent = rw.rewrite_c2s(&long);
    assert_eq!(&sent.wire()[..], b"7WXYZ67");
    assert_eq!(rw.stats().rewrite[0].applied, 1);
    assert_eq!(rw.stats().checksum[0].checksums_fixed, 1);
}

#[test]
fn a_raw_value_of_another_length_is_a_miss() {
    let mut rw = rewriter(
        "[[capture]]\nname = \"t\"\ndirection = \"s2c\"\nfield = { regex = 't=(\\w+)' }\n\
         [[rewrite]]\nfield = { offset = 0, len = 4 }\nfrom = \"t\"\n",
    );
    rw.live(S2c, &Message::chunk(Bytes::from_static(b"t=abcde")));
    let msg = Message::chunk(Bytes::from_static(b"wxyz"));
    assert_eq!(rw.rewrite_c2s(&msg), msg);
    assert_eq!(rw.stats().rewrite[0].missed, 1);
}

/// Text protocol rules: the session id from `session=...`, replaced
/// anywhere in client lines.
const TEXT_RULES: &str = r#"
[framing]
delimiter = "\r\n"

[[capture]]
name = "session"
direction = "s2c"
field = { regex = 'session=([0-9a-f]+)' }

[[rewrite]]
direction = "c2s"
anywhere = true
from = "session"
"#;

fn line(text: &str) -> Message {
    let mut framer = Framer::new(&Framing::Delimiter(b"\r\n".to_vec()));
    let mut out = framer.push(format!("{text}\r\n").as_bytes());
    out.remove(0)
}

#[test]
fn anywhere_replaces_every_occurrence_and_the_length_may_change() {
    let mut rw = rewriter(TEXT_RULES);
    rw.recorded(S2c, &line("HELLO session=abc123 ok"));
    rw.live(S2c, &line("HELLO session=ffee00112233 ok"));
    let sent = rw.rewrite_c2s(&line("SAY abc123 hi; again abc123"));
    assert_eq!(
        &sent.wire()[..],
        b"SAY ffee00112233 hi; again ffee00112233\r\n"
    );
    assert_eq!(sent.body(), b"SAY ffee00112233 hi; again ffee00112233");
    assert_eq!(rw.stats().rewrite[0].applied, 2);
    // A line without it: nothing to do, neither applied nor missed.
    let plain = line("PING");
    assert_eq!(rw.rewrite_c2s(&plain), plain);
    assert_eq!(rw.stats().rewrite[0].missed, 0);
}

#[test]
fn a_length_change_fixes_the_prefix() {
    let cases = [
        // "go abcdef!" is 10 bytes; the prefix is 10 - length_adjust.
        ("u16be", 0, vec![0, 10]),
        ("u16le", 0, vec![10, 0]),
        ("u8", -1, vec![11]),
        ("u32be", 2, vec![0, 0, 0, 8]),
        ("varint", 0, vec![10]),
    ];
    for (length, adjust, new_prefix) in cases {
        let text = format!(
            "[framing]\nlength = \"{length}\"\nlength_adjust = {adjust}\n\
             [[capture]]\nname = \"s\"\ndirection = \"s2c\"\nfield = {{ regex = 's=(\\w+)' }}\n\
             [[rewrite]]\nanywhere = true\nfrom = \"s\"\n"
        );
        let rules = Arc::new(rules(&text));
        let mut rw = ConnRewriter::new(Arc::clone(&rules), Arc::new(SharedCaptures::new()));
        let frame = |body: &[u8]| {
            let prefix = match rules.framing() {
                Framing::Length { prefix, adjust } => {
                    prefix.encode((body.len() as i64 - adjust) as u64).unwrap()
                }
                _ => unreachable!(),
            };
            let mut framer = Framer::new(rules.framing());
            framer.push(&[prefix, body.to_vec()].concat()).remove(0)
        };
        rw.recorded(S2c, &frame(b"s=ab"));
        rw.live(S2c, &frame(b"s=abcdef"));
        let sent = rw.rewrite_c2s(&frame(b"go ab!"));
        assert_eq!(sent.body(), b"go abcdef!", "{length}");
        assert_eq!(
            &sent.wire()[..sent.body_range().start],
            &new_prefix[..],
            "{length}"
        );
        // The framer reads back exactly this message.
        let mut framer = Framer::new(rules.framing());
        assert_eq!(
            framer.push(sent.wire()),
            std::slice::from_ref(&sent),
            "{length}"
        );
    }
}

#[test]
fn a_length_the_prefix_cannot_hold_keeps_the_recorded_message() {
    let mut rw = rewriter(
        "[framing]\nlength = \"u8\"\n\
         [[capture]]\nname = \"s\"\ndirection = \"s2c\"\nfield = { regex = 's=(\\w+)' }\n\
         [[rewrite]]\nanywhere = true\nfrom = \"s\"\n",
    );
    let framing = rw.rules().framing().clone();
    let chunk = |wire: Vec<u8>| Framer::new(&framing).push(&wire).remove(0);
    rw.recorded(S2c, &chunk(b"\x03s=a".to_vec()));
    let long = format!("s={}", "b".repeat(250));
    rw.live(
        S2c,
        &chunk([vec![long.len() as u8], long.into_bytes()].concat()),
    );
    let msg = chunk(b"\x03aaa".to_vec());
    assert_eq!(rw.rewrite_c2s(&msg), msg);
    let s = rw.stats().rewrite[0];
    assert_eq!((s.applied, s.missed), (0, 1));
}

#[test]
fn every_checksum_algorithm_is_written_at_its_field() {
    for algorithm in Algorithm::ALL {
        for int in [IntType::U32le, IntType::U32be, IntType::U16be, IntType::U8] {
            let mut rw = rewriter(&format!(
                "[[checksum]]\nalgorithm = \"{}\"\nover = {{ from = 1, to = -{w} }}\n\
                 at = {{ offset = -{w}, int = \"{}\" }}\n",
                algorithm.as_str(),
                int.as_str(),
                w = int.width()
            ));
            let mut body = b"x123456789".to_vec();
            body.extend(vec![0; int.width()]);
            let sent = rw.rewrite_c2s(&Message::chunk(body.into()));
            let field = &sent.body()[10..];
            let expected = algorithm.compute(b"123456789") & int.max();
            assert_eq!(int.read(field), Some(expected), "{algorithm:?} {int:?}");
            assert_eq!(rw.stats().checksum[0].checksums_fixed, 1);
        }
    }
}

#[test]
fn unparsed_messages_go_out_untouched() {
    let mut rw = rewriter(TEXT_RULES);
    let raw = Message::unparsed(Bytes::from_static(b"session=abc"));
    rw.recorded(S2c, &raw);
    assert_eq!(rw.stats().capture[0].matched, 0);
    assert!(rw.needs(&raw).is_empty());
    assert_eq!(rw.rewrite_c2s(&raw), raw);
    assert!(rw.ignored(S2c, &raw).is_empty());
}
