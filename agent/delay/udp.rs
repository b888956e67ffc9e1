//! `reel-agent delay --udp`: the seed's TcpDelay for datagrams. Each
//! datagram, each way, is held for its own delay (fixed, or uniform between
//! two values); with a range, datagrams overtake each other as they would on
//! a real path. Sessions and datagrams are logged seed style:
//! `127.0.0.1:50522 > 127.0.0.1:15630 c2s 0.035 KB`.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::{DelayOptions, kilobytes};
use crate::domain::Direction;
use crate::error::Result;
use crate::faults::datagram::DatagramSpec;
use crate::host_port;
use crate::tap::ConnMeta;
use crate::udp::{CloseReason, SessionTotals, UdpObserver, UdpProxy, UdpSpec};

/// A UDP delay proxy that is listening.
pub struct UdpDelayProxy {
    proxy: UdpProxy,
}

/// Binds and starts the UDP delay proxy.
///
/// # Errors
/// `InvalidArgument` for a malformed address, `Bind` when the address cannot
/// be bound.
pub async fn start_udp(options: &DelayOptions) -> Result<UdpDelayProxy> {
    host_port::validate("upstream", &options.upstream)?;
    host_port::validate_listen("listen", &options.listen)?;
    let each_way = DatagramSpec {
        latency: Some(options.latency),
        ..DatagramSpec::default()
    };
    let mut spec = UdpSpec::new(options.listen.clone(), options.upstream.clone());
    spec.c2s = each_way;
    spec.s2c = each_way;
    spec.seed = options.seed;
    let proxy = UdpProxy::start(spec, Arc::new(Log)).await?;
    info!(listen = %proxy.listen, upstream = %options.upstream, "UDP delay proxy ready");
    Ok(UdpDelayProxy { proxy })
}

impl UdpDelayProxy {
    /// The bound address (the real port when 0 was asked for).
    pub fn listen(&self) -> SocketAddr {
        self.proxy.listen
    }

    /// Runs until `cancel` fires, then ends every session.
    pub async fn run(self, cancel: CancellationToken) {
        cancel.cancelled().await;
        self.proxy.stop().await;
        info!("delay proxy stopped");
    }
}

/// Logs sessions and datagrams as they arrive (before their delay).
struct Log;

impl UdpObserver for Log {
    fn session_opened(&self, s: &ConnMeta) {
        info!("{} > {} session opened", s.client, s.upstream);
    }

    fn session_closed(&self, s: &ConnMeta, reason: CloseReason, t: SessionTotals) {
        info!(
            "{} > {} session closed ({}): {} datagrams c2s, {} s2c",
            s.client,
            s.upstream,
            reason.as_str(),
            t.datagrams_c2s,
            t.datagrams_s2c
        );
    }

    fn datagram(&self, s: &ConnMeta, dir: Direction, payload: &Bytes) {
        let (from, to) = match dir {
            Direction::C2s => (s.client, s.upstream),
            Direction::S2c => (s.upstream, s.client),
        };
        info!(
            "{from} > {to} {} {} KB",
            dir.as_str(),
            kilobytes(payload.len() as u64)
        );
    }
}
