//! The one place that decides which gRPC code each engine error gets.

use tonic::Status;

use crate::error::Error;

/// Longest status message sent, in bytes. Caller input is already cut by
/// `error::echo`; this keeps any message that still grows (a long path, a
/// chain of causes) well inside the peer's HTTP/2 header limit, where an
/// oversized one turns into RESOURCE_EXHAUSTED and hides the real error.
pub const MAX_STATUS_MESSAGE: usize = 4096;

/// `msg` cut to [`MAX_STATUS_MESSAGE`] bytes at a character boundary.
fn bounded(mut msg: String) -> String {
    if msg.len() > MAX_STATUS_MESSAGE {
        let mut cut = MAX_STATUS_MESSAGE;
        while !msg.is_char_boundary(cut) {
            cut -= 1;
        }
        msg.truncate(cut);
        msg.push_str("… (cut)");
    }
    msg
}

impl From<Error> for Status {
    fn from(e: Error) -> Self {
        let msg = bounded(e.to_string());
        match e {
            Error::InvalidArgument { .. } => Status::invalid_argument(msg),
            Error::UnknownProxy(_) | Error::UnknownRecording(_) | Error::UnknownReplay(_) => {
                Status::not_found(msg)
            }
            Error::ProxyExists(_) | Error::RecordingExists(_) => Status::already_exists(msg),
            Error::FailedPrecondition(_) | Error::DiskLimit(_) => Status::failed_precondition(msg),
            Error::TooManyWatchers { .. } => Status::resource_exhausted(msg),
            Error::Bind { .. } => Status::unavailable(msg),
            Error::Io { .. } | Error::Format { .. } => Status::internal(msg),
        }
    }
}

impl From<crate::store::StoreError> for Status {
    fn from(e: crate::store::StoreError) -> Self {
        use crate::store::StoreError as E;
        let msg = bounded(e.to_string());
        match e {
            // The store refused, failed or is away: worth a retry later.
            E::Store { .. } | E::Timeout { .. } => Status::unavailable(msg),
            E::BadUrl { .. } => Status::invalid_argument(msg),
            E::Local { .. } | E::BadIndex { .. } => Status::internal(msg),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_are_cut_at_a_character_boundary() {
        assert_eq!(bounded("short".into()), "short");
        let long = "é".repeat(MAX_STATUS_MESSAGE);
        let cut = bounded(long);
        assert!(cut.len() <= MAX_STATUS_MESSAGE + "… (cut)".len());
        assert!(cut.ends_with("… (cut)"));
    }

    #[test]
    fn a_huge_id_is_echoed_short() {
        let id = "a".repeat(100_000);
        let status = Status::from(crate::ids::validate("id", &id).unwrap_err());
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(status.message().len() < 200, "{}", status.message());
        assert!(
            status.message().contains("(100000 bytes)"),
            "{}",
            status.message()
        );
    }
}
