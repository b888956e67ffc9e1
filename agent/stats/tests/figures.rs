//! Analysis of the generated recording: every figure equals the number
//! worked out by hand (see `sample`), through the real writer and reader.

use super::sample::*;
use crate::format::{Direction, FrameBody, Header, RecordingWriter};
use crate::stats::*;

#[test]
fn totals_connections_and_rates_are_exact() {
    let a = analyze(&sample(), AnalyzeOptions::default());
    assert_eq!(a.duration_ns, 39 * S / 10);
    assert_eq!(a.frames, 17);
    assert_eq!(a.end, Some(RecordingEnd::Complete));
    let c = &a.connections;
    assert_eq!(
        (c.total, c.peak_online, c.mid_session, c.closed),
        (4, 3, 1, 2)
    );
    // 2.4 + 2.7 + 0.1 + 0.4 connection-seconds over 3.9 s.
    assert!(close(c.connection_seconds, 5.6), "{}", c.connection_seconds);
    assert!(close(c.avg_online, 5.6 / 3.9));
    // (direction, bytes, chunks, lost, avg/s, p95/s, peak/s, per client/s);
    // the average is over the 4 whole seconds the 3.9 s touch.
    let table = [
        (&a.c2s, 21, 4, 0, 21.0 / 4.0, 8, 8, 21.0 / 5.6),
        (&a.s2c, 116, 3, 50, 116.0 / 4.0, 100, 100, 116.0 / 5.6),
    ];
    for (d, bytes, chunks, lost, avg, p95, peak, per_client) in table {
        assert_eq!((d.bytes, d.chunks, d.lost_bytes), (bytes, chunks, lost));
        assert!(close(d.avg_bytes_per_sec, avg), "{}", d.avg_bytes_per_sec);
        assert_eq!((d.p95_bytes_per_sec, d.peak_bytes_per_sec), (p95, peak));
        assert!(close(d.bytes_per_sec_per_client, per_client));
        assert_eq!(d.messages, None);
    }
    let p = a.project(1000);
    assert!(close(p.ingress_bytes_per_sec, 21_000.0 / 5.6));
    assert!(close(p.egress_bytes_per_sec, 116_000.0 / 5.6));
}

#[test]
fn per_second_timeline_is_exact() {
    let a = analyze(&sample(), AnalyzeOptions::default());
    // (second, bytes c2s, bytes s2c, chunks c2s, chunks s2c, online at end, peak)
    let expected = [
        (0, 6, 6, 1, 1, 1, 1),
        (1, 8, 100, 1, 1, 2, 2),
        (2, 4, 0, 1, 0, 1, 3),
        (3, 3, 10, 1, 1, 2, 2),
    ];
    let got: Vec<_> = a
        .timeline
        .iter()
        .map(|r| {
            let SecondStats {
                second,
                seconds: _,
                bytes_c2s,
                bytes_s2c,
                chunks_c2s,
                chunks_s2c,
                online,
                online_peak,
                ..
            } = *r;
            (
                second,
                bytes_c2s,
                bytes_s2c,
                chunks_c2s,
                chunks_s2c,
                online,
                online_peak,
            )
        })
        .collect();
    assert_eq!(got, expected);
    assert_eq!(
        a.timeline_csv(),
        format!(
            "{TIMELINE_CSV_HEADER}\n0,6,6,1,1,1,1,1,0,0\n1,8,100,1,1,2,2,1,0,0\n2,4,0,1,0,1,3,1,0,0\n3,3,10,1,1,2,2,1,0,0\n"
        )
    );
}

#[test]
fn top_connections_by_bytes() {
    // (top option, connection ids expected, most bytes first)
    let table: [(usize, &[u64]); 3] = [(10, &[2, 1, 4, 3]), (2, &[2, 1]), (0, &[])];
    for (top, ids) in table {
        let a = analyze(&sample(), AnalyzeOptions { top, framing: None });
        let got: Vec<u64> = a.top_connections.iter().map(|c| c.conn).collect();
        assert_eq!(got, ids, "top {top}");
    }
    let a = analyze(&sample(), AnalyzeOptions::default());
    let c1 = &a.top_connections[1];
    assert_eq!(
        (
            c1.client.as_str(),
            c1.bytes_c2s,
            c1.bytes_s2c,
            c1.chunks_c2s
        ),
        ("10.0.0.1:40001", 14, 6, 2)
    );
    assert_eq!(c1.close_reason.as_deref(), Some("client closed"));
    assert_eq!(
        (c1.opened_ts_ns, c1.closed_ts_ns),
        (S / 10, Some(25 * S / 10))
    );
    let c4 = &a.top_connections[2];
    assert_eq!(
        (c4.conn, c4.client.as_str(), c4.opened_ts_ns),
        (4, "", 35 * S / 10)
    );
}

#[test]
fn message_counts_with_framing_are_exact() {
    let options = AnalyzeOptions {
        top: 10,
        framing: Some("u16be".parse().unwrap()),
    };
    let a = analyze(&sample(), options);
    let expected = [
        // c2s: 5, 7, 2 (conn 1) and 3 (conn 2); conn 3's 4 bytes are mid-session.
        MessageStats {
            count: 4,
            bytes: 17,
            min: 2,
            avg: 4.25,
            p95: 7,
            max: 7,
            incomplete_bytes: 0,
            unframed_bytes: 4,
            framing_errors: 0,
        },
        // s2c: 3 (conn 1, then 3 bytes incomplete), 100 (conn 2), 10 (conn 4).
        MessageStats {
            count: 3,
            bytes: 113,
            min: 3,
            avg: 113.0 / 3.0,
            p95: 100,
            max: 100,
            incomplete_bytes: 3,
            unframed_bytes: 0,
            framing_errors: 0,
        },
    ];
    assert_eq!(a.c2s.messages.as_ref(), Some(&expected[0]));
    assert_eq!(a.s2c.messages.as_ref(), Some(&expected[1]));
    let json = serde_json::to_value(&a).unwrap();
    assert_eq!(json["framing"], "u16be");
}

#[test]
fn framing_error_and_loss_stop_framing_of_their_stream() {
    use Direction::{C2s, S2c};
    let frames = [
        frame(1, 0, open("a:1", false)),
        // a 3-byte message, then a length of 1 with adjust -2: invalid.
        frame(1, 1, data(C2s, &[0, 3, 1, 0, 1, 5, 5])),
        frame(1, 2, data(C2s, &[0, 9])),
        // s2c: a complete 4-byte message, 2 bytes, a loss, more bytes.
        frame(1, 3, data(S2c, &[0, 4, 1, 2, 0, 9])),
        frame(
            1,
            4,
            FrameBody::Loss {
                dir: S2c,
                bytes: 7,
                reason: "disk full".into(),
            },
        ),
        frame(1, 5, data(S2c, &[0, 3, 1, 1, 1])),
    ];
    let a = analyze(
        &frames,
        AnalyzeOptions {
            top: 1,
            framing: Some("u16be,adjust=-2".parse().unwrap()),
        },
    );
    let c2s = a.c2s.messages.unwrap();
    assert_eq!((c2s.count, c2s.bytes, c2s.framing_errors), (1, 3, 1));
    assert_eq!((c2s.unframed_bytes, c2s.incomplete_bytes), (6, 0));
    let s2c = a.s2c.messages.unwrap();
    assert_eq!((s2c.count, s2c.bytes, s2c.framing_errors), (1, 4, 0));
    assert_eq!((s2c.unframed_bytes, s2c.incomplete_bytes), (7, 0));
}

#[test]
fn observe_directly_matches_the_file_path() {
    let mut analyzer = Analyzer::new(AnalyzeOptions::default());
    for f in sample() {
        analyzer.observe(&f);
    }
    let mut direct = analyzer.finish();
    assert_eq!(direct.end, None);
    direct.end = Some(RecordingEnd::Complete);
    assert_eq!(direct, analyze(&sample(), AnalyzeOptions::default()));
}

#[test]
fn empty_and_truncated_recordings() {
    let a = analyze(&[], AnalyzeOptions::default());
    assert_eq!((a.frames, a.duration_ns, a.timeline.len()), (0, 0, 0));
    assert_eq!(a.connections, ConnectionCounts::default());
    assert_eq!(
        (a.c2s.avg_bytes_per_sec, a.project(10).egress_bytes_per_sec),
        (0.0, 0.0)
    );

    // Cut inside the last data frame: what came before is analysed.
    let frames = &sample()[..6];
    let bytes = recording(frames);
    let footer_free = {
        let header = Header::default();
        let mut w = RecordingWriter::new(Vec::new(), &header).unwrap();
        for f in frames {
            w.write_frame(f).unwrap();
        }
        w.get_ref().clone()
    };
    assert!(bytes.len() > footer_free.len());
    let cut = &footer_free[..footer_free.len() - 3];
    let a = analyze_reader(std::io::Cursor::new(cut), AnalyzeOptions::default()).unwrap();
    assert_eq!(a.frames, 5);
    assert!(matches!(a.end, Some(RecordingEnd::Truncated { cut_bytes, .. }) if cut_bytes > 0));
    assert!(matches!(
        analyze_reader(
            std::io::Cursor::new(b"not a recording"),
            AnalyzeOptions::default()
        ),
        Err(StatsError::Format(_))
    ));
}

#[test]
fn analyze_file_reads_a_file_and_names_a_missing_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.reel");
    std::fs::write(&path, recording(&sample())).unwrap();
    let a = analyze_file(&path, AnalyzeOptions::default()).unwrap();
    assert_eq!(a.c2s.bytes, 21);
    let err =
        analyze_file(&dir.path().join("missing.reel"), AnalyzeOptions::default()).unwrap_err();
    assert!(err.to_string().contains("missing.reel"), "{err}");
}

#[test]
fn analysis_round_trips_through_json_exactly() {
    // reelctl prints the analysis as JSON (`stats --json`) for scripts to
    // read back: every figure, floats included, must survive the trip bit
    // for bit. (Over gRPC it travels as reel.v1 messages: wire::analysis.)
    for framing in [None, Some("u16be".parse().unwrap())] {
        let a = analyze(&sample(), AnalyzeOptions { top: 10, framing });
        let json = serde_json::to_string(&a).unwrap();
        let back: Analysis = serde_json::from_str(&json).unwrap();
        assert_eq!(back, a);
        assert_eq!(serde_json::to_string(&back).unwrap(), json);
    }
    let cut = RecordingEnd::Truncated {
        valid_bytes: 10,
        cut_bytes: 3,
    };
    let json = serde_json::to_string(&cut).unwrap();
    assert_eq!(
        json,
        r#"{"status":"truncated","valid_bytes":10,"cut_bytes":3}"#
    );
    assert_eq!(serde_json::from_str::<RecordingEnd>(&json).unwrap(), cut);
    assert!(serde_json::from_str::<FramingSpec>(r#""u64be""#).is_err());
}

#[test]
fn loss_frames_summing_past_u64_saturate() {
    let loss = |ts, bytes| {
        frame(
            1,
            ts,
            FrameBody::Loss {
                dir: Direction::S2c,
                bytes,
                reason: "crafted".into(),
            },
        )
    };
    let frames = [
        frame(1, 0, open("a:1", false)),
        loss(1, u64::MAX - 1),
        loss(2, 5),
        loss(3, u64::MAX),
    ];
    let a = analyze(&frames, AnalyzeOptions::default());
    assert_eq!(a.s2c.lost_bytes, u64::MAX, "saturated, not wrapped");
    let mut summary = crate::format::SummaryBuilder::new();
    for (i, f) in frames.iter().enumerate() {
        summary.observe(f, i as u64);
    }
    assert_eq!(summary.summary().lost_bytes, u64::MAX);
}

#[test]
fn a_timestamp_past_the_recordings_stop_is_corrupt_not_trusted() {
    use Direction::C2s;
    let frames = [
        frame(1, 0, open("a:1", false)),
        frame(1, S, data(C2s, b"kept")),
        frame(1, u64::MAX, data(C2s, b"crafted")),
        frame(1, 2 * S, data(C2s, b"after")),
    ];
    // The recording stopped 3 s after it started.
    let file = recording_until(&frames, STARTED_UNIX_NS + 3 * S as i64);
    let a = analyze_reader(std::io::Cursor::new(file), AnalyzeOptions::default()).unwrap();
    assert_eq!((a.frames, a.c2s.bytes, a.duration_ns), (2, 4, 3 * S));
    let Some(RecordingEnd::Corrupted { reason, .. }) = &a.end else {
        panic!("{:?}", a.end);
    };
    assert!(
        reason.contains("18446744073709551615 ns lies past"),
        "{reason}"
    );
    assert_eq!(a.timeline.len(), 3);
}

#[test]
fn duration_runs_to_the_stop_and_the_average_never_exceeds_the_peak_second() {
    use Direction::C2s;
    // 90 bytes in the first 0.7 s of a recording stopped at 0.786 s.
    let frames = [
        frame(1, 0, open("a:1", false)),
        frame(1, 700_000_000, data(C2s, &[0; 90])),
    ];
    let file = recording_until(&frames, STARTED_UNIX_NS + 786_000_000);
    let a = analyze_reader(std::io::Cursor::new(file), AnalyzeOptions::default()).unwrap();
    assert_eq!(a.duration_ns, 786_000_000);
    assert_eq!(a.c2s.peak_bytes_per_sec, 90);
    assert!(
        close(a.c2s.avg_bytes_per_sec, 90.0),
        "{}",
        a.c2s.avg_bytes_per_sec
    );
}

#[test]
fn a_mid_session_connection_is_framed_from_its_first_whole_messages() {
    use Direction::C2s;
    let frames = [
        frame(1, 0, open("a:1", true)),
        frame(1, 1, data(C2s, b"tail of a message")),
        frame(1, 2, data(C2s, &[msg(b"ab"), msg(b"cd")].concat())),
        frame(1, 3, data(C2s, &msg(b"efg"))),
    ];
    let options = AnalyzeOptions {
        framing: Some("u16be".parse().unwrap()),
        ..AnalyzeOptions::default()
    };
    let a = analyze(&frames, options);
    let m = a.c2s.messages.unwrap();
    assert_eq!((m.count, m.bytes, m.unframed_bytes), (3, 13, 17));
    assert_eq!(a.connections.mid_session, 1);
}
