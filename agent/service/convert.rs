//! Conversions between engine values and protobuf messages: the only file
//! where both meet.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::agent::AgentStatus;
use crate::events::{Event, EventBody, EventKind, RecordingPhase};
use crate::format::Direction;
use crate::proto as pb;
use crate::proxy::{ConnMeta, ProxyInfo};
use crate::record::{RecordingInfo, duration_ms, time_to_unix_ns};

fn unix_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}

pub fn agent_info(s: AgentStatus) -> pb::AgentInfo {
    pb::AgentInfo {
        name: s.name,
        agent_id: s.agent_id,
        version: s.version.to_string(),
        now_unix_ns: time_to_unix_ns(s.now),
        uptime_ms: duration_ms(s.uptime),
        proxies: s.proxies as u32,
        recordings: s.recordings as u32,
        data_dir: s.data_dir.display().to_string(),
    }
}

pub fn proxy_info(p: ProxyInfo) -> pb::ProxyInfo {
    let udp = p.udp.unwrap_or_default();
    pb::ProxyInfo {
        udp: p.udp.is_some(),
        idle_timeout_ms: duration_ms(udp.idle_timeout),
        datagrams_c2s: udp.datagrams_c2s,
        datagrams_s2c: udp.datagrams_s2c,
        dropped_c2s: udp.dropped_c2s,
        faults_c2s: p.udp.map(|u| datagram_counts(u.faults_c2s)),
        faults_s2c: p.udp.map(|u| datagram_counts(u.faults_s2c)),
        id: p.id,
        name: p.name,
        listen: p.listen.to_string(),
        upstream: p.upstream,
        active_connections: p.active_connections,
        total_connections: p.total_connections,
        bytes_c2s: p.bytes_c2s,
        bytes_s2c: p.bytes_s2c,
        failed_connections: p.failed_connections,
        started_at_unix_ms: unix_ms(p.started_at),
        recordings: p.recordings,
        faults: Some(crate::wire::faults::profile(&p.faults)),
        refused_connections: p.refused_connections,
        max_connections: p.max_connections,
        restored: p.restored,
    }
}

fn datagram_counts(c: crate::faults::datagram::DatagramCounts) -> pb::DatagramFaultCounts {
    pb::DatagramFaultCounts {
        lost: c.lost,
        duplicated: c.duplicated,
        reordered: c.reordered,
        dropped: c.dropped,
    }
}

pub fn connection_info(c: &ConnMeta) -> pb::ConnectionInfo {
    pb::ConnectionInfo {
        id: c.id,
        proxy_id: c.proxy_id.to_string(),
        client: c.client.to_string(),
        upstream: c.upstream.to_string(),
        opened_at_unix_ms: unix_ms(c.opened_at),
        bytes_c2s: c.bytes_c2s(),
        bytes_s2c: c.bytes_s2c(),
    }
}

pub fn recording_info(r: RecordingInfo) -> pb::RecordingInfo {
    pb::RecordingInfo {
        id: r.id,
        label: r.label,
        status: crate::wire::recording::status_value(r.status) as i32,
        started_at_unix_ms: unix_ms(r.started_at),
        started_at_unix_ns: time_to_unix_ns(r.started_at),
        duration_ms: duration_ms(r.duration),
        size_bytes: r.size_bytes,
        connections: r.connections,
        bytes_c2s: r.bytes_c2s,
        bytes_s2c: r.bytes_s2c,
        proxies: r.proxies,
        lost_bytes: r.lost_bytes,
        truncated_bytes: r.truncated_bytes,
        error: r.error.unwrap_or_default(),
        frames: r.frames,
        agent_name: r.agent_name,
        ring_ms: r.ring.map_or(0, duration_ms),
        location: pb::RecordingLocation::Local as i32,
    }
}

/// A listing line: the recording and where it lives.
pub fn recording_listed(l: crate::store::Listed) -> pb::RecordingInfo {
    pb::RecordingInfo {
        location: recording_location(l.location) as i32,
        ..recording_info(l.info)
    }
}

pub fn recording_location(l: crate::store::Location) -> pb::RecordingLocation {
    use crate::store::Location as L;
    match l {
        L::Local => pb::RecordingLocation::Local,
        L::Store => pb::RecordingLocation::Store,
        L::Both => pb::RecordingLocation::Both,
    }
}

pub fn direction(d: Direction) -> pb::Direction {
    match d {
        Direction::C2s => pb::Direction::C2s,
        Direction::S2c => pb::Direction::S2c,
    }
}

/// The engine's kind for a Watch request's; `None` for UNSPECIFIED.
pub fn event_kind(kind: pb::EventKind) -> Option<EventKind> {
    match kind {
        pb::EventKind::Unspecified => None,
        pb::EventKind::Connection => Some(EventKind::Connection),
        pb::EventKind::Transfer => Some(EventKind::Transfer),
        pb::EventKind::Stats => Some(EventKind::Stats),
        pb::EventKind::Recording => Some(EventKind::Recording),
        pb::EventKind::Proxy => Some(EventKind::Proxy),
        pb::EventKind::Replay => Some(EventKind::Replay),
    }
}

pub fn event(e: &Event) -> pb::Event {
    use pb::event::Body;
    let body = match &e.body {
        EventBody::ConnectionOpened {
            conn,
            client,
            upstream,
        } => Body::ConnectionOpened(pb::ConnectionOpened {
            connection: *conn,
            client: client.to_string(),
            upstream: upstream.clone(),
        }),
        EventBody::ConnectionClosed {
            conn,
            client,
            upstream,
            reason,
            bytes_c2s,
            bytes_s2c,
            duration,
        } => Body::ConnectionClosed(pb::ConnectionClosed {
            connection: *conn,
            client: client.to_string(),
            upstream: upstream.clone(),
            reason: reason.clone(),
            bytes_c2s: *bytes_c2s,
            bytes_s2c: *bytes_s2c,
            duration_ms: duration_ms(*duration),
        }),
        EventBody::Transfer {
            conn,
            dir,
            bytes,
            delay,
            drawn,
        } => Body::Transfer(pb::Transfer {
            connection: *conn,
            direction: direction(*dir) as i32,
            bytes: *bytes,
            delay_us: u64::try_from(delay.as_micros()).unwrap_or(u64::MAX),
            drawn_delay_us: u64::try_from(drawn.as_micros()).unwrap_or(u64::MAX),
        }),
        EventBody::Stats(s) => Body::Stats(pb::ProxyStats {
            active_connections: s.active_connections,
            total_connections: s.total_connections,
            bytes_c2s_per_sec: s.bytes_c2s_per_sec,
            bytes_s2c_per_sec: s.bytes_s2c_per_sec,
            bytes_c2s: s.bytes_c2s,
            bytes_s2c: s.bytes_s2c,
            datagrams_c2s_per_sec: s.datagrams_c2s_per_sec,
            datagrams_s2c_per_sec: s.datagrams_s2c_per_sec,
        }),
        EventBody::Recording { phase, info } => {
            use pb::recording_event::Phase;
            let phase = match phase {
                RecordingPhase::Started => Phase::Started,
                RecordingPhase::Stopped => Phase::Stopped,
                RecordingPhase::Failed => Phase::Failed,
            };
            Body::Recording(pb::RecordingEvent {
                phase: phase as i32,
                recording: Some(recording_info((**info).clone())),
            })
        }
        EventBody::ProxyStarted { listen, upstream } => Body::Proxy(pb::ProxyEvent {
            phase: pb::proxy_event::Phase::Started as i32,
            listen: listen.to_string(),
            upstream: upstream.clone(),
        }),
        EventBody::ProxyStopped { listen, upstream } => Body::Proxy(pb::ProxyEvent {
            phase: pb::proxy_event::Phase::Stopped as i32,
            listen: listen.to_string(),
            upstream: upstream.clone(),
        }),
        EventBody::Replay(p) => Body::Replay(pb::ReplayProgress {
            id: p.id.clone(),
            state: crate::wire::replay::state_value(p.state) as i32,
            planned: p.planned,
            opened: p.opened,
            failed: p.failed,
            finished: p.finished,
            bytes_sent: p.bytes_sent,
            bytes_received: p.bytes_received,
            expected_sent: p.expected_sent,
        }),
    };
    pb::Event {
        at_unix_ns: time_to_unix_ns(e.at),
        proxy_id: e.proxy_id.as_deref().unwrap_or_default().to_string(),
        body: Some(body),
    }
}

/// The event a subscriber gets in place of the `missed` events it was too
/// slow to read.
pub fn lagged(missed: u64) -> pb::Event {
    pb::Event {
        at_unix_ns: time_to_unix_ns(SystemTime::now()),
        proxy_id: String::new(),
        body: Some(pb::event::Body::Lagged(pb::Lagged { missed })),
    }
}
