//! Tests of the rule engine as a whole: parsing and its error messages
//! (`tests/parse`), framing across any chunk boundaries (`tests/framing`),
//! rewriting, captures and ignores (`tests/rewriting`), and the dry run
//! (`tests/dry_run`). Shared fixtures live here.

mod dry_run;
mod framing;
mod parse;
mod rewriting;

use bytes::Bytes;

use super::*;

/// The issue's example protocol: a u16be prefix, type byte 0x02 for the
/// login answer (token: 8 bytes at 1, sequence start: u32be at 9), type
/// 0x03 for client actions (token at 1, sequence u32be at 9, CRC32 of the
/// rest in the last four bytes, little-endian).
pub(super) const GAME_RULES: &str = concat!(
    include_str!("../../tests/rules/game_session.toml"),
    r#"
[[ignore]]
direction = "s2c"
when = { offset = 0, hex = "02" }
field = { offset = 1, len = 12 }
"#
);

pub(super) fn rules(text: &str) -> Rules {
    Rules::parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// `body` with a u16be length prefix.
pub(super) fn u16_framed(body: &[u8]) -> Vec<u8> {
    let mut wire = (body.len() as u16).to_be_bytes().to_vec();
    wire.extend_from_slice(body);
    wire
}

/// A framed message of the game protocol.
pub(super) fn framed(body: &[u8]) -> Message {
    Message::new(Bytes::from(u16_framed(body)), 2..2 + body.len())
}

/// The login answer: type 02, token, sequence start.
pub(super) fn login(token: &[u8; 8], seq0: u32) -> Vec<u8> {
    let mut body = vec![0x02];
    body.extend_from_slice(token);
    body.extend_from_slice(&seq0.to_be_bytes());
    body
}

/// A client action: type 03, token, sequence, payload, CRC32 (u32le) of
/// everything before it.
pub(super) fn action(token: &[u8; 8], seq: u32, payload: &[u8]) -> Vec<u8> {
    let mut body = vec![0x03];
    body.extend_from_slice(token);
    body.extend_from_slice(&seq.to_be_bytes());
    body.extend_from_slice(payload);
    let crc = crc32fast::hash(&body);
    body.extend_from_slice(&crc.to_le_bytes());
    body
}

/// A replay moves rewriters into connection tasks and shares rules and
/// replay-scope values between them.
#[test]
fn rewriters_can_move_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Rules>();
    send_sync::<SharedCaptures>();
    send_sync::<ConnRewriter>();
    send_sync::<Framer>();
}
