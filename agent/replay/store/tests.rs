//! Report files: a round trip keeps every field the service shows, a file
//! left `running` comes back `failed`, unreadable files are skipped and old
//! ones beyond the kept count are deleted.

use std::time::{Duration, UNIX_EPOCH};

use super::*;
use crate::replay::lateness::Lateness;
use crate::replay::report::{ConnReport, Omitted, RelaxReason, Relaxation};
use crate::replay::verify::Divergence;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
}

fn full_report(id: &str) -> ReplayReport {
    let mut lateness = Lateness::default();
    lateness.record(Duration::from_micros(250));
    let mut r = ReplayReport::blank(id, ReplayState::Finished);
    r.mode = crate::replay::Mode::Causal;
    r.started_at = Some(at(1));
    r.duration = Duration::from_millis(1234);
    r.connections_total = 3;
    r.omitted = Omitted {
        count: 2,
        bytes_sent: 5,
        ..Omitted::default()
    };
    r.relaxations = 1;
    r.relaxed = vec![Relaxation {
        recording: "r".into(),
        awaited_conn: 2,
        copy: 0,
        pass: 1,
        expected: 180,
        received: 120,
        waited: Duration::from_micros(2300),
        reason: RelaxReason::Stalled,
        at: Duration::from_secs(3),
        held_conn: 5,
    }];
    r.connections = vec![ConnReport {
        recording: "r".into(),
        rec_conn: 7,
        error: Some("reset".into()),
        lateness,
        divergence: Some(Divergence {
            offset: 3,
            expected: b"ab".to_vec(),
            received: b"\xff".to_vec(),
            reason: "different bytes".into(),
        }),
        closed_early: Some((Duration::from_millis(9), 4)),
        ..ConnReport::default()
    }];
    r
}

#[test]
fn a_report_reads_back_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = ReportStore::open(dir.path()).unwrap();
    let r = full_report("rp-a");
    store.save(at(0), &r).unwrap();
    let back = store.load("rp-a").unwrap();
    assert_eq!(back.accepted, at(0));
    // Debug shows every field: equal text, equal report.
    assert_eq!(format!("{:?}", back.report), format!("{r:?}"));
    assert_eq!(
        back.report.connections[0].lateness.summary(),
        r.connections[0].lateness.summary()
    );
    // Saving again replaces the file and leaves no temporary behind.
    store.save(at(0), &r).unwrap();
    let names: Vec<String> = std::fs::read_dir(dir.path().join(REPORTS_DIR))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["rp-a.json"]);
}

#[test]
fn reports_left_running_come_back_failed() {
    let dir = tempfile::tempdir().unwrap();
    let store = ReportStore::open(dir.path()).unwrap();
    store
        .save(at(0), &ReplayReport::blank("rp-run", ReplayState::Running))
        .unwrap();
    store
        .save(
            at(1),
            &ReplayReport::blank("rp-sched", ReplayState::Scheduled),
        )
        .unwrap();
    store
        .save(at(2), &ReplayReport::blank("rp-done", ReplayState::Stopped))
        .unwrap();
    let all = store.load_all(10);
    let states: Vec<(&str, ReplayState, Option<&str>)> = all
        .iter()
        .map(|s| {
            (
                s.report.id.as_str(),
                s.report.state,
                s.report.error.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("rp-done", ReplayState::Stopped, None),
            ("rp-sched", ReplayState::Failed, Some(INTERRUPTED)),
            ("rp-run", ReplayState::Failed, Some(INTERRUPTED)),
        ]
    );
    // Rewritten on disk: the next start agrees.
    assert_eq!(
        store.load("rp-run").unwrap().report.state,
        ReplayState::Failed
    );
}

#[test]
fn unreadable_files_are_skipped_and_old_ones_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let store = ReportStore::open(dir.path()).unwrap();
    for i in 0..5 {
        store
            .save(
                at(i),
                &ReplayReport::blank(&format!("rp-{i}"), ReplayState::Finished),
            )
            .unwrap();
    }
    let folder = dir.path().join(REPORTS_DIR);
    // Truncated, garbage, a newer layout, a misfiled report, a stray temp.
    let good = std::fs::read(folder.join("rp-4.json")).unwrap();
    std::fs::write(folder.join("rp-cut.json"), &good[..good.len() / 2]).unwrap();
    std::fs::write(folder.join("rp-junk.json"), b"\x00\xffnot json").unwrap();
    let newer = String::from_utf8(good.clone())
        .unwrap()
        .replace("\"version\":1", "\"version\":99");
    std::fs::write(folder.join("rp-new.json"), newer).unwrap();
    std::fs::write(folder.join("rp-other.json"), &good).unwrap();
    std::fs::write(folder.join(".rp-9.json.tmp"), b"half").unwrap();
    std::fs::write(folder.join("notes.txt"), b"not ours").unwrap();

    let all = store.load_all(3);
    let ids: Vec<&str> = all.iter().map(|s| s.report.id.as_str()).collect();
    assert_eq!(ids, ["rp-4", "rp-3", "rp-2"]);
    for gone in ["rp-1.json", "rp-0.json", ".rp-9.json.tmp"] {
        assert!(!folder.join(gone).exists(), "{gone} deleted");
    }
    // Unreadable files are left for a human to look at.
    for kept in ["rp-cut.json", "rp-junk.json", "rp-new.json", "notes.txt"] {
        assert!(folder.join(kept).exists(), "{kept} left alone");
    }
    assert!(matches!(
        store.load("rp-cut"),
        Err(StoreError::Unreadable { .. })
    ));
    assert!(matches!(store.load("rp-none"), Err(StoreError::Io { .. })));
}
