//! Moving recording files: download as a stream of chunks, upload from one.
//! Both end with a SHA-256 of the whole file, so a file that arrives is the
//! file that left. An upload counts against the disk limits as its bytes
//! arrive and is refused, its temporary file removed, when it crosses one or
//! when its frames are damaged.

use std::io::Read;
use std::path::PathBuf;

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Status, Streaming};

use crate::agent::Agent;
use crate::error::{echo, with_causes};
use crate::format::{FormatError, Sink, Source, SourceReader, flatten};
use crate::proto as pb;
use crate::record::{RECORDING_EXT, UPLOAD_SPACE_CHECK_BYTES, check_upload};

/// Bytes per streamed chunk.
pub const TRANSFER_CHUNK: usize = 256 * 1024;
/// Largest recording an upload may carry.
pub const MAX_UPLOAD_BYTES: u64 = 64 * 1024 * 1024 * 1024;

/// Streams a finished recording's file: a single file as it is, a
/// segmented one flattened; from the object store (`--store`) when it is
/// only there.
pub async fn download(
    agent: &Agent,
    id: &str,
) -> Result<ReceiverStream<Result<pb::FileChunk, Status>>, Status> {
    let (_, source) = agent.source_of(id).await.map_err(|e| match e {
        crate::error::Error::FailedPrecondition(_) => Status::failed_precondition(format!(
            "recording {id:?} is still being written; stop it before downloading it"
        )),
        e => e.into(),
    })?;
    let name = format!("{id}.{RECORDING_EXT}");
    let (tx, rx) = mpsc::channel(4);
    match source {
        Source::File(path) => {
            let file = std::fs::File::open(&path)
                .map_err(|e| Status::internal(format!("opening {}: {e}", path.display())))?;
            let size = file.metadata().map(|m| m.len()).unwrap_or(0);
            // Blocking reads on their own thread; the channel paces them to the client.
            tokio::task::spawn_blocking(move || send_file(file, name, size, tx));
        }
        source if agent.recordings.get(id).is_ok() => {
            let reader = SourceReader::open(&source).map_err(|e| {
                Status::internal(format!("opening recording {id}: {}", with_causes(&e)))
            })?;
            tokio::task::spawn_blocking(move || send_flattened(reader, name, tx));
        }
        source => {
            let id = id.to_owned();
            // Only in the store: opened on the blocking thread, where its
            // segments are fetched blocking on the runtime.
            tokio::task::spawn_blocking(move || match SourceReader::open(&source) {
                Ok(reader) => send_flattened(reader, name, tx),
                Err(e) => {
                    let _ = tx.blocking_send(Err(Status::internal(format!(
                        "opening recording {id}: {}",
                        with_causes(&e)
                    ))));
                }
            });
        }
    }
    Ok(ReceiverStream::new(rx))
}

/// Streams a segmented recording as one file, written as it is sent (its
/// size is not known ahead: announced as 0).
fn send_flattened(
    reader: SourceReader,
    name: String,
    tx: mpsc::Sender<Result<pb::FileChunk, Status>>,
) {
    let sink = ChunkSink {
        tx: tx.clone(),
        hash: Sha256::new(),
        buf: Vec::with_capacity(TRANSFER_CHUNK),
        first: Some(name.clone()),
        sent: 0,
    };
    let sent = flatten(reader, sink)
        .and_then(|(mut sink, _)| sink.send().map(|()| sink).map_err(FormatError::from));
    match sent {
        Ok(sink) => {
            // The size could not be announced first: the last message says it.
            let _ = tx.blocking_send(Ok(pb::FileChunk {
                name: sink.first.unwrap_or_default(),
                size: sink.sent,
                data: Vec::new(),
                sha256: sink.hash.finalize().to_vec(),
            }));
        }
        Err(e) => {
            let _ = tx.blocking_send(Err(Status::internal(format!(
                "reading the recording: {}",
                with_causes(&e)
            ))));
        }
    }
}

/// The file being written, sent in chunks as it grows.
struct ChunkSink {
    tx: mpsc::Sender<Result<pb::FileChunk, Status>>,
    hash: Sha256,
    buf: Vec<u8>,
    /// The name, sent with the first chunk.
    first: Option<String>,
    /// Bytes sent so far.
    sent: u64,
}

impl ChunkSink {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.hash.update(&self.buf);
        self.sent += self.buf.len() as u64;
        let data = std::mem::replace(&mut self.buf, Vec::with_capacity(TRANSFER_CHUNK));
        let chunk = pb::FileChunk {
            name: self.first.take().unwrap_or_default(),
            size: 0,
            data,
            sha256: Vec::new(),
        };
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::other("the client went away"))
    }
}

impl std::io::Write for ChunkSink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= TRANSFER_CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Sink for ChunkSink {
    fn sync(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn send_file(
    mut file: std::fs::File,
    name: String,
    size: u64,
    tx: mpsc::Sender<Result<pb::FileChunk, Status>>,
) {
    let mut hash = Sha256::new();
    let mut first = Some((name, size));
    let mut buf = vec![0u8; TRANSFER_CHUNK];
    loop {
        let n = match file.read(&mut buf) {
            Ok(n) => n,
            Err(e) => {
                let _ =
                    tx.blocking_send(Err(Status::internal(format!("reading the recording: {e}"))));
                return;
            }
        };
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        let (name, size) = first.take().unwrap_or_default();
        let chunk = pb::FileChunk {
            name,
            size,
            data: buf[..n].to_vec(),
            sha256: Vec::new(),
        };
        if tx.blocking_send(Ok(chunk)).is_err() {
            return; // the client went away
        }
    }
    let (name, size) = first.take().unwrap_or_default();
    let _ = tx.blocking_send(Ok(pb::FileChunk {
        name,
        size,
        data: Vec::new(),
        sha256: hash.finalize().to_vec(),
    }));
}

/// The recording id a file name stands for: `<id>.reel`, nothing else.
fn id_from_name(name: &str) -> Result<String, Status> {
    if name.contains(['/', '\\']) || name.contains("..") {
        return Err(Status::invalid_argument(format!(
            "invalid name: {} has path components; send a bare file name",
            echo(name)
        )));
    }
    let Some(id) = name.strip_suffix(&format!(".{RECORDING_EXT}")) else {
        return Err(Status::invalid_argument(format!(
            "invalid name: {} does not end in .{RECORDING_EXT}",
            echo(name)
        )));
    };
    crate::ids::validate("name", id)?;
    Ok(id.to_string())
}

/// Removes a temporary upload file unless it was adopted.
struct TempFile(Option<PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Receives a recording, checks digest and format, adds it to the catalog.
/// Bytes count against `--max-disk` before they are written, and the free
/// space (`--min-free`) is checked every [`UPLOAD_SPACE_CHECK_BYTES`]; the
/// declared size is only a first guess (a client may send more).
pub async fn upload(
    agent: &Agent,
    mut stream: Streaming<pb::FileChunk>,
) -> Result<pb::RecordingInfo, Status> {
    let first = stream.next().await.ok_or_else(|| {
        Status::invalid_argument("empty upload: the first message must name the file")
    })??;
    let id = id_from_name(first.name.trim())?;
    if first.size > MAX_UPLOAD_BYTES {
        return Err(Status::invalid_argument(format!(
            "invalid size: {} bytes is over the {MAX_UPLOAD_BYTES}-byte upload limit",
            first.size
        )));
    }
    let tmp_path = agent.recordings.upload_path(&id, first.size)?;
    // Declared before `tmp`, so dropped after it: the bytes leave the
    // quota once the file is gone.
    let mut charge = agent.recordings.upload_charge();
    let mut tmp = TempFile(Some(tmp_path.clone()));
    let mut next_space_check = UPLOAD_SPACE_CHECK_BYTES;
    let mut opts = tokio::fs::OpenOptions::new();
    opts.write(true).create_new(true).mode(0o600);
    let mut file = opts
        .open(&tmp_path)
        .await
        .map_err(|e| Status::internal(format!("creating {}: {e}", tmp_path.display())))?;
    let mut hash = Sha256::new();
    let mut written = 0u64;
    let mut digest: Option<Vec<u8>> = None;
    let mut msg = Some(first);
    loop {
        let chunk = match msg.take() {
            Some(c) => c,
            None => match stream.next().await {
                Some(c) => c?,
                None => break,
            },
        };
        if digest.is_some() {
            return Err(Status::invalid_argument("data after the final digest"));
        }
        if !chunk.data.is_empty() {
            written += chunk.data.len() as u64;
            if written > MAX_UPLOAD_BYTES {
                return Err(Status::invalid_argument(format!(
                    "upload exceeds the {MAX_UPLOAD_BYTES}-byte limit"
                )));
            }
            charge.grow(chunk.data.len() as u64).map_err(|why| {
                Status::failed_precondition(format!(
                    "upload of {id:?} stopped after {} bytes: {why}",
                    written - chunk.data.len() as u64
                ))
            })?;
            if written >= next_space_check {
                next_space_check = written.saturating_add(UPLOAD_SPACE_CHECK_BYTES);
                agent.recordings.free_space_ok().map_err(|e| {
                    Status::failed_precondition(format!(
                        "upload of {id:?} stopped after {written} bytes: {e}"
                    ))
                })?;
            }
            hash.update(&chunk.data);
            file.write_all(&chunk.data)
                .await
                .map_err(|e| Status::resource_exhausted(format!("writing the upload: {e}")))?;
        }
        if !chunk.sha256.is_empty() {
            digest = Some(chunk.sha256);
        }
    }
    let Some(digest) = digest else {
        return Err(Status::invalid_argument(
            "upload ended without its SHA-256: the file may be incomplete",
        ));
    };
    if hash.finalize().as_slice() != digest.as_slice() {
        return Err(Status::data_loss(format!(
            "upload of {id:?} is corrupted: SHA-256 mismatch after {written} bytes"
        )));
    }
    file.flush()
        .await
        .map_err(|e| Status::resource_exhausted(format!("writing the upload: {e}")))?;
    file.sync_all()
        .await
        .map_err(|e| Status::internal(format!("syncing the upload: {e}")))?;
    drop(file);
    let (check_id, check_path) = (id.clone(), tmp_path.clone());
    tokio::task::spawn_blocking(move || check_upload(&check_id, &check_path))
        .await
        .map_err(|e| Status::internal(format!("checking the upload: {e}")))??;
    let info = agent.recordings.adopt(&id, &tmp_path, charge)?;
    tmp.0 = None;
    Ok(super::convert::recording_info(info))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_be_bare_recording_files() {
        assert_eq!(
            id_from_name("20261126-221503-a3f9.reel").unwrap(),
            "20261126-221503-a3f9"
        );
        for bad in [
            "../x.reel",
            "a/b.reel",
            "x.txt",
            ".reel",
            "..reel",
            "a b.reel",
            "C:\\x.reel",
        ] {
            assert!(id_from_name(bad).is_err(), "{bad}");
        }
    }
}
