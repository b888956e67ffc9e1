//! Segmented recordings read as one: a directory of hand-written segments
//! (two lanes, a connection continued into a second segment with its
//! repeated OPEN) merges into the frames, totals and connection table of
//! the same traffic in one file, by the streaming reader, the survey and
//! flatten alike; a lane cut by a crash ends the merged read as truncated
//! after every frame the other lanes hold.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use super::*;

const ENDED: i64 = 1_700_000_001_000_000_000;

fn open(conn: u64, ts_ns: u64, mid_session: bool) -> Frame {
    f(
        conn,
        ts_ns,
        FrameBody::Open(OpenInfo {
            client: format!("10.0.0.{conn}:4000{conn}"),
            proxy_id: "p1".into(),
            upstream: "10.0.0.2:15630".into(),
            mid_session,
            opened_unix_ns: 1_700_000_000_000_000_000,
            transport: Transport::Tcp,
        }),
    )
}

fn close(conn: u64, ts_ns: u64) -> Frame {
    let reason = "client closed".to_owned();
    f(conn, ts_ns, FrameBody::Close { reason })
}

/// Writes segment `index` of `lane` in `dir`: sealed when `seal`, else
/// left as a crash leaves an open segment (no footer).
fn segment(dir: &Path, lane: u16, index: u32, frames: &[Frame], seal: bool) {
    let file = File::create(dir.join(segment_name(lane, index))).unwrap();
    let mut w = RecordingWriter::new(file, &header()).unwrap();
    for frame in frames {
        w.write_frame(frame).unwrap();
    }
    if seal {
        w.finish(ENDED, "rotated", None).unwrap();
    } else {
        w.flush().unwrap();
    }
}

/// Lane 0: connection 2 over two segments, the second starting with its
/// repeated OPEN; lane 1: connection 1 in one segment, open (no footer)
/// unless `lane_1_sealed`. Returns the frames a merged read must give.
fn two_lanes(dir: &Path, lane_1_sealed: bool) -> Vec<Frame> {
    use Direction::{C2s, S2c};
    let lane_0 = [
        vec![
            open(2, 10, false),
            data(2, 20, C2s, b"move"),
            data(2, 40, S2c, b"moved"),
        ],
        vec![open(2, 50, true), data(2, 60, C2s, b"attack"), close(2, 90)],
    ];
    let lane_1 = vec![
        open(1, 5, false),
        data(1, 30, C2s, b"login"),
        data(1, 70, S2c, b"welcome"),
        close(1, 80),
    ];
    segment(dir, 0, 0, &lane_0[0], true);
    segment(dir, 0, 1, &lane_0[1], true);
    segment(dir, 1, 0, &lane_1, lane_1_sealed);
    let mut all: Vec<Frame> = lane_0.concat();
    all.retain(|f| !matches!(&f.body, FrameBody::Open(o) if o.mid_session));
    all.extend(lane_1);
    all.sort_by_key(|f| f.ts_ns);
    all
}

fn merged(dir: &Path) -> (Vec<Frame>, End) {
    let source = Arc::new(DirSource(dir.to_path_buf()));
    let mut r = SegmentedReader::open(source).unwrap();
    assert_eq!(*r.header(), header());
    let mut frames = Vec::new();
    loop {
        match r.next().unwrap() {
            Next::Frame(frame) => frames.push(frame),
            Next::End(end) => {
                assert_eq!(r.next().unwrap(), Next::End(end.clone()), "End repeats");
                return (frames, end);
            }
        }
    }
}

/// A connection table without file offsets, which differ between layouts.
fn table(connections: &[ConnSummary]) -> Vec<ConnSummary> {
    let mut t: Vec<ConnSummary> = connections
        .iter()
        .map(|c| ConnSummary {
            first_frame_offset: 0,
            ..c.clone()
        })
        .collect();
    t.sort_by_key(|c| c.conn);
    t
}

#[test]
fn two_lanes_read_survey_and_flatten_as_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let want = two_lanes(dir.path(), true);
    let one = write(&want, true).footer.unwrap();

    let (frames, end) = merged(dir.path());
    assert_eq!(frames, want);
    let End::Complete(footer) = end else {
        panic!("{end:?}")
    };
    assert_eq!(footer.summary, one.summary);
    assert_eq!(table(&footer.connections), table(&one.connections));
    assert_eq!(
        (footer.ended_unix_ns, footer.end_reason.as_str()),
        (ENDED, "rotated")
    );

    let survey = survey_dir(dir.path()).unwrap();
    assert_eq!(
        survey.summary, one.summary,
        "repeated OPENs are not counted"
    );
    assert_eq!(table(&survey.connections), table(&one.connections));
    assert!(matches!(survey.end, End::Complete(_)), "{:?}", survey.end);

    let source = Arc::new(DirSource(dir.path().to_path_buf()));
    let (bytes, end) = flatten(SegmentedReader::open(source).unwrap(), Vec::new()).unwrap();
    assert!(matches!(end, End::Complete(_)), "{end:?}");
    let (frames, end) = read_all(Cursor::new(&bytes)).unwrap();
    assert_eq!(frames, want);
    let End::Complete(flat) = end else {
        panic!("{end:?}")
    };
    assert_eq!(flat.summary, one.summary);
    assert_eq!(flat.connections, one.connections, "offsets of the one file");
}

#[test]
fn a_lane_cut_by_a_crash_ends_the_merged_read_after_every_other_frame() {
    let dir = tempfile::tempdir().unwrap();
    let want = two_lanes(dir.path(), false);
    // Cut lane 1's open segment inside its last frame (the CLOSE).
    let open_seg = dir.path().join(segment_name(1, 0));
    let len = std::fs::metadata(&open_seg).unwrap().len();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&open_seg)
        .unwrap();
    file.set_len(len - 5).unwrap();
    let kept: Vec<Frame> = want
        .into_iter()
        .filter(|f| !(f.conn == 1 && matches!(f.body, FrameBody::Close { .. })))
        .collect();

    let (frames, end) = merged(dir.path());
    assert_eq!(frames, kept);
    assert!(
        matches!(end, End::Truncated { cut_bytes, .. } if cut_bytes > 0),
        "{end:?}"
    );
    let survey = survey_dir(dir.path()).unwrap();
    assert!(
        matches!(survey.end, End::Truncated { .. }),
        "{:?}",
        survey.end
    );
    let one = write(&kept, false);
    let rescan = scan(Cursor::new(&one.bytes), one.bytes.len() as u64).unwrap();
    assert_eq!(survey.summary, rescan.summary);
    assert_eq!(table(&survey.connections), table(&rescan.connections));
}

#[test]
fn an_empty_last_segment_reads_as_a_cut() {
    let dir = tempfile::tempdir().unwrap();
    let want = two_lanes(dir.path(), true);
    File::create(dir.path().join(segment_name(0, 2))).unwrap();

    let (frames, end) = merged(dir.path());
    assert_eq!(frames, want);
    assert!(matches!(end, End::Truncated { .. }), "{end:?}");
    let survey = survey_dir(dir.path()).unwrap();
    assert_eq!(survey.summary, write(&want, true).footer.unwrap().summary);
    assert!(
        matches!(survey.end, End::Truncated { .. }),
        "{:?}",
        survey.end
    );
}
