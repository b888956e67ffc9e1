//! Tests that need something cargo does not bring: a Redis server,
//! Wireshark's tools, or root (to mount a small tmpfs). Each is behind a
//! switch, so a plain `cargo test` by a contributor without them passes and
//! says what it skipped; `scripts/test.sh` (the README's test command, and
//! CI) installs them and turns every switch on, so there nothing skips and
//! a missing tool fails the test with the install hint.

/// Something outside cargo a test needs.
#[derive(Debug, Clone, Copy)]
pub enum Need {
    /// `redis-server` (Debian package redis-server).
    Redis,
    /// `tshark` and `dumpcap` (Debian package tshark).
    Tshark,
    /// Root, to mount a tmpfs that fills up.
    Root,
}

impl Need {
    /// The variable that turns the tests on (any non-empty value).
    pub fn var(self) -> &'static str {
        match self {
            Need::Redis => "REEL_TEST_REDIS",
            Need::Tshark => "REEL_TEST_TSHARK",
            Need::Root => "REEL_TEST_ROOT",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Need::Redis => "a real redis-server",
            Need::Tshark => "Wireshark's tshark and dumpcap",
            Need::Root => "root, to mount a small tmpfs",
        }
    }
}

/// Whether `test` may run: its switch is set. When it is not, says on
/// stderr that the test is skipped and how to turn it on.
pub fn enabled(need: Need, test: &str) -> bool {
    if std::env::var_os(need.var()).is_some_and(|v| !v.is_empty()) {
        return true;
    }
    super::skipped(
        test,
        &format!(
            "needs {}; set {}=1 to run it (scripts/test.sh installs what it needs and does)",
            need.what(),
            need.var()
        ),
    );
    false
}
