//! Errors of pcap export and import: the input is not what we can read, or
//! reading or writing failed. Each variant says which side failed.

use std::io;
use std::path::PathBuf;

use crate::format::FormatError;

/// Why an export or import failed.
#[derive(Debug, thiserror::Error)]
pub enum PcapError {
    /// We failed: a file could not be opened, created or read.
    #[error("could not {action} {path}")]
    File {
        /// What we tried: "open", "create", "read".
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },

    /// We failed: writing the pcapng output failed.
    #[error("could not write the pcapng output")]
    Write(#[source] io::Error),

    /// We failed: reading the capture failed (an OS error, not its content).
    #[error("could not read the capture")]
    Read(#[source] io::Error),

    /// The recording failed (not a recording, bad header) or reading or
    /// writing it failed.
    #[error("recording error")]
    Recording(#[from] FormatError),

    /// The input failed: it is empty.
    #[error("the capture file is empty")]
    Empty,

    /// The input failed: it starts with neither pcap nor pcapng magic.
    #[error("not a pcap or pcapng file (it starts with {0})")]
    NotACapture(String),

    /// The input failed: it ends inside its file header.
    #[error("the capture ends inside its file header, after {0} bytes")]
    HeaderTruncated(u64),

    /// The input failed: a header, block or record is malformed.
    #[error("corrupted capture at byte offset {offset}: {reason}")]
    Corrupted {
        /// File offset of the damaged block or record.
        offset: u64,
        /// What is wrong.
        reason: String,
    },

    /// The input failed: every packet is of a link type we cannot decode.
    #[error(
        "unsupported link type {0} (supported: Ethernet 1, raw IP 101/228/229, \
         loopback 0/108, Linux cooked SLL 113 and SLL2 276)"
    )]
    UnsupportedLinkType(u32),

    /// The caller failed: the server address does not parse.
    #[error("invalid server {input:?}: {reason}")]
    InvalidServer {
        /// The text as given.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// We failed: a packet could not be built (a bug in reel).
    #[error("could not build a packet: {0}")]
    Build(String),
}
