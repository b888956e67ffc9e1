//! The dry run over recorded frames: captures per connection, matches per
//! rule, unparsed samples, and client messages a wrong rule would change.

use super::*;
use crate::format::{Direction, Frame, FrameBody};

fn data(conn: u64, dir: Direction, bytes: &[u8]) -> Frame {
    Frame {
        conn,
        ts_ns: 0,
        body: FrameBody::Data {
            dir,
            payload: Bytes::copy_from_slice(bytes),
        },
    }
}

fn close(conn: u64) -> Frame {
    Frame {
        conn,
        ts_ns: 0,
        body: FrameBody::Close {
            reason: "client closed".into(),
        },
    }
}

/// Two game connections: conn 1 sends its messages split across chunks
/// and two per chunk; conn 2 ends inside a message. Conn 3 announces a
/// 65,535-byte message that never comes.
fn game_frames() -> Vec<Frame> {
    use Direction::{C2s, S2c};
    let hello = u16_framed(b"\x01hello");
    let a1 = u16_framed(&action(b"TOKEN001", 11, b"jump"));
    let a2 = u16_framed(&action(b"TOKEN001", 12, b"run"));
    let both = [a1.clone(), a2].concat();
    vec![
        data(1, C2s, &hello),
        data(1, S2c, &u16_framed(&login(b"TOKEN001", 10))),
        data(2, S2c, &u16_framed(&login(b"TOKEN002", 20))[..5]),
        data(1, C2s, &both[..7]),
        data(1, C2s, &both[7..]),
        data(2, S2c, &u16_framed(&login(b"TOKEN002", 20))[5..]),
        data(2, C2s, &a1[..4]),
        close(1),
        data(3, S2c, b"\xff\xff\xff"),
        data(3, S2c, b"more"),
    ]
}

#[test]
fn the_dry_run_of_the_game_protocol() {
    let report = check(&rules(GAME_RULES), game_frames());
    assert_eq!(report.connections, 3);
    assert_eq!((report.messages_c2s, report.messages_s2c), (4, 3));
    assert_eq!(report.changed, 0, "{:?}", report.changed_samples);

    let conn1 = &report.captures[0];
    assert_eq!(conn1.conn, 1);
    let names: Vec<_> = conn1.captures.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["token", "seq0"]);
    assert_eq!(conn1.captures[0].ascii.as_deref(), Some("TOKEN001"));
    assert_eq!(conn1.captures[0].hex, "544f4b454e303031");
    assert_eq!(conn1.captures[1].int, Some(10));
    assert_eq!(
        report.captures[1].captures[0].ascii.as_deref(),
        Some("TOKEN002")
    );
    assert!(report.captures[2].captures.is_empty());

    let matched: Vec<(RuleKind, usize, u64)> = report
        .rules
        .iter()
        .map(|r| (r.kind, r.index, r.matched))
        .collect();
    assert_eq!(
        matched,
        [
            (RuleKind::Capture, 0, 2),
            (RuleKind::Capture, 1, 2),
            (RuleKind::Rewrite, 0, 2),
            (RuleKind::Rewrite, 1, 2),
            (RuleKind::Checksum, 0, 2),
            (RuleKind::Ignore, 0, 2),
        ]
    );
    assert_eq!(report.rules[4].mismatched, Some(0));
    assert_eq!(report.unmatched().count(), 0);

    // Conn 2's cut action and conn 3's never finished message, in
    // connection order since neither was closed.
    assert_eq!(report.unparsed, 2);
    let samples: Vec<(u64, Direction, u64, u64, &str)> = report
        .unparsed_samples
        .iter()
        .map(|s| (s.conn, s.direction, s.message, s.bytes, s.hex.as_str()))
        .collect();
    assert_eq!(
        samples,
        [
            (2, Direction::C2s, 0, 4, &hex(&a1_head())[..]),
            (3, Direction::S2c, 0, 7, "ffffff6d6f7265"),
        ]
    );
    assert_eq!(
        report.unparsed_samples[0].reason,
        "incomplete at the end of the connection"
    );
}

#[test]
fn a_broken_framing_is_sampled_with_its_reason() {
    let report = check(
        &rules("[framing]\nlength = \"u32be\""),
        [
            data(1, Direction::S2c, b"\x00\x00\x00\x01a\xff\xff\xff\xffxyz"),
            data(1, Direction::S2c, b"more"),
        ],
    );
    assert_eq!((report.messages_s2c, report.unparsed), (3, 2));
    let first = &report.unparsed_samples[0];
    assert_eq!((first.message, first.bytes), (1, 7));
    assert_eq!(first.hex, "ffffffff78797a");
    assert!(
        first.reason.contains("4294967295 bytes"),
        "{}",
        first.reason
    );
    assert_eq!(report.unparsed_samples[1].hex, "6d6f7265");
}

fn a1_head() -> Vec<u8> {
    u16_framed(&action(b"TOKEN001", 11, b"jump"))[..4].to_vec()
}

#[test]
fn a_wrong_rule_shows_as_unmatched_mismatched_and_changed() {
    let text = GAME_RULES
        .replace("algorithm = \"crc32\"", "algorithm = \"crc32c\"")
        .replace(
            "[[ignore]]\ndirection = \"s2c\"\nwhen = { offset = 0, hex = \"02\" }",
            "[[ignore]]\ndirection = \"s2c\"\nwhen = { offset = 0, hex = \"07\" }",
        );
    let report = check(&rules(&text), game_frames());
    assert_eq!(report.rules[4].mismatched, Some(2));
    assert_eq!(report.changed, 2);
    let sample = &report.changed_samples[0];
    assert_eq!((sample.conn, sample.message), (1, 1));
    // The CRC is the last 4 bytes of the 19-byte action (2 + 21 wire bytes).
    assert_eq!(sample.offset, 19);
    let unmatched: Vec<_> = report.unmatched().map(|r| (r.kind, r.index)).collect();
    assert_eq!(unmatched, [(RuleKind::Ignore, 0)]);
}

#[test]
fn replay_scope_values_are_listed_once() {
    let text = "[[capture]]\nname = \"world\"\ndirection = \"s2c\"\n\
                field = { regex = 'world=(\\d+)' }\nscope = \"replay\"\n";
    let report = check(
        &rules(text),
        [
            data(1, Direction::S2c, b"world=42"),
            data(2, Direction::S2c, b"world=42"),
        ],
    );
    assert_eq!(report.replay_captures.len(), 1);
    assert_eq!(report.replay_captures[0].ascii.as_deref(), Some("42"));
    assert_eq!(report.replay_captures[0].seen, 2);
    assert!(report.captures.iter().all(|c| c.captures.is_empty()));
}

/// A UDP session: each datagram is one message even when the framing
/// would cut or join it (here two u16-framed messages in one datagram, and
/// half a message in another).
#[test]
fn datagrams_are_one_message_each() {
    use Direction::{C2s, S2c};
    let datagram = |dir, bytes: &[u8]| Frame {
        conn: 9,
        ts_ns: 0,
        body: FrameBody::Datagram {
            dir,
            payload: Bytes::copy_from_slice(bytes),
        },
    };
    let login = u16_framed(&login(b"TOKEN009", 90));
    let a1 = u16_framed(&action(b"TOKEN009", 91, b"jump"));
    let frames = vec![
        datagram(C2s, &u16_framed(b"\x01hello")),
        datagram(S2c, &login),
        datagram(C2s, &[a1.clone(), a1.clone()].concat()),
        datagram(C2s, &a1[..4]),
        close(9),
    ];
    let report = check(&rules(GAME_RULES), frames);
    assert_eq!((report.messages_c2s, report.messages_s2c), (3, 1));
    assert_eq!(report.connections, 1);
}
