//! Counted nouns in human text: `1 connection`, `2 connections`. Used by
//! `output` and by the notes and problems that commands return, so it sits
//! below both.

/// `1 connection`, `0 connections`, `2 proxies`: a number with its noun in
/// the right form (`one` for exactly 1, `many` otherwise).
pub(crate) fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", noun(n, one, many))
}

/// The noun alone, for texts where a number stands apart from it: `3 client
/// and 1 server message`.
pub(crate) fn noun<'a>(n: u64, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_nouns() {
        assert_eq!(count(0, "connection", "connections"), "0 connections");
        assert_eq!(count(1, "connection", "connections"), "1 connection");
        assert_eq!(count(2, "proxy", "proxies"), "2 proxies");
        assert_eq!(noun(1, "byte", "bytes"), "byte");
    }
}
