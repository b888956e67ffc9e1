//! The one place that decides which gRPC code each engine error gets.

use tonic::Status;

use crate::error::Error;

impl From<Error> for Status {
    fn from(e: Error) -> Self {
        let msg = e.to_string();
        match e {
            Error::InvalidArgument { .. } => Status::invalid_argument(msg),
            Error::UnknownProxy(_) | Error::UnknownRecording(_) | Error::UnknownReplay(_) => {
                Status::not_found(msg)
            }
            Error::ProxyExists(_) | Error::RecordingExists(_) => Status::already_exists(msg),
            Error::FailedPrecondition(_) => Status::failed_precondition(msg),
            Error::Bind { .. } => Status::unavailable(msg),
            Error::Io { .. } | Error::Format { .. } => Status::internal(msg),
        }
    }
}
