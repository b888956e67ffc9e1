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
mod tests {
    use super::*;

    /// An analysis with every optional part set, so a field the conversion
    /// forgets shows up as a difference.
    fn full() -> Analysis {
        let messages = MessageStats {
            count: 3,
            bytes: 30,
            min: 4,
            avg: 10.0,
            p95: 16,
            max: 16,
            incomplete_bytes: 2,
            unframed_bytes: 5,
            framing_errors: 1,
        };
        let direction = |bytes| DirectionStats {
            bytes,
            chunks: 4,
            lost_bytes: 7,
            avg_bytes_per_sec: 1.5,
            p95_bytes_per_sec: 9,
            peak_bytes_per_sec: 11,
            bytes_per_sec_per_client: 0.75,
            messages: Some(messages.clone()),
            datagrams: 5,
            datagram_bytes: 60,
            avg_datagrams_per_sec: 2.5,
            peak_datagrams_per_sec: 4,
            datagram_sizes: Some(DatagramSizes {
                min: 1,
                avg: 12.0,
                p50: 10,
                p95: 20,
                p99: 21,
                max: 22,
            }),
        };
        let connection = |conn, closed: Option<u64>| ConnectionStats {
            conn,
            client: "127.0.0.1:5000".into(),
            upstream: "127.0.0.1:6000".into(),
            proxy_id: "p1".into(),
            mid_session: conn == 2,
            opened_ts_ns: 10,
            closed_ts_ns: closed,
            close_reason: closed.map(|_| "eof".into()),
            bytes_c2s: 1,
            bytes_s2c: 2,
            chunks_c2s: 3,
            chunks_s2c: 4,
            transport: if conn == 2 {
                Transport::Udp
            } else {
                Transport::Tcp
            },
            datagrams_c2s: 5,
            datagrams_s2c: 6,
        };
        Analysis {
            duration_ns: 2_500_000_000,
            frames: 42,
            connections: ConnectionCounts {
                total: 2,
                peak_online: 2,
                mid_session: 1,
                closed: 1,
                connection_seconds: 3.25,
                avg_online: 1.3,
                udp_sessions: 1,
            },
            c2s: direction(100),
            s2c: direction(200),
            timeline: vec![SecondStats {
                second: 0,
                seconds: 2,
                bytes_c2s: 100,
                bytes_s2c: 200,
                chunks_c2s: 4,
                chunks_s2c: 4,
                online: 1,
                online_peak: 2,
                datagrams_c2s: 5,
                datagrams_s2c: 5,
            }],
            timeline_clipped_frames: 3,
            top_connections: vec![connection(1, Some(90)), connection(2, None)],
            framing: Some("u16be,offset=2".parse().unwrap()),
            end: Some(RecordingEnd::Complete),
        }
    }

    #[test]
    fn every_field_survives_the_wire() {
        let ends = [
            None,
            Some(RecordingEnd::Complete),
            Some(RecordingEnd::Truncated {
                valid_bytes: 10,
                cut_bytes: 3,
            }),
            Some(RecordingEnd::Corrupted {
                offset: 64,
                reason: "checksum".into(),
            }),
        ];
        for end in ends {
            let a = Analysis { end, ..full() };
            assert_eq!(from_proto(to_proto(a.clone())).unwrap(), a);
        }
        let bare = Analysis {
            framing: None,
            c2s: DirectionStats::default(),
            ..full()
        };
        assert_eq!(from_proto(to_proto(bare.clone())).unwrap(), bare);
    }

    #[test]
    fn a_framing_that_does_not_parse_is_named() {
        let mut wire = to_proto(full());
        wire.framing = "u64be".into();
        let e = from_proto(wire).unwrap_err().to_string();
        assert!(e.starts_with("invalid analysis.framing: "), "{e}");
    }
}
