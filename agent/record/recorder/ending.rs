//! Ending a recording early (a failed write or sync, a disk limit): told in
//! the listing and once to whoever started it, and the file closed with a
//! marker and a footer that say why, so it reads as complete up to there.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use tracing::error;

use super::{LiveFigures, OnFailure, State, StopReply};
use crate::format::{Finished, Frame, FrameBody, RecordingWriter, Sink};
use crate::record::error::RecordError;
use crate::record::info::time_to_unix_ns;
use crate::record::quota::Quota;

/// What ending a recording early needs besides its state.
pub(super) struct Ending<'a> {
    pub(super) id: &'a str,
    pub(super) live: &'a LiveFigures,
    pub(super) quota: &'a Quota,
    pub(super) counted: u64,
}

impl Ending<'_> {
    /// Ends the recording for `why`: told in the listing and once to
    /// `on_failure`, the file closed with a marker and a footer; the
    /// proxies keep forwarding.
    pub(super) fn fail<S: Sink>(
        &self,
        state: State<S>,
        why: RecordError,
        on_failure: &mut Option<OnFailure>,
    ) -> State<S> {
        error!(recording = %self.id, reason = %why, "recording ended early; the proxies keep forwarding");
        self.live.failed.store(true, Ordering::Relaxed);
        *self.live.error.lock().unwrap_or_else(|e| e.into_inner()) = Some(why.to_string());
        let state = match state {
            State::Writing(writer) => {
                State::Ended(end_early(writer, why.clone(), self.quota, self.counted))
            }
            ended => ended,
        };
        if let Some(f) = on_failure.take() {
            f(&why);
        }
        state
    }
}

/// Ends a recording that cannot go on: a marker saying why, then the footer
/// (with the reason as its error), so the file reads as complete up to here.
/// On a full disk these writes may fail too; the file then reads back as
/// recovered, up to its last complete frame.
pub(super) fn end_early<S: Sink>(
    mut writer: RecordingWriter<S>,
    why: RecordError,
    quota: &Quota,
    counted: u64,
) -> StopReply {
    let ts = writer.summary().last_ts_ns;
    let marker = Frame {
        conn: 0,
        ts_ns: ts,
        body: FrameBody::Annotation {
            text: format!("recording ended: {why}"),
        },
    };
    let _ = writer.write_frame(&marker);
    let ended = time_to_unix_ns(SystemTime::now());
    match writer.finish_sized(ended, "ended early", Some(why.to_string())) {
        Ok(Finished { footer, size, .. }) => {
            quota.add(size.saturating_sub(counted));
            Ok(footer)
        }
        Err(e) => Err(RecordError::FooterAfter {
            why: Box::new(why),
            footer: Arc::new(e),
        }),
    }
}
