//! Recording statuses between protobuf and the engine. The engine's
//! `as_str` names are the words reelctl prints and its JSON carries.

use crate::domain::RecordingStatus;
use crate::proto as pb;

/// The engine's status of a recording's; `None` for UNSPECIFIED or a value
/// a newer agent sent that this build does not know.
pub fn status(value: i32) -> Option<RecordingStatus> {
    match pb::RecordingStatus::try_from(value).ok()? {
        pb::RecordingStatus::Unspecified => None,
        pb::RecordingStatus::Recording => Some(RecordingStatus::Recording),
        pb::RecordingStatus::Complete => Some(RecordingStatus::Complete),
        pb::RecordingStatus::Recovered => Some(RecordingStatus::Recovered),
        pb::RecordingStatus::Failed => Some(RecordingStatus::Failed),
    }
}

/// The wire value of the engine's status.
pub fn status_value(s: RecordingStatus) -> pb::RecordingStatus {
    match s {
        RecordingStatus::Recording => pb::RecordingStatus::Recording,
        RecordingStatus::Complete => pb::RecordingStatus::Complete,
        RecordingStatus::Recovered => pb::RecordingStatus::Recovered,
        RecordingStatus::Failed => pb::RecordingStatus::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_ways() {
        for s in [
            RecordingStatus::Recording,
            RecordingStatus::Complete,
            RecordingStatus::Recovered,
            RecordingStatus::Failed,
        ] {
            assert_eq!(status(status_value(s) as i32), Some(s));
        }
        assert_eq!(status(0), None);
        assert_eq!(status(99), None);
    }
}
