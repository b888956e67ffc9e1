//! What can go wrong with the object store: the `--store` setting (ours to
//! fix before start) or the store itself (unreachable, refusing).

/// An object-store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `--store` (or `store` in the config file) is not a store this build
    /// can use; the agent does not start.
    #[error("invalid --store {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    /// The store answered with an error or could not be reached.
    #[error("object store {what}: {source}")]
    Store {
        what: String,
        source: object_store::Error,
    },
    /// The store did not answer within our bound.
    #[error("object store {what}: no answer within {secs} s")]
    Timeout { what: String, secs: u64 },
    /// A local segment file or index could not be read.
    #[error("{what}: {source}")]
    Local {
        what: String,
        source: std::io::Error,
    },
    /// An index in the store (or the data directory) that is not one of ours.
    #[error("{what}: not a recording index: {reason}")]
    BadIndex { what: String, reason: String },
}

impl StoreError {
    pub(crate) fn store(what: impl Into<String>, source: object_store::Error) -> Self {
        Self::Store {
            what: what.into(),
            source,
        }
    }

    pub(crate) fn local(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Local {
            what: what.into(),
            source,
        }
    }

    /// Whether a local file to upload no longer exists (removed by hand,
    /// or pruned by a flight recorder): retrying cannot help.
    pub fn is_local_file_gone(&self) -> bool {
        matches!(self, Self::Local { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }

    /// Whether the object was missing (a NotFound from the store).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            Self::Store {
                source: object_store::Error::NotFound { .. },
                ..
            }
        )
    }
}
