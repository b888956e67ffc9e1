//! Reads the packets of a capture file, pcap or pcapng (told apart by their
//! magic), streaming: pcap-file's parsers run over our own read buffer, so a
//! cut file ends in a [`Truncation`] value and a damaged one in a typed
//! error, and memory stays bounded by [`MAX_RECORD_LEN`].
//!
//! pcapng packet blocks are decoded here from raw blocks (only section and
//! interface blocks go through pcap-file's typed parsing), applying each
//! interface's `if_tsresol` and `if_tsoffset` to timestamps.

use std::io::{ErrorKind, Read};

use pcap_file::pcap::PcapParser;
use pcap_file::pcapng::PcapNgParser;
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
use pcap_file::{Endianness, PcapError as FileError, TsResolution};

use super::blocks::{enhanced, obsolete, simple, to_ns};
use super::error::PcapError;

/// Bytes read from the file at a time.
const READ_CHUNK: usize = 256 * 1024;

/// Largest pcap record or pcapng block accepted (16 MiB): far above any
/// real packet, and a cap on what a damaged length field can make us buffer.
pub const MAX_RECORD_LEN: usize = 16 << 20;

/// pcapng block types we decode packets from.
const PACKET_BLOCK: u32 = 2;
const SIMPLE_PACKET_BLOCK: u32 = 3;
const ENHANCED_PACKET_BLOCK: u32 = 6;

/// The first bytes of a pcap file (either byte order, µs or ns) and of pcapng.
const PCAP_MAGICS: [[u8; 4]; 4] = [
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0x3c, 0x4d],
    [0x4d, 0x3c, 0xb2, 0xa1],
];
const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

/// A capture that stops inside its last record: the packets before it were read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Truncation {
    /// File offset of the incomplete record.
    pub offset: u64,
    /// Bytes of it present in the file.
    pub bytes: u64,
}

/// One packet as captured.
#[derive(Debug)]
pub(crate) struct Packet<'a> {
    /// Capture time, nanoseconds since the Unix epoch.
    pub(crate) unix_ns: u64,
    /// Link type of its interface (LINKTYPE_* value).
    pub(crate) linktype: u32,
    /// The captured bytes, from the link-layer header on.
    pub(crate) data: &'a [u8],
}

/// The container's parser, holding what its file header said.
enum Parser {
    /// pcap: one link type, timestamp resolution and byte order.
    Pcap(PcapParser),
    /// pcapng: the current section and its interfaces.
    PcapNg(PcapNgParser),
}

/// What one parse attempt on the buffered bytes gave.
enum Step {
    /// A packet (copied into `packet`), `used` bytes long.
    Packet {
        /// Bytes of the record.
        used: usize,
        /// Capture time.
        unix_ns: u64,
        /// Link type of its interface.
        linktype: u32,
    },
    /// A block without a packet, `used` bytes long.
    Skip {
        /// Bytes of the block.
        used: usize,
    },
    /// More bytes are needed.
    NeedMore,
    /// The record is malformed.
    Bad(String),
}

/// The file's bytes: a read buffer over the source.
struct Input<R: Read> {
    src: R,
    /// Read buffer; `buf[start..]` is not yet parsed.
    buf: Vec<u8>,
    start: usize,
    /// File offset of `buf[start]`.
    offset: u64,
}

impl<R: Read> Input<R> {
    fn unread(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    fn consume(&mut self, used: usize) {
        self.start += used;
        self.offset += used as u64;
    }

    /// Reads one more chunk after the unparsed bytes; `false` at end of file.
    fn fill(&mut self) -> Result<bool, PcapError> {
        self.buf.drain(..self.start);
        self.start = 0;
        let filled = self.buf.len();
        self.buf.resize(filled + READ_CHUNK, 0);
        loop {
            match self.src.read(&mut self.buf[filled..]) {
                Ok(n) => {
                    self.buf.truncate(filled + n);
                    return Ok(n > 0);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    self.buf.truncate(filled);
                    return Err(PcapError::Read(e));
                }
            }
        }
    }
}

/// Streams the packets of one capture.
pub(crate) struct CaptureReader<R: Read> {
    input: Input<R>,
    parser: Parser,
    /// The last packet's bytes.
    packet: Vec<u8>,
    /// Timestamp of the last packet (simple packet blocks have none).
    last_unix_ns: u64,
    /// Set when the file ended inside a record.
    truncation: Option<Truncation>,
    /// No more packets.
    done: bool,
}

impl<R: Read> CaptureReader<R> {
    /// Reads the file header of a pcap or pcapng capture.
    ///
    /// # Errors
    /// [`PcapError::Empty`], [`PcapError::NotACapture`],
    /// [`PcapError::HeaderTruncated`], [`PcapError::Corrupted`] or
    /// [`PcapError::Read`].
    pub(crate) fn open(src: R) -> Result<Self, PcapError> {
        let mut input = Input {
            src,
            buf: Vec::new(),
            start: 0,
            offset: 0,
        };
        while input.buf.len() < 4 && input.fill()? {}
        let head = &input.buf[..4.min(input.buf.len())];
        if head.is_empty() {
            return Err(PcapError::Empty);
        }
        let is_prefix = |magic: &[u8; 4]| magic.starts_with(head);
        let pcapng = is_prefix(&PCAPNG_MAGIC);
        if !pcapng && !PCAP_MAGICS.iter().any(is_prefix) {
            let shown: Vec<String> = head.iter().map(|b| format!("{b:02x}")).collect();
            return Err(PcapError::NotACapture(shown.join(" ")));
        }
        let parser = loop {
            let unread = input.unread();
            let parsed = if pcapng {
                PcapNgParser::new(unread)
                    .map(|(rem, p)| (unread.len() - rem.len(), Parser::PcapNg(p)))
            } else {
                PcapParser::new(unread).map(|(rem, p)| (unread.len() - rem.len(), Parser::Pcap(p)))
            };
            match parsed {
                Ok((used, parser)) => {
                    input.consume(used);
                    break parser;
                }
                Err(FileError::IncompleteBuffer) if unread.len() < MAX_RECORD_LEN => {
                    if !input.fill()? {
                        return Err(PcapError::HeaderTruncated(input.buf.len() as u64));
                    }
                }
                Err(e) => {
                    return Err(PcapError::Corrupted {
                        offset: 0,
                        reason: describe(e),
                    });
                }
            }
        };
        Ok(CaptureReader {
            input,
            parser,
            packet: Vec::new(),
            last_unix_ns: 0,
            truncation: None,
            done: false,
        })
    }

    /// The one link type of a pcap file; `None` for pcapng (per interface).
    pub(crate) fn fixed_linktype(&self) -> Option<u32> {
        match &self.parser {
            Parser::Pcap(p) => Some(u32::from(p.header().datalink)),
            Parser::PcapNg(_) => None,
        }
    }

    /// Where the file was cut, once [`CaptureReader::next_packet`] returned
    /// `None` because of it.
    pub(crate) fn truncation(&self) -> Option<Truncation> {
        self.truncation
    }

    /// The next packet, or `None` at the end of the file (check
    /// [`CaptureReader::truncation`]).
    ///
    /// # Errors
    /// [`PcapError::Corrupted`] for a malformed record, [`PcapError::Read`].
    pub(crate) fn next_packet(&mut self) -> Result<Option<Packet<'_>>, PcapError> {
        while !self.done {
            let unread = self.input.unread();
            if unread.is_empty() {
                if !self.input.fill()? {
                    self.done = true;
                }
                continue;
            }
            let unread_len = unread.len();
            let step = parse_one(
                &mut self.parser,
                unread,
                &mut self.packet,
                self.last_unix_ns,
            );
            match step {
                Step::Packet {
                    used,
                    unix_ns,
                    linktype,
                } => {
                    self.input.consume(used);
                    self.last_unix_ns = unix_ns;
                    return Ok(Some(Packet {
                        unix_ns,
                        linktype,
                        data: &self.packet,
                    }));
                }
                Step::Skip { used } => self.input.consume(used),
                Step::NeedMore if unread_len >= MAX_RECORD_LEN => {
                    return Err(PcapError::Corrupted {
                        offset: self.input.offset,
                        reason: format!("record longer than the {MAX_RECORD_LEN}-byte limit"),
                    });
                }
                Step::NeedMore => {
                    if !self.input.fill()? {
                        self.truncation = Some(Truncation {
                            offset: self.input.offset,
                            bytes: self.input.unread().len() as u64,
                        });
                        self.done = true;
                    }
                }
                Step::Bad(reason) => {
                    return Err(PcapError::Corrupted {
                        offset: self.input.offset,
                        reason,
                    });
                }
            }
        }
        Ok(None)
    }
}

/// pcap-file's error as a reason for humans.
fn describe(e: FileError) -> String {
    match e {
        FileError::InvalidField(what) => what.to_string(),
        other => other.to_string(),
    }
}

/// Tries to parse one record at the start of `unread`.
fn parse_one(parser: &mut Parser, unread: &[u8], packet: &mut Vec<u8>, last_unix_ns: u64) -> Step {
    match parser {
        Parser::Pcap(p) => match p.next_raw_packet(unread) {
            Ok((rem, raw)) => {
                let header = p.header();
                let frac_ns = match header.ts_resolution {
                    TsResolution::MicroSecond => u64::from(raw.ts_frac) * 1_000,
                    TsResolution::NanoSecond => u64::from(raw.ts_frac),
                };
                packet.clear();
                packet.extend_from_slice(&raw.data);
                Step::Packet {
                    used: unread.len() - rem.len(),
                    unix_ns: u64::from(raw.ts_sec) * 1_000_000_000 + frac_ns,
                    linktype: u32::from(header.datalink),
                }
            }
            Err(FileError::IncompleteBuffer) => Step::NeedMore,
            Err(e) => Step::Bad(describe(e)),
        },
        Parser::PcapNg(p) => match p.next_raw_block(unread) {
            Ok((rem, raw)) => {
                let used = unread.len() - rem.len();
                let little = p.section().endianness == Endianness::Little;
                let body = &raw.body[..];
                let fields = match raw.type_ {
                    ENHANCED_PACKET_BLOCK => enhanced(body, little),
                    PACKET_BLOCK => obsolete(body, little),
                    SIMPLE_PACKET_BLOCK => simple(body, little),
                    _ => return Step::Skip { used },
                };
                let Some((interface, raw_ts, data)) = fields else {
                    return Step::Bad(format!("packet block of type {} is too short", raw.type_));
                };
                let Some(idb) = p.interfaces().get(interface as usize) else {
                    return Step::Bad(format!("packet of undeclared interface {interface}"));
                };
                let mut resolution = 6;
                let mut offset_s = 0;
                for option in &idb.options {
                    match option {
                        InterfaceDescriptionOption::IfTsResol(r) => resolution = *r,
                        InterfaceDescriptionOption::IfTsOffset(o) => offset_s = *o,
                        _ => {}
                    }
                }
                let unix_ns = match raw_ts {
                    Some(ts) => {
                        to_ns(ts, resolution).saturating_add(offset_s.saturating_mul(1_000_000_000))
                    }
                    None => last_unix_ns,
                };
                packet.clear();
                packet.extend_from_slice(data);
                Step::Packet {
                    used,
                    unix_ns,
                    linktype: u32::from(idb.linktype),
                }
            }
            Err(FileError::IncompleteBuffer) => Step::NeedMore,
            Err(e) => Step::Bad(describe(e)),
        },
    }
}
