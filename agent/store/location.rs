//! `--store URL` into an object store and the key prefix recordings go
//! under: `s3://BUCKET[/PREFIX]` configured by the standard `AWS_*`
//! variables, `gs://` and `az://` (or `abfs://`, `azure://`) by their
//! providers' usual variables, and `file:///DIR` for a directory (a shared
//! mount, or tests). Anything else is refused naming the flag.

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ClientConfigKey, ObjectStore, ObjectStoreScheme, RetryConfig};

use super::error::StoreError;

/// How long one request may take before the client gives up on it (and
/// the uploader retries with backoff): a 64 MiB part on a slow link fits.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The client's own retries of one request, kept short: the uploader owns
/// retrying (with its backoff, for as long as the store is away), and
/// listings must answer within their bound.
const CLIENT_RETRIES: usize = 2;
const CLIENT_RETRY_TIMEOUT: Duration = Duration::from_secs(15);

/// A parsed `--store`: the store and where under it recordings go.
#[derive(Debug, Clone)]
pub struct Location {
    /// The URL as given (it holds no secrets: credentials come from the
    /// environment), for logs and errors.
    pub url: String,
    pub store: Arc<dyn ObjectStore>,
    /// Key prefix (empty for the bucket's root).
    pub prefix: ObjectPath,
}

/// Parses `--store`.
///
/// # Errors
/// `BadUrl` naming the flag: not a URL, a scheme this build has no store
/// for, no bucket, half of a key pair, or a provider builder's refusal.
pub fn parse(url: &str) -> Result<Location, StoreError> {
    let bad = |reason: String| StoreError::BadUrl {
        url: url.to_owned(),
        reason,
    };
    let parsed = url::Url::parse(url).map_err(|e| {
        bad(format!(
            "{e}; expected s3://BUCKET[/PREFIX], gs://BUCKET[/PREFIX], az://CONTAINER[/PREFIX] or file:///DIR"
        ))
    })?;
    let (scheme, prefix) = ObjectStoreScheme::parse(&parsed).map_err(|e| bad(e.to_string()))?;
    // As config keys, not a `ClientOptions` (which would replace what
    // `from_env` read, AWS_ALLOW_HTTP included).
    let timeouts = [
        (ClientConfigKey::Timeout, secs(REQUEST_TIMEOUT)),
        (ClientConfigKey::ConnectTimeout, secs(CONNECT_TIMEOUT)),
    ];
    let retry = RetryConfig {
        max_retries: CLIENT_RETRIES,
        retry_timeout: CLIENT_RETRY_TIMEOUT,
        ..RetryConfig::default()
    };
    let store: Arc<dyn ObjectStore> = match scheme {
        ObjectStoreScheme::AmazonS3 => {
            check_key_pair().map_err(bad)?;
            let b = timeouts
                .iter()
                .fold(AmazonS3Builder::from_env().with_url(url), |b, (k, v)| {
                    b.with_config(AmazonS3ConfigKey::Client(*k), v)
                });
            Arc::new(
                b.with_retry(retry)
                    .build()
                    .map_err(|e| bad(e.to_string()))?,
            )
        }
        ObjectStoreScheme::GoogleCloudStorage => {
            let b = timeouts.iter().fold(
                GoogleCloudStorageBuilder::from_env().with_url(url),
                |b, (k, v)| b.with_config(GoogleConfigKey::Client(*k), v),
            );
            Arc::new(
                b.with_retry(retry)
                    .build()
                    .map_err(|e| bad(e.to_string()))?,
            )
        }
        ObjectStoreScheme::MicrosoftAzure => {
            let b = timeouts.iter().fold(
                MicrosoftAzureBuilder::from_env().with_url(url),
                |b, (k, v)| b.with_config(AzureConfigKey::Client(*k), v),
            );
            Arc::new(
                b.with_retry(retry)
                    .build()
                    .map_err(|e| bad(e.to_string()))?,
            )
        }
        ObjectStoreScheme::Local => {
            let dir = parsed
                .to_file_path()
                .map_err(|()| bad("not an absolute local path".to_owned()))?;
            std::fs::create_dir_all(&dir)
                .map_err(|e| bad(format!("cannot create {}: {e}", dir.display())))?;
            // The whole URL path is the directory: keys start at its root.
            return Ok(Location {
                url: url.to_owned(),
                store: Arc::new(
                    LocalFileSystem::new_with_prefix(&dir).map_err(|e| bad(e.to_string()))?,
                ),
                prefix: ObjectPath::default(),
            });
        }
        other => {
            return Err(bad(format!(
                "{other:?} is not a store for recordings; use s3://, gs://, az:// or file://"
            )));
        }
    };
    Ok(Location {
        url: url.to_owned(),
        store,
        prefix,
    })
}

/// A duration as the client's config keys take it.
fn secs(d: Duration) -> String {
    format!("{}s", d.as_secs())
}

/// Half of a static key pair is a mistake worth naming, not a fall-back
/// to instance credentials that fails later with a signature error.
fn check_key_pair() -> Result<(), String> {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    match (set("AWS_ACCESS_KEY_ID"), set("AWS_SECRET_ACCESS_KEY")) {
        (true, false) => {
            Err("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not".to_owned())
        }
        (false, true) => {
            Err("AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not".to_owned())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_urls_name_the_flag() {
        for (url, says) in [
            ("bucket", "expected s3://"),
            ("http://example.com/x", "not a store for recordings"),
            ("ftp://x/y", "Unable to recognise URL"),
        ] {
            let e = parse(url).unwrap_err().to_string();
            assert!(e.starts_with("invalid --store"), "{e}");
            assert!(e.contains(says), "{url}: {e}");
        }
    }

    #[test]
    fn file_urls_store_in_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("file://{}/store", dir.path().display());
        let loc = parse(&url).unwrap();
        assert_eq!(loc.prefix, ObjectPath::default());
        assert!(dir.path().join("store").is_dir());
    }

    #[test]
    fn s3_urls_keep_their_prefix() {
        let loc = parse("s3://bucket/fleet/eu").unwrap();
        assert_eq!(loc.prefix.as_ref(), "fleet/eu");
    }
}
