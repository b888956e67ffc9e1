//! Recording: the recorder thread that reads a tap (`crate::tap`) and writes
//! the file (`recorder`), the catalog of recordings on disk (`catalog`) and
//! what listings say about each (`info`).

mod active;
mod catalog;
mod direct;
mod dump;
mod error;
mod files;
mod frames;
mod info;
mod policy;
mod quota;
mod recorder;
mod recover;
mod ring;
mod segments;
mod start;
mod stop;
mod syncer;
mod upload;

pub use catalog::{AgentIdentity, RECORDING_EXT, RecordingMeters, Recordings};
pub use error::RecordError;
pub use files::duration_ms;
pub use files::is_upload_temp;
pub(crate) use info::from_index;
pub use info::{RecordingInfo, RecordingStatus};
pub use info::{time_to_unix_ns, unix_ns_to_time};
pub use quota::{Charge, DiskLimits, LimitError, Quota, free_bytes};
pub use recorder::{RECORDER_FLUSH_INTERVAL, RECORDER_SYNC_INTERVAL};
pub use recover::CUT_SHORT_REASON;
pub use ring::{MAX_RING, MIN_RING};
pub use segments::{
    DEFAULT_SEGMENT_AGE, DEFAULT_SEGMENT_BYTES, MAX_LANES, SegmentObserver, SegmentPolicy,
};
pub use start::{MAX_SCHEDULE_AHEAD, check_label, check_start_at};
pub use upload::{UPLOAD_SPACE_CHECK_BYTES, check_upload};
