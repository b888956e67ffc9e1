//! Framing of one direction of one connection: a [`Deframer`] while message
//! boundaries are known, a resynchronisation search while they are not (a
//! connection recorded mid-session, or a stream after a LOSS), and nothing
//! once the stream broke the spec.
//!
//! Resynchronising keeps no payload. A length-prefixed stream is taken to be
//! back on a boundary at the first run of DATA chunks that each parse, from
//! their first byte, into whole messages ending exactly at the chunk's end,
//! [`CONFIRM_MESSAGES`] messages in all: applications write whole messages,
//! so a chunk usually starts on a boundary, while bytes taken from inside a
//! message rarely chain into several lengths that land on the chunk's end
//! (with a u16 field, about once in 2¹⁶ per message). A `line` stream is
//! back on a boundary right after its first `\n`. Bytes before the boundary
//! count as unframed.

use super::codec::Deframer;
use super::framing::FramingSpec;
use super::messages::MessageStatsBuilder;

/// Messages a candidate run must hold before a length-prefixed stream is
/// taken to be back on message boundaries.
pub const CONFIRM_MESSAGES: usize = 3;

/// Where framing of one stream stands.
#[derive(Debug, Clone)]
enum State {
    /// Boundaries are known: every byte goes through the deframer.
    Framing(Deframer),
    /// Boundaries are unknown: looking for a run of whole-message chunks.
    Resync {
        /// Sizes of the messages of the candidate run so far
        /// (fewer than [`CONFIRM_MESSAGES`]).
        run: [u64; CONFIRM_MESSAGES],
        /// How many of `run` are set.
        len: usize,
    },
    /// The stream broke the spec: no more messages are counted.
    Stopped,
}

/// Framing of one stream, with the bytes it put into complete messages.
#[derive(Debug, Clone)]
pub(crate) struct StreamFraming {
    /// The layout of the messages.
    spec: FramingSpec,
    /// Where framing stands.
    state: State,
    /// Bytes of this stream in complete messages.
    framed: u64,
}

impl StreamFraming {
    /// Framing from the first byte of a stream (`at_boundary`), or from the
    /// first boundary found in it (a connection caught mid-session).
    pub(crate) fn new(spec: FramingSpec, at_boundary: bool) -> Self {
        let state = if at_boundary {
            State::Framing(Deframer::new(spec))
        } else {
            State::searching()
        };
        StreamFraming {
            spec,
            state,
            framed: 0,
        }
    }

    /// The stream starts over inside some message (a LOSS, or an OPEN saying
    /// the connection was already open): look for a boundary again.
    pub(crate) fn lose_sync(&mut self) {
        if !matches!(self.state, State::Stopped) {
            self.state = State::searching();
        }
    }

    /// The next DATA chunk of the stream; complete messages go to `messages`.
    pub(crate) fn data(&mut self, chunk: &[u8], messages: &mut MessageStatsBuilder) {
        let framed = &mut self.framed;
        match &mut self.state {
            State::Framing(deframer) => {
                let fed = deframer.feed(chunk, counter(messages, framed));
                if fed.is_err() {
                    messages.framing_error();
                    self.state = State::Stopped;
                }
            }
            State::Resync { run, len } => {
                if let Some(deframer) = resync(self.spec, run, len, chunk, messages, framed) {
                    self.state = State::Framing(deframer);
                }
            }
            State::Stopped => {}
        }
    }

    /// Where the `stream_bytes` bytes of the stream ended up, once it ended:
    /// (incomplete, unframed). Incomplete bytes are those of the message
    /// still open while framing; every other byte outside a complete message
    /// is unframed.
    pub(crate) fn rest(&self, stream_bytes: u64) -> (u64, u64) {
        let outside = stream_bytes.saturating_sub(self.framed);
        match &self.state {
            State::Framing(d) => (d.pending(), outside.saturating_sub(d.pending())),
            State::Resync { .. } | State::Stopped => (0, outside),
        }
    }
}

impl State {
    fn searching() -> Self {
        State::Resync {
            run: [0; CONFIRM_MESSAGES],
            len: 0,
        }
    }
}

/// The callback that counts each complete message in `messages` and its
/// bytes in `framed`.
fn counter<'a>(messages: &'a mut MessageStatsBuilder, framed: &'a mut u64) -> impl FnMut(u64) + 'a {
    |size| {
        messages.message(size);
        *framed += size;
    }
}

/// One chunk while looking for a boundary: the deframer to go on with once
/// one is found (this chunk's messages, and the run's, counted).
fn resync(
    spec: FramingSpec,
    run: &mut [u64; CONFIRM_MESSAGES],
    len: &mut usize,
    chunk: &[u8],
    messages: &mut MessageStatsBuilder,
    framed: &mut u64,
) -> Option<Deframer> {
    if chunk.is_empty() {
        return None;
    }
    if spec == FramingSpec::Line {
        let newline = chunk.iter().position(|&b| b == b'\n')?;
        let mut deframer = Deframer::new(spec);
        // Lines cannot fail to frame.
        let _ = deframer.feed(&chunk[newline + 1..], counter(messages, framed));
        return Some(deframer);
    }
    // Does the chunk hold whole messages only, from its first byte?
    let mut probe = Deframer::new(spec);
    let mut sizes = [0; CONFIRM_MESSAGES];
    let mut count = 0;
    let parsed = probe.feed(chunk, |size| {
        if count < CONFIRM_MESSAGES {
            sizes[count] = size;
        }
        count += 1;
    });
    if parsed.is_err() || probe.pending() != 0 || count == 0 {
        *len = 0;
        return None;
    }
    if *len + count < CONFIRM_MESSAGES {
        run[*len..*len + count].copy_from_slice(&sizes[..count]);
        *len += count;
        return None;
    }
    // Confirmed: the run and this chunk are messages.
    let mut counted = counter(messages, framed);
    run[..*len].iter().for_each(|&size| counted(size));
    let mut deframer = Deframer::new(spec);
    // It parsed above, so it parses again.
    let _ = deframer.feed(chunk, counted);
    Some(deframer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(body: &[u8]) -> Vec<u8> {
        let mut m = (body.len() as u16).to_be_bytes().to_vec();
        m.extend_from_slice(body);
        m
    }

    /// Feeds `chunks` to a stream starting mid-session; (messages, framed,
    /// incomplete, unframed).
    fn mid_session(spec: &str, chunks: &[Vec<u8>]) -> (u64, u64, u64, u64) {
        let mut s = StreamFraming::new(spec.parse().unwrap(), false);
        let mut m = MessageStatsBuilder::default();
        let mut total = 0;
        for c in chunks {
            s.data(c, &mut m);
            total += c.len() as u64;
        }
        let (incomplete, unframed) = s.rest(total);
        let stats = m.finish();
        assert_eq!(stats.bytes + incomplete + unframed, total, "{spec}");
        (stats.count, stats.bytes, incomplete, unframed)
    }

    #[test]
    fn a_length_prefixed_stream_resyncs_at_a_run_of_whole_message_chunks() {
        // The tail of a message, then chunks of whole messages, then a cut.
        let chunks = vec![
            b"ail of an earlier message".to_vec(),
            msg(b"one"),
            [msg(b"two"), msg(b"three")].concat(),
            msg(b"four"),
            msg(b"fi")[..3].to_vec(),
        ];
        // 25 bytes skipped; 5 + 5 + 7 + 6 framed; 3 bytes of "fi" incomplete.
        assert_eq!(mid_session("u16be", &chunks), (4, 23, 3, 25));
    }

    #[test]
    fn a_broken_run_starts_over_and_its_bytes_stay_unframed() {
        let chunks = vec![
            msg(b"a"),
            msg(b"b"),
            // Not whole messages: the run of two is dropped.
            vec![0, 9, 1],
            msg(b"c"),
            msg(b"d"),
        ];
        // Only two whole-message chunks after the break: not confirmed.
        assert_eq!(mid_session("u16be", &chunks), (0, 0, 0, 15));
        let mut more = chunks.clone();
        more.push(msg(b"e"));
        more.push(msg(b"f"));
        // c, d, e confirm; f is framed normally.
        assert_eq!(mid_session("u16be", &more), (4, 12, 0, 9));
    }

    #[test]
    fn a_line_stream_resyncs_after_its_first_newline() {
        let chunks = vec![b"rest of a line\nnext".to_vec(), b" line\npartial".to_vec()];
        assert_eq!(mid_session("line", &chunks), (1, 10, 7, 15));
    }

    #[test]
    fn garbage_never_resyncs() {
        let chunks = vec![vec![0xff; 40]; 10];
        assert_eq!(mid_session("u32be", &chunks), (0, 0, 0, 400));
    }

    #[test]
    fn a_loss_resyncs_and_a_framing_error_stops() {
        let spec: FramingSpec = "u16be,adjust=-5".parse().unwrap();
        let mut s = StreamFraming::new(spec, true);
        let mut m = MessageStatsBuilder::default();
        s.data(&[0, 6, 1], &mut m);
        s.lose_sync();
        s.data(&[0, 5, 0, 5, 0, 5], &mut m);
        assert_eq!(m.clone().finish().count, 4);
        s.data(&[0, 4], &mut m);
        assert_eq!(m.finish().framing_errors, 1);
        s.lose_sync();
        assert!(matches!(s.state, State::Stopped));
    }
}
