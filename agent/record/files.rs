//! Files of the catalog: reading a recording's listing info from disk and
//! creating new recording files with owner-only permissions.

use std::fs::{File, OpenOptions};
use std::path::Path;
use std::time::Duration;

use super::info::{RecordingInfo, from_footer, from_index, from_scan};
use crate::error::{Error, Result};
use crate::format::{Index, read_footer, scan_file, survey_dir};

/// Reads what a listing needs: the footer when the file has one, else a scan.
pub(crate) fn load(path: &Path) -> std::result::Result<RecordingInfo, crate::format::FormatError> {
    if path.is_dir() {
        // A segmented recording: its index once it ended (or was indexed
        // as cut short at a start), else its segments surveyed.
        return Ok(match Index::read(path)? {
            Some(index) => from_index(&index),
            None => from_scan(&survey_dir(path)?),
        });
    }
    let size = std::fs::metadata(path)?.len();
    if let Some((header, footer)) = read_footer(path)? {
        return Ok(from_footer(&header, &footer, size));
    }
    let scan = scan_file(path)?;
    Ok(from_scan(&scan))
}

/// Creates a new recording file readable by its owner only: recordings hold
/// player traffic, session tokens included. The I/O error is kept as it is
/// (its kind tells a full disk from the rest).
pub(crate) fn create_private(path: &Path) -> std::io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

/// Creates a recording's directory, owner-only as its files.
pub(crate) fn create_private_dir(path: &Path) -> Result<()> {
    let mut b = std::fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(path)
        .map_err(|e| Error::io(format!("creating {}", path.display()), e))
}

/// Durations in listings are whole milliseconds.
pub fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Prefix and suffix of an upload's temporary file in the data directory.
const UPLOAD_TMP_PREFIX: &str = ".upload-";
const UPLOAD_TMP_SUFFIX: &str = ".tmp";

/// Whether `name` is an upload's temporary file (one left by a crash, at
/// start: the agent removes it).
pub fn is_upload_temp(name: &str) -> bool {
    name.len() > UPLOAD_TMP_PREFIX.len() + UPLOAD_TMP_SUFFIX.len()
        && name.starts_with(UPLOAD_TMP_PREFIX)
        && name.ends_with(UPLOAD_TMP_SUFFIX)
}

/// A fresh temporary name for an upload of recording `id`.
pub(super) fn upload_temp_name(id: &str) -> String {
    format!(
        "{UPLOAD_TMP_PREFIX}{id}-{:08x}{UPLOAD_TMP_SUFFIX}",
        rand::random::<u32>()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::layout::{TRAILER_LEN, TRAILER_MAGIC};
    use crate::format::{
        Decoded, FrameBody, Header, Item, OpenInfo, RecordingWriter, decode_frame, encode_footer,
    };

    /// A finished recording of one connection whose footer claims
    /// `u64::MAX` connections and bytes (issue 13, finding 14).
    fn crafted() -> Vec<u8> {
        let mut w = RecordingWriter::new(Vec::new(), &Header::default()).unwrap();
        let open = FrameBody::Open(OpenInfo::default());
        w.write_frame(&crate::format::Frame {
            conn: 1,
            ts_ns: 1,
            body: open,
        })
        .unwrap();
        let (bytes, _) = w.finish(7, "done", None).unwrap();
        let len = bytes.len();
        let offset: [u8; 8] = bytes[len - TRAILER_LEN..len - 8].try_into().unwrap();
        let at = u64::from_le_bytes(offset) as usize;
        let Decoded::Item {
            item: Item::Footer(mut footer),
            ..
        } = decode_frame(&bytes[at..len - TRAILER_LEN])
        else {
            panic!("no footer");
        };
        footer.summary.connections = u64::MAX;
        footer.summary.frames = u64::MAX;
        footer.summary.bytes_c2s = u64::MAX;
        let mut out = bytes[..at].to_vec();
        encode_footer(&footer, 1, &mut out).unwrap();
        out.extend_from_slice(&(at as u64).to_le_bytes());
        out.extend_from_slice(&TRAILER_MAGIC);
        out
    }

    #[test]
    fn a_listing_does_not_repeat_a_crafted_footers_counts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r-crafted.reel");
        std::fs::write(&path, crafted()).unwrap();
        let info = load(&path).unwrap();
        assert_eq!(
            (info.connections, info.frames, info.bytes_c2s),
            (1, 1, 0),
            "recounted from the frames"
        );
    }

    #[test]
    fn upload_temp_names() {
        for yes in [".upload-x.tmp", ".upload-20261126-221503-a3f9-0badf00d.tmp"] {
            assert!(is_upload_temp(yes), "{yes}");
        }
        for no in [
            ".upload-.tmp",
            "upload-x.tmp",
            ".upload-x.reel",
            "x.reel",
            ".tmp",
        ] {
            assert!(!is_upload_temp(no), "{no}");
        }
    }
}
