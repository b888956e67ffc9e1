//! Terminal safety: text that came from an agent (names, labels, upstreams,
//! error messages) is shown with its control characters escaped, so a NUL,
//! a carriage return or an ESC sequence can never move the cursor, rewrite
//! a line or change the terminal. JSON output stays exact.

use std::borrow::Cow;

/// `text` with every control character (C0, DEL, C1) written as its Rust
/// escape (`\0`, `\r`, `\n`, `\t`, `\u{1b}`); borrowed when there is none.
pub(crate) fn safe(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Like [`safe`], line by line: our own multi-line messages keep their
/// line breaks, and a carriage return or ESC inside a line is escaped.
pub(crate) fn safe_lines(text: &str) -> String {
    text.split('\n').map(safe).collect::<Vec<_>>().join("\n")
}

/// Writes a rendered human document with control characters escaped (line
/// breaks kept): the last guard before the terminal.
///
/// # Errors
/// The writer's.
pub(crate) fn write_safe(out: &mut dyn std::io::Write, doc: &[u8]) -> std::io::Result<()> {
    out.write_all(safe_lines(&String::from_utf8_lossy(doc)).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        for (text, want) in [
            ("game-1", "game-1"),
            ("é ü 世界", "é ü 世界"),
            ("a\0b", "a\\0b"),
            ("ok\rEVIL", "ok\\rEVIL"),
            ("two\nlines", "two\\nlines"),
            ("tab\there", "tab\\there"),
            ("\x1b[2J\x1b]0;title\x07", "\\u{1b}[2J\\u{1b}]0;title\\u{7}"),
            ("del\x7f", "del\\u{7f}"),
            ("csi\u{9b}31m", "csi\\u{9b}31m"),
            ("back\\slash \"q\"", "back\\slash \"q\""),
        ] {
            assert_eq!(safe(text), want, "{text:?}");
        }
        assert!(matches!(safe("plain"), Cow::Borrowed(_)));
        assert_eq!(safe_lines("one\x1b[1m\ntwo\r"), "one\\u{1b}[1m\ntwo\\r");
    }
}
