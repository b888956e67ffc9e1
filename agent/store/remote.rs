//! The store as recordings use it: a recording `ID` is the objects
//! `PREFIX/ID/<segment name>` plus `PREFIX/ID/index.json`, and it is
//! complete in the store exactly when that index exists (the uploader puts
//! it last, and `delete` removes it first). Every call is bounded in time
//! so a listing never hangs on a store that is away.
//!
//! A listing is one listing of the store's objects (paged by the store),
//! which names every recording's index with its size, time and ETag; an
//! index is read only when this agent has not read that version of it yet,
//! and a recording whose index is gone (removed, here or by another agent)
//! is forgotten.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use object_store::ObjectStoreExt;
use object_store::buffered::BufWriter;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectMeta, ObjectStore, PutPayload};
use tokio::io::AsyncWriteExt;
use tokio::task::JoinSet;
use tokio_stream::StreamExt;
use tracing::warn;

use super::error::StoreError;
use super::index::{INDEX_NAME, parse_index};
use super::location::{self, Location};
use crate::domain::RecordingInfo;
use crate::format::Index;
use crate::record::from_index;

/// Bound on one listing or lookup; past it the store counts as away.
pub const STORE_CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Bound on one segment's upload (the uploader retries after it).
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(600);
/// Bytes an upload buffers before it switches to a multipart upload (and
/// the size of each part): the memory one upload holds.
const UPLOAD_BUFFER: usize = 8 * 1024 * 1024;
/// Indexes read at once when listing the fleet.
const LIST_CONCURRENCY: usize = 16;

/// An object store holding recordings.
#[derive(Debug)]
pub struct Store {
    loc: Location,
    /// What the listing shows of each recording complete in the store, by
    /// id, with the version of the index it was read from.
    listed: Mutex<HashMap<String, (Stamp, RecordingInfo)>>,
}

/// A version of an object as a listing gives it: size, time, ETag.
type Stamp = (u64, i64, Option<String>);

fn stamp(meta: &ObjectMeta) -> Stamp {
    (
        meta.size,
        meta.last_modified.timestamp_millis(),
        meta.e_tag.clone(),
    )
}

/// The recording whose index `key` is (`PREFIX/ID/index.json`), if it is one.
fn index_owner(prefix: &ObjectPath, key: &ObjectPath) -> Option<String> {
    let parts: Vec<_> = key.prefix_match(prefix)?.collect();
    match parts.as_slice() {
        [id, name] if name.as_ref() == INDEX_NAME => {
            let id = id.as_ref().to_owned();
            crate::ids::validate("id", &id).is_ok().then_some(id)
        }
        _ => None,
    }
}

async fn bounded<T>(
    what: &str,
    limit: Duration,
    fut: impl std::future::Future<Output = Result<T, object_store::Error>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(limit, fut).await {
        Ok(r) => r.map_err(|e| StoreError::store(what, e)),
        Err(_) => Err(StoreError::Timeout {
            what: what.to_owned(),
            secs: limit.as_secs(),
        }),
    }
}

impl Store {
    /// Opens the store `--store` names (no request is made).
    ///
    /// # Errors
    /// As [`location::parse`].
    pub fn open(url: &str) -> Result<Arc<Self>, StoreError> {
        Ok(Arc::new(Self {
            loc: location::parse(url)?,
            listed: Mutex::default(),
        }))
    }

    fn listed(&self) -> MutexGuard<'_, HashMap<String, (Stamp, RecordingInfo)>> {
        self.listed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The URL as given.
    pub fn url(&self) -> &str {
        &self.loc.url
    }

    pub(crate) fn object_store(&self) -> Arc<dyn ObjectStore> {
        self.loc.store.clone()
    }

    /// `PREFIX/ID`, under which a recording's objects are.
    fn dir_key(&self, id: &str) -> ObjectPath {
        self.loc.prefix.clone().join(id)
    }

    /// `PREFIX/ID/NAME`.
    pub fn key(&self, id: &str, name: &str) -> ObjectPath {
        self.dir_key(id).join(name)
    }

    /// One request that says whether the store answers and lets us in: an
    /// unknown bucket or refused credentials are told at start.
    ///
    /// # Errors
    /// What the store answered, or `Timeout`.
    pub async fn probe(&self) -> Result<(), StoreError> {
        let prefix = self.loc.prefix.clone();
        bounded(
            &format!("{}: listing", self.loc.url),
            STORE_CALL_TIMEOUT,
            self.loc.store.list_with_delimiter(Some(&prefix)),
        )
        .await
        .map(|_| ())
    }

    /// Size of an object, `None` when there is none.
    ///
    /// # Errors
    /// The store's answer other than not-found, or `Timeout`.
    pub async fn object_size(&self, id: &str, name: &str) -> Result<Option<u64>, StoreError> {
        let key = self.key(id, name);
        match bounded(
            &format!("head {key}"),
            STORE_CALL_TIMEOUT,
            self.loc.store.head(&key),
        )
        .await
        {
            Ok(meta) => Ok(Some(meta.size)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Uploads a local file as `PREFIX/ID/NAME`, streaming it (a multipart
    /// upload past `UPLOAD_BUFFER`), and returns its size.
    ///
    /// # Errors
    /// `Local` when the file cannot be read, else the store's answer.
    pub async fn upload_file(&self, id: &str, name: &str, path: &Path) -> Result<u64, StoreError> {
        let key = self.key(id, name);
        let what = format!("upload of {} to {key}", path.display());
        let upload = async {
            let mut file = tokio::fs::File::open(path)
                .await
                .map_err(|e| StoreError::local(format!("opening {}", path.display()), e))?;
            let mut writer =
                BufWriter::with_capacity(self.loc.store.clone(), key.clone(), UPLOAD_BUFFER);
            let copied = tokio::io::copy(&mut file, &mut writer).await;
            let done = match copied {
                Ok(n) => writer.shutdown().await.map(|()| n),
                Err(e) => Err(e),
            };
            match done {
                Ok(n) => Ok(n),
                Err(e) => {
                    let _ = writer.abort().await;
                    Err(StoreError::local(what.clone(), e))
                }
            }
        };
        match tokio::time::timeout(UPLOAD_TIMEOUT, upload).await {
            Ok(r) => r,
            Err(_) => Err(StoreError::Timeout {
                what,
                secs: UPLOAD_TIMEOUT.as_secs(),
            }),
        }
    }

    /// Puts recording `id`'s index (the recorder's bytes): from now on it
    /// is complete in the store.
    ///
    /// # Errors
    /// The store's answer, or `Timeout`.
    pub async fn put_index(&self, id: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        let key = self.key(id, INDEX_NAME);
        bounded(
            &format!("put {key}"),
            STORE_CALL_TIMEOUT,
            self.loc.store.put(&key, PutPayload::from(bytes)),
        )
        .await
        .map(|_| ())
    }

    /// The index of recording `id` in the store; `None` when it is not
    /// complete there.
    ///
    /// # Errors
    /// The store's answer other than not-found, `Timeout`, `BadIndex`.
    pub async fn index(&self, id: &str) -> Result<Option<Index>, StoreError> {
        index_of(
            self.loc.store.clone(),
            id.to_owned(),
            self.key(id, INDEX_NAME),
        )
        .await
    }

    /// What a listing shows of every recording complete in the store, by
    /// id: one listing, and a read of each index version not read before.
    ///
    /// # Errors
    /// When the listing itself fails; an unreadable index is skipped and
    /// logged.
    pub async fn list(&self) -> Result<Vec<RecordingInfo>, StoreError> {
        let prefix = self.loc.prefix.clone();
        let indexes = async {
            let mut objects = self.loc.store.list(Some(&prefix));
            let mut found = HashMap::new();
            while let Some(meta) = objects.next().await {
                let meta = meta?;
                if let Some(id) = index_owner(&prefix, &meta.location) {
                    found.insert(id, (stamp(&meta), meta.location));
                }
            }
            Ok(found)
        };
        let found: HashMap<String, (Stamp, ObjectPath)> = bounded(
            &format!("{}: listing", self.loc.url),
            STORE_CALL_TIMEOUT,
            indexes,
        )
        .await?;
        let (mut out, unread) = {
            let mut known = self.listed();
            known.retain(|id, (seen, _)| found.get(id).is_some_and(|(now, _)| now == seen));
            let out: Vec<RecordingInfo> = known.values().map(|(_, info)| info.clone()).collect();
            let unread: Vec<(String, Stamp, ObjectPath)> = found
                .into_iter()
                .filter(|(id, _)| !known.contains_key(id))
                .map(|(id, (seen, key))| (id, seen, key))
                .collect();
            (out, unread)
        };
        let permits = Arc::new(tokio::sync::Semaphore::new(LIST_CONCURRENCY));
        let mut reads = JoinSet::new();
        for (id, seen, key) in unread {
            let store = self.loc.store.clone();
            let permits = permits.clone();
            reads.spawn(async move {
                let _permit = permits.acquire_owned().await;
                (key.clone(), seen, index_of(store, id, key).await)
            });
        }
        while let Some(joined) = reads.join_next().await {
            match joined {
                Ok((_, seen, Ok(Some(index)))) => {
                    let info = from_index(&index);
                    self.listed().insert(index.id, (seen, info.clone()));
                    out.push(info);
                }
                Ok((_, _, Ok(None))) => {} // removed since the listing
                Ok((key, _, Err(e))) => {
                    warn!(%key, error = %e, "skipping a recording in the store")
                }
                Err(e) => warn!(error = %e, "reading an index from the store failed"),
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// Removes recording `id` from the store: its index first, so it stops
    /// listing as complete even if removing the segments is cut short.
    /// Returns whether it was complete there.
    ///
    /// # Errors
    /// The store's answer, or `Timeout`.
    pub async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        self.listed().remove(id);
        let index_key = self.key(id, INDEX_NAME);
        let had = match bounded(
            &format!("delete {index_key}"),
            STORE_CALL_TIMEOUT,
            self.loc.store.delete(&index_key),
        )
        .await
        {
            Ok(()) => true,
            Err(e) if e.is_not_found() => false,
            Err(e) => return Err(e),
        };
        let dir = self.dir_key(id);
        let listed = bounded(
            &format!("listing {dir}"),
            STORE_CALL_TIMEOUT,
            self.loc.store.list_with_delimiter(Some(&dir)),
        )
        .await?;
        let mut any = had;
        for meta in listed.objects {
            any = true;
            match bounded(
                &format!("delete {}", meta.location),
                STORE_CALL_TIMEOUT,
                self.loc.store.delete(&meta.location),
            )
            .await
            {
                Ok(()) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(any)
    }
}

async fn index_of(
    store: Arc<dyn ObjectStore>,
    id: String,
    key: ObjectPath,
) -> Result<Option<Index>, StoreError> {
    let what = format!("get {key}");
    let got = async { store.get(&key).await?.bytes().await };
    match bounded(&what, STORE_CALL_TIMEOUT, got).await {
        Ok(bytes) => parse_index(key.as_ref(), &id, &bytes).map(Some),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests;
