//! Watch subscribers that never read: opens N Watch streams of TRANSFER
//! events on the agent at ADDR (over ceil(N / 100) HTTP/2 connections with
//! the client's default windows), never polls them, prints `READY ok= fail=
//! secs=`, then holds them for SECS (or until killed). A refused stream
//! (e.g. RESOURCE_EXHAUSTED past --max-watchers) counts as failed.

use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context;
use reel::proto as pb;
use reel::proto::reel_client::ReelClient;

/// Streams per HTTP/2 connection.
const PER_CONNECTION: usize = 100;
const OPEN_BUDGET: Duration = Duration::from_secs(60);

pub fn run(addr: SocketAddr, n: usize, secs: f64) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    rt.block_on(async {
        let t0 = Instant::now();
        let mut held = Vec::with_capacity(n);
        let mut fail = 0;
        let mut client = None;
        for i in 0..n {
            if t0.elapsed() > OPEN_BUDGET {
                fail += n - i;
                break;
            }
            if i % PER_CONNECTION == 0 {
                let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?
                    .connect_timeout(Duration::from_secs(5))
                    .connect()
                    .await
                    .context("connect to the agent")?;
                client = Some(ReelClient::new(channel));
            }
            let Some(c) = client.as_mut() else {
                unreachable!("set at i = 0")
            };
            let req = pb::WatchRequest {
                kinds: vec![pb::EventKind::Transfer as i32],
                proxies: vec![],
            };
            match c.watch(req).await {
                Ok(stream) => held.push(stream.into_inner()),
                Err(_) => fail += 1,
            }
        }
        println!(
            "READY ok={} fail={fail} secs={:.3}",
            held.len(),
            t0.elapsed().as_secs_f64()
        );
        std::io::stdout().flush()?;
        tokio::time::sleep(Duration::from_secs_f64(secs)).await;
        Ok(())
    })
}
