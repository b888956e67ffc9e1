//! Recordings of known contents written to files: the hand-worked sample
//! whose every analysis figure is known, and a tiny one-connection
//! recording. The frames come from `reel::fixtures`, shared with the unit
//! tests.

use std::path::{Path, PathBuf};

#[allow(unused_imports)]
pub use reel::fixtures::{S, close, data, frame, known_frames, msg, open};
use reel::fixtures::{STARTED_UNIX_NS, small_frames, write_into};
use reel::format::{Frame, Header};

pub const ID: &str = "stats-known";

/// Writes recording `id` of `frames` at `path`, started at
/// `started_unix_ns` and stopped at `ended_unix_ns`.
pub fn write_recording(
    path: &Path,
    id: &str,
    frames: impl IntoIterator<Item = Frame>,
    started_unix_ns: i64,
    ended_unix_ns: i64,
) {
    let header = Header {
        id: id.into(),
        label: "generated".into(),
        agent_name: "test".into(),
        started_at_unix_ns: started_unix_ns,
        ..Header::default()
    };
    write_file(path, &header, frames, ended_unix_ns);
}

/// Writes the known recording as DIR/ID.reel (the name `record push` wants).
pub fn write_known(dir: &Path) -> PathBuf {
    let path = dir.join(format!("{ID}.reel"));
    let header = Header {
        id: ID.into(),
        label: "known".into(),
        started_at_unix_ns: STARTED_UNIX_NS,
        ..Header::default()
    };
    write_file(
        &path,
        &header,
        known_frames(),
        STARTED_UNIX_NS + 4 * S as i64,
    );
    path
}

/// A small valid recording file: one connection, a few bytes each way.
pub fn small_recording(path: &Path) {
    let header = Header {
        id: "small".into(),
        started_at_unix_ns: STARTED_UNIX_NS,
        ..Header::default()
    };
    write_file(path, &header, small_frames(), STARTED_UNIX_NS + S as i64);
}

fn write_file(path: &Path, header: &Header, frames: impl IntoIterator<Item = Frame>, ended: i64) {
    let file = std::fs::File::create(path).unwrap();
    let sink = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut sink = write_into(sink, header, frames, ended).unwrap();
    std::io::Write::flush(&mut sink).unwrap();
}
