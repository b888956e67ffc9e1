//! The recorder thread against model sinks: a disk that fills up, a sink
//! that takes a few bytes per write, one that tears a batch, the quota, and
//! a background sync that fails. What a root-only tmpfs mount showed
//! before, without root and in milliseconds.

use super::*;

#[test]
fn a_sink_that_takes_seven_bytes_per_write_still_gets_every_byte() {
    let sink = Model::new(usize::MAX, 7);
    let (outcome, live, failures) = run(sink.clone(), unlimited()).send_and_stop(200, 1_000);
    let footer = outcome.expect("a slow sink is not a failure");
    assert!(failures.is_empty());
    assert_eq!(footer.summary.bytes_c2s, 200_000);
    let (data, end) = read_back(&sink.bytes());
    assert!(matches!(end, End::Complete(_)), "{end:?}");
    assert_eq!(data.len(), 200);
    assert!(
        data.iter()
            .enumerate()
            .all(|(i, d)| d[..] == [i as u8; 1_000])
    );
    assert_eq!(
        live.size_bytes.load(Ordering::Relaxed),
        sink.bytes().len() as u64
    );
}

#[test]
fn a_full_disk_ends_the_recording_once_and_keeps_every_complete_frame() {
    // Room for the header and a few dozen frames, not for 500.
    let sink = Model::new(40_000, usize::MAX);
    let (outcome, live, failures) = run(sink.clone(), unlimited()).send_and_stop(500, 1_000);
    let err = outcome.expect_err("a full disk fails the recording");
    assert!(
        matches!(err, RecordError::FooterAfter { ref why, .. } if matches!(**why, RecordError::Write(_))),
        "{err:?}"
    );
    assert!(err.to_string().contains("write failed"), "{err}");
    assert_eq!(
        failures.len(),
        1,
        "the failure is reported once: {failures:?}"
    );
    assert!(live.failed.load(Ordering::Relaxed));
    assert!(live.error().unwrap().contains("No space left"));
    // What reached the disk reads back up to its last complete frame, and
    // everything else is counted as lost.
    let (data, end) = read_back(&sink.bytes());
    assert!(matches!(end, End::Truncated { .. }), "{end:?}");
    assert!(!data.is_empty() && data.len() < 500);
    assert!(
        data.iter()
            .enumerate()
            .all(|(i, d)| d[..] == [i as u8; 1_000])
    );
    let lost = live.lost_bytes.load(Ordering::Relaxed);
    assert!(
        lost >= ((500 - data.len() - 256) * 1_000) as u64,
        "lost {lost}"
    );
}

#[test]
fn a_torn_batch_is_cut_at_the_last_complete_frame() {
    // Takes 3,000 bytes, then fails in the middle of a frame.
    let sink = Model::new(3_000, 700);
    let (outcome, _live, failures) = run(sink.clone(), unlimited()).send_and_stop(10, 500);
    assert!(outcome.is_err());
    assert_eq!(failures.len(), 1);
    let bytes = sink.bytes();
    assert_eq!(bytes.len(), 3_000, "the sink took what it could");
    let (data, end) = read_back(&bytes);
    match end {
        End::Truncated {
            valid_bytes,
            cut_bytes,
        } => {
            assert!(cut_bytes > 0, "a partial frame was written and is dropped");
            assert_eq!(valid_bytes + cut_bytes, 3_000);
        }
        other => panic!("expected a truncated file, got {other:?}"),
    }
    assert!(
        data.iter()
            .enumerate()
            .all(|(i, d)| d[..] == [i as u8; 500])
    );
}

#[test]
fn the_quota_ends_the_recording_with_a_marker_and_a_footer() {
    let quota = unlimited();
    quota.set_limits(DiskLimits {
        max_disk: Some(20_000),
        min_free: None,
    });
    let sink = Model::new(usize::MAX, usize::MAX);
    let (outcome, live, failures) = run(sink.clone(), quota.clone()).send_and_stop(100, 1_000);
    // The file itself ends cleanly: marker, then a footer naming the limit.
    let footer = outcome.expect("a quota stop still finishes the file");
    assert!(footer.error.as_deref().unwrap().contains("--max-disk"));
    assert_eq!(failures.len(), 1);
    assert!(failures[0].contains("disk quota reached"));
    let (data, end) = read_back(&sink.bytes());
    assert!(matches!(end, End::Complete(_)), "{end:?}");
    assert!(data.len() < 100);
    assert_eq!(
        live.lost_bytes.load(Ordering::Relaxed),
        ((100 - data.len()) * 1_000) as u64,
        "every chunk not written is counted lost"
    );
    assert_eq!(
        quota.used(),
        sink.bytes().len() as u64,
        "the quota counts the file"
    );
}

#[test]
fn a_background_sync_that_fails_ends_the_recording_with_its_error() {
    let syncer =
        Syncer::spawn("model", || Err(std::io::Error::other("EIO from the disk"))).unwrap();
    let sink = Model::new(usize::MAX, usize::MAX);
    let running = run_synced(sink.clone(), unlimited(), Some(syncer));
    let conn = meta(1, running.start);
    let send = |i: u8| {
        let kind = TapKind::Data(Direction::C2s, Bytes::from(vec![i; 100]));
        running
            .rt
            .block_on(running.tap.send(&conn, Instant::now(), kind));
    };
    send(0);
    // Past the sync interval, the next chunk makes the recorder ask for a
    // sync; the thread's failure then ends the recording.
    std::thread::sleep(RECORDER_SYNC_INTERVAL + Duration::from_millis(200));
    send(1);
    let (outcome, live, failures) = running.send_and_stop(0, 1);
    // Ended early, as after a failed write: the footer says why.
    let footer = outcome.expect("the file is closed with a footer");
    let error = footer.error.unwrap_or_default();
    assert!(error.contains("EIO from the disk"), "{error}");
    assert_eq!(footer.end_reason, "ended early");
    assert_eq!(failures.len(), 1, "told once: {failures:?}");
    assert!(live.failed.load(Ordering::Relaxed));
    // Everything handed over before is in the file, which ends cleanly
    // with the reason.
    let (data, end) = read_back(&sink.bytes());
    assert_eq!(data.len(), 2);
    assert!(matches!(end, End::Complete(_)), "{end:?}");
}
