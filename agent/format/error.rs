//! Errors of the recording format: the file is not what we can read, or we
//! could not write or read it.
//!
//! Damage *after* a valid header (a cut or corrupted frame) is not an error:
//! the reader returns it as a value (`End::Truncated` / `End::Corrupted`) so
//! callers keep every frame before it.

use std::io;

/// Why a recording could not be written or its header could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// We failed: the operating system refused a read, write, flush or sync
    /// (disk full, permission, ...); the `io::ErrorKind` is kept.
    #[error("recording file i/o failed")]
    Io(#[from] io::Error),

    /// The file failed: it does not start with the recording magic.
    #[error("not a reel recording (bad magic)")]
    NotARecording,

    /// The file is from a newer (or unknown) format version than this build reads.
    #[error("unsupported recording format version {0} (this build reads versions 1 and 2)")]
    UnsupportedVersion(u16),

    /// The file sets header flags this build does not know, so it cannot be
    /// read safely.
    #[error("unsupported recording header flags {0:#06x} (written by a newer reel?)")]
    UnsupportedFlags(u16),

    /// The file failed: it ends inside the header (cut right after creation).
    #[error("recording header is incomplete: the file ends after {0} bytes")]
    HeaderTruncated(u64),

    /// The file failed: the header checksum, length or metadata is damaged.
    #[error("recording header is corrupted: {0}")]
    HeaderCorrupted(String),

    /// We failed: the header metadata we were asked to write exceeds the limit.
    #[error("recording metadata of {0} bytes exceeds the 1 MiB limit")]
    MetadataTooLarge(usize),

    /// We failed: a value could not be turned into JSON (a bug in reel, not
    /// in the file).
    #[error("could not encode recording metadata as JSON: {0}")]
    Encode(String),

    /// We failed: a frame we were asked to write has a payload over the limit.
    #[error("frame payload of {0} bytes exceeds the 16 MiB limit")]
    PayloadTooLarge(usize),

    /// We failed: the footer (mostly the connection table) exceeds the frame
    /// limit; the frames are intact and a scan recovers the summary.
    #[error(
        "recording footer of {bytes} bytes ({connections} connections) exceeds the 16 MiB limit"
    )]
    FooterTooLarge {
        /// Encoded footer size.
        bytes: usize,
        /// Connections in the table.
        connections: usize,
    },

    /// We failed: an earlier write stopped inside a frame, so anything
    /// appended now would be unreadable; the file is valid up to `offset`.
    #[error(
        "an earlier failed write left a partial frame at offset {offset}; the recording cannot be continued"
    )]
    TornWrite {
        /// File offset of the partially written frame.
        offset: u64,
    },
}
