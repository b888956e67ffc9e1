//! The store as an agent holds it: the store itself and its uploader, and
//! the questions the control plane asks of both (list the fleet, find,
//! delete, read a recording that is only in the store).

use std::sync::Arc;

use tracing::warn;

use super::error::StoreError;
use super::fleet::{Listed, Location, merge};
use super::remote::Store;
use super::source::StoreSource;
use super::uploader::Uploader;
use crate::domain::RecordingInfo;
use crate::record::from_index;

/// An agent's store.
#[derive(Debug, Clone)]
pub struct Attached {
    pub store: Arc<Store>,
    pub uploader: Uploader,
}

impl Attached {
    /// The agent's recordings and the store's, each once with where it
    /// lives. A store that does not answer leaves the local ones listed
    /// (and is logged): a listing never waits on it past its bound.
    pub async fn list(&self, local: Vec<RecordingInfo>) -> Vec<Listed> {
        match self.store.list().await {
            Ok(stored) => merge(local, stored),
            Err(e) => {
                warn!(error = %e, "listing the store failed; listing local recordings only");
                merge(local, Vec::new())
            }
        }
    }

    /// Recording `id` as the store lists it, `None` when it is not
    /// complete there.
    ///
    /// # Errors
    /// When the store cannot be asked.
    pub async fn get(&self, id: &str) -> Result<Option<RecordingInfo>, StoreError> {
        Ok(self.store.index(id).await?.as_ref().map(from_index))
    }

    /// Where `id` lives given whether this agent has it.
    pub async fn locate(&self, id: &str, local: bool) -> Location {
        let stored = matches!(self.store.index(id).await, Ok(Some(_)));
        match (local, stored) {
            (true, true) => Location::Both,
            (false, true) => Location::Store,
            _ => Location::Local,
        }
    }

    /// Removes `id` from the store (and from the upload queue); whether the
    /// store held any of it.
    ///
    /// # Errors
    /// When the store cannot be asked or refuses.
    pub async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        self.uploader.forget(id);
        self.store.delete(id).await
    }

    /// The segments of `id` in the store, for a reader on a blocking thread;
    /// `None` when it is not complete there.
    ///
    /// # Errors
    /// When the store cannot be asked.
    pub async fn source(&self, id: &str) -> Result<Option<StoreSource>, StoreError> {
        let handle = tokio::runtime::Handle::current();
        Ok(self
            .store
            .index(id)
            .await?
            .map(|index| StoreSource::new(self.store.clone(), index, handle)))
    }
}
