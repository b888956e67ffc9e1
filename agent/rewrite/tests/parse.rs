//! Parsing: the issue's example parses into what it says, and every kind
//! of mistake is refused with a message naming the table, index and field.

use super::*;
use crate::format::Direction;

#[test]
fn the_issue_example_parses() {
    let r = rules(GAME_RULES);
    assert_eq!(
        r.framing(),
        &Framing::Length {
            prefix: LengthType::Int(IntType::U16be),
            adjust: 0
        }
    );
    assert_eq!(r.captures().len(), 2);
    assert_eq!(r.capture_names().collect::<Vec<_>>(), ["token", "seq0"]);
    let token = &r.captures()[0];
    assert_eq!(token.direction, Direction::S2c);
    assert_eq!(token.scope, Scope::Connection);
    assert_eq!(
        token.when,
        Some(When {
            offset: 0,
            bytes: vec![2]
        })
    );
    assert!(matches!(token.field, Field::Raw { offset: 1, len: 8 }));
    let shift = &r.rewrites()[1];
    assert!(shift.shift);
    assert_eq!(shift.from, "seq0");
    let crc = &r.checksums()[0];
    assert_eq!(crc.algorithm, Algorithm::Crc32);
    assert_eq!(
        crc.over,
        Span {
            from: 0,
            to: Some(-4)
        }
    );
    assert_eq!(
        crc.at,
        IntField {
            offset: -4,
            int: IntType::U32le
        }
    );
    assert_eq!(r.ignores().len(), 1);
}

#[test]
fn every_framing_form() {
    let cases: [(&str, Framing); 6] = [
        ("", Framing::Chunks),
        (
            "[framing]\nlength = \"varint\"",
            Framing::Length {
                prefix: LengthType::Varint,
                adjust: 0,
            },
        ),
        (
            "[framing]\nlength = \"u8\"",
            Framing::Length {
                prefix: LengthType::Int(IntType::U8),
                adjust: 0,
            },
        ),
        (
            "[framing]\nlength = \"u32le\"\nlength_adjust = -4",
            Framing::Length {
                prefix: LengthType::Int(IntType::U32le),
                adjust: -4,
            },
        ),
        (
            "[framing]\ndelimiter = \"\\r\\n\"",
            Framing::Delimiter(b"\r\n".to_vec()),
        ),
        (
            "[framing]\ndelimiter = \"\\u0000\"",
            Framing::Delimiter(vec![0]),
        ),
    ];
    for (text, framing) in cases {
        assert_eq!(rules(text).framing(), &framing, "{text}");
    }
}

#[test]
fn other_fields_and_defaults() {
    let r = rules(
        r#"
[[capture]]
name = "world"
direction = "s2c"
field = { regex = 'world=([0-9]+)' }
scope = "replay"

[[capture]]
name = "world"
direction = "s2c"
field = { regex = 'w=([0-9]+)' }
scope = "replay"

[[rewrite]]
anywhere = true
from = "world"

[[checksum]]
algorithm = "sum16be"
over = {}
at = { int = "u16be" }
"#,
    );
    assert_eq!(r.captures()[0].scope, Scope::Replay);
    assert_eq!(r.capture_names().count(), 1, "one name, two captures");
    assert_eq!(r.rewrites()[0].direction, Direction::C2s, "the default");
    assert!(matches!(r.rewrites()[0].target, Target::Anywhere));
    assert_eq!(r.checksums()[0].over, Span { from: 0, to: None });
    assert_eq!(r.checksums()[0].at.offset, 0);
}

/// Rules with the error each must give.
const REFUSED: &[(&str, &str)] = &[
    (
        "[[rewrite]]\nfield = { offset = 1, int = \"u24\" }\nfrom = \"x\"",
        "rewrite[0].field.int: \"u24\" is not one of u8, u16be, u16le, u32be, u32le, u64be, u64le",
    ),
    (
        "[[capture]]\ndirection = \"s2c\"\nfield = { offset = 1, len = 8 }",
        "capture[0]: missing field name",
    ),
    (
        "[[capture]]\nname = \"token\"\ndirection = \"s2c\"\nfield = { len = 8 }\n\
         [[rewrite]]\nfield = { len = 8 }\nfrom = \"token\"\n\
         [[rewrite]]\nfield = { len = 8 }\nfrom = \"token\"\n\
         [[rewrite]]\nfield = { len = 8 }\nfrom = \"tokn\"",
        "rewrite[2].from: no capture named \"tokn\" (captures: token)",
    ),
    (
        "[framing]\nlength = \"u16be\"\ndelimiter = \"\\n\"",
        "framing: give length or delimiter, not both",
    ),
    ("[framing]", "framing: give length or delimiter"),
    (
        "[framing]\nlength = \"u64be\"",
        "framing.length: \"u64be\" is not one of u8, u16be, u16le, u32be, u32le, varint",
    ),
    (
        "[framing]\ndelimiter = \"\\n\"\nlength_adjust = 1",
        "framing.length_adjust: only with length",
    ),
    (
        "[framing]\ndelimiter = \"\"",
        "framing.delimiter: must be 1 to",
    ),
    (
        "[[checksum]]\nalgorithm = \"crc32\"\nover = { to = -4 }\nat = { offset = -4, len = 4 }",
        "checksum[0].at: the checksum field must be an int",
    ),
    (
        "[[checksum]]\nalgorithm = \"md5\"\nover = {}\nat = { int = \"u8\" }",
        "checksum[0].algorithm: \"md5\" is not one of crc32, crc32c, adler32, sum8, xor8, sum16be",
    ),
    (
        "[[checksum]]\nalgorithm = \"crc32\"\nat = { int = \"u32le\" }",
        "checksum[0]: missing field over",
    ),
    (
        "[[checksum]]\ndirection = \"s2c\"\nalgorithm = \"crc32\"\nover = {}\nat = { int = \"u32le\" }",
        "checksum[0].direction: a checksum applies to what the replay sends: only \"c2s\"",
    ),
    (
        "[[capture]]\nname = \"t\"\ndirection = \"up\"\nfield = { len = 1 }",
        "capture[0].direction: \"up\" is not one of c2s, s2c",
    ),
    (
        "[[capture]]\nname = \"t\"\nfield = { len = 1 }",
        "capture[0]: missing field direction",
    ),
    (
        "[[capture]]\nname = \"t\"\ndirection = \"s2c\"",
        "capture[0]: missing field field",
    ),
    (
        "[[capture]]\nname = \"t\"\ndirection = \"s2c\"\nfield = { offset = 1 }",
        "capture[0].field: give len, int or regex",
    ),
    (
        "[[capture]]\nname = \"t\"\ndirection = \"s2c\"\nfield = { len = 1, int = \"u8\" }",
        "capture[0].field: give len or int, not both",
    ),
    (
        "[[capture]]\nname = \"t\"\ndirection = \"s2c\"\nfield = { len = 0 }",
        "capture[0].field.len: 0 is not within 1 to",
    ),
    (
        "[[capture]]\nname = \"t\"\ndirection = \"s2c\"\nfield = { offset = 99999999, len = 1 }",
        "capture[0].field.offset: 99999999 is beyond the 16777216 bytes",
    ),
    (
        "[[capture]]\nname = \"t\"\ndirection = \"s2c\"\nfield = { regex = 'a+' }",
        "capture[0].field.regex: \"a+\" has no group",
    ),
    (
        "[[capture]]\nname = \"t\"\ndirection = \"s2c\"\nfield = { regex = '(' }",
        "capture[0].field.regex: regex parse error",
    ),
    (
        "[[capture]]\nname = \"t\"\ndirection = \"s2c\"\nfield = { regex = '(a)', offset = 1 }",
        "capture[0].field: regex takes no offset, len or int",
    ),
    (
        "[[capture]]\nname = \"t\"\ndirection = \"s2c\"\nfield = { len = 1 }\nscope = \"world\"",
        "capture[0].scope: \"world\" is not one of connection, replay",
    ),
    (
        "[[capture]]\nname = \"t\"\ndirection = \"s2c\"\nfield = { len = 1 }\nwhen = { hex = \"0g\" }",
        "capture[0].when.hex: \"0g\" is not hex",
    ),
    (
        "[[capture]]\nname = \"t\"\ndirection = \"s2c\"\nfield = { len = 1 }\nwhen = { offset = 1 }",
        "capture[0].when: missing field hex",
    ),
    (
        "[[capture]]\nname = \"t\"\ndirection = \"s2c\"\nfield = { len = 1 }\n\
         [[capture]]\nname = \"t\"\ndirection = \"s2c\"\nfield = { int = \"u8\" }",
        "capture[1].field: capture \"t\" is also capture[0]; both must read an int, or both bytes",
    ),
    (
        "[[capture]]\nname = \"t\"\ndirection = \"s2c\"\nfield = { len = 1 }\n\
         [[capture]]\nname = \"t\"\ndirection = \"s2c\"\nfield = { len = 1 }\nscope = \"replay\"",
        "capture[1].scope: capture \"t\" is also capture[0], with another scope",
    ),
    (
        "[[capture]]\nname = \"t\"\ndirection = \"s2c\"\nfield = { len = 4 }\n\
         [[rewrite]]\nfield = { int = \"u32be\" }\nfrom = \"t\"",
        "rewrite[0].from: capture \"t\" reads bytes; an int field needs",
    ),
    (
        "[[capture]]\nname = \"t\"\ndirection = \"s2c\"\nfield = { int = \"u32be\" }\n\
         [[rewrite]]\nfield = { len = 4 }\nfrom = \"t\"\nshift = true",
        "rewrite[0].shift: only for an int field",
    ),
    (
        "[[capture]]\nname = \"t\"\ndirection = \"s2c\"\nfield = { len = 4 }\n\
         [[rewrite]]\nfield = { len = 4 }\nanywhere = true\nfrom = \"t\"",
        "rewrite[0]: give field or anywhere = true, not both",
    ),
    (
        "[[capture]]\nname = \"t\"\ndirection = \"s2c\"\nfield = { len = 4 }\n\
         [[rewrite]]\nfrom = \"t\"",
        "rewrite[0]: give field or anywhere = true",
    ),
    (
        "[[rewrite]]\nanywhere = true\nfrom = \"t\"",
        "rewrite[0].from: no capture named \"t\" (there is no [[capture]])",
    ),
    (
        "[[ignore]]\ndirection = \"s2c\"\nfield = { len = 1 }\nfeild = 1",
        "ignore[0].feild: unknown field `feild`, expected one of `direction`, `when`, `field` (line 4",
    ),
    (
        "[[capture]]\nname = \"t\"\ndirection = \"s2c\"\nfield = { offset = \"one\", len = 1 }",
        "capture[0].field.offset: invalid type: string \"one\", expected i64 (line 4",
    ),
    ("[rewrites]\nx = 1", "rewrites: unknown field `rewrites`"),
    (
        "capture = 3",
        "capture: invalid type: integer `3`, expected a sequence",
    ),
    ("[[capture]\nname = 1", "not valid TOML: "),
];

#[test]
fn mistakes_name_the_table_index_and_field() {
    let mut wrong = Vec::new();
    for (text, expected) in REFUSED {
        match Rules::parse(text) {
            Ok(_) => wrong.push(format!("accepted:\n{text}")),
            Err(e) if !e.to_string().starts_with(expected) => {
                wrong.push(format!(
                    "rules:\n{text}\nerror:    {e}\nexpected: {expected}..."
                ));
            }
            Err(_) => {}
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}

#[test]
fn too_many_rules_are_refused() {
    let one = "[[ignore]]\ndirection = \"s2c\"\nfield = { len = 1 }\n";
    let text = one.repeat(MAX_RULES + 1);
    let error = Rules::parse(&text).map(|_| ()).unwrap_err().to_string();
    assert!(
        error.starts_with("ignore: 1025 rules; at most 1024"),
        "{error}"
    );
}
