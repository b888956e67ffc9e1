//! Stopping recordings: one (taking its tap off the proxies, the recorder
//! threads writing their footers, then the index surveyed from the
//! segments, the uploader told and a recording event published) or all of
//! them at shutdown.

use tracing::{info, warn};

use super::catalog::{CatalogEntry, Recordings};
use super::info::{RecordingInfo, RecordingStatus, from_scan};
use super::recorder;
use super::segments::write_index;
use crate::error::{Error, Result};
use crate::events::{EventBody, RecordingPhase};

impl Recordings {
    /// Stops a recording: `detach` takes its tap off the proxies it names
    /// (by id), then the recorder writes the footer and syncs the file.
    ///
    /// # Errors
    /// `InvalidArgument` for a malformed id, `UnknownRecording`,
    /// `FailedPrecondition` when it is not being recorded or another stop
    /// of it is under way.
    pub async fn stop(
        &self,
        id: &str,
        reason: &str,
        detach: impl FnOnce(&[String]),
    ) -> Result<RecordingInfo> {
        let active = self.in_progress(id, "")?;
        let Some(outcomes) = active
            .outcomes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        else {
            return Err(Error::FailedPrecondition(format!(
                "recording {id:?} is already being stopped"
            )));
        };
        detach(&active.proxies);
        let replies = recorder::stop(&active.tap, outcomes, reason).await;
        let failure = replies.into_iter().find_map(Result::err);
        let dir = self.segments_dir(id);
        let owned = (dir.clone(), id.to_string());
        let indexed = tokio::task::spawn_blocking(move || write_index(&owned.0, &owned.1))
            .await
            .map_err(|e| Error::io("writing the recording's index", std::io::Error::other(e)))?;
        let (mut info, mut phase) = match &indexed {
            Ok(scan) => (from_scan(scan), RecordingPhase::Stopped),
            Err(e) => {
                let mut info = active.info();
                info.status = RecordingStatus::Failed;
                info.error = Some(format!("cannot write the recording's index: {e}"));
                (info, RecordingPhase::Failed)
            }
        };
        if let Some(err) = failure {
            info.status = RecordingStatus::Failed;
            info.error = Some(err.to_string());
            phase = RecordingPhase::Failed;
        } else if info.status == RecordingStatus::Failed {
            phase = RecordingPhase::Failed;
        }
        if indexed.is_ok()
            && let Some(o) = self.observer()
        {
            o.complete(id, &dir);
        }
        self.put_ended(id, info.clone());
        info!(recording = %id, status = info.status.as_str(), "recording stopped");
        self.bus.publish(
            None,
            EventBody::Recording {
                phase,
                info: Box::new(info.clone()),
            },
        );
        Ok(info)
    }

    /// Stops every recording in progress (agent shutdown).
    pub async fn stop_all(&self, reason: &str, detach: impl Fn(&str, &[String])) {
        let active: Vec<String> = self
            .entries()
            .iter()
            .filter(|(_, e)| matches!(e, CatalogEntry::Active(_)))
            .map(|(id, _)| id.clone())
            .collect();
        for id in active {
            if let Err(e) = self.stop(&id, reason, |proxies| detach(&id, proxies)).await {
                warn!(recording = %id, error = %e, "could not finish recording");
            }
        }
    }
}
