//! A segmented recording's `index.json` (`crate::format::Index`) as the
//! store keeps it: the recorder's file, uploaded byte for byte after every
//! segment it names, and checked when read back from the store (ours or
//! another agent's) before anything trusts its names.

use crate::format::{INDEX_FILE, Index, parse_segment_name};

use super::error::StoreError;

/// The index file's name, in the recording's directory and under its key.
pub const INDEX_NAME: &str = INDEX_FILE;

/// Parses an index read from `what` (a path or a key, for the error) and
/// checks it names recording `id` and only segment files.
///
/// # Errors
/// `BadIndex` when it is not an index, names another recording, or a name
/// in it is not a segment file's (`LL-NNNNNN.reel`, so never a path).
pub fn parse_index(what: &str, id: &str, bytes: &[u8]) -> Result<Index, StoreError> {
    let bad = |reason: String| StoreError::BadIndex {
        what: what.to_owned(),
        reason,
    };
    let index = Index::parse(bytes).map_err(|e| bad(e.to_string()))?;
    if index.id != id {
        return Err(bad(format!("it names recording {:?}", index.id)));
    }
    if let Some(s) = index
        .segments
        .iter()
        .find(|s| parse_segment_name(&s.name).is_none())
    {
        return Err(bad(format!("{:?} is not a segment file name", s.name)));
    }
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_must_name_its_recording_and_only_segments() {
        let ok = br#"{"id":"r1","complete":true,"segments":[{"name":"00-000000.reel","size":7}]}"#;
        assert_eq!(parse_index("k", "r1", ok).unwrap().size(), 7);
        let e = parse_index("k", "r2", ok).unwrap_err().to_string();
        assert!(e.contains("names recording \"r1\""), "{e}");
        for name in [
            "../x.reel",
            "a/00-000000.reel",
            "x.json",
            "00-000000.reel/..",
        ] {
            let text = format!(r#"{{"id":"r1","segments":[{{"name":"{name}","size":1}}]}}"#);
            let e = parse_index("k", "r1", text.as_bytes())
                .unwrap_err()
                .to_string();
            assert!(e.contains("not a segment file name"), "{name}: {e}");
        }
        assert!(parse_index("k", "r1", b"{").is_err());
    }
}
