//! Human renderings of `export` and `import`: one line of what was written,
//! then the counts worth knowing (all of them with `-v`).

use std::io::{self, Write};

use crate::commands::export::Exported;
use crate::commands::import::Imported;
use crate::output::format::bytes;
use crate::output::human::Human;
use crate::plural::count;

impl Human for Exported {
    fn write_human(&self, out: &mut dyn Write, verbose: bool) -> io::Result<()> {
        writeln!(
            out,
            "exported {} to {} ({}): {}, {}, c2s {}, s2c {}",
            self.recording,
            self.pcap,
            bytes(self.size_bytes),
            count(self.connections, "connection", "connections"),
            count(self.packets, "packet", "packets"),
            bytes(self.bytes_c2s),
            bytes(self.bytes_s2c)
        )?;
        if self.udp_sessions > 0 || self.datagrams_c2s + self.datagrams_s2c > 0 {
            writeln!(
                out,
                "  {} of them UDP: {} c2s, {} s2c (one packet each)",
                count(self.udp_sessions, "session", "sessions"),
                count(self.datagrams_c2s, "datagram", "datagrams"),
                count(self.datagrams_s2c, "datagram", "datagrams")
            )?;
        }
        if verbose || self.mid_session_connections > 0 || self.lost_bytes > 0 {
            writeln!(
                out,
                "  {} without handshake (mid-session), {} lost (sequence gaps), {} without packets",
                self.mid_session_connections,
                bytes(self.lost_bytes),
                count(self.skipped_frames, "frame", "frames")
            )?;
        }
        Ok(())
    }

    fn write_ids(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "{}", self.pcap)
    }
}

impl Human for Imported {
    fn write_human(&self, out: &mut dyn Write, verbose: bool) -> io::Result<()> {
        let s = &self.summary;
        writeln!(
            out,
            "imported into {} (recording {}): {} ({} mid-session) of server {}, \
             c2s {}, s2c {}",
            self.recording,
            self.id,
            count(s.connections, "connection", "connections"),
            s.mid_session_connections,
            self.server,
            bytes(s.bytes_c2s),
            bytes(s.bytes_s2c)
        )?;
        if s.udp_sessions > 0 {
            writeln!(
                out,
                "  {} of them UDP: {} c2s, {} s2c",
                count(s.udp_sessions, "session", "sessions"),
                count(s.datagrams_c2s, "datagram", "datagrams"),
                count(s.datagrams_s2c, "datagram", "datagrams")
            )?;
        }
        let mut counts = vec![
            ("packets read", s.packets, false),
            ("frames written", s.frames, false),
            ("bytes lost (not in the capture)", s.lost_bytes, true),
            ("duplicate bytes dropped", s.duplicate_bytes, true),
            ("out-of-order segments", s.out_of_order_segments, false),
            ("out-of-window segments", s.out_of_window_segments, false),
            ("packets of other flows", s.other_flow_packets, false),
            ("packets neither TCP nor UDP", s.non_tcp_packets, false),
            (
                "IP fragments (not reassembled)",
                s.fragmented_packets,
                false,
            ),
            ("malformed packets", s.malformed_packets, false),
            (
                "packets on unsupported links",
                s.unsupported_link_packets,
                false,
            ),
        ];
        counts.retain(|(_, n, _)| verbose || *n > 0);
        for (what, n, is_bytes) in counts {
            let n = if is_bytes { bytes(n) } else { n.to_string() };
            writeln!(out, "  {what}: {n}")?;
        }
        if s.connection_detail_omitted {
            writeln!(
                out,
                "  note: too many connections for the footer's table; the file ends without it \
                 (totals are exact; listings and replays read the frames)"
            )?;
        }
        Ok(())
    }

    fn write_ids(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "{}", self.recording)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reel::stats::RecordingEnd;

    #[test]
    fn export_line_and_ids() {
        let exported = Exported {
            recording: "r1".into(),
            pcap: "out.pcapng".into(),
            size_bytes: 4096,
            connections: 3,
            udp_sessions: 0,
            mid_session_connections: 1,
            fallback_addresses: 0,
            packets: 42,
            bytes_c2s: 100,
            bytes_s2c: 2048,
            datagrams_c2s: 0,
            datagrams_s2c: 0,
            oversized_datagrams: 0,
            lost_bytes: 0,
            skipped_frames: 2,
            end: RecordingEnd::Complete,
        };
        let mut out = Vec::new();
        exported.write_human(&mut out, false).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "exported r1 to out.pcapng (4.0 KiB): 3 connections, 42 packets, c2s 100 B, \
             s2c 2.0 KiB\n  1 without handshake (mid-session), 0 B lost (sequence gaps), \
             2 frames without packets\n"
        );
        let mut out = Vec::new();
        exported.write_ids(&mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "out.pcapng\n");
        assert!(exported.notes().is_empty());
    }

    #[test]
    fn udp_sessions_and_skipped_datagrams_are_told() {
        let exported = Exported {
            recording: "r2".into(),
            pcap: "udp.pcapng".into(),
            size_bytes: 2048,
            connections: 2,
            udp_sessions: 2,
            mid_session_connections: 0,
            fallback_addresses: 0,
            packets: 5,
            bytes_c2s: 30,
            bytes_s2c: 20,
            datagrams_c2s: 3,
            datagrams_s2c: 2,
            oversized_datagrams: 1,
            lost_bytes: 0,
            skipped_frames: 0,
            end: RecordingEnd::Complete,
        };
        let mut out = Vec::new();
        exported.write_human(&mut out, false).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "exported r2 to udp.pcapng (2.0 KiB): 2 connections, 5 packets, c2s 30 B, s2c 20 B\n  \
             2 sessions of them UDP: 3 datagrams c2s, 2 datagrams s2c (one packet each)\n"
        );
        assert_eq!(
            exported.notes(),
            ["1 datagram larger than one IP packet carries (65,507 bytes over IPv4) was skipped"]
        );

        let imported = Imported {
            recording: "cap.reel".into(),
            id: "cap".into(),
            server: "*:7777".into(),
            summary: reel::pcap::ImportSummary {
                packets: 6,
                connections: 1,
                udp_sessions: 1,
                frames: 6,
                bytes_c2s: 12,
                bytes_s2c: 12,
                datagrams_c2s: 2,
                datagrams_s2c: 2,
                fragmented_packets: 2,
                ..Default::default()
            },
        };
        let mut out = Vec::new();
        imported.write_human(&mut out, false).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("\n  1 session of them UDP: 2 datagrams c2s, 2 datagrams s2c\n"),
            "{text}"
        );
        assert!(
            text.contains("\n  IP fragments (not reassembled): 2\n"),
            "{text}"
        );
    }
}
