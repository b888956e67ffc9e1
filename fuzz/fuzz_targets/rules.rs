//! Any text parses as rules or gives a `RulesError`; any bytes through a
//! framer and a rewriter (fixed rules of every framing, and the fuzzed
//! rules when they parse) give messages, counts and rewritten bytes, never
//! a panic. A rewritten length-framed message must frame back to itself.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use reel::format::Direction;
use reel::rewrite::{ConnRewriter, Framer, Framing, Message, Rules, SharedCaptures};

/// Binary protocol: u16be prefix, token, shifted sequence, CRC32.
const GAME: &str = r#"
[framing]
length = "u16be"
[[capture]]
name = "token"
direction = "s2c"
when = { offset = 0, hex = "02" }
field = { offset = 1, len = 8 }
[[capture]]
name = "seq0"
direction = "s2c"
when = { offset = 0, hex = "02" }
field = { offset = 9, int = "u32be" }
[[rewrite]]
when = { offset = 0, hex = "03" }
field = { offset = 1, len = 8 }
from = "token"
[[rewrite]]
when = { offset = 0, hex = "03" }
field = { offset = -8, int = "u32be" }
from = "seq0"
shift = true
[[checksum]]
algorithm = "crc32"
over = { from = 0, to = -4 }
at = { offset = -4, int = "u32le" }
[[ignore]]
direction = "s2c"
field = { offset = -3, len = 2 }
"#;

/// Varint prefix that counts an extra byte, values anywhere.
const VARINT: &str = r#"
[framing]
length = "varint"
length_adjust = 1
[[capture]]
name = "id"
direction = "s2c"
field = { offset = 0, len = 2 }
scope = "replay"
[[rewrite]]
anywhere = true
from = "id"
[[checksum]]
algorithm = "sum16be"
over = { from = 1 }
at = { offset = 0, int = "u8" }
"#;

/// Text protocol: lines, a session id by regex, replaced anywhere.
const TEXT: &str = r#"
[framing]
delimiter = "\r\n"
[[capture]]
name = "session"
direction = "s2c"
field = { regex = 'session=([0-9a-f]+)' }
[[rewrite]]
anywhere = true
from = "session"
[[ignore]]
direction = "s2c"
field = { regex = 'time=(\d+)' }
"#;

fn run(rules: Arc<Rules>, data: &[u8]) {
    let shared = Arc::new(SharedCaptures::new());
    let mut rw = ConnRewriter::new(Arc::clone(&rules), Arc::clone(&shared));
    let mut framers = [
        Framer::new(rules.framing()),
        Framer::new(rules.framing()),
        Framer::new(rules.framing()),
    ];
    // Chunk sizes come from the data itself, so the fuzzer picks the splits.
    let mut rest = data;
    let mut turn = 0;
    while let Some((&size, tail)) = rest.split_first() {
        let take = (usize::from(size) % 64 + 1).min(tail.len());
        let (chunk, after) = tail.split_at(take);
        rest = after;
        let which = turn % 3;
        turn += 1;
        for msg in framers[which].push(chunk) {
            match which {
                0 => {
                    rw.recorded(Direction::S2c, &msg);
                    let _ = rw.ignored(Direction::S2c, &msg);
                }
                1 => rw.live(Direction::S2c, &msg),
                _ => {
                    let _ = rw.needs(&msg);
                    let sent = rw.rewrite_c2s(&msg);
                    check_reframes(rules.framing(), &msg, &sent);
                }
            }
        }
    }
    for framer in &mut framers {
        let _ = framer.take_pending();
    }
    let _ = rw.stats();
}

/// A rewritten length-framed message reads back as one message.
fn check_reframes(framing: &Framing, original: &Message, sent: &Message) {
    if original.is_unparsed() || !matches!(framing, Framing::Length { .. }) {
        return;
    }
    let mut framer = Framer::new(framing);
    let again = framer.push(sent.wire());
    assert_eq!(again.len(), 1, "{original:?} -> {sent:?}");
    assert_eq!(again[0].body(), sent.body());
    assert!(framer.pending().is_empty());
}

/// The fixed rules, parsed once (regex compilation would dominate each run).
fn fixed() -> &'static [Arc<Rules>] {
    static FIXED: OnceLock<Vec<Arc<Rules>>> = OnceLock::new();
    FIXED.get_or_init(|| {
        [GAME, VARINT, TEXT]
            .into_iter()
            .map(|text| match Rules::parse(text) {
                Ok(rules) => Arc::new(rules),
                Err(e) => panic!("fixed rules do not parse: {e}"),
            })
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let fuzzed = Rules::parse(&String::from_utf8_lossy(data));
    for rules in fixed() {
        run(Arc::clone(rules), data);
    }
    if let Ok(rules) = fuzzed {
        run(Arc::new(rules), data);
    }
});
