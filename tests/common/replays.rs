//! Running a replay over gRPC with a bound: start it, poll its report, and
//! when it has not ended in time, stop it and fail with the live report
//! (what each waiting connection waits for), so a stuck replay explains
//! itself instead of hanging the suite.

use std::time::Duration;

use reel::proto as pb;
use reel::proto::reel_client::ReelClient;
use tonic::transport::Channel;

/// A request replaying `recording` against `target` in `mode` (the
/// engine's word: timed, fast, reactive, causal).
pub fn replay_request(
    recording: &str,
    target: std::net::SocketAddr,
    mode: &str,
) -> pb::StartReplayRequest {
    pb::StartReplayRequest {
        recordings: vec![recording.to_string()],
        target: target.to_string(),
        mode: mode_value(mode),
        ..Default::default()
    }
}

/// The wire value of a mode's word.
pub fn mode_value(mode: &str) -> i32 {
    let mode = reel::replay::Mode::parse(mode).unwrap();
    reel::wire::replay::mode_value(mode) as i32
}

/// The engine's word for a report's state ("unknown" when unset).
pub fn state(r: &pb::ReplayReport) -> &'static str {
    reel::wire::replay::state(r.state).map_or("unknown", |s| s.as_str())
}

/// Whether a report is final.
pub fn ended(r: &pb::ReplayReport) -> bool {
    !matches!(state(r), "running" | "scheduled")
}

/// Starts a replay and returns its final report; when it has not ended
/// within `limit`, stops it and fails the test with the live report.
pub async fn replay_within(
    ctl: &mut ReelClient<Channel>,
    req: pb::StartReplayRequest,
    limit: Duration,
) -> pb::ReplayReport {
    match try_replay_within(ctl, req, limit).await {
        Ok(report) => report,
        Err(live) => {
            stop(ctl, &live.id).await;
            panic!(
                "replay {} did not end within {limit:?}:\n{}",
                live.id,
                describe_live(&live)
            )
        }
    }
}

/// Starts a replay and returns its final report, or, when it has not ended
/// within `limit`, its live report. A replay that did not end is left
/// running, so the caller can look at the target first; then [`stop`] it.
pub async fn try_replay_within(
    ctl: &mut ReelClient<Channel>,
    req: pb::StartReplayRequest,
    limit: Duration,
) -> Result<pb::ReplayReport, pb::ReplayReport> {
    let id = ctl
        .start_replay(req)
        .await
        .expect("StartReplay")
        .into_inner()
        .id;
    match tokio::time::timeout(limit, poll_until_ended(ctl, &id)).await {
        Ok(report) => Ok(report),
        Err(_) => Err(get_replay(ctl, &id).await),
    }
}

/// Stops a replay, ignoring the answer (it may have ended meanwhile).
pub async fn stop(ctl: &mut ReelClient<Channel>, id: &str) {
    let _ = tokio::time::timeout(
        Duration::from_secs(10),
        ctl.stop_replay(pb::StopReplayRequest { id: id.into() }),
    )
    .await;
}

/// The replay's report as of now.
pub async fn get_replay(ctl: &mut ReelClient<Channel>, id: &str) -> pb::ReplayReport {
    ctl.get_replay(pb::GetReplayRequest { id: id.into() })
        .await
        .expect("GetReplay")
        .into_inner()
}

async fn poll_until_ended(ctl: &mut ReelClient<Channel>, id: &str) -> pb::ReplayReport {
    loop {
        let r = get_replay(ctl, id).await;
        if ended(&r) {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The figures of a running replay that say where it stands, and its waits.
pub fn describe_live(r: &pb::ReplayReport) -> String {
    let mut s = format!(
        "state {} mode {} after {} ms: opened {}/{} failed {} finished {}; \
         sent {}/{} B, received {}/{} B; server timeouts {}; relaxations {}\n",
        r.state,
        r.mode,
        r.duration_ms,
        r.opened,
        r.planned,
        r.failed,
        r.finished,
        r.bytes_sent,
        r.expected_sent,
        r.bytes_received,
        r.expected_received,
        r.server_timeouts,
        r.relaxations
    );
    if r.waits.is_empty() {
        s.push_str("waits: none reported\n");
    }
    for w in &r.waits {
        s.push_str(&format!(
            "wait: conn {} (copy {} pass {}) step {} {} expected {} received {} for {} ms\n",
            w.connection,
            w.copy,
            w.pass,
            w.step,
            if w.own {
                "on its own server bytes".to_string()
            } else {
                format!("on conn {}'s server bytes", w.awaited_connection)
            },
            w.expected,
            w.received,
            w.waiting_ms
        ));
    }
    for x in r.relaxed.iter().take(20) {
        s.push_str(&format!("relaxed: {x:?}\n"));
    }
    s
}

/// The count of rule `table[index]` of a rules file in a report; fails
/// the test, listing the counts there are, when it has none.
#[track_caller]
pub fn rule<'a>(r: &'a pb::ReplayReport, table: &str, index: u32) -> &'a pb::RuleCount {
    r.rules
        .iter()
        .find(|c| {
            let name = reel::wire::replay::rule_table(c.table).map(|t| t.as_str());
            name == Some(table) && c.index == index
        })
        .unwrap_or_else(|| panic!("no count for {table}[{index}] in the report: {:?}", r.rules))
}

/// `(matched, applied, recorded, missed)` of a rule count, to compare at once.
pub fn rule_counts(c: &pb::RuleCount) -> (u64, u64, u64, u64) {
    (c.matched, c.applied, c.recorded, c.missed)
}
