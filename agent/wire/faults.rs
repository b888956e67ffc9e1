//! Fault profiles between protobuf and the engine.

use std::time::Duration;

use crate::error::Error;
use crate::faults::datagram::{GilbertElliott, Loss, Reorder};
use crate::faults::udp::DEFAULT_REORDER_WINDOW;
use crate::faults::{DatagramFields, Directions, FaultSpec, Latency, Slicer};
use crate::proto as pb;
use crate::proto::{FaultDirection, LatencyDistribution};

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

/// The engine's directions of a profile's; UNSPECIFIED is both.
///
/// # Errors
/// `InvalidArgument` naming `faults.direction` for a value this build does
/// not know.
pub fn directions(value: i32) -> Result<Directions, Error> {
    let known = FaultDirection::try_from(value).map_err(|_| {
        Error::invalid(
            "faults.direction",
            format!("{value} is not c2s, s2c or both"),
        )
    })?;
    Ok(match known {
        FaultDirection::Unspecified | FaultDirection::Both => Directions::BOTH,
        FaultDirection::C2s => Directions {
            c2s: true,
            s2c: false,
        },
        FaultDirection::S2c => Directions {
            c2s: false,
            s2c: true,
        },
    })
}

/// The wire value of the engine's directions. Neither direction cannot be
/// parsed from any input, so it has no value of its own: UNSPECIFIED.
pub fn direction(d: Directions) -> FaultDirection {
    match (d.c2s, d.s2c) {
        (true, true) => FaultDirection::Both,
        (true, false) => FaultDirection::C2s,
        (false, true) => FaultDirection::S2c,
        (false, false) => FaultDirection::Unspecified,
    }
}

/// A request's profile as engine values; ranges are checked by the engine.
///
/// # Errors
/// `InvalidArgument` naming the field whose enum value is unknown.
pub fn spec(p: Option<pb::FaultProfile>) -> Result<FaultSpec, Error> {
    let Some(p) = p else {
        return Ok(FaultSpec::default());
    };
    let latency = match p.latency {
        None => None,
        Some(l) => {
            let d = Duration::from_micros;
            let distribution = LatencyDistribution::try_from(l.distribution).map_err(|_| {
                Error::invalid(
                    "faults.latency.distribution",
                    format!("{} is not fixed, uniform or normal", l.distribution),
                )
            })?;
            Some(match distribution {
                LatencyDistribution::Unspecified | LatencyDistribution::Fixed => {
                    Latency::Fixed(d(l.fixed_us))
                }
                LatencyDistribution::Uniform => Latency::Uniform(d(l.min_us), d(l.max_us)),
                LatencyDistribution::Normal => Latency::Normal(d(l.mean_us), d(l.sd_us)),
            })
        }
    };
    let directions = directions(p.direction)?;
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
        datagram: datagram_fields(&p),
    })
}

fn share(v: f64) -> Option<f64> {
    // NaN stays, for validation to name it.
    (v != 0.0).then_some(v)
}

/// The UDP fields of a wire profile; ranges are checked by the engine.
fn datagram_fields(p: &pb::FaultProfile) -> DatagramFields {
    let loss = match p.loss_bursts {
        Some(b) => Some(Loss::Bursts(GilbertElliott {
            p: b.p,
            r: b.r,
            bad_loss: if b.bad_loss == 0.0 { 1.0 } else { b.bad_loss },
            good_loss: b.good_loss,
        })),
        None => share(p.loss).map(Loss::Random),
    };
    DatagramFields {
        loss,
        duplicate: share(p.duplicate),
        reorder: share(p.reorder).map(|probability| Reorder {
            probability,
            window: match p.reorder_window {
                0 => DEFAULT_REORDER_WINDOW,
                w => w,
            },
        }),
        keep_order: p.keep_order,
    }
}

/// The engine's profile as protobuf (all zero when there is none).
pub fn profile(s: &FaultSpec) -> pb::FaultProfile {
    let latency = s.latency.map(|l| match l {
        Latency::Fixed(d) => pb::Latency {
            distribution: LatencyDistribution::Fixed as i32,
            fixed_us: us(d),
            ..Default::default()
        },
        Latency::Uniform(lo, hi) => pb::Latency {
            distribution: LatencyDistribution::Uniform as i32,
            min_us: us(lo),
            max_us: us(hi),
            ..Default::default()
        },
        Latency::Normal(mean, sd) => pb::Latency {
            distribution: LatencyDistribution::Normal as i32,
            mean_us: us(mean),
            sd_us: us(sd),
            ..Default::default()
        },
    });
    pb::FaultProfile {
        latency,
        direction: direction(s.directions) as i32,
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
        loss: match s.datagram.loss {
            Some(Loss::Random(p)) => p,
            _ => 0.0,
        },
        loss_bursts: match s.datagram.loss {
            Some(Loss::Bursts(ge)) => Some(pb::LossBursts {
                p: ge.p,
                r: ge.r,
                bad_loss: ge.bad_loss,
                good_loss: ge.good_loss,
            }),
            _ => None,
        },
        duplicate: s.datagram.duplicate.unwrap_or(0.0),
        reorder: s.datagram.reorder.map_or(0.0, |r| r.probability),
        reorder_window: s.datagram.reorder.map_or(0, |r| r.window),
        keep_order: s.datagram.keep_order,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_round_trip_and_unknown_values_are_named() {
        let specs = [
            FaultSpec::default(),
            FaultSpec {
                latency: Some(Latency::Uniform(
                    Duration::from_millis(5),
                    Duration::from_millis(9),
                )),
                directions: Directions {
                    c2s: false,
                    s2c: true,
                },
                bandwidth: Some(64),
                ..FaultSpec::default()
            },
            FaultSpec {
                latency: Some(Latency::Normal(
                    Duration::from_millis(5),
                    Duration::from_millis(1),
                )),
                directions: Directions {
                    c2s: true,
                    s2c: false,
                },
                seed: Some(7),
                ..FaultSpec::default()
            },
            FaultSpec {
                bandwidth: Some(1_000),
                seed: Some(3),
                datagram: DatagramFields {
                    loss: Some(Loss::Bursts(GilbertElliott {
                        p: 0.01,
                        r: 0.25,
                        bad_loss: 0.7,
                        good_loss: 0.001,
                    })),
                    duplicate: Some(0.02),
                    reorder: Some(Reorder {
                        probability: 0.05,
                        window: 8,
                    }),
                    keep_order: true,
                },
                ..FaultSpec::default()
            },
            FaultSpec {
                datagram: DatagramFields {
                    loss: Some(Loss::Random(0.1)),
                    ..DatagramFields::default()
                },
                ..FaultSpec::default()
            },
        ];
        for s in specs {
            assert_eq!(spec(Some(profile(&s))).unwrap(), s);
        }
        // UNSPECIFIED is the default of each field: fixed latency, both ways.
        let wire = pb::FaultProfile {
            latency: Some(pb::Latency {
                fixed_us: 1_000,
                ..Default::default()
            }),
            ..Default::default()
        };
        let s = spec(Some(wire)).unwrap();
        assert_eq!(s.latency, Some(Latency::Fixed(Duration::from_millis(1))));
        assert_eq!(s.directions, Directions::BOTH);
        let wire = pb::FaultProfile {
            direction: 9,
            ..Default::default()
        };
        let e = spec(Some(wire)).unwrap_err().to_string();
        assert!(e.starts_with("invalid faults.direction: 9"), "{e}");
    }
}
