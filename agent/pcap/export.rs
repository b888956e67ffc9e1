//! Recording → pcapng: each recorded connection becomes a complete TCP flow
//! that Wireshark and tshark can follow, so a recording can be inspected
//! with the usual tools. Streaming: per connection only its addresses and
//! sequence numbers are kept.
//!
//! Per connection (details and limits in `docs/ANALYSIS.md`):
//! - OPEN: SYN, SYN/ACK, ACK at the open time (none for mid-session
//!   connections, which start with their first data);
//! - DATA: segments of at most [`MAX_SEGMENT_V4`] (IPv4) or
//!   [`MAX_SEGMENT_V6`] bytes, then an ACK from the peer;
//! - HALF_CLOSE: FIN/ACK from that side, ACK from the peer;
//! - CLOSE: RST from one side if the reason says "reset", else FIN/ACK and
//!   ACK for each side that has not sent one yet;
//! - LOSS: the sender's sequence number jumps by the lost count, so tools
//!   show the gap ("previous segment not captured").
//!
//! [`MAX_SEGMENT_V4`]: super::segment::MAX_SEGMENT_V4
//! [`MAX_SEGMENT_V6`]: super::segment::MAX_SEGMENT_V6

use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use pcap_file::pcapng::PcapNgWriter;
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::blocks::section_header::{SectionHeaderBlock, SectionHeaderOption};
use pcap_file::{DataLink, Endianness};

use super::endpoints::{addresses, isn};
use super::error::PcapError;
use super::segment::{CLIENT_MAC, SERVER_MAC, Segment, max_segment, write_segment};
use crate::format::{Direction, End, FrameBody, Next, RecordingReader};

/// Snapshot length declared for the exported interface: above any packet
/// we write (at most 14 + 40 + 65 535 bytes).
const SNAPLEN: u32 = 262_144;

/// What an export wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportSummary {
    /// Connections exported (one TCP flow each).
    pub connections: u64,
    /// Connections exported without a handshake: mid-session, or no OPEN.
    pub mid_session_connections: u64,
    /// Connections whose client or upstream address did not parse and was
    /// replaced by a 127.0.0.1 fallback.
    pub fallback_addresses: u64,
    /// Packets written.
    pub packets: u64,
    /// TCP payload bytes client→server.
    pub bytes_c2s: u64,
    /// TCP payload bytes server→client.
    pub bytes_s2c: u64,
    /// Bytes LOSS frames declared, exported as sequence-number gaps.
    pub lost_bytes: u64,
    /// Frames with no packet: annotations, LOSS of no connection, frames
    /// after their connection's CLOSE.
    pub skipped_frames: u64,
    /// How the recording ended (a cut file is exported up to the cut).
    pub end: End,
}

/// The TCP state of one exported connection. Side 0 is the client (it
/// sends c2s), side 1 the server.
#[derive(Debug, Clone, Copy)]
struct Flow {
    /// Address of each side.
    addr: [SocketAddr; 2],
    /// Next sequence number each side sends.
    next: [u32; 2],
    /// Whether each side has sent its FIN.
    fin: [bool; 2],
}

/// Where packets go: the pcapng writer and its running totals.
struct PacketOut<W: Write> {
    writer: PcapNgWriter<BufWriter<W>>,
    /// Wall-clock anchor of the recording (`Header::started_at_unix_ns`).
    start_unix_ns: i64,
    /// Reused packet buffer.
    buf: Vec<u8>,
    /// Packets written.
    packets: u64,
}

impl<W: Write> PacketOut<W> {
    /// Writes one segment sent by `side` of `flow` at recording time `ts_ns`.
    fn send(
        &mut self,
        ts_ns: u64,
        flow: &Flow,
        side: usize,
        seg: SegmentSpec<'_>,
    ) -> Result<(), PcapError> {
        let other = 1 - side;
        let seg = Segment {
            src: flow.addr[side],
            dst: flow.addr[other],
            seq: flow.next[side],
            ack: (!seg.bare_syn).then_some(flow.next[other]),
            syn: seg.syn,
            fin: seg.fin,
            rst: seg.rst,
            psh: seg.psh,
            payload: seg.payload,
        };
        let macs = if side == 0 {
            (CLIENT_MAC, SERVER_MAC)
        } else {
            (SERVER_MAC, CLIENT_MAC)
        };
        self.buf.clear();
        write_segment(&seg, Some(macs), &mut self.buf)?;
        let unix_ns =
            (i128::from(self.start_unix_ns) + i128::from(ts_ns)).clamp(0, i128::from(u64::MAX));
        let len = self.buf.len() as u32;
        let block = EnhancedPacketBlock {
            interface_id: 0,
            timestamp: Duration::from_nanos(unix_ns as u64),
            original_len: len,
            data: Cow::Borrowed(&self.buf),
            options: vec![],
        };
        self.writer.write_pcapng_block(block).map_err(write_error)?;
        self.packets += 1;
        Ok(())
    }

    /// A pure ACK from `side`.
    fn ack(&mut self, ts_ns: u64, flow: &Flow, side: usize) -> Result<(), PcapError> {
        self.send(ts_ns, flow, side, SegmentSpec::default())
    }

    /// SYN, SYN/ACK, ACK: the flow starts at the next sequence numbers.
    fn handshake(&mut self, ts_ns: u64, flow: &mut Flow) -> Result<(), PcapError> {
        let syn = SegmentSpec {
            syn: true,
            bare_syn: true,
            ..SegmentSpec::default()
        };
        self.send(ts_ns, flow, 0, syn)?;
        flow.next[0] = flow.next[0].wrapping_add(1);
        let syn_ack = SegmentSpec {
            syn: true,
            ..SegmentSpec::default()
        };
        self.send(ts_ns, flow, 1, syn_ack)?;
        flow.next[1] = flow.next[1].wrapping_add(1);
        self.ack(ts_ns, flow, 0)
    }

    /// `payload` from `from` in segments that fit one IP packet (PSH on the
    /// last), then the peer's ACK. An empty payload sends nothing.
    fn data(
        &mut self,
        ts_ns: u64,
        flow: &mut Flow,
        from: usize,
        payload: &[u8],
    ) -> Result<(), PcapError> {
        let max = max_segment(&flow.addr[0], &flow.addr[1]);
        let pieces = payload.len().div_ceil(max);
        for (i, piece) in payload.chunks(max).enumerate() {
            let data = SegmentSpec {
                psh: i + 1 == pieces,
                payload: piece,
                ..SegmentSpec::default()
            };
            self.send(ts_ns, flow, from, data)?;
            flow.next[from] = flow.next[from].wrapping_add(piece.len() as u32);
        }
        if pieces > 0 {
            self.ack(ts_ns, flow, 1 - from)?;
        }
        Ok(())
    }

    /// FIN/ACK from `from` (unless it already sent one), then the peer's ACK.
    fn fin(&mut self, ts_ns: u64, flow: &mut Flow, from: usize) -> Result<(), PcapError> {
        if flow.fin[from] {
            return Ok(());
        }
        let spec = SegmentSpec {
            fin: true,
            ..SegmentSpec::default()
        };
        self.send(ts_ns, flow, from, spec)?;
        flow.next[from] = flow.next[from].wrapping_add(1);
        flow.fin[from] = true;
        self.ack(ts_ns, flow, 1 - from)
    }

    /// RST/ACK from `from`.
    fn reset(&mut self, ts_ns: u64, flow: &Flow, from: usize) -> Result<(), PcapError> {
        let rst = SegmentSpec {
            rst: true,
            ..SegmentSpec::default()
        };
        self.send(ts_ns, flow, from, rst)
    }
}

/// Flags and payload of a segment to send; seq and ack come from the flow.
#[derive(Debug, Clone, Copy, Default)]
struct SegmentSpec<'a> {
    syn: bool,
    /// A SYN without ACK (the client's first segment).
    bare_syn: bool,
    fin: bool,
    rst: bool,
    psh: bool,
    payload: &'a [u8],
}

fn write_error(e: pcap_file::PcapError) -> PcapError {
    match e {
        pcap_file::PcapError::IoError(io) => PcapError::Write(io),
        other => PcapError::Build(other.to_string()),
    }
}

fn side(dir: Direction) -> usize {
    match dir {
        Direction::C2s => 0,
        Direction::S2c => 1,
    }
}

/// Exports the recording read from `recording` as pcapng into `out`
/// (buffered internally; flushed before returning).
///
/// # Errors
/// [`PcapError::Recording`] when the recording cannot be read (its damage
/// after the header is not an error: see [`ExportSummary::end`]),
/// [`PcapError::Write`] when `out` fails.
pub fn export_pcapng<R: Read, W: Write>(recording: R, out: W) -> Result<ExportSummary, PcapError> {
    let mut reader = RecordingReader::open(recording)?;
    let section = SectionHeaderBlock {
        endianness: Endianness::native(),
        options: vec![SectionHeaderOption::UserApplication(Cow::Borrowed("reel"))],
        ..SectionHeaderBlock::default()
    };
    let mut writer =
        PcapNgWriter::with_section_header(BufWriter::new(out), section).map_err(write_error)?;
    let interface = InterfaceDescriptionBlock {
        linktype: DataLink::ETHERNET,
        snaplen: SNAPLEN,
        // Nanosecond timestamps (the default would be microseconds).
        options: vec![InterfaceDescriptionOption::IfTsResol(9)],
    };
    writer.write_pcapng_block(interface).map_err(write_error)?;
    let mut out = PacketOut {
        writer,
        start_unix_ns: reader.header().started_at_unix_ns,
        buf: Vec::new(),
        packets: 0,
    };
    let mut flows: HashMap<u64, Flow> = HashMap::new();
    let mut closed: HashSet<u64> = HashSet::new();
    // Counted as frames go by; `end` is replaced once the end is known.
    let mut s = ExportSummary {
        connections: 0,
        mid_session_connections: 0,
        fallback_addresses: 0,
        packets: 0,
        bytes_c2s: 0,
        bytes_s2c: 0,
        lost_bytes: 0,
        skipped_frames: 0,
        end: End::Truncated {
            valid_bytes: 0,
            cut_bytes: 0,
        },
    };
    let end = loop {
        let frame = match reader.next()? {
            Next::Frame(frame) => frame,
            Next::End(end) => break end,
        };
        let ts = frame.ts_ns;
        if frame.conn == 0
            || closed.contains(&frame.conn)
            || matches!(frame.body, FrameBody::Annotation { .. })
        {
            s.skipped_frames += 1;
            continue;
        }
        let flow = match flows.entry(frame.conn) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => {
                let info = match &frame.body {
                    FrameBody::Open(info) => Some(info),
                    _ => None,
                };
                let (addr, fell_back) = addresses(frame.conn, info);
                let mut flow = Flow {
                    addr,
                    next: [isn(frame.conn, 0), isn(frame.conn, 1)],
                    fin: [false; 2],
                };
                s.connections += 1;
                s.fallback_addresses += u64::from(fell_back);
                if info.is_some_and(|i| !i.mid_session) {
                    out.handshake(ts, &mut flow)?;
                } else {
                    s.mid_session_connections += 1;
                }
                entry.insert(flow)
            }
        };
        match &frame.body {
            FrameBody::Open(_) | FrameBody::Annotation { .. } => {}
            // TODO(udp): UDP packets.
            FrameBody::Datagram { .. } => {}
            FrameBody::Data { dir, payload } => {
                out.data(ts, flow, side(*dir), payload)?;
                match dir {
                    Direction::C2s => s.bytes_c2s += payload.len() as u64,
                    Direction::S2c => s.bytes_s2c += payload.len() as u64,
                }
            }
            FrameBody::HalfClose { dir } => out.fin(ts, flow, side(*dir))?,
            FrameBody::Loss { dir, bytes, .. } => {
                // Lengths are taken modulo 2^32, as TCP sequence numbers are.
                let from = side(*dir);
                flow.next[from] = flow.next[from].wrapping_add(*bytes as u32);
                s.lost_bytes = s.lost_bytes.saturating_add(*bytes);
            }
            FrameBody::Close { reason } => {
                let reason = reason.to_ascii_lowercase();
                if reason.contains("reset") {
                    let upstream = reason.contains("upstream") || reason.contains("server");
                    out.reset(ts, flow, usize::from(upstream))?;
                } else {
                    out.fin(ts, flow, 0)?;
                    out.fin(ts, flow, 1)?;
                }
                flows.remove(&frame.conn);
                closed.insert(frame.conn);
            }
        }
    };
    out.writer.get_mut().flush().map_err(PcapError::Write)?;
    s.packets = out.packets;
    s.end = end;
    Ok(s)
}

/// [`export_pcapng`] of the recording file at `path`.
///
/// # Errors
/// [`PcapError::File`] when it cannot be opened, else as [`export_pcapng`].
pub fn export_pcapng_file<W: Write>(path: &Path, out: W) -> Result<ExportSummary, PcapError> {
    let file = File::open(path).map_err(|source| PcapError::File {
        action: "open",
        path: path.to_path_buf(),
        source,
    })?;
    export_pcapng(file, out)
}
