//! Copying one recording from an agent to several others at once, chunk by
//! chunk as it downloads: the `--spread` step of a replay. Memory stays a
//! few chunks per target whatever the file's size; a target that refuses or
//! stalls drops out without stopping the others.

use std::future::Future;

use reel::proto::{FileChunk, RecordingInfo};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::download_check::Received;
use crate::error::AgentError;
use crate::fleet::AgentClient;
use crate::transfer::{Download, answer_deadline, send_chunk, start_upload, upload_answer};

/// The result of copying one recording from a source agent to others.
#[derive(Debug)]
pub(crate) struct Relayed {
    /// Bytes the source sent (the file's size when it arrived whole).
    pub(crate) size: u64,
    /// Per target, in the order given: the recording as the target stored it.
    pub(crate) targets: Vec<Result<RecordingInfo, AgentError>>,
}

/// Copies recording `id` from `source` to every target at once, chunk by
/// chunk as it is downloaded: each chunk goes to every target still
/// receiving before the next is read. The final digest is forwarded only
/// when the download checked out; otherwise every upload is abandoned (the
/// agents discard incomplete uploads).
pub(crate) async fn relay(source: &AgentClient, id: &str, targets: &[AgentClient]) -> Relayed {
    let mut uploads: Vec<Upload> = targets.iter().map(Upload::start).collect();
    let failed_source = |error: &AgentError| {
        AgentError::Local(format!(
            "cannot copy recording {id} from {}: {error}",
            source.address()
        ))
    };
    let copied = copy_chunks(source, id, &mut uploads).await;
    let mut results = Vec::with_capacity(uploads.len());
    for upload in uploads {
        let result = match (&copied, upload.state) {
            (_, UploadState::Failed(error)) => Err(error),
            (_, UploadState::Sending { handle: None, .. }) => {
                Err(AgentError::Internal("upload task missing".to_owned()))
            }
            (
                Err(error),
                UploadState::Sending {
                    handle: Some(handle),
                    ..
                },
            ) => {
                handle.abort();
                Err(failed_source(error))
            }
            (
                Ok(received),
                UploadState::Sending {
                    tx,
                    handle: Some(handle),
                },
            ) => {
                drop(tx);
                let deadline = answer_deadline(upload.agent.timeout(), received.size);
                upload_answer(&upload.agent, handle, deadline).await
            }
        };
        results.push(result);
    }
    Relayed {
        size: copied.as_ref().map_or(0, |received| received.size),
        targets: results,
    }
}

/// Downloads from `source` and forwards every checked message to `uploads`.
async fn copy_chunks(
    source: &AgentClient,
    id: &str,
    uploads: &mut [Upload],
) -> Result<Received, AgentError> {
    let mut download = Download::open(source, id).await?;
    while let Some(chunk) = download.next().await? {
        if download.digest_seen() {
            // Hold the digest back until the whole download is checked.
            let ended = download.next().await?;
            if ended.is_some() {
                return Err(AgentError::Protocol("data after the final SHA-256".into()));
            }
            let received = download.finish()?;
            forward(uploads, chunk).await;
            return Ok(received);
        }
        forward(uploads, chunk).await;
        if uploads
            .iter()
            .all(|u| matches!(u.state, UploadState::Failed(_)))
        {
            return Err(AgentError::Local("every target refused the upload".into()));
        }
    }
    download.finish()
}

/// Sends `chunk` to every upload still going; one that fails is dropped.
async fn forward(uploads: &mut [Upload], chunk: FileChunk) {
    let sends = uploads.iter_mut().map(|upload| upload.send(chunk.clone()));
    join_all(sends).await;
}

/// Runs the futures concurrently and waits for all (the set is small).
async fn join_all<F: Future<Output = ()>>(futures: impl Iterator<Item = F>) {
    let mut set: Vec<std::pin::Pin<Box<F>>> = futures.map(Box::pin).collect();
    std::future::poll_fn(|cx| {
        set.retain_mut(|f| f.as_mut().poll(cx).is_pending());
        if set.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
}

/// One target of a relay.
struct Upload {
    agent: AgentClient,
    state: UploadState,
}

enum UploadState {
    /// Still receiving; `handle` is the call, taken when it is awaited.
    Sending {
        tx: mpsc::Sender<FileChunk>,
        handle: Option<JoinHandle<Result<RecordingInfo, AgentError>>>,
    },
    /// Refused, stalled or broken: its error.
    Failed(AgentError),
}

impl Upload {
    fn start(agent: &AgentClient) -> Upload {
        let (tx, handle) = start_upload(agent);
        Upload {
            agent: agent.clone(),
            state: UploadState::Sending {
                tx,
                handle: Some(handle),
            },
        }
    }

    /// Sends one message; on failure the upload is out of the relay.
    async fn send(&mut self, chunk: FileChunk) {
        let UploadState::Sending { tx, handle } = &mut self.state else {
            return;
        };
        if let Err(error) = send_chunk(&self.agent, tx, handle, chunk).await {
            self.state = UploadState::Failed(error);
        }
    }
}
