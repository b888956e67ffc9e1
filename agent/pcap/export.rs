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
//! A UDP session (OPEN with `transport: udp`) becomes one UDP packet per
//! DATAGRAM frame between the same two addresses, with no handshake or
//! close; a datagram larger than one IP packet carries is skipped and
//! counted ([`ExportSummary::oversized_datagrams`]), not fragmented.
//!
//! [`MAX_SEGMENT_V4`]: super::segment::MAX_SEGMENT_V4
//! [`MAX_SEGMENT_V6`]: super::segment::MAX_SEGMENT_V6

use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;

use pcap_file::pcapng::PcapNgWriter;
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::blocks::section_header::{SectionHeaderBlock, SectionHeaderOption};
use pcap_file::{DataLink, Endianness};

use super::datagram::max_datagram;
use super::endpoints::{addresses, isn};
use super::error::PcapError;
use super::packets::{Flow, PacketOut, write_error};
use crate::format::{Direction, End, FrameBody, FrameStream, Next, RecordingReader, Transport};

/// Snapshot length declared for the exported interface: above any packet
/// we write (at most 14 + 40 + 65 535 bytes).
const SNAPLEN: u32 = 262_144;

/// What an export wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportSummary {
    /// Connections exported (one TCP flow each), UDP sessions included.
    pub connections: u64,
    /// Of `connections`, the UDP sessions (one UDP flow each).
    pub udp_sessions: u64,
    /// Connections exported without a handshake: mid-session, or no OPEN.
    pub mid_session_connections: u64,
    /// Connections whose client or upstream address did not parse and was
    /// replaced by a 127.0.0.1 fallback.
    pub fallback_addresses: u64,
    /// Packets written.
    pub packets: u64,
    /// TCP and UDP payload bytes written client→server.
    pub bytes_c2s: u64,
    /// TCP and UDP payload bytes written server→client.
    pub bytes_s2c: u64,
    /// UDP datagrams written client→server (one packet each).
    pub datagrams_c2s: u64,
    /// UDP datagrams written server→client.
    pub datagrams_s2c: u64,
    /// Datagrams larger than one IP packet carries ([`MAX_DATAGRAM_V4`]
    /// over IPv4, [`MAX_DATAGRAM_V6`] over IPv6): skipped, not fragmented.
    ///
    /// [`MAX_DATAGRAM_V4`]: super::datagram::MAX_DATAGRAM_V4
    /// [`MAX_DATAGRAM_V6`]: super::datagram::MAX_DATAGRAM_V6
    pub oversized_datagrams: u64,
    /// Bytes LOSS frames declared, exported as sequence-number gaps.
    pub lost_bytes: u64,
    /// Frames with no packet: annotations, LOSS of no connection, frames
    /// after their connection's CLOSE.
    pub skipped_frames: u64,
    /// How the recording ended (a cut file is exported up to the cut).
    pub end: End,
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
    export_frames(RecordingReader::open(recording)?, out)
}

/// [`export_pcapng`] of any recording stream (a segmented one merged).
///
/// # Errors
/// As [`export_pcapng`].
pub fn export_frames<W: Write>(
    mut reader: impl FrameStream,
    out: W,
) -> Result<ExportSummary, PcapError> {
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
        udp_sessions: 0,
        mid_session_connections: 0,
        fallback_addresses: 0,
        packets: 0,
        bytes_c2s: 0,
        bytes_s2c: 0,
        datagrams_c2s: 0,
        datagrams_s2c: 0,
        oversized_datagrams: 0,
        lost_bytes: 0,
        skipped_frames: 0,
        end: End::Truncated {
            valid_bytes: 0,
            cut_bytes: 0,
        },
    };
    let end = loop {
        let frame = match reader.next_frame()? {
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
                // A session is UDP by its OPEN, or, without one, by its
                // first frame being a datagram.
                let udp = match info {
                    Some(info) => info.transport == Transport::Udp,
                    None => matches!(frame.body, FrameBody::Datagram { .. }),
                };
                let mut flow = Flow {
                    addr,
                    next: [isn(frame.conn, 0), isn(frame.conn, 1)],
                    fin: [false; 2],
                    udp,
                };
                s.connections += 1;
                s.udp_sessions += u64::from(udp);
                s.fallback_addresses += u64::from(fell_back);
                if udp {
                    // No handshake: a UDP flow is its datagrams.
                } else if info.is_some_and(|i| !i.mid_session) {
                    out.handshake(ts, &mut flow)?;
                } else {
                    s.mid_session_connections += 1;
                }
                entry.insert(flow)
            }
        };
        match &frame.body {
            FrameBody::Open(_) | FrameBody::Annotation { .. } => {}
            FrameBody::Datagram { dir, payload } => {
                if payload.len() > max_datagram(&flow.addr[0], &flow.addr[1]) {
                    s.oversized_datagrams += 1;
                    continue;
                }
                out.datagram(ts, flow, side(*dir), payload)?;
                let (bytes, datagrams) = match dir {
                    Direction::C2s => (&mut s.bytes_c2s, &mut s.datagrams_c2s),
                    Direction::S2c => (&mut s.bytes_s2c, &mut s.datagrams_s2c),
                };
                *bytes += payload.len() as u64;
                *datagrams += 1;
            }
            FrameBody::Data { dir, payload } => {
                out.data(ts, flow, side(*dir), payload)?;
                match dir {
                    Direction::C2s => s.bytes_c2s += payload.len() as u64,
                    Direction::S2c => s.bytes_s2c += payload.len() as u64,
                }
            }
            FrameBody::HalfClose { .. } if flow.udp => s.skipped_frames += 1,
            FrameBody::HalfClose { dir } => out.fin(ts, flow, side(*dir))?,
            FrameBody::Loss { dir, bytes, .. } => {
                // Lengths are taken modulo 2^32, as TCP sequence numbers are.
                let from = side(*dir);
                flow.next[from] = flow.next[from].wrapping_add(*bytes as u32);
                s.lost_bytes = s.lost_bytes.saturating_add(*bytes);
            }
            FrameBody::Close { .. } if flow.udp => {
                // A UDP session ends without a packet (idle or stopped).
                flows.remove(&frame.conn);
                closed.insert(frame.conn);
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
    if path.is_dir() {
        let source = crate::format::Source::from_path(path);
        return export_frames(crate::format::SourceReader::open(&source)?, out);
    }
    let file = File::open(path).map_err(|source| PcapError::File {
        action: "open",
        path: path.to_path_buf(),
        source,
    })?;
    export_pcapng(file, out)
}
