//! pcap / pcapng → recording: the TCP flows of a capture whose server side
//! matches a [`ServerFilter`] become recorded connections, byte-exact after
//! reassembly, and its UDP flows to or from the server become UDP sessions
//! (`udp_flow`), datagram-exact; capture timestamps are relative to the
//! first packet.
//!
//! Frames are written in capture order across flows, which makes them the
//! recording's global log order. Streaming: per flow, reassembly state
//! (bounded by `MAX_PENDING_BYTES`); no packet is kept.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fs::{self, File};
use std::io::{BufWriter, Read};
use std::net::SocketAddr;
use std::path::Path;

use serde::Serialize;

use super::capture::{CaptureReader, Truncation};
use super::error::PcapError;
use super::filter::ServerFilter;
use super::flow::{Connection, IMPORT_PROXY_ID, is_client_syn};
use super::link::{Decoded, decode, supported};
use super::udp_flow::{IMPORT_UDP_PROXY_ID, UdpSessions};
use crate::format::{
    Direction, Frame, FrameBody, Header, ProxyMeta, RecordingWriter, Sink, Transport,
};

/// What an import found and wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    /// Packets read from the capture.
    pub packets: u64,
    /// Connections written (one per flow, or per SYN when a flow's ports are
    /// reused), UDP sessions included.
    pub connections: u64,
    /// Of `connections`, the UDP sessions (one per client address, split
    /// where it was idle past `UDP_IDLE_TIMEOUT_NS`).
    pub udp_sessions: u64,
    /// Connections whose first captured packet was not the client's SYN.
    pub mid_session_connections: u64,
    /// Frames written.
    pub frames: u64,
    /// DATA and DATAGRAM bytes client→server.
    pub bytes_c2s: u64,
    /// DATA and DATAGRAM bytes server→client.
    pub bytes_s2c: u64,
    /// DATAGRAM frames client→server (one per UDP datagram).
    pub datagrams_c2s: u64,
    /// DATAGRAM frames server→client.
    pub datagrams_s2c: u64,
    /// Bytes missing from the capture (LOSS frames).
    pub lost_bytes: u64,
    /// Retransmitted or overlapping bytes dropped by reassembly.
    pub duplicate_bytes: u64,
    /// Segments that arrived before a gap and were buffered.
    pub out_of_order_segments: u64,
    /// Segments ignored as far outside the expected sequence window.
    pub out_of_window_segments: u64,
    /// TCP and UDP packets of flows that do not involve the server (skipped).
    pub other_flow_packets: u64,
    /// Packets that are neither TCP nor UDP over IP (ARP, ICMP, ...).
    pub non_tcp_packets: u64,
    /// IP fragments (skipped: fragments are not reassembled).
    pub fragmented_packets: u64,
    /// Packets whose headers do not decode, or cut by the snapshot length.
    pub malformed_packets: u64,
    /// Packets on an interface of an unsupported link type (skipped).
    pub unsupported_link_packets: u64,
    /// Capture time of the first packet (the recording's time 0), ns since the epoch.
    pub first_packet_unix_ns: Option<u64>,
    /// Capture time of the last packet, ns since the epoch.
    pub last_packet_unix_ns: Option<u64>,
    /// Set when the capture ends inside a record (the packets before it were imported).
    pub truncated: Option<Truncation>,
    /// Set when the recording's footer was written without its
    /// per-connection table (too many connections for one frame).
    pub connection_detail_omitted: bool,
}

/// Imports the capture read from `input` into `out`, whose header the
/// caller wrote: frame timestamps count from the capture's first packet,
/// whose wall-clock time is [`ImportSummary::first_packet_unix_ns`]. The
/// caller finishes `out`. UDP sessions are written too (proxy id
/// [`IMPORT_UDP_PROXY_ID`]): for a capture that may hold them, the header
/// should list a UDP `ProxyMeta` so the file is version 2, as
/// [`import_pcap_file`] does.
///
/// # Errors
/// A capture that cannot be read ([`PcapError::Empty`],
/// [`PcapError::NotACapture`], [`PcapError::HeaderTruncated`],
/// [`PcapError::Corrupted`], [`PcapError::UnsupportedLinkType`],
/// [`PcapError::Read`]) or [`PcapError::Recording`] from `out`. Frames of the
/// packets before a damaged record are already written then.
pub fn import_reader<R: Read, S: Sink>(
    input: R,
    server: &ServerFilter,
    out: &mut RecordingWriter<S>,
) -> Result<ImportSummary, PcapError> {
    let mut capture = CaptureReader::open(input)?;
    if let Some(lt) = capture.fixed_linktype().filter(|&lt| !supported(lt)) {
        return Err(PcapError::UnsupportedLinkType(lt));
    }
    let mut s = ImportSummary::default();
    let mut flows: HashMap<(SocketAddr, SocketAddr), Connection> = HashMap::new();
    let mut order: Vec<(SocketAddr, SocketAddr)> = Vec::new();
    let mut frames: Vec<Frame> = Vec::new();
    let mut udp = UdpSessions::default();
    let mut unsupported = None;
    let mut last_ts = 0;
    while let Some(packet) = capture.next_packet()? {
        s.packets += 1;
        let first = *s.first_packet_unix_ns.get_or_insert(packet.unix_ns);
        s.last_packet_unix_ns = Some(packet.unix_ns);
        let ts = packet.unix_ns.saturating_sub(first);
        last_ts = last_ts.max(ts);
        // Sessions idle past the timeout close before this packet's frames.
        udp.expire(ts, &mut frames);
        let tcp = match decode(packet.linktype, packet.data) {
            Decoded::Tcp(tcp) => tcp,
            Decoded::Udp(datagram) => {
                let (dir, key) = if server.matches(&datagram.dst) {
                    (Direction::C2s, (datagram.src, datagram.dst))
                } else if server.matches(&datagram.src) {
                    (Direction::S2c, (datagram.dst, datagram.src))
                } else {
                    s.other_flow_packets += 1;
                    continue;
                };
                let next_id = s.connections + 1;
                let times = (ts, packet.unix_ns);
                if udp.datagram(key, dir, datagram.payload, times, next_id, &mut frames) {
                    s.connections += 1;
                    s.udp_sessions += 1;
                }
                write_frames(&mut frames, out, &mut s)?;
                continue;
            }
            Decoded::Fragment => {
                s.fragmented_packets += 1;
                continue;
            }
            Decoded::NotTcp => {
                s.non_tcp_packets += 1;
                continue;
            }
            Decoded::Malformed => {
                s.malformed_packets += 1;
                continue;
            }
            Decoded::UnsupportedLink => {
                s.unsupported_link_packets += 1;
                unsupported = Some(packet.linktype);
                continue;
            }
        };
        let (dir, key) = if server.matches(&tcp.dst) {
            (Direction::C2s, (tcp.src, tcp.dst))
        } else if server.matches(&tcp.src) {
            (Direction::S2c, (tcp.dst, tcp.src))
        } else {
            s.other_flow_packets += 1;
            continue;
        };
        let client_syn = is_client_syn(dir, tcp.syn, tcp.ack);
        let next_id = s.connections + 1;
        let opened = |frames: &mut Vec<Frame>| {
            Connection::open(
                next_id,
                key.0,
                key.1,
                client_syn,
                ts,
                packet.unix_ns,
                frames,
            )
        };
        let conn = match flows.entry(key) {
            Entry::Vacant(entry) => {
                order.push(key);
                s.connections += 1;
                entry.insert(opened(&mut frames))
            }
            // A new SYN on a finished flow: the ports were reused.
            Entry::Occupied(entry) if entry.get().closed() && client_syn => {
                let old = entry.into_mut();
                add_stats(&mut s, old);
                s.connections += 1;
                *old = opened(&mut frames);
                old
            }
            Entry::Occupied(entry) => entry.into_mut(),
        };
        conn.segment(
            dir,
            tcp.seq,
            tcp.syn,
            tcp.fin,
            tcp.rst,
            tcp.payload,
            ts,
            &mut frames,
        );
        write_frames(&mut frames, out, &mut s)?;
    }
    for key in &order {
        if let Some(conn) = flows.get_mut(key) {
            conn.finish(last_ts, &mut frames);
            add_stats(&mut s, conn);
        }
    }
    udp.finish(last_ts, &mut frames);
    write_frames(&mut frames, out, &mut s)?;
    if let Some(lt) = unsupported.filter(|_| s.unsupported_link_packets == s.packets) {
        return Err(PcapError::UnsupportedLinkType(lt));
    }
    s.truncated = capture.truncation();
    Ok(s)
}

fn add_stats(s: &mut ImportSummary, conn: &Connection) {
    for stats in conn.stats() {
        s.duplicate_bytes += stats.duplicate_bytes;
        s.out_of_order_segments += stats.out_of_order_segments;
        s.out_of_window_segments += stats.out_of_window_segments;
    }
}

/// Writes and counts `frames`, emptying it.
fn write_frames<S: Sink>(
    frames: &mut Vec<Frame>,
    out: &mut RecordingWriter<S>,
    s: &mut ImportSummary,
) -> Result<(), PcapError> {
    for frame in frames.drain(..) {
        out.write_frame(&frame)?;
        s.frames += 1;
        match &frame.body {
            FrameBody::Open(info) => s.mid_session_connections += u64::from(info.mid_session),
            FrameBody::Data { dir, payload } => match dir {
                Direction::C2s => s.bytes_c2s += payload.len() as u64,
                Direction::S2c => s.bytes_s2c += payload.len() as u64,
            },
            FrameBody::Datagram { dir, payload } => {
                let (bytes, datagrams) = match dir {
                    Direction::C2s => (&mut s.bytes_c2s, &mut s.datagrams_c2s),
                    Direction::S2c => (&mut s.bytes_s2c, &mut s.datagrams_s2c),
                };
                *bytes += payload.len() as u64;
                *datagrams += 1;
            }
            FrameBody::Loss { bytes, .. } => s.lost_bytes = s.lost_bytes.saturating_add(*bytes),
            _ => {}
        }
    }
    Ok(())
}

/// [`import_reader`] of the capture file at `input`.
///
/// # Errors
/// [`PcapError::File`] when it cannot be opened, else as [`import_reader`].
pub fn import_pcap<S: Sink>(
    input: &Path,
    server: &ServerFilter,
    out: &mut RecordingWriter<S>,
) -> Result<ImportSummary, PcapError> {
    import_reader(open(input)?, server, out)
}

/// Whether the capture at `input` holds a UDP datagram to or from the
/// server: read up to the first one.
fn has_udp_flows(input: &Path, server: &ServerFilter) -> Result<bool, PcapError> {
    let mut capture = CaptureReader::open(open(input)?)?;
    while let Some(packet) = capture.next_packet()? {
        if let Decoded::Udp(d) = decode(packet.linktype, packet.data)
            && (server.matches(&d.dst) || server.matches(&d.src))
        {
            return Ok(true);
        }
    }
    Ok(false)
}

fn open(path: &Path) -> Result<File, PcapError> {
    File::open(path).map_err(|source| PcapError::File {
        action: "open",
        path: path.to_path_buf(),
        source,
    })
}

/// Imports the capture file at `input` into a new recording file at
/// `output` (replaced if it exists), finished with its footer. `header`
/// gives the id, label and agent; its `started_at_unix_ns` is set to the
/// first packet's time. When it lists no proxy, a `ProxyMeta` with id
/// "pcap" and the server as upstream is added for the TCP flows, and one
/// with id "pcap-udp" and `transport: udp` when the capture has UDP flows of
/// the server (found by a first pass over the capture, which stops at the
/// first such datagram): such a file is format version 2. On error no
/// output is left.
///
/// # Errors
/// [`PcapError::File`] for `input` or `output`, else as [`import_reader`].
pub fn import_pcap_file(
    input: &Path,
    server: &ServerFilter,
    output: &Path,
    mut header: Header,
) -> Result<ImportSummary, PcapError> {
    // The header needs the first packet's time before any frame is written.
    let mut first = CaptureReader::open(open(input)?)?;
    header.started_at_unix_ns = match first.next_packet()? {
        Some(packet) => i64::try_from(packet.unix_ns).unwrap_or(i64::MAX),
        None => 0,
    };
    if header.proxies.is_empty() {
        header.proxies.push(ProxyMeta {
            id: IMPORT_PROXY_ID.into(),
            name: "pcap import".into(),
            listen: String::new(),
            upstream: server.to_string(),
            ..ProxyMeta::default()
        });
        if has_udp_flows(input, server)? {
            header.proxies.push(ProxyMeta {
                id: IMPORT_UDP_PROXY_ID.into(),
                name: "pcap import (udp)".into(),
                listen: String::new(),
                upstream: server.to_string(),
                transport: Transport::Udp,
            });
        }
    }
    let file = File::create(output).map_err(|source| PcapError::File {
        action: "create",
        path: output.to_path_buf(),
        source,
    })?;
    let result = RecordingWriter::new(BufWriter::new(file), &header)
        .map_err(PcapError::from)
        .and_then(|mut writer| {
            let mut summary = import_pcap(input, server, &mut writer)?;
            let ended = summary.last_packet_unix_ns.unwrap_or(0);
            let ended = i64::try_from(ended).unwrap_or(i64::MAX);
            let (_, footer) = writer.finish(ended, "imported from a capture", None)?;
            summary.connection_detail_omitted = footer.connection_detail_omitted;
            Ok(summary)
        });
    if result.is_err() {
        // A failed import leaves no half recording behind; the error says why.
        let _ = fs::remove_file(output);
    }
    result
}
