//! GetRecording and DeleteRecording over the data directory and, with
//! `--store`, the object store: a recording only in the store is found and
//! deleted there, one in both is deleted from both.

use tonic::Status;

use super::convert;
use crate::agent::Agent;
use crate::error::Error;
use crate::proto as pb;

/// A recording, local or stored, with where it lives.
pub async fn get(agent: &Agent, id: &str) -> Result<pb::RecordingInfo, Status> {
    let local = agent.recordings.get(id);
    let Some(store) = agent.store() else {
        return Ok(convert::recording_info(local?));
    };
    match local {
        Ok(info) => {
            let location = store.locate(id, true).await;
            Ok(pb::RecordingInfo {
                location: convert::recording_location(location) as i32,
                ..convert::recording_info(info)
            })
        }
        Err(Error::UnknownRecording(_)) => match store.get(id).await? {
            Some(info) => Ok(pb::RecordingInfo {
                location: pb::RecordingLocation::Store as i32,
                ..convert::recording_info(info)
            }),
            None => Err(Error::UnknownRecording(id.to_owned()).into()),
        },
        Err(e) => Err(e.into()),
    }
}

/// Deletes a recording here and in the store; what it was.
pub async fn delete(agent: &Agent, id: &str) -> Result<pb::RecordingInfo, Status> {
    let Some(store) = agent.store() else {
        return Ok(convert::recording_info(agent.recordings.delete(id)?));
    };
    crate::ids::validate("id", id)?;
    // Read before deleting: the answer says what was removed.
    let stored = store.get(id).await?;
    let local = match agent.recordings.delete(id) {
        Ok(info) => Some(info),
        Err(Error::UnknownRecording(_)) => None,
        // In progress: neither copy is touched.
        Err(e) => return Err(e.into()),
    };
    let in_store = store.delete(id).await?;
    let location = match (&local, in_store || stored.is_some()) {
        (Some(_), true) => pb::RecordingLocation::Both,
        (Some(_), false) => pb::RecordingLocation::Local,
        (None, true) => pb::RecordingLocation::Store,
        (None, false) => return Err(Error::UnknownRecording(id.to_owned()).into()),
    };
    let Some(info) = local.or(stored) else {
        return Err(Error::UnknownRecording(id.to_owned()).into());
    };
    Ok(pb::RecordingInfo {
        location: location as i32,
        ..convert::recording_info(info)
    })
}
