//! The analysis's per-connection table, kept small: a fixed struct per
//! connection (counters, instants, the client address, and indexes into one
//! table of the names many connections share), framing state only when
//! framing was asked for, and the full [`ConnectionStats`] built only for the
//! busiest `top`, chosen with a bounded heap. 300,000 connections take about
//! 55 MB here (see `docs/ANALYSIS.md`), not the 343 MB that a full record
//! per connection took.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use super::analysis::ConnectionStats;
use super::stream::StreamFraming;
use crate::format::Transport;

/// One connection's state during the analysis.
#[derive(Debug)]
pub(crate) struct Conn {
    /// Connection id within the recording.
    pub(crate) id: u64,
    /// Timestamp of its first frame.
    pub(crate) opened_ts_ns: u64,
    /// Timestamp of its first CLOSE, if any.
    pub(crate) closed_ts_ns: Option<u64>,
    /// DATA and DATAGRAM payload bytes, c2s and s2c.
    pub(crate) bytes: [u64; 2],
    /// DATA frames, c2s and s2c.
    pub(crate) chunks: [u64; 2],
    /// DATAGRAM frames, c2s and s2c.
    pub(crate) datagrams: [u64; 2],
    /// Client address from the OPEN: unique to the connection, so not shared.
    pub(crate) client: Box<str>,
    /// Proxy id, upstream and close reason, as indexes into [`Names`].
    pub(crate) proxy: u32,
    pub(crate) upstream: u32,
    pub(crate) close_reason: u32,
    /// Its OPEN says it was already open when the recording started.
    pub(crate) mid_session: bool,
    /// Its OPEN says it is a UDP session.
    pub(crate) udp: bool,
    /// c2s and s2c framing, only when framing was asked for (boxed so a
    /// connection without it costs one pointer).
    pub(crate) framing: Option<Box<[StreamFraming; 2]>>,
}

/// Strings many connections share (proxy ids, upstreams, close reasons),
/// each kept once; index 0 is the empty string.
#[derive(Debug)]
pub(crate) struct Names {
    index: HashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
}

impl Default for Names {
    fn default() -> Self {
        Names {
            index: HashMap::new(),
            names: vec![Box::from("")],
        }
    }
}

impl Names {
    /// The index of `name`, added if new.
    pub(crate) fn intern(&mut self, name: &str) -> u32 {
        if name.is_empty() {
            return 0;
        }
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        // A recording cannot hold 4 billion distinct names (each takes a frame);
        // should one claim to, the later names share the last index.
        let i = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push(Box::from(name));
        self.index.insert(Box::from(name), i);
        i
    }

    /// The name at `i`.
    pub(crate) fn get(&self, i: u32) -> &str {
        self.names.get(i as usize).map_or("", |n| n)
    }
}

/// Connections per block of [`Conns`]: 4,096 × 120 bytes = 480 KiB.
const BLOCK: usize = 4096;

/// Every connection seen, by id.
#[derive(Debug, Default)]
pub(crate) struct Conns {
    /// Id → position in order of first frame.
    index: HashMap<u64, usize>,
    /// In order of first frame, in blocks of [`BLOCK`]: the table grows a
    /// block at a time, never copying itself to twice its size (which, for
    /// 300,000 connections, briefly held the old and the new 30 MB).
    blocks: Vec<Vec<Conn>>,
    /// How many connections.
    len: usize,
}

impl Conns {
    /// The connection `id`, created at `ts_ns` with `framing` if new.
    pub(crate) fn entry(
        &mut self,
        id: u64,
        ts_ns: u64,
        framing: impl FnOnce() -> Option<Box<[StreamFraming; 2]>>,
    ) -> &mut Conn {
        let (blocks, len) = (&mut self.blocks, &mut self.len);
        let i = *self.index.entry(id).or_insert_with(|| {
            if *len % BLOCK == 0 {
                blocks.push(Vec::with_capacity(BLOCK));
            }
            let block = blocks.len() - 1;
            blocks[block].push(Conn {
                id,
                opened_ts_ns: ts_ns,
                closed_ts_ns: None,
                bytes: [0; 2],
                chunks: [0; 2],
                datagrams: [0; 2],
                client: Box::from(""),
                proxy: 0,
                upstream: 0,
                close_reason: 0,
                mid_session: false,
                udp: false,
                framing: framing(),
            });
            *len += 1;
            *len - 1
        });
        &mut self.blocks[i / BLOCK][i % BLOCK]
    }

    /// Every connection, in order of first frame.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Conn> {
        self.blocks.iter().flatten()
    }

    /// How many.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The `top` connections with the most bytes both ways, most first, ties
    /// broken by the lower id; memory for `top` entries, not for all.
    pub(crate) fn top(&self, top: usize, names: &Names) -> Vec<ConnectionStats> {
        if top == 0 {
            return Vec::new();
        }
        // A min-heap of the best so far: its root is the one to drop next.
        let mut heap: BinaryHeap<Reverse<(u64, Reverse<u64>, usize)>> =
            BinaryHeap::with_capacity(top.min(self.len) + 1);
        for (i, c) in self.iter().enumerate() {
            let key = (c.bytes[0].saturating_add(c.bytes[1]), Reverse(c.id), i);
            if heap.len() < top {
                heap.push(Reverse(key));
            } else if heap.peek().is_some_and(|Reverse(worst)| key > *worst) {
                heap.pop();
                heap.push(Reverse(key));
            }
        }
        let mut best: Vec<_> = heap.into_iter().map(|Reverse(k)| k).collect();
        best.sort_unstable_by(|a, b| b.cmp(a));
        best.into_iter()
            .map(|(_, _, i)| stats(&self.blocks[i / BLOCK][i % BLOCK], names))
            .collect()
    }
}

/// The full record of one connection.
fn stats(c: &Conn, names: &Names) -> ConnectionStats {
    ConnectionStats {
        conn: c.id,
        client: c.client.to_string(),
        upstream: names.get(c.upstream).to_owned(),
        proxy_id: names.get(c.proxy).to_owned(),
        mid_session: c.mid_session,
        opened_ts_ns: c.opened_ts_ns,
        closed_ts_ns: c.closed_ts_ns,
        close_reason: c.closed_ts_ns.map(|_| names.get(c.close_reason).to_owned()),
        bytes_c2s: c.bytes[0],
        bytes_s2c: c.bytes[1],
        chunks_c2s: c.chunks[0],
        chunks_s2c: c.chunks[1],
        transport: if c.udp {
            Transport::Udp
        } else {
            Transport::Tcp
        },
        datagrams_c2s: c.datagrams[0],
        datagrams_s2c: c.datagrams[1],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_keeps_the_busiest_with_ties_to_the_lower_id() {
        let mut conns = Conns::default();
        for (id, bytes) in [(5, 10), (1, 30), (2, 10), (9, 0), (3, 30), (4, 20)] {
            conns.entry(id, 0, || None).bytes = [bytes, 0];
        }
        let names = Names::default();
        let ids = |n| {
            conns
                .top(n, &names)
                .iter()
                .map(|c| c.conn)
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(3), [1, 3, 4]);
        assert_eq!(ids(5), [1, 3, 4, 2, 5]);
        assert_eq!(ids(100), [1, 3, 4, 2, 5, 9]);
        assert!(ids(0).is_empty());
    }

    #[test]
    fn the_table_spans_blocks() {
        let mut conns = Conns::default();
        let n = 2 * BLOCK as u64 + 5;
        for id in (1..=n).rev() {
            conns.entry(id * 7, id, || None).bytes = [id, 0];
        }
        // A second frame of an early connection finds the same entry.
        conns.entry(n * 7, 0, || None).chunks[0] += 1;
        assert_eq!(
            (conns.len(), conns.iter().count()),
            (n as usize, n as usize)
        );
        let top = conns.top(2, &Names::default());
        assert_eq!(
            (top[0].conn, top[0].chunks_c2s, top[1].conn),
            (n * 7, 1, (n - 1) * 7)
        );
    }

    #[test]
    fn a_connection_stays_small() {
        // The memory bound in the module doc rests on this.
        assert!(
            std::mem::size_of::<Conn>() <= 120,
            "{}",
            std::mem::size_of::<Conn>()
        );
        let mut names = Names::default();
        assert_eq!(
            (names.intern(""), names.intern("p1"), names.intern("p1")),
            (0, 1, 1)
        );
        assert_eq!((names.get(1), names.get(0), names.get(7)), ("p1", "", ""));
    }
}
