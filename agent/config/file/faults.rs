//! A `[[proxy]]` table's fault fields, TCP and UDP, read into one fault
//! profile, every field that does not parse or is out of range reported by
//! name.

use super::{RawProxy, Scalar};
use crate::faults::datagram::Loss;
use crate::faults::parse::ValueError;
use crate::faults::{DatagramFields, Directions, FaultSpec, parse, udp};

/// A proxy's fault fields as a profile; each field that does not parse or
/// is out of range is reported through `problem`.
pub(super) fn faults_of(p: &RawProxy, problem: &mut impl FnMut(&str, String)) -> FaultSpec {
    fn field<T>(
        name: &str,
        value: Option<&Scalar>,
        parse: fn(&str) -> Result<T, ValueError>,
        problem: &mut impl FnMut(&str, String),
    ) -> Option<T> {
        let value = value?;
        parse(&value.text())
            .map_err(|e| problem(name, e.to_string()))
            .ok()
    }
    let mut spec = FaultSpec {
        latency: field("latency", p.latency.as_ref(), parse::latency, problem),
        bandwidth: field("bandwidth", p.bandwidth.as_ref(), parse::rate, problem),
        proxy_bandwidth: field(
            "proxy_bandwidth",
            p.proxy_bandwidth.as_ref(),
            parse::rate,
            problem,
        ),
        reset_after_bytes: field(
            "reset_after_bytes",
            p.reset_after_bytes.as_ref(),
            parse::size,
            problem,
        ),
        reset_after: field(
            "reset_after",
            p.reset_after.as_ref(),
            parse::millis,
            problem,
        ),
        black_hole: p.black_hole,
        black_hole_close_after: field(
            "black_hole_close_after",
            p.black_hole_close_after.as_ref(),
            parse::millis,
            problem,
        ),
        slow_close: field("slow_close", p.slow_close.as_ref(), parse::millis, problem),
        slicer: field("slice", p.slice.as_ref(), parse::slicer, problem),
        limit_bytes: field("limit_data", p.limit_data.as_ref(), parse::size, problem),
        connect_delay: field(
            "connect_delay",
            p.connect_delay.as_ref(),
            parse::millis,
            problem,
        ),
        seed: p.seed,
        datagram: DatagramFields {
            loss: field(
                "loss_bursts",
                p.loss_bursts.as_ref(),
                udp::loss_bursts,
                problem,
            )
            .map(Loss::Bursts)
            .or_else(|| field("loss", p.loss.as_ref(), udp::share, problem).map(Loss::Random)),
            duplicate: field("duplicate", p.duplicate.as_ref(), udp::share, problem),
            reorder: field("reorder", p.reorder.as_ref(), udp::reorder, problem),
            keep_order: p.keep_order,
        },
        ..FaultSpec::default()
    };
    if p.loss.is_some() && p.loss_bursts.is_some() {
        problem("loss", "give loss or loss_bursts, not both".to_owned());
    }
    if let Some(d) = &p.direction {
        match Directions::parse(d.trim()) {
            Ok(d) => spec.directions = d,
            Err(e) => problem("direction", e.to_string()),
        }
    }
    if let Some(t) = p.toxicity {
        spec.toxicity = t;
    }
    for (name, zero) in [
        ("reset_after_bytes", spec.reset_after_bytes == Some(0)),
        ("limit_data", spec.limit_bytes == Some(0)),
    ] {
        if zero {
            problem(name, "must be positive (bytes)".to_owned());
        }
    }
    if let Err(errors) = spec.validate() {
        for e in errors {
            problem(e.field, e.reason);
        }
    }
    spec
}
