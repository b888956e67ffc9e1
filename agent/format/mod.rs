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
//! - `writer`: [`RecordingWriter`] over a [`Sink`]; `sink`: the trait and
//!   its impls (files, memory, buffers), a seam where tests inject faults.
//! - `reader`: [`RecordingReader`], streaming, ending in an [`End`] value.
//! - `scan`: whole-file scan and recovery, and the fast footer read.
//! - `segments`: a recording as a directory of segment files (names, index,
//!   where segments come from, the merged listing view); `merged`: reading
//!   one as a single stream, and [`SourceReader`] for either layout.
//!
//! Used by the recorder, by replay and stats, and by `reelctl`.

mod codec;
mod error;
mod flatten;
mod footer;
mod frame;
mod header;
pub mod layout;
mod merged;
mod reader;
mod scan;
mod segments;
mod sink;
mod summary;
mod writer;

#[cfg(test)]
mod tests;

pub use codec::{decode_frame, encode_footer, encode_frame, encode_frame_head};
pub use error::FormatError;
pub use flatten::{flatten, rebase};
pub use frame::{Decoded, Direction, Frame, FrameBody, Item, OpenInfo, Transport};
pub use header::{Header, HeaderDecoded, ProxyMeta, decode_header, encode_header};
pub use layout::MAX_PAYLOAD;
pub use merged::{FrameStream, SegmentedReader, SourceReader};
pub use reader::{End, Next, READ_CHUNK, RecordingReader};
pub use scan::{Scan, footer_of, read_footer, scan, scan_file};
pub use segments::{
    DirSource, INDEX_FILE, Index, IndexEntry, PickedSource, SEGMENTS_EXT, SegmentSource, Source,
    merge_scans, parse_segment_name, segment_name, survey_dir,
};
pub use sink::Sink;
pub use summary::{ConnSummary, Footer, Summary, SummaryBuilder};
pub use writer::{Finished, RecordingWriter};
