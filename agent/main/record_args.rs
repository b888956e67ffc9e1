//! The agent's flags for how recordings are written: segment size and age,
//! writer lanes.

use std::time::Duration;

use reel::record::{DEFAULT_SEGMENT_AGE, DEFAULT_SEGMENT_BYTES, MAX_LANES, SegmentPolicy};

#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Recording")]
pub(crate) struct RecordArgs {
    /// Seal a recording's segment when it reaches this size (e.g. 256MiB);
    /// a crash loses at most what the open segments had not handed to the
    /// OS. Default 256MiB.
    #[arg(long, value_name = "SIZE", value_parser = parse_segment_size)]
    segment_size: Option<u64>,
    /// Seal a segment when it is this old (e.g. 5m), however small. Default 5m.
    #[arg(long, value_name = "DURATION", value_parser = parse_segment_time)]
    segment_time: Option<Duration>,
    /// Writer threads (each with its open segment) per recording; a
    /// connection's frames always go to the same one. Default: one per
    /// core, at most 16.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=MAX_LANES as i64))]
    record_writers: Option<u16>,
    /// Write recordings through the page cache instead of around it
    /// (O_DIRECT, the default where the filesystem allows it).
    /// REEL_NO_DIRECT_IO=1 too.
    #[arg(long, env = "REEL_NO_DIRECT_IO", value_parser = clap::builder::BoolishValueParser::new())]
    no_direct_io: bool,
}

fn parse_segment_size(s: &str) -> Result<u64, String> {
    let n = reel::faults::parse::size(s).map_err(|e| e.to_string())?;
    if n < 64 * 1024 {
        return Err(format!("{s} is below the smallest segment, 64KiB"));
    }
    Ok(n)
}

fn parse_segment_time(s: &str) -> Result<Duration, String> {
    let d = reel::faults::parse::duration(s).map_err(|e| e.to_string())?;
    if d < Duration::from_millis(100) {
        return Err(format!("{s} is below the shortest segment time, 100ms"));
    }
    Ok(d)
}

impl RecordArgs {
    pub(crate) fn policy(&self) -> SegmentPolicy {
        let default = SegmentPolicy::default();
        SegmentPolicy {
            lanes: self.record_writers.map_or(default.lanes, usize::from),
            max_bytes: self.segment_size.unwrap_or(DEFAULT_SEGMENT_BYTES),
            max_age: self.segment_time.unwrap_or(DEFAULT_SEGMENT_AGE),
            direct: !self.no_direct_io,
        }
    }
}
