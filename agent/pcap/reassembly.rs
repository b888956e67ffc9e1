//! TCP reassembly of one direction of one flow: segments in capture order go
//! in, the byte stream comes out in order. Pure: no I/O, no clock.
//!
//! - Positions are kept as 64-bit stream offsets; sequence numbers are
//!   compared with wrapping 32-bit arithmetic, so streams over 4 GiB and
//!   sequence wrap-around work.
//! - Retransmitted and overlapping bytes are dropped (the first copy wins).
//! - Out-of-order segments wait until the gap before them fills; at most
//!   [`MAX_PENDING_BYTES`] wait, after which the gap is declared lost.
//! - Without a SYN the stream starts at the first sequence number seen.

use std::collections::BTreeMap;

/// Most bytes buffered out of order per direction before the oldest gap is
/// given up as lost: bounds memory whatever the capture holds.
pub const MAX_PENDING_BYTES: usize = 8 << 20;

/// Segments further ahead than this (bytes) are not believed: a bogus or
/// foreign sequence number rather than reordering.
const MAX_AHEAD: i64 = 1 << 30;

/// What reassembly releases, in stream order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// The next bytes of the stream.
    Data(Vec<u8>),
    /// This many bytes are missing from the capture (a gap given up on).
    Lost(u64),
    /// The sender's FIN: the stream ends here.
    Fin,
}

/// Counters of what reassembly had to repair.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ReassemblyStats {
    /// Bytes received more than once (retransmissions, overlaps), dropped.
    pub(crate) duplicate_bytes: u64,
    /// Segments that arrived ahead of a gap and had to wait.
    pub(crate) out_of_order_segments: u64,
    /// Bytes of gaps never filled.
    pub(crate) lost_bytes: u64,
    /// Segments ignored as too far outside the window.
    pub(crate) out_of_window_segments: u64,
}

/// Reassembles one direction of a TCP connection.
#[derive(Debug, Default)]
pub(crate) struct Reassembler {
    /// Sequence number of stream offset 0; `None` until the first segment.
    base: Option<u32>,
    /// Stream offset of the next byte to deliver.
    delivered: u64,
    /// Segments ahead of `delivered`, by stream offset.
    pending: BTreeMap<u64, Vec<u8>>,
    /// Bytes held in `pending`.
    pending_bytes: usize,
    /// Stream offset of the FIN, once seen.
    fin_at: Option<u64>,
    /// The FIN was delivered.
    finished: bool,
    /// What was repaired.
    pub(crate) stats: ReassemblyStats,
}

impl Reassembler {
    /// A SYN with sequence number `seq`: the stream starts at `seq + 1`.
    /// Ignored once the stream has started (retransmitted SYN).
    pub(crate) fn syn(&mut self, seq: u32) {
        if self.base.is_none() {
            self.base = Some(seq.wrapping_add(1));
        }
    }

    /// Whether the FIN was delivered.
    pub(crate) fn finished(&self) -> bool {
        self.finished
    }

    /// A segment whose first payload byte has sequence number `seq`.
    pub(crate) fn segment(&mut self, seq: u32, payload: &[u8], fin: bool, out: &mut Vec<Delivery>) {
        if self.finished {
            self.stats.duplicate_bytes += payload.len() as u64;
            return;
        }
        let base = *self.base.get_or_insert(seq);
        let next = base.wrapping_add(self.delivered as u32);
        let ahead = i64::from(seq.wrapping_sub(next) as i32);
        if ahead > MAX_AHEAD {
            self.stats.out_of_window_segments += 1;
            return;
        }
        let mut pos = self.delivered as i64 + ahead;
        let mut data = payload;
        let end = pos + data.len() as i64;
        if fin && self.fin_at.is_none() && end >= self.delivered as i64 {
            self.fin_at = Some(end as u64);
        }
        if let Some(fin_at) = self.fin_at {
            // Bytes past the FIN are not part of the stream.
            let keep = (fin_at as i64 - pos).clamp(0, data.len() as i64);
            data = &data[..keep as usize];
        }
        if pos < self.delivered as i64 {
            let skip = (self.delivered as i64 - pos).min(data.len() as i64);
            self.stats.duplicate_bytes += skip as u64;
            data = &data[skip as usize..];
            pos += skip;
        }
        if !data.is_empty() {
            let pos = pos as u64;
            if pos == self.delivered {
                self.deliver(data.to_vec(), out);
            } else {
                self.stats.out_of_order_segments += 1;
                self.hold(pos, data);
                while self.pending_bytes > MAX_PENDING_BYTES {
                    self.skip_gap(out);
                }
            }
        }
        self.check_fin(out);
    }

    /// Gives up on every gap: delivers what is buffered, with `Lost` for
    /// each hole, and the FIN if one was seen (end of capture or a reset).
    pub(crate) fn flush(&mut self, out: &mut Vec<Delivery>) {
        while !self.pending.is_empty() {
            self.skip_gap(out);
        }
        if let Some(fin_at) = self.fin_at
            && fin_at > self.delivered
        {
            self.lose(fin_at - self.delivered, out);
        }
        self.check_fin(out);
    }

    fn check_fin(&mut self, out: &mut Vec<Delivery>) {
        if !self.finished && self.fin_at == Some(self.delivered) {
            self.finished = true;
            out.push(Delivery::Fin);
        }
    }

    /// Buffers bytes at stream offset `pos` > `delivered` (the longer copy
    /// wins when two start at the same offset).
    fn hold(&mut self, pos: u64, data: &[u8]) {
        let old = self.pending.get(&pos).map_or(0, Vec::len);
        if data.len() > old {
            self.pending_bytes = self.pending_bytes - old + data.len();
            self.pending.insert(pos, data.to_vec());
        } else {
            self.stats.duplicate_bytes += data.len() as u64;
        }
    }

    /// Declares the gap before the first buffered segment lost, then
    /// delivers what became contiguous.
    fn skip_gap(&mut self, out: &mut Vec<Delivery>) {
        let Some((&pos, _)) = self.pending.first_key_value() else {
            return;
        };
        if pos > self.delivered {
            self.lose(pos - self.delivered, out);
        }
        self.deliver(Vec::new(), out);
    }

    fn lose(&mut self, bytes: u64, out: &mut Vec<Delivery>) {
        self.delivered += bytes;
        self.stats.lost_bytes = self.stats.lost_bytes.saturating_add(bytes);
        out.push(Delivery::Lost(bytes));
    }

    /// Delivers `chunk` (at `delivered`) and every buffered segment that is
    /// now contiguous, as one `Data`.
    fn deliver(&mut self, mut chunk: Vec<u8>, out: &mut Vec<Delivery>) {
        self.delivered += chunk.len() as u64;
        while let Some(entry) = self.pending.first_entry() {
            let pos = *entry.key();
            if pos > self.delivered {
                break;
            }
            let data = entry.remove();
            self.pending_bytes -= data.len();
            let skip = ((self.delivered - pos) as usize).min(data.len());
            self.stats.duplicate_bytes += skip as u64;
            chunk.extend_from_slice(&data[skip..]);
            self.delivered += (data.len() - skip) as u64;
        }
        if !chunk.is_empty() {
            out.push(Delivery::Data(chunk));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A test segment: sequence number, payload, FIN flag.
    type Seg<'a> = (u32, &'a [u8], bool);

    /// A table row: name, segments, deliveries, duplicate bytes, out of order.
    type Case<'a> = (&'a str, Vec<Seg<'a>>, Vec<Delivery>, u64, u64);

    /// Feeds (seq, payload, fin) segments, then flushes; returns deliveries
    /// with adjacent data merged, and the stats.
    fn run(syn: Option<u32>, segments: &[Seg<'_>]) -> (Vec<Delivery>, ReassemblyStats) {
        let mut r = Reassembler::default();
        if let Some(isn) = syn {
            r.syn(isn);
        }
        let mut out = Vec::new();
        for &(seq, payload, fin) in segments {
            r.segment(seq, payload, fin, &mut out);
        }
        r.flush(&mut out);
        let mut merged: Vec<Delivery> = Vec::new();
        for d in out {
            match (merged.last_mut(), d) {
                (Some(Delivery::Data(prev)), Delivery::Data(next)) => prev.extend(next),
                (_, d) => merged.push(d),
            }
        }
        (merged, r.stats)
    }

    fn data(bytes: &[u8]) -> Delivery {
        Delivery::Data(bytes.to_vec())
    }

    #[test]
    fn repairs_reordering_retransmission_and_overlap() {
        let isn = u32::MAX - 3; // the stream wraps past 2^32 after 3 bytes
        let s = isn.wrapping_add(1);
        // (case, segments, expected deliveries, duplicate bytes, out of order)
        let cases: [Case<'_>; 6] = [
            (
                "in order",
                vec![(s, b"abc", false), (s.wrapping_add(3), b"def", true)],
                vec![data(b"abcdef"), Delivery::Fin],
                0,
                0,
            ),
            (
                "reordered",
                vec![(s.wrapping_add(3), b"def", false), (s, b"abc", false)],
                vec![data(b"abcdef")],
                0,
                1,
            ),
            (
                "retransmitted",
                vec![
                    (s, b"abc", false),
                    (s, b"abc", false),
                    (s.wrapping_add(3), b"d", false),
                ],
                vec![data(b"abcd")],
                3,
                0,
            ),
            (
                "overlap",
                vec![(s, b"abcd", false), (s.wrapping_add(2), b"cdef", false)],
                vec![data(b"abcdef")],
                2,
                0,
            ),
            (
                "overlapping holes",
                vec![
                    (s.wrapping_add(4), b"ef", false),
                    (s.wrapping_add(2), b"cde", false),
                    (s, b"ab", false),
                ],
                vec![data(b"abcdef")],
                1,
                2,
            ),
            (
                "fin before gap fills",
                vec![(s.wrapping_add(2), b"cd", true), (s, b"ab", false)],
                vec![data(b"abcd"), Delivery::Fin],
                0,
                1,
            ),
        ];
        for (name, segments, expected, dup, ooo) in cases {
            let (got, stats) = run(Some(isn), &segments);
            assert_eq!(got, expected, "{name}");
            assert_eq!(
                (stats.duplicate_bytes, stats.out_of_order_segments),
                (dup, ooo),
                "{name}"
            );
            assert_eq!(stats.lost_bytes, 0, "{name}");
        }
    }

    #[test]
    fn mid_stream_start_and_unfilled_gaps() {
        // No SYN: the first segment seen starts the stream.
        let (got, _) = run(None, &[(1000, b"xy", false), (1002, b"z", false)]);
        assert_eq!(got, [data(b"xyz")]);
        // A gap never filled is reported lost at the flush, FIN after it.
        let (got, stats) = run(Some(0), &[(1, b"ab", false), (6, b"fg", true)]);
        assert_eq!(
            got,
            [data(b"ab"), Delivery::Lost(3), data(b"fg"), Delivery::Fin]
        );
        assert_eq!(stats.lost_bytes, 3);
        // A lost tail before the FIN.
        let (got, _) = run(Some(0), &[(1, b"ab", false), (9, b"", true)]);
        assert_eq!(got, [data(b"ab"), Delivery::Lost(6), Delivery::Fin]);
    }

    #[test]
    fn every_arrival_order_of_segments_gives_the_stream() {
        let stream: Vec<u8> = (0..12).collect();
        // Overlapping segments: [0,4) [3,8) [8,12) [2,5) [10,12)
        let parts = [(0usize, 4usize), (3, 8), (8, 12), (2, 5), (10, 12)];
        let mut order: Vec<usize> = (0..parts.len()).collect();
        // Heap's algorithm over all 120 permutations.
        let mut c = vec![0; order.len()];
        let check = |order: &[usize]| {
            let segs: Vec<Seg<'_>> = order
                .iter()
                .map(|&i| {
                    (
                        7 + parts[i].0 as u32,
                        &stream[parts[i].0..parts[i].1],
                        false,
                    )
                })
                .collect();
            let (got, stats) = run(Some(6), &segs);
            assert_eq!(got, [data(&stream)], "order {order:?}");
            assert_eq!(stats.lost_bytes, 0);
        };
        check(&order);
        let mut i = 0;
        while i < order.len() {
            if c[i] < i {
                let j = if i % 2 == 0 { 0 } else { c[i] };
                order.swap(j, i);
                check(&order);
                c[i] += 1;
                i = 0;
            } else {
                c[i] = 0;
                i += 1;
            }
        }
    }

    #[test]
    fn pending_is_bounded_and_far_segments_ignored() {
        let mut r = Reassembler::default();
        r.syn(0);
        let mut out = Vec::new();
        let big = vec![1u8; MAX_PENDING_BYTES];
        r.segment(11, &big, false, &mut out); // 10 bytes missing before it
        assert!(out.is_empty());
        r.segment(11 + big.len() as u32 + 5, b"x", false, &mut out); // over the limit
        assert_eq!(out[0], Delivery::Lost(10));
        assert!(matches!(&out[1], Delivery::Data(d) if d.len() == MAX_PENDING_BYTES));
        assert_eq!(r.pending_bytes, 1);
        r.segment(u32::MAX / 2, b"far", false, &mut out);
        assert_eq!(r.stats.out_of_window_segments, 1);
    }
}
