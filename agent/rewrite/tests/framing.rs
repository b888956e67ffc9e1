//! The framer: whatever the chunk boundaries (a message over several
//! chunks, several messages in one chunk), the same messages come out, for
//! every length type (varint and `length_adjust` included) and for
//! delimiters; a stream that breaks the framing is passed on whole.

use proptest::collection::vec;
use proptest::prelude::*;

use super::*;

/// Every length type, with adjusts either way.
fn arb_framing() -> impl Strategy<Value = Framing> {
    let prefix = prop_oneof![
        Just(LengthType::Int(IntType::U8)),
        Just(LengthType::Int(IntType::U16be)),
        Just(LengthType::Int(IntType::U16le)),
        Just(LengthType::Int(IntType::U32be)),
        Just(LengthType::Int(IntType::U32le)),
        Just(LengthType::Varint),
    ];
    let delimiter = prop_oneof![
        Just(b"\r\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(vec![0]),
        Just(b"aa".to_vec()),
        Just(b"END".to_vec()),
    ];
    prop_oneof![
        (prefix, -4i64..=4).prop_map(|(prefix, adjust)| Framing::Length { prefix, adjust }),
        delimiter.prop_map(Framing::Delimiter),
    ]
}

/// The wire bytes of `body` under `framing`; `None` when the body cannot
/// be framed so (shorter than a positive adjust, holding the delimiter).
fn frame(framing: &Framing, body: &[u8]) -> Option<Vec<u8>> {
    match framing {
        Framing::Chunks => Some(body.to_vec()),
        Framing::Length { prefix, adjust } => {
            let value = u64::try_from(body.len() as i64 - adjust).ok()?;
            let mut wire = prefix.encode(value)?;
            wire.extend_from_slice(body);
            Some(wire)
        }
        Framing::Delimiter(d) => {
            let mut wire = body.to_vec();
            wire.extend_from_slice(d);
            (memchr::memmem::find(&wire, d) == Some(body.len())).then_some(wire)
        }
    }
}

/// `stream` cut at `cuts` (any positions, sorted and clamped here).
fn split<'s>(stream: &'s [u8], cuts: &[usize]) -> Vec<&'s [u8]> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
    cuts.sort_unstable();
    let mut chunks = Vec::new();
    let mut last = 0;
    for cut in cuts.into_iter().chain([stream.len()]) {
        chunks.push(&stream[last..cut]);
        last = cut;
    }
    chunks
}

fn push_all(framer: &mut Framer, chunks: &[&[u8]]) -> Vec<Message> {
    chunks.iter().flat_map(|c| framer.push(c)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_split_yields_the_same_messages(
        framing in arb_framing(),
        bodies in vec(vec(prop_oneof![Just(b'a'), Just(b'\r'), Just(0u8), any::<u8>()], 0..300), 0..8),
        cuts in vec(any::<usize>(), 0..12),
    ) {
        let framed: Vec<(Vec<u8>, Vec<u8>)> = bodies
            .into_iter()
            .filter_map(|b| frame(&framing, &b).map(|w| (b, w)))
            .collect();
        let stream: Vec<u8> = framed.iter().flat_map(|(_, w)| w.clone()).collect();
        let mut framer = Framer::new(&framing);
        let messages = push_all(&mut framer, &split(&stream, &cuts));
        prop_assert!(framer.pending().is_empty());
        prop_assert_eq!(framer.error(), None);
        prop_assert_eq!(messages.len(), framed.len());
        for (message, (body, wire)) in messages.iter().zip(&framed) {
            prop_assert_eq!(message.body(), &body[..]);
            prop_assert_eq!(&message.wire()[..], &wire[..]);
            prop_assert!(!message.is_unparsed());
        }
    }

    #[test]
    fn arbitrary_bytes_are_never_lost(
        framing in arb_framing(),
        stream in vec(any::<u8>(), 0..600),
        cuts in vec(any::<usize>(), 0..12),
    ) {
        let mut framer = Framer::new(&framing);
        let messages = push_all(&mut framer, &split(&stream, &cuts));
        let mut out: Vec<u8> = messages.iter().flat_map(|m| m.wire().to_vec()).collect();
        out.extend_from_slice(framer.pending());
        prop_assert_eq!(out, stream);
        // Once unparsed, always unparsed.
        let first = messages.iter().position(Message::is_unparsed).unwrap_or(messages.len());
        prop_assert!(messages[first..].iter().all(Message::is_unparsed));
        prop_assert_eq!(framer.unparsed(), (messages.len() - first) as u64);
        for m in &messages {
            let range = m.body_range();
            prop_assert!(range.start <= range.end && range.end <= m.wire().len());
        }
    }

    #[test]
    fn without_framing_each_chunk_is_a_message(chunks in vec(vec(any::<u8>(), 1..50), 0..10)) {
        let mut framer = Framer::new(&Framing::Chunks);
        for chunk in &chunks {
            let out = framer.push(chunk);
            prop_assert_eq!(out.len(), 1);
            prop_assert_eq!(out[0].body(), &chunk[..]);
            prop_assert_eq!(&out[0].wire()[..], &chunk[..]);
        }
    }
}

#[test]
fn a_message_over_several_chunks_and_several_in_one() {
    let mut framer = Framer::new(&Framing::Length {
        prefix: LengthType::Int(IntType::U16be),
        adjust: 0,
    });
    assert!(framer.push(&[0]).is_empty());
    assert!(framer.push(&[3, b'a']).is_empty());
    assert_eq!(framer.pending(), &[0, 3, b'a']);
    let out = framer.push(b"bc\x00\x01x\x00\x00\x00");
    let bodies: Vec<&[u8]> = out.iter().map(Message::body).collect();
    assert_eq!(bodies, [&b"abc"[..], b"x", b""]);
    assert_eq!(out[0].body_range(), 2..5);
    assert_eq!(framer.pending(), &[0]);
}

#[test]
fn a_delimiter_split_across_chunks() {
    let mut framer = Framer::new(&Framing::Delimiter(b"\r\n".to_vec()));
    assert!(framer.push(b"GET a\r").is_empty());
    let out = framer.push(b"\nGET b\r\n\r\n");
    let bodies: Vec<&[u8]> = out.iter().map(Message::body).collect();
    assert_eq!(bodies, [&b"GET a"[..], b"GET b", b""]);
    assert_eq!(&out[0].wire()[..], b"GET a\r\n");
}

#[test]
fn an_absurd_length_breaks_the_framing_and_the_rest_passes_raw() {
    let mut framer = Framer::new(&Framing::Length {
        prefix: LengthType::Int(IntType::U32be),
        adjust: 0,
    });
    let out = framer.push(b"\x00\x00\x00\x01a\xff\xff\xff\xffrest");
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].body(), b"a");
    assert!(out[1].is_unparsed());
    assert_eq!(&out[1].wire()[..], b"\xff\xff\xff\xffrest");
    assert_eq!(
        framer.error(),
        Some(&FramingError::TooLong {
            length: 0xffff_ffff,
            max: MAX_MESSAGE as u64
        })
    );
    let later = framer.push(b"\x00\x00\x00\x01b");
    assert_eq!(later.len(), 1);
    assert!(later[0].is_unparsed());
    assert_eq!(framer.unparsed(), 2);
}

#[test]
fn other_framing_breaks() {
    let varint = Framing::Length {
        prefix: LengthType::Varint,
        adjust: 0,
    };
    let mut framer = Framer::new(&varint);
    assert!(framer.push(&[0x80; 4]).is_empty(), "may still end");
    assert_eq!(framer.push(&[0x80]).len(), 1);
    assert_eq!(
        framer.error(),
        Some(&FramingError::VarintTooLong {
            max: MAX_VARINT_BYTES
        })
    );

    let counts_itself = Framing::Length {
        prefix: LengthType::Int(IntType::U8),
        adjust: -2,
    };
    let mut framer = Framer::new(&counts_itself);
    assert_eq!(framer.push(&[3, b'x'])[0].body(), b"x");
    framer.push(&[1]);
    assert_eq!(
        framer.error(),
        Some(&FramingError::NegativeLength {
            value: 1,
            adjust: -2
        })
    );

    let mut framer = Framer::new(&Framing::Delimiter(b"\n".to_vec()));
    let big = vec![b'x'; MAX_MESSAGE + 1];
    let out = framer.push(&big);
    assert_eq!(out.len(), 1);
    assert!(out[0].is_unparsed());
    assert_eq!(
        framer.error(),
        Some(&FramingError::NoDelimiter {
            max: MAX_MESSAGE as u64
        })
    );
}

#[test]
fn an_incomplete_tail_is_handed_on_at_the_end() {
    let mut framer = Framer::new(&Framing::Delimiter(b"\n".to_vec()));
    assert!(framer.push(b"half").is_empty());
    let tail = framer.take_pending().unwrap();
    assert!(tail.is_unparsed());
    assert_eq!(&tail.wire()[..], b"half");
    assert_eq!(framer.take_pending(), None);
    assert_eq!(framer.unparsed(), 1);
}
