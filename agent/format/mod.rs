//! The recording file format: one append-only file per recording, with a
//! checksummed header, checksummed frames, and on clean stop a footer and a
//! trailer. `docs/FORMAT.md` is the byte-level specification.
//!
//! # Layout
//! - `layout`: every magic number, size and code (changing it breaks files).
//! - `header`: the header types and their pure codec.
//! - `frame`: the frame types; `codec`: their pure codec (bytes in, values out).
//! - `footer`: the footer's totals and connection table (data only);
//!   `summary`: the one place that counts the footer's totals (writer and
//!   recovery alike).
//! - `writer`: [`RecordingWriter`] over a [`Sink`] (faults injectable).
//! - `reader`: [`RecordingReader`], streaming, ending in an [`End`] value.
//! - `scan`: whole-file scan and recovery, and the fast footer read.
//!
//! Used by the recorder, by replay and stats, and by `reelctl`.

mod codec;
mod error;
mod footer;
mod frame;
mod header;
pub mod layout;
mod reader;
mod scan;
mod summary;
mod writer;

#[cfg(test)]
mod tests;

pub use codec::{decode_frame, encode_footer, encode_frame, encode_frame_head};
pub use error::FormatError;
pub use frame::{Decoded, Direction, Frame, FrameBody, Item, OpenInfo, Transport};
pub use header::{Header, HeaderDecoded, ProxyMeta, decode_header, encode_header};
pub use layout::MAX_PAYLOAD;
pub use reader::{End, Next, READ_CHUNK, RecordingReader};
pub use scan::{Scan, footer_of, read_footer, scan, scan_file};
pub use summary::{ConnSummary, Footer, Summary, SummaryBuilder};
pub use writer::{Finished, RecordingWriter, Sink};
