//! Segmented recordings: a recording as a directory of self-contained
//! segment files, written by several writer lanes in parallel and rotated by
//! size and age, plus an index written when the recording ends.
//!
//! Each segment is an ordinary recording file (header, CRC'd frames, footer,
//! trailer) that any reader of the single-file format reads on its own. The
//! order across segments is the frames' `ts_ns`: the tap stamps every
//! message of a recording from one clock that never hands out the same value
//! twice (`tap::Stamp`), so the timestamp is the global sequence number and
//! merging lanes by it restores the order the proxies saw. Within a lane,
//! segments follow each other by number. A segment after the first starts
//! with an OPEN again (marked mid-session) for each connection it continues,
//! so it stands alone; a merged read drops those repeats.
//!
//! `docs/FORMAT.md` ("Segmented recordings") is the specification.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::error::FormatError;
use super::header::Header;
use super::reader::End;
use super::scan::{Scan, footer_of, scan};
use super::summary::{ConnSummary, Footer, Summary};

/// Extension of a segmented recording's directory: `<id>.segments`.
pub const SEGMENTS_EXT: &str = "segments";
/// The index a finished recording's directory holds; written last, so its
/// presence means the recording is complete.
pub const INDEX_FILE: &str = "index.json";
/// Extension of a segment file.
const SEGMENT_EXT: &str = "reel";

/// The file name of segment `index` of writer lane `lane`: `LL-NNNNNN.reel`.
pub fn segment_name(lane: u16, index: u32) -> String {
    format!("{lane:02}-{index:06}.{SEGMENT_EXT}")
}

/// Lane and number of a segment file name; `None` for any other name.
pub fn parse_segment_name(name: &str) -> Option<(u16, u32)> {
    let stem = name.strip_suffix(&format!(".{SEGMENT_EXT}"))?;
    let (lane, index) = stem.split_once('-')?;
    let digits = |s: &str, n: usize| s.len() >= n && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(lane, 2) || !digits(index, 6) {
        return None;
    }
    Some((lane.parse().ok()?, index.parse().ok()?))
}

/// One segment as the index lists it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct IndexEntry {
    pub name: String,
    pub lane: u16,
    pub index: u32,
    pub size: u64,
}

/// `index.json`: what a finished segmented recording holds, so listings and
/// remote readers need not open every segment.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Index {
    pub id: String,
    /// True when the recording ended (stopped, shut down, ended early).
    /// False in the index an agent writes at start for a recording a crash
    /// cut short, surveyed from its segments as they were left: listings say
    /// `recovered`, and the footer says why (`end_reason`) and what was cut
    /// (`truncated_bytes`). A directory without an index is a recording in
    /// progress, or one cut short that no agent has started on since.
    pub complete: bool,
    pub header: Header,
    /// The merged footer: totals and connection table of the whole recording.
    pub footer: Footer,
    /// Every segment, in lane and number order.
    pub segments: Vec<IndexEntry>,
}

impl Index {
    /// Bytes of all segments.
    pub fn size(&self) -> u64 {
        self.segments.iter().map(|s| s.size).sum()
    }

    /// Reads `dir/index.json`; `Ok(None)` when there is none.
    ///
    /// # Errors
    /// I/O errors other than a missing file, and a damaged index
    /// ([`FormatError::HeaderCorrupted`] naming the file).
    pub fn read(dir: &Path) -> Result<Option<Index>, FormatError> {
        match std::fs::read(dir.join(INDEX_FILE)) {
            Ok(bytes) => Index::parse(&bytes).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Parses an index's bytes.
    ///
    /// # Errors
    /// [`FormatError::HeaderCorrupted`] naming what is wrong.
    pub fn parse(bytes: &[u8]) -> Result<Index, FormatError> {
        serde_json::from_slice(bytes)
            .map_err(|e| FormatError::HeaderCorrupted(format!("{INDEX_FILE}: {e}")))
    }
}

/// Where a segmented recording's segment files come from: a local
/// directory, or an object store.
pub trait SegmentSource: Send + Sync + std::fmt::Debug {
    /// The segment file names, in any order.
    ///
    /// # Errors
    /// The listing failed.
    fn names(&self) -> io::Result<Vec<String>>;
    /// Opens one segment for a front-to-back read.
    ///
    /// # Errors
    /// It cannot be opened.
    fn open(&self, name: &str) -> io::Result<Box<dyn Read + Send>>;
    /// The recording's index, once it has one: its header is the
    /// recording's (a dump's segments carry the header of the ring they
    /// were cut from).
    ///
    /// # Errors
    /// It exists but cannot be read.
    fn index(&self) -> Result<Option<Index>, FormatError> {
        Ok(None)
    }
}

/// Segments in a local directory.
#[derive(Debug, Clone)]
pub struct DirSource(pub PathBuf);

impl SegmentSource for DirSource {
    fn names(&self) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&self.0)? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if parse_segment_name(&name).is_some() {
                names.push(name);
            }
        }
        Ok(names)
    }

    fn open(&self, name: &str) -> io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(File::open(self.0.join(name))?))
    }

    fn index(&self) -> Result<Option<Index>, FormatError> {
        Index::read(&self.0)
    }
}

/// Some of the segments of a local directory, named up front (a flight
/// recorder's sealed segments, while its open ones are still written).
#[derive(Debug, Clone)]
pub struct PickedSource {
    pub dir: PathBuf,
    pub names: Vec<String>,
}

impl SegmentSource for PickedSource {
    fn names(&self) -> io::Result<Vec<String>> {
        Ok(self.names.clone())
    }

    fn open(&self, name: &str) -> io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(File::open(self.dir.join(name))?))
    }
}

/// What readers (replay, stats, export, pull) open: a single-file
/// recording or a segmented one.
#[derive(Debug, Clone)]
pub enum Source {
    File(PathBuf),
    Segments(Arc<dyn SegmentSource>),
}

impl Source {
    /// A path as a source: a directory is a segmented recording, anything
    /// else a single file.
    pub fn from_path(path: &Path) -> Source {
        if path.is_dir() {
            Source::Segments(Arc::new(DirSource(path.to_path_buf())))
        } else {
            Source::File(path.to_path_buf())
        }
    }
}

/// The segment names of `source` grouped by lane, each lane in number order.
///
/// # Errors
/// The listing failed, or it holds no segment.
pub(super) fn lanes(source: &dyn SegmentSource) -> Result<Vec<Vec<String>>, FormatError> {
    let mut named: Vec<(u16, u32, String)> = source
        .names()?
        .into_iter()
        .filter_map(|n| parse_segment_name(&n).map(|(l, i)| (l, i, n)))
        .collect();
    if named.is_empty() {
        return Err(FormatError::HeaderTruncated(0));
    }
    named.sort();
    let mut lanes: Vec<Vec<String>> = Vec::new();
    let mut last = None;
    for (lane, _, name) in named {
        if last != Some(lane) {
            lanes.push(Vec::new());
            last = Some(lane);
        }
        if let Some(l) = lanes.last_mut() {
            l.push(name);
        }
    }
    Ok(lanes)
}

/// Reads what listing a local segmented recording needs: each segment's
/// footer (its fast path), or a scan of the segments that have none (the
/// open ones of a recording cut short), merged into one [`Scan`].
///
/// # Errors
/// A segment whose header cannot be read, or an empty directory.
pub fn survey_dir(dir: &Path) -> Result<Scan, FormatError> {
    let source = DirSource(dir.to_path_buf());
    let mut parts = Vec::new();
    for lane in lanes(&source)? {
        let last = lane.len().saturating_sub(1);
        for (i, name) in lane.into_iter().enumerate() {
            let path = dir.join(&name);
            let mut file = File::open(&path)?;
            let size = file.metadata()?.len();
            let part = match footer_of(&mut file) {
                // The lane's newest segment, cut before its header reached
                // the disk: nothing of it is readable.
                Err(FormatError::HeaderTruncated(cut)) if i == last => Scan {
                    header: Header::default(),
                    summary: Summary::default(),
                    connections: Vec::new(),
                    end: End::Truncated {
                        valid_bytes: 0,
                        cut_bytes: cut,
                    },
                    file_size: size,
                },
                Err(e) => return Err(e),
                Ok(Some((header, footer))) => Scan {
                    header,
                    summary: footer.summary.clone(),
                    connections: footer.connections.clone(),
                    end: End::Complete(footer),
                    file_size: size,
                },
                Ok(None) => scan(File::open(&path)?, size)?,
            };
            parts.push(part);
        }
    }
    let merged = merge_scans(parts);
    if merged.header.id.is_empty() {
        // Not one segment got as far as its header.
        return Err(FormatError::HeaderTruncated(merged.file_size));
    }
    Ok(merged)
}

/// Merges the views of a recording's segments (grouped by lane, each lane
/// in number order) into the view of the whole: totals summed, a
/// connection counted once (its repeated OPENs taken off the frame count),
/// the connection table merged, and the end the worst of the segments'
/// (a clean one says why the last segment ended).
pub fn merge_scans(parts: Vec<Scan>) -> Scan {
    let mut total = Summary::default();
    let mut table: Vec<ConnSummary> = Vec::new();
    let mut at: HashMap<u64, usize> = HashMap::new();
    let mut end: Option<End> = None;
    let mut ended: Option<Footer> = None;
    let mut header = None;
    let mut file_size = 0u64;
    for part in parts {
        file_size += part.file_size;
        // Connections are counted below, each once.
        total.add(&Summary {
            connections: 0,
            ..part.summary.clone()
        });
        for c in part.connections {
            match at.get(&c.conn) {
                Some(&i) => {
                    // A later segment of the same connection: it starts with
                    // a repeated OPEN, not a frame of the traffic.
                    total.frames = total.frames.saturating_sub(1);
                    let e = &mut table[i];
                    e.bytes_c2s += c.bytes_c2s;
                    e.bytes_s2c += c.bytes_s2c;
                    if c.closed_ts_ns.is_some() {
                        e.closed_ts_ns = c.closed_ts_ns;
                        e.close_reason = c.close_reason;
                    }
                }
                None => {
                    at.insert(c.conn, table.len());
                    table.push(c);
                }
            }
        }
        match part.end {
            End::Complete(f) => {
                // An error says most; else the segment that ended last says why.
                let replace = ended.as_ref().is_none_or(|e| {
                    e.error.is_none() && (f.error.is_some() || f.ended_unix_ns >= e.ended_unix_ns)
                });
                if replace {
                    ended = Some(f);
                }
            }
            damaged => {
                if end.is_none() {
                    end = Some(damaged);
                }
            }
        }
        if header.is_none() && !part.header.id.is_empty() {
            header = Some(part.header);
        }
    }
    total.connections = table.len() as u64;
    table.sort_by_key(|c| c.opened_ts_ns);
    let end = end.unwrap_or_else(|| {
        let f = ended.unwrap_or_default();
        End::Complete(Footer {
            summary: total.clone(),
            connections: table.clone(),
            connection_detail_omitted: false,
            ..f
        })
    });
    Scan {
        header: header.unwrap_or_default(),
        summary: total,
        connections: table,
        end,
        file_size,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_round_trip_and_others_are_refused() {
        assert_eq!(segment_name(3, 17), "03-000017.reel");
        assert_eq!(parse_segment_name("03-000017.reel"), Some((3, 17)));
        assert_eq!(parse_segment_name("12-1234567.reel"), Some((12, 1_234_567)));
        for bad in [
            "index.json",
            "3-000017.reel",
            "03-17.reel",
            "03-00001x.reel",
            "x.reel",
        ] {
            assert_eq!(parse_segment_name(bad), None, "{bad}");
        }
    }
}
