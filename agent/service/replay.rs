//! Replay RPCs: request validation and report conversion.

use std::time::{Duration, SystemTime};

use tonic::Status;

use std::sync::Arc;

use crate::rewrite::Rules;

use crate::agent::Agent;
use crate::error::echo;
use crate::proto as pb;
use crate::record::{duration_ms, time_to_unix_ns};
use crate::replay::{
    ConnReport, DEFAULT_SERVER_TIMEOUT, Divergence, LatenessSummary, Omitted, Relaxation,
    ReplayOptions, ReplayReport, RuleCount, Wait,
};

/// Turns a StartReplay request into engine options; the engine checks ranges.
pub fn options(agent: &Agent, r: pb::StartReplayRequest) -> Result<ReplayOptions, Status> {
    let mut recordings: Vec<String> = r
        .recordings
        .iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let group = r.group.trim();
    if !group.is_empty() {
        let labelled: Vec<String> = agent
            .recordings
            .list()
            .into_iter()
            .filter(|i| i.label == group && i.status != crate::record::RecordingStatus::Recording)
            .map(|i| i.id)
            .collect();
        if labelled.is_empty() {
            return Err(Status::not_found(format!(
                "no finished recording labelled {} on this agent",
                echo(group)
            )));
        }
        for id in labelled {
            if !recordings.contains(&id) {
                recordings.push(id);
            }
        }
    }
    let mode = crate::wire::replay::mode(r.mode)?;
    let shard = match (r.shard_index, r.shard_count) {
        (0, 0) => None,
        (i, n) => Some((i, n)),
    };
    let start_at =
        (r.start_at_unix_ns != 0).then(|| crate::record::unix_ns_to_time(r.start_at_unix_ns));
    let target = Some(r.target.trim().to_string()).filter(|t| !t.is_empty());
    if let Some(t) = &target {
        crate::host_port::validate("target", t)?;
    }
    let rules = if r.rules.trim().is_empty() {
        None
    } else {
        let rules = Rules::parse(&r.rules)
            .map_err(|e| Status::invalid_argument(format!("invalid rules: {e}")))?;
        Some(Arc::new(rules))
    };
    Ok(ReplayOptions {
        recordings,
        target,
        mode,
        speed: if r.speed == 0.0 { 1.0 } else { r.speed },
        unpaced: r.unpaced,
        loops: r.loops.max(1),
        multiply: r.multiply.max(1),
        verify: r.verify,
        max_idle: (r.max_idle_ms > 0).then(|| Duration::from_millis(r.max_idle_ms)),
        shard,
        start_at,
        server_timeout: if r.server_timeout_ms == 0 {
            DEFAULT_SERVER_TIMEOUT
        } else {
            Duration::from_millis(r.server_timeout_ms)
        },
        faults: crate::wire::faults::spec(r.faults)?,
        rules,
    })
}

fn lateness(l: LatenessSummary) -> pb::Lateness {
    pb::Lateness {
        samples: l.samples,
        p50_us: l.p50_us,
        p99_us: l.p99_us,
        max_us: l.max_us,
    }
}

fn divergence(d: Divergence) -> pb::Divergence {
    pb::Divergence {
        offset: d.offset,
        expected: d.expected,
        received: d.received,
        reason: d.reason,
    }
}

fn connection(c: ConnReport) -> pb::ReplayConnection {
    let (closed_early, at, bytes) = match c.closed_early {
        Some((at, bytes)) => (true, duration_ms(at), bytes),
        None => (false, 0, 0),
    };
    let u = c.udp.unwrap_or_default();
    pb::ReplayConnection {
        recording: c.recording,
        connection: c.rec_conn,
        copy: c.copy,
        pass: c.pass,
        target: c.target,
        mid_session: c.mid_session,
        opened: c.opened,
        error: c.error.unwrap_or_default(),
        bytes_sent: c.bytes_sent,
        bytes_received: c.bytes_received,
        expected_sent: c.expected_sent,
        expected_received: c.expected_received,
        lateness: Some(lateness(c.lateness.summary())),
        divergence: c.divergence.map(divergence),
        closed_early,
        closed_early_at_ms: at,
        closed_early_bytes: bytes,
        server_timeouts: c.server_timeouts,
        relaxations: c.relaxations,
        udp: c.udp.is_some(),
        datagrams_sent: u.sent,
        datagrams_received: u.received,
        expected_datagrams_sent: u.expected_sent,
        expected_datagrams_received: u.expected_received,
        datagrams_missing: u.missing,
        datagrams_refused: u.refused,
    }
}

fn relaxation(r: Relaxation) -> pb::Relaxation {
    pb::Relaxation {
        recording: r.recording,
        awaited_connection: r.awaited_conn,
        copy: r.copy,
        pass: r.pass,
        expected: r.expected,
        received: r.received,
        waited_us: u64::try_from(r.waited.as_micros()).unwrap_or(u64::MAX),
        reason: crate::wire::replay::relax_reason_value(r.reason) as i32,
        at_ms: duration_ms(r.at),
        held_connection: r.held_conn,
    }
}

fn rule_count(c: RuleCount) -> pb::RuleCount {
    pb::RuleCount {
        table: crate::wire::replay::rule_table_value(c.table) as i32,
        index: c.index,
        name: c.name,
        matched: c.matched,
        applied: c.applied,
        recorded: c.recorded,
        missed: c.missed,
        ignored_bytes: c.ignored_bytes,
    }
}

fn wait(w: Wait) -> pb::ReplayWait {
    pb::ReplayWait {
        recording: w.recording,
        connection: w.rec_conn,
        copy: w.copy,
        pass: w.pass,
        step: w.step,
        own: w.own,
        awaited_connection: w.awaited_conn,
        expected: w.expected,
        received: w.received,
        waiting_ms: duration_ms(w.waiting),
    }
}

fn omitted(o: Omitted) -> pb::OmittedConnections {
    pb::OmittedConnections {
        count: o.count,
        failed: o.failed,
        divergences: o.divergences,
        closed_early: o.closed_early,
        server_timeouts: o.server_timeouts,
        bytes_sent: o.bytes_sent,
        bytes_received: o.bytes_received,
    }
}

fn unix_ns(t: Option<SystemTime>) -> i64 {
    t.map_or(0, time_to_unix_ns)
}

pub fn report(r: ReplayReport) -> pb::ReplayReport {
    let u = r.udp.unwrap_or_default();
    pb::ReplayReport {
        id: r.id,
        state: crate::wire::replay::state_value(r.state) as i32,
        mode: crate::wire::replay::mode_value(r.mode) as i32,
        speed: r.speed,
        recordings: r.recordings,
        scheduled_start_unix_ns: unix_ns(r.scheduled_start),
        started_at_unix_ns: unix_ns(r.started_at),
        duration_ms: duration_ms(r.duration),
        planned: r.planned,
        opened: r.opened,
        failed: r.failed,
        finished: r.finished,
        bytes_sent: r.bytes_sent,
        bytes_received: r.bytes_received,
        expected_sent: r.expected_sent,
        expected_received: r.expected_received,
        lateness: Some(lateness(r.lateness)),
        divergences: r.divergences,
        closed_early: r.closed_early,
        server_timeouts: r.server_timeouts,
        connections: r.connections.into_iter().map(connection).collect(),
        error: r.error.unwrap_or_default(),
        relaxations: r.relaxations,
        relaxed: r.relaxed.into_iter().map(relaxation).collect(),
        waits: r.waits.into_iter().map(wait).collect(),
        connections_total: r.connections_total,
        omitted: Some(omitted(r.omitted)),
        rules: r.rules.into_iter().map(rule_count).collect(),
        unparsed_messages: r.unparsed_messages,
        datagrams_sent: u.sent,
        datagrams_received: u.received,
        expected_datagrams_sent: u.expected_sent,
        expected_datagrams_received: u.expected_received,
        datagrams_missing: u.missing,
        datagrams_refused: u.refused,
        udp_sessions: r.udp_sessions,
    }
}
