//! The socket side of a replayed UDP session: a socket of the target's
//! family on an ephemeral port, connected to the target so the kernel
//! filters what comes back and reports ICMP errors on it (a dead port is
//! ECONNREFUSED on the next send or receive); one `send` per recorded
//! datagram; a reader task that receives whole datagrams and hands each,
//! as one unit, to `Inbound` (waits, live values, verify) as the TCP
//! reader does with bytes. UDP has no end of stream: the reader runs until
//! the session is finished.

use std::io::{self, ErrorKind};
use std::sync::Arc;

use tokio::net::UdpSocket;

use super::reader::{ReadOutcome, Reader};
use super::report::ConnReport;
use super::verifier::Verify;

/// Largest datagram a replayed session receives (the UDP maximum).
pub const MAX_DATAGRAM: usize = 65_535;

/// Opens a UDP socket connected to `target` (the first address it
/// resolves to).
///
/// # Errors
/// Resolution, bind or connect errors, with the target named.
pub(super) async fn open(target: &str) -> io::Result<UdpSocket> {
    crate::udp::connected_socket(target)
        .await
        .map(|(socket, _)| socket)
        .map_err(|e| io::Error::new(e.kind(), format!("UDP socket to {target}: {e}")))
}

/// What became of one datagram handed to the socket.
#[derive(Debug)]
pub(super) enum Sent {
    /// Sent whole, after `refusals` ICMP port-unreachable reports the
    /// socket gave on the way (each about an earlier datagram).
    Whole { bytes: usize, refusals: u64 },
    /// Refused twice in a row: the target keeps answering port
    /// unreachable faster than we send; this datagram was not sent.
    Refused,
    /// Larger than the path allows (EMSGSIZE): not sent.
    TooLarge(io::Error),
}

/// Sends one datagram. A connected UDP socket reports a port unreachable
/// (ECONNREFUSED) on the next call after it came, about an earlier
/// datagram, and sends nothing that time: the datagram is sent again once.
///
/// # Errors
/// Any other socket error, which ends the session's script.
pub(super) async fn send(socket: &UdpSocket, data: &[u8]) -> io::Result<Sent> {
    let mut refusals = 0;
    loop {
        match socket.send(data).await {
            Ok(bytes) => return Ok(Sent::Whole { bytes, refusals }),
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
                refusals += 1;
                if refusals > 1 {
                    return Ok(Sent::Refused);
                }
            }
            Err(e) if rustix::io::Errno::from_io_error(&e) == Some(rustix::io::Errno::MSGSIZE) => {
                return Ok(Sent::TooLarge(e));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Completes a UDP session's datagram counts from what its reader saw:
/// received, refusals, and missing (from `--verify`'s comparison, else the
/// shortfall against the recording). Refusals make the session's error.
pub(super) fn settle(report: &mut ConnReport, o: &ReadOutcome) {
    let Some(u) = &mut report.udp else {
        return;
    };
    u.received = o.datagrams;
    u.refused += o.refused;
    u.missing = match o
        .inbound
        .verifier
        .as_ref()
        .and_then(Verify::datagram_counts)
    {
        Some(c) => c.missing,
        None => u.expected_received.saturating_sub(u.received),
    };
    if u.refused > 0 && report.error.is_none() {
        report.error = Some(format!(
            "the target refused datagrams: {} ICMP port unreachable (nothing listens on {}?)",
            u.refused, report.target
        ));
    }
}

/// Receives datagrams until `cancel` or a socket error other than a
/// refusal (counted, then reading goes on).
pub(super) async fn recv_loop(socket: Arc<UdpSocket>, me: Reader) -> ReadOutcome {
    let (mut out, mut side) = me.start();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        side.before_read(&mut out).await;
        let n = tokio::select! {
            _ = side.cancel.cancelled() => break,
            r = socket.recv(&mut buf) => match r {
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
                    out.refused += 1;
                    continue;
                }
                Err(e) => {
                    out.error = Some(format!("receive failed: {e}"));
                    break;
                }
            },
        };
        out.bytes += n as u64;
        out.datagrams += 1;
        if !side.received(&mut out, &buf[..n]).await {
            break;
        }
    }
    side.finish(out).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_datagram_over_the_udp_maximum_is_too_large_and_the_socket_goes_on() {
        let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let s = open(&peer.local_addr().unwrap().to_string()).await.unwrap();
        // 65,507 bytes is the IPv4 UDP maximum.
        match send(&s, &vec![0u8; 70_000]).await.unwrap() {
            Sent::TooLarge(e) => assert!(e.to_string().contains("too long"), "{e}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            send(&s, b"ok").await.unwrap(),
            Sent::Whole {
                bytes: 2,
                refusals: 0
            }
        ));
        let mut buf = [0u8; 8];
        let n = tokio::time::timeout(Duration::from_secs(10), peer.recv(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&buf[..n], b"ok");
    }

    #[tokio::test]
    async fn a_port_nobody_listens_on_is_refused() {
        let dead = std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let s = open(&dead.to_string()).await.unwrap();
        // The ICMP error comes back after a send; a later send reports it,
        // and the datagram goes out again.
        let mut refused = false;
        for _ in 0..100 {
            match send(&s, b"x").await.unwrap() {
                Sent::Whole { refusals: 0, .. } => {}
                Sent::Whole { refusals: 1, .. } | Sent::Refused => {
                    refused = true;
                    break;
                }
                other => panic!("{other:?}"),
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(refused, "ECONNREFUSED after ICMP port unreachable");
    }

    #[tokio::test]
    async fn a_target_that_does_not_resolve_is_named() {
        // No port: refused before any name lookup.
        let e = open("127.0.0.1").await.unwrap_err();
        assert!(e.to_string().contains("UDP socket to 127.0.0.1: "), "{e}");
    }
}
