//! A segmented recording's `index.json`, as the recorder writes it in the
//! data directory and as the store keeps it. The store's copy is the local
//! one plus a `listing` object (what `record ls` shows), added by the
//! uploader, so listing the fleet costs one read per recording. Fields this
//! build does not know are kept as they are.

use serde::{Deserialize, Serialize};

use super::error::StoreError;

/// The index file's name, in the recording's directory and under its key.
pub const INDEX_NAME: &str = "index.json";

/// One segment as the index lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentEntry {
    pub name: String,
    #[serde(default)]
    pub lane: u32,
    #[serde(default)]
    pub index: u64,
    pub size: u64,
}

/// What a listing of a recording only in the store shows; written by the
/// uploader from the segments' headers and footers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Listing {
    pub label: String,
    pub agent_name: String,
    pub started_at_unix_ns: i64,
    pub duration_ms: u64,
    pub connections: u64,
    pub bytes_c2s: u64,
    pub bytes_s2c: u64,
    pub frames: u64,
    pub lost_bytes: u64,
    pub proxies: Vec<String>,
    /// Why the recording ended early, when it did.
    pub error: Option<String>,
}

/// `index.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Index {
    pub id: String,
    #[serde(default)]
    pub complete: bool,
    pub segments: Vec<SegmentEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listing: Option<Listing>,
    /// Everything else the recorder wrote, kept for readers that know it.
    #[serde(flatten)]
    pub rest: serde_json::Map<String, serde_json::Value>,
}

impl Index {
    /// Parses an index read from `what` (a path or a key, for the error).
    ///
    /// # Errors
    /// `BadIndex` when it is not JSON of this shape or a segment name could
    /// escape the recording's directory.
    pub fn parse(what: &str, bytes: &[u8]) -> Result<Self, StoreError> {
        let bad = |reason: String| StoreError::BadIndex {
            what: what.to_owned(),
            reason,
        };
        let index: Self = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        crate::ids::validate("id", &index.id).map_err(|e| bad(e.to_string()))?;
        for s in &index.segments {
            if !is_segment_name(&s.name) {
                return Err(bad(format!(
                    "segment name {:?} is not a segment file",
                    s.name
                )));
            }
        }
        Ok(index)
    }

    /// Bytes of all segments.
    pub fn size(&self) -> u64 {
        self.segments.iter().map(|s| s.size).sum()
    }

    pub fn to_json(&self) -> Vec<u8> {
        // A struct of strings, numbers and maps always serialises.
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }
}

/// A segment file name (`LL-NNNNNN.reel`): a bare name of a recording file,
/// nothing that could name another directory.
pub fn is_segment_name(name: &str) -> bool {
    name.ends_with(".reel")
        && name.len() > ".reel".len()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_survive_and_listing_is_added() {
        let text = br#"{"id":"r1","complete":true,"segments":[{"name":"00-000000.reel","lane":0,"index":0,"size":7}],"version":3}"#;
        let mut index = Index::parse("x", text).unwrap();
        assert_eq!(index.size(), 7);
        index.listing = Some(Listing {
            label: "l".into(),
            ..Listing::default()
        });
        let again = Index::parse("y", &index.to_json()).unwrap();
        assert_eq!(again.rest.get("version"), Some(&serde_json::json!(3)));
        assert_eq!(again.listing.unwrap().label, "l");
    }

    #[test]
    fn names_that_leave_the_directory_are_refused() {
        for name in ["../x.reel", "a/b.reel", ".reel", "x.json", ".hidden.reel"] {
            let text = format!(r#"{{"id":"r1","segments":[{{"name":"{name}","size":1}}]}}"#);
            let e = Index::parse("k", text.as_bytes()).unwrap_err().to_string();
            assert!(e.contains("not a recording index"), "{name}: {e}");
        }
        assert!(Index::parse("k", b"{").is_err());
    }
}
