//! `reelctl record start|stop|ls|show|rm|dump`: recordings on each agent.
//! `record start --at` is a coordinated start: the clocks are measured first
//! and each agent gets the deadline on its own clock.

use reel::proto::{
    DeleteRecordingRequest, DumpRecordingRequest, GetRecordingRequest, ListRecordingsRequest,
    RecordingInfo, RecordingStatus, StartRecordingRequest, StopRecordingRequest,
};
use serde::Serialize;
use tonic::Code;

use crate::args::{RecordDumpArgs, RecordStartArgs, StopArgs};
use crate::clock;
use crate::error::AgentError;
use crate::fleet::{self, AgentClient, Report};
use crate::schedule::{self, Coordinated, ScheduleError, Skew};
use crate::settings::Settings;
use crate::timestamp::UnixMillis;

/// What reelctl reads off a recording beyond its plain fields (its JSON
/// shape is set in build.rs and `reel::wire::json`).
pub(crate) trait RecordingExt {
    /// `recording`, `complete`, `recovered`, `failed`; `unknown` for a
    /// status a newer agent sent.
    fn status_word(&self) -> &'static str;
    fn started_at(&self) -> UnixMillis;
    /// Why a failed recording failed.
    fn error_text(&self) -> Option<&str>;
}

impl RecordingExt for RecordingInfo {
    fn status_word(&self) -> &'static str {
        reel::wire::json::recording_status_word(self.status)
    }

    fn started_at(&self) -> UnixMillis {
        UnixMillis(self.started_at_unix_ms)
    }

    fn error_text(&self) -> Option<&str> {
        Some(self.error.as_str()).filter(|e| !e.is_empty())
    }
}

/// The answer to `record start`: the new recording, and with `--at` when it
/// really started on the local clock.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct StartedRecording {
    #[serde(flatten)]
    pub(crate) recording: RecordingInfo,
    #[serde(flatten)]
    pub(crate) coordinated: Option<Coordinated>,
}

/// `record start` on every agent, with the skew of a coordinated start.
#[derive(Debug)]
pub(crate) struct StartedRecordings {
    pub(crate) report: Report<StartedRecording>,
    /// With `--at`.
    pub(crate) skew: Option<Skew>,
}

/// The answer to `record show`.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub(crate) struct RecordingDetail(pub(crate) RecordingInfo);

/// The answer to `record stop`: the recordings as they ended.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct StoppedRecordings {
    pub(crate) stopped: Vec<RecordingInfo>,
}

/// The answer to `record ls`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RecordingList {
    pub(crate) recordings: Vec<RecordingInfo>,
}

/// The answer to `record rm`: the recording as it was.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct DeletedRecording {
    pub(crate) deleted: RecordingInfo,
}

/// Starts one recording per agent; with `--at`, all at the same instant.
///
/// # Errors
/// `--at` is in the past (checked before anything is sent), or passed while
/// the clocks were measured.
pub(crate) async fn start(
    settings: &Settings,
    args: &RecordStartArgs,
) -> Result<StartedRecordings, ScheduleError> {
    let request = StartRecordingRequest {
        proxies: args.proxies.clone(),
        label: args.label.clone().unwrap_or_default(),
        start_at_unix_ns: 0,
        ring_ms: args
            .ring
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
    };
    let deadline = match args.at {
        Some(at) => Some(at.deadline(clock::now_unix_ns())?),
        None => None,
    };
    let ready = fleet::ready_all(settings);
    let measured = match deadline {
        Some(deadline) => {
            let measured = clock::measure_all(settings, ready).await;
            schedule::still_ahead(deadline, clock::now_unix_ns())?;
            measured
        }
        None => fleet::map_ok(ready, |()| ((), None)),
    };
    let report = fleet::then_all(settings, measured, |agent, ((), estimate)| {
        let mut request = request.clone();
        // The agent answers once the recording has started: the wait is
        // part of the call.
        let mut within = agent.timeout();
        if let (Some(deadline), Some(estimate)) = (deadline, estimate) {
            request.start_at_unix_ns = schedule::agent_deadline(deadline, estimate.offset_ns);
            within += schedule::wait_until(deadline, clock::now_unix_ns());
        }
        async move {
            let info = agent
                .unary_within(within, |mut client| async move {
                    client.start_recording(request).await
                })
                .await?;
            let started_ns = if info.started_at_unix_ns != 0 {
                info.started_at_unix_ns
            } else {
                info.started_at_unix_ms.saturating_mul(1_000_000)
            };
            Ok(StartedRecording {
                coordinated: estimate.map(|e| Coordinated::new(started_ns, e.offset_ns)),
                recording: info,
            })
        }
    })
    .await;
    let skew = deadline.map(|_| {
        Skew::of(
            report
                .iter()
                .filter_map(|o| o.result.as_ref().ok()?.coordinated.as_ref()),
        )
    });
    Ok(StartedRecordings { report, skew })
}

/// Stops one recording, or with `--all` every one in progress, on every agent.
pub(crate) async fn stop(settings: &Settings, args: &StopArgs) -> Report<StoppedRecordings> {
    let id = args.id.clone();
    fleet::run_all(settings, |agent| {
        let id = id.clone();
        async move {
            let mut stopped = Vec::new();
            match id {
                Some(id) => stopped.push(stop_on(&agent, id).await?),
                None => {
                    let recording = RecordingStatus::Recording as i32;
                    for info in list_on(&agent).await? {
                        if info.status != recording {
                            continue;
                        }
                        match stop_on(&agent, info.id).await {
                            Ok(view) => stopped.push(view),
                            // Stopped by someone else since we listed it.
                            Err(AgentError::Rejected(s)) if s.code() == Code::NotFound => {}
                            Err(error) => return Err(error),
                        }
                    }
                }
            }
            Ok(StoppedRecordings { stopped })
        }
    })
    .await
}

/// Lists every agent's recordings.
pub(crate) async fn list(settings: &Settings) -> Report<RecordingList> {
    fleet::run_all(settings, |agent| async move {
        let recordings = list_on(&agent).await?;
        Ok(RecordingList { recordings })
    })
    .await
}

/// Shows one recording from every agent.
pub(crate) async fn show(settings: &Settings, id: &str) -> Report<RecordingDetail> {
    let id = id.to_owned();
    fleet::run_all(settings, |agent| {
        let id = id.clone();
        async move {
            let info = agent
                .unary(|mut client| async move {
                    client.get_recording(GetRecordingRequest { id }).await
                })
                .await?;
            Ok(RecordingDetail(info))
        }
    })
    .await
}

/// Dumps flight recorder `id` on every agent.
pub(crate) async fn dump(settings: &Settings, args: &RecordDumpArgs) -> Report<RecordingDetail> {
    let request = DumpRecordingRequest {
        id: args.id.clone(),
        label: args.label.clone().unwrap_or_default(),
    };
    fleet::run_all(settings, |agent| {
        let request = request.clone();
        async move {
            let info = agent
                .unary(|mut client| async move { client.dump_recording(request).await })
                .await?;
            Ok(RecordingDetail(info))
        }
    })
    .await
}

/// Deletes one recording on every agent.
pub(crate) async fn remove(settings: &Settings, id: &str) -> Report<DeletedRecording> {
    let id = id.to_owned();
    fleet::run_all(settings, |agent| {
        let id = id.clone();
        async move {
            let response = agent
                .unary(|mut client| async move {
                    client.delete_recording(DeleteRecordingRequest { id }).await
                })
                .await?;
            let info = response.recording.ok_or_else(|| {
                AgentError::Protocol("DeleteRecording answered without the recording".to_owned())
            })?;
            Ok(DeletedRecording { deleted: info })
        }
    })
    .await
}

pub(crate) async fn list_on(agent: &AgentClient) -> Result<Vec<RecordingInfo>, AgentError> {
    let response = agent
        .unary(|mut client| async move { client.list_recordings(ListRecordingsRequest {}).await })
        .await?;
    Ok(response.recordings)
}

pub(crate) async fn stop_on(agent: &AgentClient, id: String) -> Result<RecordingInfo, AgentError> {
    let info = agent
        .unary(|mut client| async move { client.stop_recording(StopRecordingRequest { id }).await })
        .await?;
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recording_json_shape() {
        let info = RecordingInfo {
            id: "r1".into(),
            label: "boss fight".into(),
            status: RecordingStatus::Complete as i32,
            started_at_unix_ms: 1_714_564_984_123,
            duration_ms: 83_000,
            size_bytes: 4096,
            connections: 3,
            bytes_c2s: 100,
            bytes_s2c: 200,
            proxies: vec!["p1".into()],
            frames: 12,
            ..RecordingInfo::default()
        };
        let json = serde_json::to_value(info).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "id": "r1", "label": "boss fight", "status": "complete",
                "started_at": "2024-05-01T12:03:04.123Z", "duration_ms": 83000,
                "size_bytes": 4096, "connections": 3, "bytes_c2s": 100, "bytes_s2c": 200,
                "lost_bytes": 0, "truncated_bytes": 0, "proxies": ["p1"], "error": null,
                "frames": 12, "agent_name": "", "location": "local"
            })
        );
    }

    #[test]
    fn statuses() {
        let cases = [
            (RecordingStatus::Recording as i32, "recording"),
            (RecordingStatus::Complete as i32, "complete"),
            (RecordingStatus::Recovered as i32, "recovered"),
            (RecordingStatus::Failed as i32, "failed"),
            (0, "unknown"),
            (99, "unknown"),
        ];
        for (status, word) in cases {
            let info = RecordingInfo {
                status,
                ..RecordingInfo::default()
            };
            assert_eq!(info.status_word(), word);
            assert_eq!(serde_json::to_value(&info).unwrap()["status"], word);
        }
    }
}
