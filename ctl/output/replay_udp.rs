//! What a replay's human report says about UDP sessions: one summary line
//! of datagrams (sent, received, missing, refused) when the replay had
//! any, and per session its missing datagrams and where `--verify` found
//! the first problem (a datagram index, not a byte offset).

use reel::proto::{ReplayConnection, ReplayReport};

use crate::plural::count;

/// The `datagrams` summary line, when the replay had UDP sessions.
pub(crate) fn summary(r: &ReplayReport) -> Option<String> {
    if r.udp_sessions == 0 {
        return None;
    }
    let mut text = format!(
        "{} of {} sent, {} of {} received, {} missing",
        r.datagrams_sent,
        r.expected_datagrams_sent,
        r.datagrams_received,
        r.expected_datagrams_received,
        r.datagrams_missing,
    );
    if r.datagrams_refused > 0 {
        text.push_str(&format!(", {} refused", r.datagrams_refused));
    }
    text.push_str(&format!(
        " ({})",
        count(r.udp_sessions, "UDP session", "UDP sessions")
    ));
    Some(text)
}

/// A UDP session's outcome parts: its missing datagrams, and its
/// divergence by datagram. `None` for a TCP connection.
pub(crate) fn outcome(c: &ReplayConnection) -> Option<Vec<String>> {
    if !c.udp {
        return None;
    }
    let mut parts = Vec::new();
    if c.datagrams_missing > 0 {
        parts.push(format!(
            "{} of {} missing",
            c.datagrams_missing,
            count(c.expected_datagrams_received, "datagram", "datagrams")
        ));
    }
    if let Some(d) = &c.divergence {
        parts.push(format!("diverged at datagram {}", d.offset));
    }
    Some(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_lines_only_for_udp() {
        let mut r = ReplayReport::default();
        assert_eq!(summary(&r), None);
        r.udp_sessions = 2;
        r.datagrams_sent = 10;
        r.expected_datagrams_sent = 10;
        r.datagrams_received = 9;
        r.expected_datagrams_received = 10;
        r.datagrams_missing = 1;
        assert_eq!(
            summary(&r).unwrap(),
            "10 of 10 sent, 9 of 10 received, 1 missing (2 UDP sessions)"
        );
        r.datagrams_refused = 3;
        assert!(summary(&r).unwrap().contains(", 3 refused ("));
        let mut c = ReplayConnection::default();
        assert_eq!(outcome(&c), None);
        c.udp = true;
        c.datagrams_missing = 1;
        c.expected_datagrams_received = 5;
        assert_eq!(outcome(&c).unwrap(), vec!["1 of 5 datagrams missing"]);
    }
}
