//! AnalyzeRecording: validates the request, waits for its turn (one
//! analysis at a time, a few in line, the rest refused), runs the one
//! analysis (`stats::analyze_source`) over the recording, on this agent or
//! only in its object store, on a blocking thread, and returns the
//! `Analysis` as reel.v1 messages (`wire::analysis`) with the optional
//! projection.

use tokio::sync::{Semaphore, SemaphorePermit};
use tonic::Status;

use crate::agent::Agent;
use crate::error::Error;
use crate::proto as pb;
use crate::stats::{
    AnalyzeOptions, DEFAULT_TOP, FramingSpec, MAX_ANALYSIS_TOP, StatsError, analyze_source,
};
use crate::wire::analysis::{projection_to, to_proto};

/// Analyses running at once. One analysis of 300,000 connections takes
/// ~50 MB (docs/ANALYSIS.md); one at a time bounds the agent's memory to
/// that and leaves the other core to the proxies.
pub const MAX_CONCURRENT_ANALYSES: usize = 1;

/// Calls that may wait for their turn behind the running one; more are
/// refused at once with RESOURCE_EXHAUSTED rather than queue without bound.
pub const MAX_WAITING_ANALYSES: usize = 4;

/// Admission and turns of the analyses: a call first takes a place (running
/// or waiting, refused when none is left), then waits for a turn.
pub(crate) struct Turns {
    /// Places: running plus waiting.
    places: Semaphore,
    /// Turns to run.
    running: Semaphore,
    /// The limits, for the refusal's message.
    limits: (usize, usize),
}

/// What a call holds while its analysis runs; both are given back on drop.
pub(crate) struct Turn<'a> {
    _place: SemaphorePermit<'a>,
    _running: SemaphorePermit<'a>,
}

impl Turns {
    /// `running` analyses at once, `waiting` more in line.
    pub(crate) const fn new(running: usize, waiting: usize) -> Self {
        Turns {
            places: Semaphore::const_new(running + waiting),
            running: Semaphore::const_new(running),
            limits: (running, waiting),
        }
    }

    /// Waits for a turn, or refuses when the line is full.
    ///
    /// # Errors
    /// RESOURCE_EXHAUSTED when every place is taken.
    ///
    /// # Cancel safety
    /// Dropping the future gives the place up.
    pub(crate) async fn take(&self) -> Result<Turn<'_>, Status> {
        let place = self.places.try_acquire().map_err(|_| {
            let (running, waiting) = self.limits;
            Status::resource_exhausted(format!(
                "{} analyses are running or waiting on this agent (at most {running} at once, \
                 {waiting} waiting); try again when one has finished",
                running + waiting
            ))
        })?;
        let running = self
            .running
            .acquire()
            .await
            .map_err(|_| Status::unavailable("the agent is shutting down"))?;
        Ok(Turn {
            _place: place,
            _running: running,
        })
    }
}

/// The turns of every call.
static ANALYSES: Turns = Turns::new(MAX_CONCURRENT_ANALYSES, MAX_WAITING_ANALYSES);

/// Handles one AnalyzeRecording call.
///
/// # Errors
/// INVALID_ARGUMENT for a missing id, a bad framing or `top`; NOT_FOUND for
/// a recording neither here nor in the store; FAILED_PRECONDITION while it
/// is being recorded; RESOURCE_EXHAUSTED when [`MAX_WAITING_ANALYSES`]
/// calls already wait for their turn; INTERNAL when its file cannot be read.
///
/// # Cancel safety
/// A call dropped while it waits for its turn gives the turn up; once
/// started, the analysis runs to the end of the file on its blocking thread
/// (bounded by [`MAX_CONCURRENT_ANALYSES`]) and its result is dropped.
pub(super) async fn analyze(
    agent: &Agent,
    r: pb::AnalyzeRecordingRequest,
) -> Result<pb::AnalyzeRecordingResponse, Status> {
    let id = r.id.trim();
    if id.is_empty() {
        return Err(Status::invalid_argument("id is required"));
    }
    let options = options(&r)?;
    let (_, source) = agent.source_of(id).await.map_err(|e| match e {
        Error::FailedPrecondition(_) => Status::failed_precondition(format!(
            "recording {id:?} is still being written; stop it before analysing it"
        )),
        e => e.into(),
    })?;
    let turn = ANALYSES.take().await?;
    let owned_id = id.to_string();
    let analysis = tokio::task::spawn_blocking(move || {
        let _turn = turn;
        analyze_source(&source, options).map_err(|e| engine_error(&owned_id, e))
    })
    .await
    .map_err(|e| Status::internal(format!("the analysis task failed: {e}")))??;
    let projection = (r.online > 0).then(|| projection_to(analysis.project(r.online)));
    Ok(pb::AnalyzeRecordingResponse {
        analysis: Some(to_proto(analysis)),
        projection,
    })
}

/// The analysis options the request asks for.
fn options(r: &pb::AnalyzeRecordingRequest) -> Result<AnalyzeOptions, Status> {
    let framing = match r.framing.trim() {
        "" => None,
        text => Some(
            text.parse::<FramingSpec>()
                .map_err(|e| Status::from(Error::invalid("framing", e.to_string())))?,
        ),
    };
    let top = match r.top {
        0 => DEFAULT_TOP,
        n if n > MAX_ANALYSIS_TOP => {
            return Err(Error::invalid("top", format!("{n} exceeds {MAX_ANALYSIS_TOP}")).into());
        }
        n => n as usize,
    };
    Ok(AnalyzeOptions { top, framing })
}

/// The engine error for a failed analysis of recording `id`: its file is
/// ours, so any failure to read it is the agent's.
fn engine_error(id: &str, e: StatsError) -> Error {
    match e {
        StatsError::Open { path, source } => {
            Error::io(format!("opening recording {}", path.display()), source)
        }
        StatsError::Format(source) => Error::Format {
            id: id.to_string(),
            source,
        },
        StatsError::Framing(f) => Error::invalid("framing", f.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(framing: &str, top: u32) -> pb::AnalyzeRecordingRequest {
        pb::AnalyzeRecordingRequest {
            id: "r1".into(),
            framing: framing.into(),
            top,
            online: 0,
        }
    }

    #[test]
    fn options_default_and_validate() {
        let o = options(&request("", 0)).unwrap();
        assert_eq!((o.top, o.framing), (DEFAULT_TOP, None));
        let o = options(&request(" u16be,offset=2 ", 3)).unwrap();
        assert_eq!(o.top, 3);
        assert_eq!(o.framing.unwrap().to_string(), "u16be,offset=2");

        let err = options(&request("u64be", 0)).unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert!(err.message().starts_with("invalid framing: "), "{err}");
        let err = options(&request("", MAX_ANALYSIS_TOP + 1)).unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert!(err.message().starts_with("invalid top: "), "{err}");
    }

    #[tokio::test]
    async fn one_runs_a_few_wait_and_the_rest_are_refused() {
        let turns = Turns::new(1, 2);
        let first = turns.take().await.unwrap();
        // Two wait in line (their futures hold places while pending).
        let mut second = Box::pin(turns.take());
        let mut third = Box::pin(turns.take());
        assert!(futures_poll(&mut second).is_none());
        assert!(futures_poll(&mut third).is_none());
        let refused = turns.take().await.err().unwrap();
        assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
        assert!(refused.message().contains("at most 1 at once"), "{refused}");
        // The running one ends: the next in line runs, and a place frees up.
        drop(first);
        let second = second.await.unwrap();
        drop(third);
        let fourth = Box::pin(turns.take());
        drop(second);
        assert!(fourth.await.is_ok());
    }

    /// Polls a future once without a runtime waker of interest.
    fn futures_poll<F: std::future::Future + Unpin>(f: &mut F) -> Option<F::Output> {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        match std::pin::Pin::new(f).poll(&mut cx) {
            std::task::Poll::Ready(v) => Some(v),
            std::task::Poll::Pending => None,
        }
    }

    #[test]
    fn read_failures_are_the_agents() {
        let open = StatsError::Open {
            path: "/d/r1.reel".into(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        let status = Status::from(engine_error("r1", open));
        assert_eq!(status.code(), tonic::Code::Internal);
        assert!(status.message().contains("/d/r1.reel"), "{status}");
        let format = StatsError::Format(crate::format::FormatError::NotARecording);
        let status = Status::from(engine_error("r1", format));
        assert_eq!(status.code(), tonic::Code::Internal);
        assert!(status.message().starts_with("recording r1: "), "{status}");
    }
}
