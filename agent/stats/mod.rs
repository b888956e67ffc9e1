//! Offline traffic analysis of recordings: totals, rates, per-second
//! timeline, online connections, busiest connections, message framing, and
//! the bandwidth a number of clients projects to. One implementation, used by
//! the agent (AnalyzeRecording) and by `reelctl` for local files; the figures
//! are defined in `docs/ANALYSIS.md`.
//!
//! # Layout
//! - `analyzer`: [`Analyzer`] (frames in, [`Analysis`] out), [`analyze_reader`], [`analyze_file`].
//! - `analysis`: the result types, [`Analysis::project`], [`Analysis::timeline_csv`].
//! - `chart`: [`Analysis::svg`].
//! - `connections`: the compact per-connection table and the top-N choice.
//! - `timeline`: per-second buckets, online counts, rows of at most
//!   [`MAX_TIMELINE_ROWS`].
//! - `stream`: framing of one stream, with resynchronisation after a loss or
//!   a mid-session start.
//! - `framing`: [`FramingSpec`] parsing; `codec`: the streaming [`Deframer`].
//! - `messages`: message size statistics; `datagrams`: datagram size
//!   statistics; `percentile`: the percentile rule.
//! - `error`: [`StatsError`], [`FramingError`].

mod analysis;
mod analyzer;
mod chart;
mod codec;
mod connections;
mod datagrams;
mod error;
mod framing;
mod messages;
mod percentile;
mod stream;
mod timeline;

#[cfg(test)]
mod tests;

pub use analysis::{
    Analysis, ConnectionCounts, ConnectionStats, DirectionStats, Projection, RecordingEnd,
    TIMELINE_CSV_HEADER,
};
pub use analyzer::{
    AnalyzeOptions, Analyzer, DEFAULT_TOP, MAX_ANALYSIS_TOP, TS_SLACK_NS, analyze_file,
    analyze_reader, analyze_source,
};
pub use codec::Deframer;
pub use datagrams::DatagramSizes;
pub use error::{FramingError, StatsError};
pub use framing::{FieldWidth, FramingSpec, LengthPrefix, MAX_ADJUST, MAX_OFFSET};
pub use messages::MessageStats;
pub use stream::CONFIRM_MESSAGES;
pub use timeline::{MAX_TIMELINE_ROWS, MAX_TIMELINE_SECONDS, NS_PER_SEC, SecondStats};
