//! A flight recorder's dump: the ring's segments sealed, then copied, merged
//! and with their clock moved to the first frame, into a new, ordinary
//! recording, while the ring goes on.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tokio::sync::oneshot;
use tracing::info;

use super::catalog::{CatalogEntry, Recordings};
use super::files::{create_private, create_private_dir};
use super::info::{RecordingInfo, from_scan, time_to_unix_ns};
use super::recorder::open_sink;
use super::segments::write_index;
use super::start::check_label;
use crate::error::{Error, Result};
use crate::events::{EventBody, RecordingPhase};
use crate::format::{PickedSource, SegmentedReader, rebase, segment_name};
use crate::ids;
use crate::tap::Intake;

impl Recordings {
    /// Seals a copy of flight recorder `id`'s ring as a new recording
    /// (labelled `label`, or after the ring), while the ring goes on.
    ///
    /// # Errors
    /// `InvalidArgument` for a malformed id or label, `UnknownRecording`,
    /// `FailedPrecondition` when `id` is not a flight recorder in progress,
    /// `Io`/`Format` when the copy cannot be written (nothing is left of it).
    pub async fn dump(&self, id: &str, label: Option<String>) -> Result<RecordingInfo> {
        if let Some(l) = &label {
            check_label(l)?;
        }
        let active = self.in_progress(id, "; a dump copies a flight recorder that runs")?;
        let Some(ring) = active.ring.clone() else {
            return Err(Error::FailedPrecondition(format!(
                "recording {id:?} is not a flight recorder (started without --ring): stop it to keep it"
            )));
        };
        self.quota.free_space_ok()?;

        // Every lane seals its open segment, so the dump reaches up to now.
        let replies: Mutex<Vec<oneshot::Receiver<()>>> = Mutex::default();
        active
            .tap
            .control(|| {
                let (tx, rx) = oneshot::channel();
                replies.lock().unwrap_or_else(|e| e.into_inner()).push(rx);
                Intake::Seal(tx)
            })
            .await;
        let replies = std::mem::take(&mut *replies.lock().unwrap_or_else(|e| e.into_inner()));
        for rx in replies {
            let _ = rx.await;
        }

        let new_id = ids::new_recording_id(SystemTime::now());
        let dir = self.segments_dir(&new_id);
        create_private_dir(&dir)?;
        let label = label.unwrap_or_else(|| format!("{} (dump)", active.label));
        let from = self.segments_dir(id);
        let (target, owned_id, reason) = (
            dir.clone(),
            new_id.clone(),
            format!("dumped from flight recorder {id}"),
        );
        let copied = tokio::task::spawn_blocking(move || {
            ring.with_sealed(|names| {
                let source = PickedSource { dir: from, names };
                let reader = SegmentedReader::open(Arc::new(source))?;
                let mut header = reader.header().clone();
                header.id.clone_from(&owned_id);
                header.label = label;
                let path = target.join(segment_name(0, 0));
                let sink = open_sink(create_private(&path)?);
                let ended = time_to_unix_ns(SystemTime::now());
                rebase(reader, sink, header, ended, &reason)?;
                write_index(&target, &owned_id)
            })
        })
        .await
        .map_err(|e| Error::io("dumping the ring", std::io::Error::other(e)))?;
        let scan = match copied {
            Ok(scan) => scan,
            Err(source) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(Error::Format { id: new_id, source });
            }
        };
        let info = from_scan(&scan);
        self.quota.add(info.size_bytes);
        self.entries()
            .insert(new_id.clone(), CatalogEntry::Done(Box::new(info.clone())));
        if let Some(o) = self.observer() {
            o.sealed(&new_id, &dir, &segment_name(0, 0));
            o.complete(&new_id, &dir);
        }
        info!(recording = %new_id, ring = %id, "flight recorder dumped");
        self.bus.publish(
            None,
            EventBody::Recording {
                phase: RecordingPhase::Stopped,
                info: Box::new(info.clone()),
            },
        );
        Ok(info)
    }
}
