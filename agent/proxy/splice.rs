//! The zero-copy path of a relayed direction. While nothing needs a
//! direction's bytes (no recording taps the proxy, no fault profile shapes
//! the direction) and they come in bulk (`BULK_CHUNK`), Linux moves them
//! socket → pipe → socket with `splice(2)` and they never enter user
//! space (`leg`, through a `pipe` of the direction's own). Byte counters, per-second stats, metrics and Watch
//! transfer events need only a count, which `splice` returns, so a Watch
//! subscriber does not stop it. Elsewhere, or with `--no-splice`, every
//! direction copies (`pump`).
//!
//! The pipe is emptied into the receiver before each new read, so when a
//! recording or a shaping profile appears, the bytes read before it have
//! already been passed on (relayed, not recorded) and the copying path
//! takes over with nothing in between; it comes back here once nothing
//! needs the bytes again.

// Only Linux has the path; elsewhere the switch stays and the rest is unused.
#![cfg_attr(not(target_os = "linux"), allow(dead_code))]

use std::sync::atomic::{AtomicBool, Ordering};

#[cfg(target_os = "linux")]
mod leg;
#[cfg(target_os = "linux")]
mod pipe;

/// After a pipe could not be had (the descriptor budget is short, or the
/// kernel gave too small a pipe), how many chunks a direction copies
/// before it asks again: asking costs system calls, copying a chunk does
/// not fail.
pub const RETRY_AFTER_CHUNKS: u16 = 64;

/// Whether directions may splice (`--no-splice` turns it off for the whole
/// agent, e.g. for the benchmark to compare both paths).
static ENABLED: AtomicBool = AtomicBool::new(true);

/// Turns the zero-copy path on or off for every connection from its next
/// chunk on. It has no effect where there is no `splice(2)`.
pub fn set_splice(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// Turns the zero-copy path off for good when the system refuses
/// `splice` itself (`error`), saying so once.
#[cfg(target_os = "linux")]
fn refuse_everywhere(error: &std::io::Error) {
    if ENABLED.swap(false, Ordering::Relaxed) {
        tracing::warn!(%error, "splice(2) is refused here: every connection copies from now on");
    }
}

/// Whether the zero-copy path is on (and available on this system).
pub fn splice_enabled() -> bool {
    cfg!(target_os = "linux") && ENABLED.load(Ordering::Relaxed)
}

/// Least a read (or a splice) must move for a direction to count as a
/// bulk flow: the sender had that much waiting. Only bulk flows splice.
/// Small messages (game traffic, request and answer) gain nothing from it
/// and would pay a system call more per message (a splice that finds the
/// socket empty; a short read tells tokio the socket is drained, a short
/// splice cannot, as a pipe fills by pages, not bytes): they are copied.
pub const BULK_CHUNK: usize = 32 * 1024;

/// Small chunks in a row after which a spliced direction goes back to
/// copying. One is not enough: a bulk flow's burst often ends in a small
/// chunk (the sender was between two writes), and leaving on it cost a new
/// pipe, a peek and a copied chunk each time (580 pipes a second at 8
/// connections). A flow of small messages leaves after its second one,
/// having paid one empty splice more.
pub const SMALL_CHUNKS_TO_LEAVE: u8 = 2;

/// Whether a direction tries the zero-copy path for its next chunk: only
/// in a bulk flow, and not while it waits out `RETRY_AFTER_CHUNKS` after a
/// pipe could not be had.
#[derive(Debug)]
pub(super) struct Gate {
    skip: u16,
    /// Chunks in a row smaller than `BULK_CHUNK`, up to
    /// `SMALL_CHUNKS_TO_LEAVE`.
    small: u8,
}

impl Default for Gate {
    /// A new direction copies until it reads a bulk chunk.
    fn default() -> Gate {
        Gate {
            skip: 0,
            small: SMALL_CHUNKS_TO_LEAVE,
        }
    }
}

impl Gate {
    /// Whether a copying direction splices its next chunk: the last chunk
    /// was a bulk one. Counts down the chunks copied after a refused pipe.
    pub(super) fn open(&mut self) -> bool {
        if !splice_enabled() || self.small > 0 {
            return false;
        }
        if self.skip > 0 {
            self.skip -= 1;
            return false;
        }
        true
    }

    /// Whether a splicing direction goes on splicing: fewer than
    /// `SMALL_CHUNKS_TO_LEAVE` small chunks in a row.
    pub(super) fn stays(&self) -> bool {
        splice_enabled() && self.small < SMALL_CHUNKS_TO_LEAVE
    }

    /// Notes how much the last read or splice moved.
    pub(super) fn copied(&mut self, n: usize) {
        self.small = if n >= BULK_CHUNK {
            0
        } else {
            self.small.saturating_add(1).min(SMALL_CHUNKS_TO_LEAVE)
        };
    }

    /// No pipe could be had: copy the next chunks before asking again.
    pub(super) fn refused(&mut self) {
        self.skip = RETRY_AFTER_CHUNKS;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bulk_flows_splice() {
        let mut gate = Gate::default();
        assert!(!gate.open(), "a new direction copies");
        gate.copied(BULK_CHUNK - 1);
        assert!(!gate.open(), "small chunks are copied");
        gate.copied(BULK_CHUNK);
        assert_eq!(gate.open(), splice_enabled());
        gate.copied(64);
        assert!(
            !gate.open(),
            "a copying direction splices only after a bulk chunk"
        );
    }

    #[test]
    fn a_splicing_direction_leaves_after_small_chunks_in_a_row() {
        let mut gate = Gate::default();
        gate.copied(BULK_CHUNK);
        assert_eq!(gate.stays(), splice_enabled());
        gate.copied(100);
        assert_eq!(gate.stays(), splice_enabled(), "a burst's small tail");
        gate.copied(BULK_CHUNK);
        gate.copied(100);
        assert_eq!(gate.stays(), splice_enabled(), "the count starts again");
        gate.copied(100);
        assert!(!gate.stays(), "small messages now: back to copying");
        assert!(!gate.open());
    }

    #[test]
    fn a_refused_pipe_is_asked_for_again_only_after_the_retry_chunks() {
        let mut gate = Gate::default();
        gate.copied(BULK_CHUNK);
        assert_eq!(gate.open(), splice_enabled());
        gate.refused();
        let copied = (0..RETRY_AFTER_CHUNKS)
            .filter(|_| {
                gate.copied(BULK_CHUNK);
                !gate.open()
            })
            .count();
        assert_eq!(copied, usize::from(RETRY_AFTER_CHUNKS));
        assert_eq!(gate.open(), splice_enabled(), "asks again after them");
    }
}
