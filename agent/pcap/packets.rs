//! Packets of an export: the state of one exported flow (TCP, or a UDP
//! session) and the writer that turns segments and datagrams into pcapng Enhanced Packet
//! Blocks (the `export` loop decides which packets a frame makes).

use std::borrow::Cow;
use std::io::{BufWriter, Write};
use std::net::SocketAddr;
use std::time::Duration;

use pcap_file::pcapng::PcapNgWriter;
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;

use super::datagram::write_datagram;
use super::error::PcapError;
use super::segment::{CLIENT_MAC, SERVER_MAC, Segment, max_segment, write_segment};

/// The state of one exported connection: its addresses and, for TCP, its
/// sequence numbers and FINs. Side 0 is the client (it sends c2s), side 1
/// the server.
#[derive(Debug, Clone, Copy)]
pub(super) struct Flow {
    /// Address of each side.
    pub(super) addr: [SocketAddr; 2],
    /// Next sequence number each side sends.
    pub(super) next: [u32; 2],
    /// Whether each side has sent its FIN.
    pub(super) fin: [bool; 2],
    /// A UDP session: datagrams only, no handshake or close.
    pub(super) udp: bool,
}

/// Where packets go: the pcapng writer and its running totals.
pub(super) struct PacketOut<W: Write> {
    pub(super) writer: PcapNgWriter<BufWriter<W>>,
    /// Wall-clock anchor of the recording (`Header::started_at_unix_ns`).
    pub(super) start_unix_ns: i64,
    /// Reused packet buffer.
    pub(super) buf: Vec<u8>,
    /// Packets written.
    pub(super) packets: u64,
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
        self.emit(ts_ns)
    }

    /// One UDP datagram from `side` of `flow`. The caller checked its size
    /// against `max_datagram`.
    pub(super) fn datagram(
        &mut self,
        ts_ns: u64,
        flow: &Flow,
        side: usize,
        payload: &[u8],
    ) -> Result<(), PcapError> {
        let macs = if side == 0 {
            (CLIENT_MAC, SERVER_MAC)
        } else {
            (SERVER_MAC, CLIENT_MAC)
        };
        self.buf.clear();
        write_datagram(
            flow.addr[side],
            flow.addr[1 - side],
            Some(macs),
            payload,
            &mut self.buf,
        )?;
        self.emit(ts_ns)
    }

    /// Writes the packet in `buf` at recording time `ts_ns`.
    fn emit(&mut self, ts_ns: u64) -> Result<(), PcapError> {
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
    pub(super) fn ack(&mut self, ts_ns: u64, flow: &Flow, side: usize) -> Result<(), PcapError> {
        self.send(ts_ns, flow, side, SegmentSpec::default())
    }

    /// SYN, SYN/ACK, ACK: the flow starts at the next sequence numbers.
    pub(super) fn handshake(&mut self, ts_ns: u64, flow: &mut Flow) -> Result<(), PcapError> {
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
    pub(super) fn data(
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
    pub(super) fn fin(
        &mut self,
        ts_ns: u64,
        flow: &mut Flow,
        from: usize,
    ) -> Result<(), PcapError> {
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
    pub(super) fn reset(&mut self, ts_ns: u64, flow: &Flow, from: usize) -> Result<(), PcapError> {
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

pub(super) fn write_error(e: pcap_file::PcapError) -> PcapError {
    match e {
        pcap_file::PcapError::IoError(io) => PcapError::Write(io),
        other => PcapError::Build(other.to_string()),
    }
}
