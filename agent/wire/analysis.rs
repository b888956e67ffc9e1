//! Analyses between protobuf and the engine: the agent sends its
//! `stats::Analysis` as reel.v1 messages and reelctl reads them back into the
//! same engine type, which it prints (text, JSON, CSV, SVG) as it prints a
//! local file's. Field for field on purpose: the messages are the engine
//! type's wire form, nothing more.

use crate::error::Error;
use crate::format::Transport;
use crate::proto as pb;
use crate::stats::{
    Analysis, ConnectionCounts, ConnectionStats, DatagramSizes, DirectionStats, FramingSpec,
    MessageStats, Projection, RecordingEnd, SecondStats,
};

/// The wire form of an analysis.
pub fn to_proto(a: Analysis) -> pb::Analysis {
    pb::Analysis {
        duration_ns: a.duration_ns,
        frames: a.frames,
        connections: Some(counts_to(a.connections)),
        c2s: Some(direction_to(a.c2s)),
        s2c: Some(direction_to(a.s2c)),
        timeline: a.timeline.into_iter().map(row_to).collect(),
        timeline_clipped_frames: a.timeline_clipped_frames,
        top_connections: a.top_connections.into_iter().map(connection_to).collect(),
        framing: a.framing.map(|f| f.to_string()).unwrap_or_default(),
        end: a.end.map(end_to),
    }
}

/// The engine's analysis of an agent's answer.
///
/// # Errors
/// `InvalidArgument` naming `analysis.framing` when its framing does not
/// parse (an agent of another version).
pub fn from_proto(a: pb::Analysis) -> Result<Analysis, Error> {
    let framing = match a.framing.trim() {
        "" => None,
        text => Some(
            text.parse::<FramingSpec>()
                .map_err(|e| Error::invalid("analysis.framing", e.to_string()))?,
        ),
    };
    Ok(Analysis {
        duration_ns: a.duration_ns,
        frames: a.frames,
        connections: a.connections.map(counts_from).unwrap_or_default(),
        c2s: a.c2s.map(direction_from).unwrap_or_default(),
        s2c: a.s2c.map(direction_from).unwrap_or_default(),
        timeline: a.timeline.into_iter().map(row_from).collect(),
        timeline_clipped_frames: a.timeline_clipped_frames,
        top_connections: a.top_connections.into_iter().map(connection_from).collect(),
        framing,
        end: a.end.and_then(end_from),
    })
}

/// The wire form of a projection.
pub fn projection_to(p: Projection) -> pb::BandwidthProjection {
    pb::BandwidthProjection {
        online: p.online,
        ingress_bytes_per_sec: p.ingress_bytes_per_sec,
        egress_bytes_per_sec: p.egress_bytes_per_sec,
    }
}

/// The engine's projection of an agent's answer.
pub fn projection_from(p: pb::BandwidthProjection) -> Projection {
    Projection {
        online: p.online,
        ingress_bytes_per_sec: p.ingress_bytes_per_sec,
        egress_bytes_per_sec: p.egress_bytes_per_sec,
    }
}

fn counts_to(c: ConnectionCounts) -> pb::ConnectionCounts {
    pb::ConnectionCounts {
        total: c.total,
        peak_online: c.peak_online,
        mid_session: c.mid_session,
        closed: c.closed,
        connection_seconds: c.connection_seconds,
        avg_online: c.avg_online,
        udp_sessions: c.udp_sessions,
    }
}

fn counts_from(c: pb::ConnectionCounts) -> ConnectionCounts {
    ConnectionCounts {
        total: c.total,
        peak_online: c.peak_online,
        mid_session: c.mid_session,
        closed: c.closed,
        connection_seconds: c.connection_seconds,
        avg_online: c.avg_online,
        udp_sessions: c.udp_sessions,
    }
}

fn direction_to(d: DirectionStats) -> pb::DirectionStats {
    pb::DirectionStats {
        bytes: d.bytes,
        chunks: d.chunks,
        lost_bytes: d.lost_bytes,
        avg_bytes_per_sec: d.avg_bytes_per_sec,
        p95_bytes_per_sec: d.p95_bytes_per_sec,
        peak_bytes_per_sec: d.peak_bytes_per_sec,
        bytes_per_sec_per_client: d.bytes_per_sec_per_client,
        messages: d.messages.map(messages_to),
        datagrams: d.datagrams,
        datagram_bytes: d.datagram_bytes,
        avg_datagrams_per_sec: d.avg_datagrams_per_sec,
        peak_datagrams_per_sec: d.peak_datagrams_per_sec,
        datagram_sizes: d.datagram_sizes.map(sizes_to),
    }
}

fn direction_from(d: pb::DirectionStats) -> DirectionStats {
    DirectionStats {
        bytes: d.bytes,
        chunks: d.chunks,
        lost_bytes: d.lost_bytes,
        avg_bytes_per_sec: d.avg_bytes_per_sec,
        p95_bytes_per_sec: d.p95_bytes_per_sec,
        peak_bytes_per_sec: d.peak_bytes_per_sec,
        bytes_per_sec_per_client: d.bytes_per_sec_per_client,
        messages: d.messages.map(messages_from),
        datagrams: d.datagrams,
        datagram_bytes: d.datagram_bytes,
        avg_datagrams_per_sec: d.avg_datagrams_per_sec,
        peak_datagrams_per_sec: d.peak_datagrams_per_sec,
        datagram_sizes: d.datagram_sizes.map(sizes_from),
    }
}

fn sizes_to(s: DatagramSizes) -> pb::DatagramSizes {
    pb::DatagramSizes {
        min: s.min,
        avg: s.avg,
        p50: s.p50,
        p95: s.p95,
        p99: s.p99,
        max: s.max,
    }
}

fn sizes_from(s: pb::DatagramSizes) -> DatagramSizes {
    DatagramSizes {
        min: s.min,
        avg: s.avg,
        p50: s.p50,
        p95: s.p95,
        p99: s.p99,
        max: s.max,
    }
}

fn messages_to(m: MessageStats) -> pb::MessageStats {
    pb::MessageStats {
        count: m.count,
        bytes: m.bytes,
        min: m.min,
        avg: m.avg,
        p95: m.p95,
        max: m.max,
        incomplete_bytes: m.incomplete_bytes,
        unframed_bytes: m.unframed_bytes,
        framing_errors: m.framing_errors,
    }
}

fn messages_from(m: pb::MessageStats) -> MessageStats {
    MessageStats {
        count: m.count,
        bytes: m.bytes,
        min: m.min,
        avg: m.avg,
        p95: m.p95,
        max: m.max,
        incomplete_bytes: m.incomplete_bytes,
        unframed_bytes: m.unframed_bytes,
        framing_errors: m.framing_errors,
    }
}

fn row_to(r: SecondStats) -> pb::TimelineRow {
    pb::TimelineRow {
        second: r.second,
        seconds: r.seconds,
        bytes_c2s: r.bytes_c2s,
        bytes_s2c: r.bytes_s2c,
        chunks_c2s: r.chunks_c2s,
        chunks_s2c: r.chunks_s2c,
        online: r.online,
        online_peak: r.online_peak,
        datagrams_c2s: r.datagrams_c2s,
        datagrams_s2c: r.datagrams_s2c,
    }
}

fn row_from(r: pb::TimelineRow) -> SecondStats {
    SecondStats {
        second: r.second,
        seconds: r.seconds,
        bytes_c2s: r.bytes_c2s,
        bytes_s2c: r.bytes_s2c,
        chunks_c2s: r.chunks_c2s,
        chunks_s2c: r.chunks_s2c,
        online: r.online,
        online_peak: r.online_peak,
        datagrams_c2s: r.datagrams_c2s,
        datagrams_s2c: r.datagrams_s2c,
    }
}

fn connection_to(c: ConnectionStats) -> pb::AnalyzedConnection {
    pb::AnalyzedConnection {
        conn: c.conn,
        client: c.client,
        upstream: c.upstream,
        proxy_id: c.proxy_id,
        mid_session: c.mid_session,
        opened_ts_ns: c.opened_ts_ns,
        closed_ts_ns: c.closed_ts_ns,
        close_reason: c.close_reason,
        bytes_c2s: c.bytes_c2s,
        bytes_s2c: c.bytes_s2c,
        chunks_c2s: c.chunks_c2s,
        chunks_s2c: c.chunks_s2c,
        udp: c.transport == Transport::Udp,
        datagrams_c2s: c.datagrams_c2s,
        datagrams_s2c: c.datagrams_s2c,
    }
}

fn connection_from(c: pb::AnalyzedConnection) -> ConnectionStats {
    ConnectionStats {
        conn: c.conn,
        client: c.client,
        upstream: c.upstream,
        proxy_id: c.proxy_id,
        mid_session: c.mid_session,
        opened_ts_ns: c.opened_ts_ns,
        closed_ts_ns: c.closed_ts_ns,
        close_reason: c.close_reason,
        bytes_c2s: c.bytes_c2s,
        bytes_s2c: c.bytes_s2c,
        chunks_c2s: c.chunks_c2s,
        chunks_s2c: c.chunks_s2c,
        transport: if c.udp {
            Transport::Udp
        } else {
            Transport::Tcp
        },
        datagrams_c2s: c.datagrams_c2s,
        datagrams_s2c: c.datagrams_s2c,
    }
}

fn end_to(e: RecordingEnd) -> pb::RecordingEnd {
    use pb::recording_end::{Complete, Corrupted, Status, Truncated};
    let status = match e {
        RecordingEnd::Complete => Status::Complete(Complete {}),
        RecordingEnd::Truncated {
            valid_bytes,
            cut_bytes,
        } => Status::Truncated(Truncated {
            valid_bytes,
            cut_bytes,
        }),
        RecordingEnd::Corrupted { offset, reason } => {
            Status::Corrupted(Corrupted { offset, reason })
        }
    };
    pb::RecordingEnd {
        status: Some(status),
    }
}

/// `None` for an end without a status (an agent that sent none).
fn end_from(e: pb::RecordingEnd) -> Option<RecordingEnd> {
    use pb::recording_end::Status;
    Some(match e.status? {
        Status::Complete(_) => RecordingEnd::Complete,
        Status::Truncated(t) => RecordingEnd::Truncated {
            valid_bytes: t.valid_bytes,
            cut_bytes: t.cut_bytes,
        },
        Status::Corrupted(c) => RecordingEnd::Corrupted {
            offset: c.offset,
            reason: c.reason,
        },
    })
}

#[cfg(test)]
mod tests;
