//! Fault profiles between protobuf and the engine.

use std::time::Duration;

use tonic::Status;

use crate::faults::{Directions, FaultSpec, Latency, Slicer};
use crate::proto as pb;

fn us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn some_ms(v: u64) -> Option<Duration> {
    (v > 0).then(|| Duration::from_millis(v))
}

fn some(v: u64) -> Option<u64> {
    (v > 0).then_some(v)
}

/// A request's profile as engine values; ranges are checked by the engine.
pub fn spec(p: Option<pb::FaultProfile>) -> Result<FaultSpec, Status> {
    let Some(p) = p else {
        return Ok(FaultSpec::default());
    };
    let latency = match p.latency {
        None => None,
        Some(l) => {
            let d = Duration::from_micros;
            Some(match l.distribution.as_str() {
                "fixed" | "" => Latency::Fixed(d(l.fixed_us)),
                "uniform" => Latency::Uniform(d(l.min_us), d(l.max_us)),
                "normal" => Latency::Normal(d(l.mean_us), d(l.sd_us)),
                other => {
                    return Err(Status::invalid_argument(format!(
                        "invalid faults.latency.distribution: {} is not fixed, uniform or normal",
                        crate::error::echo(other)
                    )));
                }
            })
        }
    };
    let directions = Directions::parse(p.direction.trim())
        .map_err(|e| Status::invalid_argument(format!("invalid faults.direction: {e}")))?;
    Ok(FaultSpec {
        latency,
        directions,
        bandwidth: some(p.bandwidth),
        proxy_bandwidth: some(p.proxy_bandwidth),
        reset_after_bytes: some(p.reset_after_bytes),
        reset_after: some_ms(p.reset_after_ms),
        black_hole: p.black_hole,
        black_hole_close_after: some_ms(p.black_hole_close_after_ms),
        slow_close: some_ms(p.slow_close_ms),
        slicer: (p.slice_bytes > 0).then(|| Slicer {
            size: usize::try_from(p.slice_bytes).unwrap_or(usize::MAX),
            pause: Duration::from_micros(p.slice_pause_us),
        }),
        limit_bytes: some(p.limit_bytes),
        connect_delay: some_ms(p.connect_delay_ms),
        toxicity: p.toxicity.unwrap_or(1.0),
        seed: p.seed,
    })
}

/// The engine's profile as protobuf (all zero when there is none).
pub fn profile(s: &FaultSpec) -> pb::FaultProfile {
    let latency = s.latency.map(|l| match l {
        Latency::Fixed(d) => pb::Latency {
            distribution: "fixed".into(),
            fixed_us: us(d),
            ..Default::default()
        },
        Latency::Uniform(lo, hi) => pb::Latency {
            distribution: "uniform".into(),
            min_us: us(lo),
            max_us: us(hi),
            ..Default::default()
        },
        Latency::Normal(mean, sd) => pb::Latency {
            distribution: "normal".into(),
            mean_us: us(mean),
            sd_us: us(sd),
            ..Default::default()
        },
    });
    pb::FaultProfile {
        latency,
        direction: s.directions.as_str().to_string(),
        bandwidth: s.bandwidth.unwrap_or(0),
        proxy_bandwidth: s.proxy_bandwidth.unwrap_or(0),
        reset_after_bytes: s.reset_after_bytes.unwrap_or(0),
        reset_after_ms: s.reset_after.map_or(0, ms),
        black_hole: s.black_hole,
        black_hole_close_after_ms: s.black_hole_close_after.map_or(0, ms),
        slow_close_ms: s.slow_close.map_or(0, ms),
        slice_bytes: s.slicer.map_or(0, |x| x.size as u64),
        slice_pause_us: s.slicer.map_or(0, |x| us(x.pause)),
        limit_bytes: s.limit_bytes.unwrap_or(0),
        connect_delay_ms: s.connect_delay.map_or(0, ms),
        toxicity: Some(s.toxicity),
        seed: s.seed,
    }
}
