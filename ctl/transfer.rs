//! Moving recording files as `FileChunk` streams, never holding more than a
//! few chunks: download into a local writer, upload from a local file (and
//! `relay`, from one agent to others, built on the same pieces). Every download is checked as it arrives
//! (running SHA-256 against the final digest, byte count against the
//! announced size); every upload ends with the digest of what was sent.
//! Streams have no overall deadline: each message must move within the
//! per-agent `--timeout`, so a large file may take as long as it needs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reel::proto::{DownloadRecordingRequest, FileChunk, RecordingInfo};
use sha2::{Digest, Sha256};

use crate::download_check::{DownloadCheck, Received};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;

use crate::error::AgentError;
use crate::fleet::AgentClient;

/// Bytes per uploaded chunk (what the agent sends too).
pub(crate) const CHUNK_BYTES: usize = 256 * 1024;

/// Chunks queued between a reader and an upload: enough to keep the link
/// busy, few enough that memory stays a few chunks per transfer.
const PIPE_DEPTH: usize = 2;

/// An open download: the agent's stream of one recording's file.
pub(crate) struct Download {
    agent: AgentClient,
    stream: tonic::Streaming<FileChunk>,
    check: DownloadCheck,
}

impl Download {
    /// Asks `agent` for recording `id`, within the deadline.
    ///
    /// # Errors
    /// The agent's refusal (unknown id, recording still being written), a
    /// transport failure or `Timeout`.
    pub(crate) async fn open(agent: &AgentClient, id: &str) -> Result<Download, AgentError> {
        let request = DownloadRecordingRequest { id: id.to_owned() };
        let stream = agent
            .unary(|mut client| async move { client.download_recording(request).await })
            .await?;
        Ok(Download {
            agent: agent.clone(),
            stream,
            check: DownloadCheck::default(),
        })
    }

    /// The next message, checked, or `None` at the end of the stream.
    ///
    /// # Errors
    /// The stream failed, stalled beyond the deadline, or sent data after
    /// its digest.
    pub(crate) async fn next(&mut self) -> Result<Option<FileChunk>, AgentError> {
        let message = tokio::time::timeout(self.agent.timeout(), self.stream.message())
            .await
            .map_err(|_| self.agent.timed_out())?
            .map_err(|status| self.agent.status_error(status))?;
        if let Some(chunk) = &message {
            self.check.feed(chunk).map_err(AgentError::Protocol)?;
        }
        Ok(message)
    }

    /// Whether the next message to forward is the final digest.
    pub(crate) fn digest_seen(&self) -> bool {
        self.check.has_digest()
    }

    /// Checks the whole file once `next` returned `None`.
    ///
    /// # Errors
    /// `Protocol`: cut short, or damaged.
    pub(crate) fn finish(self) -> Result<Received, AgentError> {
        self.check.finish().map_err(AgentError::Protocol)
    }
}

/// Downloads recording `id` from `agent` into `sink`, flushing it at the end.
///
/// # Errors
/// The download's errors, or `Local` when writing `sink` fails (`what`
/// names it).
pub(crate) async fn download_into<W>(
    agent: &AgentClient,
    id: &str,
    sink: &mut W,
    what: &Path,
) -> Result<Received, AgentError>
where
    W: AsyncWrite + Unpin,
{
    let local = |e: std::io::Error| AgentError::Local(format!("writing {}: {e}", what.display()));
    let mut download = Download::open(agent, id).await?;
    while let Some(chunk) = download.next().await? {
        sink.write_all(&chunk.data).await.map_err(local)?;
    }
    sink.flush().await.map_err(local)?;
    download.finish()
}

/// A recording downloaded into a hidden temporary file, removed when
/// dropped (`export` and `rules check` of a recording id).
#[derive(Debug)]
pub(crate) struct TempRecording {
    path: PathBuf,
}

impl TempRecording {
    /// Where the file is.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempRecording {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Downloads recording `id` from `agent` (checked as every download) into
/// a new hidden file `.NAME.RANDOM.reel.part` in `dir`.
///
/// # Errors
/// As [`download_into`], the agent's refusal naming the recording, or
/// `Local` when the file cannot be made.
pub(crate) async fn download_temp(
    agent: &AgentClient,
    id: &str,
    dir: &Path,
    name: &str,
) -> Result<TempRecording, AgentError> {
    let suffix: u32 = rand::random();
    let path = dir.join(format!(".{name}.{suffix:08x}.reel.part"));
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .await
        .map_err(|e| AgentError::Local(format!("{}: {e}", path.display())))?;
    let temp = TempRecording { path };
    download_into(agent, id, &mut file, temp.path())
        .await
        .map_err(|e| match e {
            AgentError::Rejected(status) => AgentError::Rejected(tonic::Status::new(
                status.code(),
                format!("recording {id}: {}", status.message()),
            )),
            other => other,
        })?;
    Ok(temp)
}

/// Starts an upload to `agent` fed by the returned sender; the handle
/// resolves with the agent's answer once the sender is dropped (after the
/// digest) and the agent has checked and stored the file.
pub(crate) fn start_upload(
    agent: &AgentClient,
) -> (
    mpsc::Sender<FileChunk>,
    JoinHandle<Result<RecordingInfo, AgentError>>,
) {
    let (tx, rx) = mpsc::channel(PIPE_DEPTH);
    let agent = agent.clone();
    let handle = tokio::spawn(async move {
        let mut client = agent.client();
        client
            .upload_recording(ReceiverStream::new(rx))
            .await
            .map(tonic::Response::into_inner)
            .map_err(|status| agent.status_error(status))
    });
    (tx, handle)
}

/// Slowest rate at which an agent is expected to check an uploaded file
/// (sync it, then read it back as a recording) before it answers.
const CHECK_BYTES_PER_SEC: u64 = 64 * 1024 * 1024;

/// How long an agent may take to answer an upload of `size` bytes after its
/// last message: the per-agent deadline, plus the time to check the file.
pub(crate) fn answer_deadline(timeout: Duration, size: u64) -> Duration {
    timeout + Duration::from_secs(size / CHECK_BYTES_PER_SEC)
}

/// Waits for an upload's answer after its last message, within `deadline`.
pub(crate) async fn upload_answer(
    agent: &AgentClient,
    handle: JoinHandle<Result<RecordingInfo, AgentError>>,
    deadline: Duration,
) -> Result<RecordingInfo, AgentError> {
    let abort = handle.abort_handle();
    match tokio::time::timeout(deadline, handle).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(join)) => Err(AgentError::Internal(format!("upload task failed: {join}"))),
        Err(_elapsed) => {
            abort.abort();
            Err(AgentError::Timeout {
                address: agent.address().to_owned(),
                after: deadline,
            })
        }
    }
}

/// Sends one message of an upload, within the deadline. When the upload
/// already ended (the agent refused it), its answer is the error.
pub(crate) async fn send_chunk(
    agent: &AgentClient,
    tx: &mpsc::Sender<FileChunk>,
    handle: &mut Option<JoinHandle<Result<RecordingInfo, AgentError>>>,
    chunk: FileChunk,
) -> Result<(), AgentError> {
    let sent = tokio::time::timeout(agent.timeout(), tx.send(chunk)).await;
    if matches!(sent, Ok(Ok(()))) {
        return Ok(());
    }
    let Some(task) = handle.take() else {
        return Err(AgentError::Internal("upload task missing".to_owned()));
    };
    if task.is_finished() || matches!(sent, Ok(Err(_))) {
        // The call is over or about to be: its status says why.
        return match upload_answer(agent, task, agent.timeout()).await {
            Err(error) => Err(error),
            Ok(_) => Err(AgentError::Protocol(
                "the agent accepted an upload before its end".to_owned(),
            )),
        };
    }
    task.abort();
    Err(agent.timed_out())
}

/// Uploads the local file at `path` to `agent` under `name` (`<id>.reel`),
/// in `CHUNK_BYTES` pieces ending with the file's SHA-256.
///
/// # Errors
/// `Local` when the file cannot be read; the agent's refusal (bad name,
/// digest mismatch, not a recording, id taken), transport errors, `Timeout`.
pub(crate) async fn upload_file(
    agent: &AgentClient,
    path: &Path,
    name: &str,
) -> Result<RecordingInfo, AgentError> {
    let local = |e: std::io::Error| AgentError::Local(format!("reading {}: {e}", path.display()));
    let mut file = tokio::fs::File::open(path).await.map_err(local)?;
    let size = file.metadata().await.map_err(local)?.len();
    let (tx, handle) = start_upload(agent);
    let mut handle = Some(handle);
    let mut hash = Sha256::new();
    let mut first = Some((name.to_owned(), size));
    let mut buf = vec![0u8; CHUNK_BYTES];
    loop {
        let n = read_full(&mut file, &mut buf).await.map_err(local)?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        let (name, size) = first.take().unwrap_or_default();
        let chunk = FileChunk {
            name,
            size,
            data: buf[..n].to_vec(),
            sha256: Vec::new(),
        };
        send_chunk(agent, &tx, &mut handle, chunk).await?;
    }
    let (name, size) = first.take().unwrap_or_default();
    let last = FileChunk {
        name,
        size,
        data: Vec::new(),
        sha256: hash.finalize().to_vec(),
    };
    send_chunk(agent, &tx, &mut handle, last).await?;
    drop(tx);
    match handle {
        Some(handle) => upload_answer(agent, handle, answer_deadline(agent.timeout(), size)).await,
        None => Err(AgentError::Internal("upload task missing".to_owned())),
    }
}

/// Reads until `buf` is full or the file ends; the count read.
async fn read_full(file: &mut tokio::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = file.read(&mut buf[filled..]).await?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_uploads_get_time_to_be_checked() {
        let timeout = Duration::from_secs(5);
        assert_eq!(answer_deadline(timeout, 0), timeout);
        assert_eq!(answer_deadline(timeout, 1 << 20), timeout);
        assert_eq!(
            answer_deadline(timeout, 10 * CHECK_BYTES_PER_SEC),
            Duration::from_secs(15)
        );
    }
}
