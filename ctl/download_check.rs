//! The pure check of a download, message by message: the first message
//! names the file and its size, the last carries the SHA-256 of all the
//! bytes before it; the file is whole only when both match what arrived.
//! A file written as it is sent (a segmented recording flattened into one)
//! announces size 0 first and its size in the last message.

use reel::proto::FileChunk;
use sha2::{Digest, Sha256};

/// A transfer that arrived whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Received {
    /// The file name the sender gave (`<id>.reel`).
    pub(crate) name: String,
    pub(crate) size: u64,
    pub(crate) sha256: [u8; 32],
}

/// Checks a download message by message: the first names the file and its
/// size, the last carries the SHA-256 of everything before it.
#[derive(Debug, Default)]
pub(crate) struct DownloadCheck {
    hash: Sha256,
    bytes: u64,
    first: Option<(String, u64)>,
    /// The size the last message announces, when the first could not.
    final_size: Option<u64>,
    digest: Option<Vec<u8>>,
}

impl DownloadCheck {
    /// Takes one message, in order.
    ///
    /// # Errors
    /// A message after the final digest.
    pub(crate) fn feed(&mut self, chunk: &FileChunk) -> Result<(), String> {
        if self.digest.is_some() {
            return Err("data after the final SHA-256".to_owned());
        }
        if self.first.is_none() {
            self.first = Some((chunk.name.clone(), chunk.size));
        }
        self.hash.update(&chunk.data);
        self.bytes += chunk.data.len() as u64;
        if !chunk.sha256.is_empty() {
            self.digest = Some(chunk.sha256.clone());
            if chunk.size > 0 {
                self.final_size = Some(chunk.size);
            }
        }
        Ok(())
    }

    /// Whether the final digest has arrived (and was the last message).
    pub(crate) fn has_digest(&self) -> bool {
        self.digest.is_some()
    }

    /// The checked result once the stream has ended.
    ///
    /// # Errors
    /// No digest (the stream was cut), a digest or size that does not match
    /// the bytes received.
    pub(crate) fn finish(self) -> Result<Received, String> {
        let (name, first_size) = self.first.unwrap_or_default();
        let size = self.final_size.unwrap_or(first_size);
        let Some(digest) = self.digest else {
            return Err(format!(
                "the stream ended after {} bytes without its SHA-256",
                self.bytes
            ));
        };
        let sha256: [u8; 32] = self.hash.finalize().into();
        if digest != sha256 {
            return Err(format!(
                "SHA-256 mismatch after {} bytes: the file was damaged in transit",
                self.bytes
            ));
        }
        if self.bytes != size {
            return Err(format!(
                "received {} bytes but the agent announced {size}",
                self.bytes
            ));
        }
        Ok(Received {
            name,
            size: self.bytes,
            sha256,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reel::rewrite::hex;

    fn chunk(name: &str, size: u64, data: &[u8], sha256: &[u8]) -> FileChunk {
        FileChunk {
            name: name.into(),
            size,
            data: data.to_vec(),
            sha256: sha256.to_vec(),
        }
    }

    #[test]
    fn a_size_announced_last_is_checked() {
        let data = b"written as it is sent";
        let mut c = DownloadCheck::default();
        c.feed(&chunk("r.reel", 0, data, &[])).unwrap();
        c.feed(&chunk("", data.len() as u64, &[], &digest(data)))
            .unwrap();
        assert_eq!(c.finish().unwrap().size, data.len() as u64);
        let mut c = DownloadCheck::default();
        c.feed(&chunk("r.reel", 0, data, &[])).unwrap();
        c.feed(&chunk("", 99, &[], &digest(data))).unwrap();
        let err = c.finish().unwrap_err();
        assert!(err.contains("announced 99"), "{err}");
    }

    fn digest(data: &[u8]) -> Vec<u8> {
        Sha256::digest(data).to_vec()
    }

    #[test]
    fn a_whole_download_checks_out() {
        let mut check = DownloadCheck::default();
        check.feed(&chunk("r1.reel", 6, b"abc", &[])).unwrap();
        check.feed(&chunk("", 0, b"def", &[])).unwrap();
        assert!(!check.has_digest());
        check.feed(&chunk("", 0, b"", &digest(b"abcdef"))).unwrap();
        assert!(check.has_digest());
        let received = check.finish().unwrap();
        assert_eq!((received.name.as_str(), received.size), ("r1.reel", 6));
        assert_eq!(received.sha256.to_vec(), digest(b"abcdef"));
        assert_eq!(
            hex(&received.sha256),
            "bef57ec7f53a6d40beb640a780a639c83bc29ac8a9816f1fc6c5c6dcd93c4721"
        );
    }

    #[test]
    fn damaged_or_cut_downloads_are_refused() {
        let run = |chunks: &[FileChunk]| {
            let mut check = DownloadCheck::default();
            for c in chunks {
                check.feed(c)?;
            }
            check.finish()
        };
        let cases: &[(&[FileChunk], &str)] = &[
            (&[chunk("r.reel", 3, b"abc", &[])], "without its SHA-256"),
            (
                &[
                    chunk("r.reel", 3, b"abd", &[]),
                    chunk("", 0, b"", &digest(b"abc")),
                ],
                "SHA-256 mismatch after 3 bytes",
            ),
            (
                &[
                    chunk("r.reel", 9, b"abc", &[]),
                    chunk("", 0, b"", &digest(b"abc")),
                ],
                "received 3 bytes but the agent announced 9",
            ),
            (
                &[
                    chunk("r.reel", 3, b"abc", &digest(b"abc")),
                    chunk("", 0, b"x", &[]),
                ],
                "data after the final SHA-256",
            ),
            (&[], "without its SHA-256"),
        ];
        for (chunks, why) in cases {
            let err = run(chunks).unwrap_err();
            assert!(err.contains(why), "{err} / {why}");
        }
        // An empty file is fine when its digest matches.
        let empty = run(&[chunk("r.reel", 0, b"", &digest(b""))]).unwrap();
        assert_eq!(empty.size, 0);
    }
}
