//! The UDP side of a fault profile (issue 16): loss, duplication,
//! reordering and order, which only a UDP proxy can act on, with their text
//! syntax both ways (reelctl's flags and the config file read the same), and
//! the split of a profile into the engine's per-direction `DatagramSpec`.
//! Latency, bandwidth, direction and seed are the profile's own fields,
//! shared with TCP; the rest of a TCP profile is refused on a UDP proxy, by
//! name (`tcp_only_fields`), and these fields on a TCP one.

use super::datagram::{DatagramSpec, GilbertElliott, Reorder};
pub use super::datagram_fields::{DatagramFields, percent};
use super::parse::ValueError;
use super::spec::FaultSpec;
use crate::format::Direction;

/// A reorder window when none is given: a held datagram goes out after 1
/// to 3 of those behind it.
pub const DEFAULT_REORDER_WINDOW: u32 = 3;

/// What a UDP proxy takes, for the refusal of what it does not.
const UDP_FIELDS: &str = "latency, bandwidth, direction, seed, loss, loss_bursts, duplicate, \
                          reorder, keep_order";

impl FaultSpec {
    /// The fields set that only a TCP proxy can act on, by their wire
    /// names: what a UDP proxy refuses.
    pub fn tcp_only_fields(&self) -> Vec<&'static str> {
        let mut set = Vec::new();
        let mut check = |on: bool, name| {
            if on {
                set.push(name);
            }
        };
        check(self.proxy_bandwidth.is_some(), "proxy_bandwidth");
        check(self.reset_after_bytes.is_some(), "reset_after_bytes");
        check(self.reset_after.is_some(), "reset_after");
        check(self.black_hole, "black_hole");
        check(
            self.black_hole_close_after.is_some(),
            "black_hole_close_after",
        );
        check(self.slow_close.is_some(), "slow_close");
        check(self.slicer.is_some(), "slice");
        check(self.limit_bytes.is_some(), "limit_bytes");
        check(self.connect_delay.is_some(), "connect_delay");
        check(self.toxicity < 1.0, "toxicity");
        set
    }

    /// Refuses fields a UDP proxy cannot act on, naming them.
    ///
    /// # Errors
    /// The TCP-only fields set, and what a UDP proxy takes instead.
    pub fn check_for_udp(&self) -> Result<(), String> {
        let tcp_only = self.tcp_only_fields();
        if tcp_only.is_empty() {
            return Ok(());
        }
        Err(format!(
            "{} {} TCP-only: a UDP proxy takes {UDP_FIELDS}",
            tcp_only.join(", "),
            if tcp_only.len() == 1 { "is" } else { "are" }
        ))
    }

    /// Refuses the datagram fields for a TCP proxy, naming them.
    ///
    /// # Errors
    /// The UDP-only fields set.
    pub fn check_for_tcp(&self) -> Result<(), String> {
        let udp_only = self.datagram.set_fields();
        if udp_only.is_empty() {
            return Ok(());
        }
        Err(format!(
            "{} {} for UDP proxies only (a TCP stream is never lost, duplicated or \
             reordered; start the proxy with udp)",
            udp_only.join(", "),
            if udp_only.len() == 1 { "is" } else { "are" }
        ))
    }

    /// What the engine does to datagrams going `dir`: latency, loss,
    /// duplication, reordering and order where the directions say,
    /// bandwidth both ways (as for TCP).
    pub fn datagram_spec(&self, dir: Direction) -> DatagramSpec {
        let on = self.directions.has(dir);
        let d = &self.datagram;
        DatagramSpec {
            loss: d.loss.filter(|_| on),
            duplicate: d.duplicate.filter(|_| on).unwrap_or(0.0),
            reorder: d.reorder.filter(|_| on),
            latency: self.latency.filter(|_| on),
            keep_order: on && d.keep_order,
            bandwidth: self.bandwidth,
        }
    }
}

/// A share: `10%` or `0.1` (a plain number above 1 is refused, as it is
/// surely a percentage without its sign).
///
/// # Errors
/// Not a number, negative, or above 100 % / 1.
pub fn share(s: &str) -> Result<f64, ValueError> {
    let t = s.trim();
    let (num, scale) = match t.strip_suffix('%') {
        Some(n) => (n.trim(), 100.0),
        None => (t, 1.0),
    };
    let v: f64 = num
        .parse()
        .map_err(|_| ValueError::NotANumber(s.to_string()))?;
    if v.is_nan() {
        return Err(ValueError::NotANumber(s.to_string()));
    }
    if v < 0.0 {
        return Err(ValueError::Negative(s.to_string()));
    }
    if scale == 1.0 && v > 1.0 {
        return Err(ValueError::NotA {
            value: s.to_string(),
            kind: "share (a fraction up to 1, or a percentage with %)",
            example: "10%, 0.1",
        });
    }
    let v = v / scale;
    if v > 1.0 {
        return Err(ValueError::OutOfRange(s.to_string()));
    }
    Ok(v)
}

/// netem's `loss gemodel p [r [1-h [1-k]]]` as `p[,r[,1-h[,1-k]]]`, each a
/// share, with netem's defaults: r is 1-p, 1-h (loss in the bad state)
/// 100 %, 1-k (in the good state) 0 % (the Simple Gilbert model).
///
/// # Errors
/// More than four values, or a value that is no share.
pub fn loss_bursts(s: &str) -> Result<GilbertElliott, ValueError> {
    let parts: Vec<&str> = s.split(',').collect();
    if parts.len() > 4 {
        return Err(ValueError::NotA {
            value: s.to_string(),
            kind: "burst model p[,r[,1-h[,1-k]]]",
            example: "1%,25% or 1%,25%,100%,0%",
        });
    }
    let p = share(parts[0])?;
    let r = parts.get(1).map_or(Ok(1.0 - p), |r| share(r))?;
    let mut ge = GilbertElliott::simple(p, r);
    if let Some(v) = parts.get(2) {
        ge.bad_loss = share(v)?;
    }
    if let Some(v) = parts.get(3) {
        ge.good_loss = share(v)?;
    }
    Ok(ge)
}

/// `PCT[:WINDOW]`: the share of datagrams held back, and how many later
/// ones may pass each (1 to WINDOW, default [`DEFAULT_REORDER_WINDOW`]).
///
/// # Errors
/// A share that does not parse, or a window that is not a positive integer.
pub fn reorder(s: &str) -> Result<Reorder, ValueError> {
    let (p, window) = match s.split_once(':') {
        Some((p, w)) => {
            let window = w
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|w| *w > 0)
                .ok_or_else(|| ValueError::NotA {
                    value: s.to_string(),
                    kind: "reorder PCT[:WINDOW] with a window of at least 1",
                    example: "5%:3",
                })?;
            (p, window)
        }
        None => (s, DEFAULT_REORDER_WINDOW),
    };
    Ok(Reorder {
        probability: share(p)?,
        window,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::datagram::Loss;
    use crate::faults::{Directions, Latency};

    #[test]
    fn shares_read_as_percentages_or_fractions() {
        assert_eq!(share("10%").unwrap(), 0.1);
        assert_eq!(share("0.1").unwrap(), 0.1);
        assert_eq!(share("100%").unwrap(), 1.0);
        assert_eq!(share(" 2.5 % ").unwrap(), 0.025);
        for bad in ["10", "-1%", "101%", "lots", "NaN"] {
            assert!(share(bad).is_err(), "{bad}");
        }
        assert!(share("10").unwrap_err().to_string().contains("10%"));
    }

    #[test]
    fn burst_models_take_netems_order_and_defaults() {
        let ge = loss_bursts("1%,25%").unwrap();
        assert_eq!(ge, GilbertElliott::simple(0.01, 0.25));
        let ge = loss_bursts("1%,25%,70%,0.1%").unwrap();
        assert_eq!((ge.bad_loss, ge.good_loss), (0.7, 0.001));
        assert_eq!(loss_bursts("1%").unwrap().r, 0.99, "r defaults to 1-p");
        assert!(loss_bursts("1%,2%,3%,4%,5%").is_err());
    }

    #[test]
    fn reorders_take_an_optional_window() {
        assert_eq!(
            reorder("5%").unwrap(),
            Reorder {
                probability: 0.05,
                window: DEFAULT_REORDER_WINDOW
            }
        );
        assert_eq!(reorder("5%:8").unwrap().window, 8);
        assert!(reorder("5%:0").is_err());
        assert!(reorder("5%:x").is_err());
    }

    #[test]
    fn the_text_reads_back() {
        let fields = DatagramFields {
            loss: Some(Loss::Bursts(loss_bursts("1%,25%,70%,0.1%").unwrap())),
            duplicate: Some(share("0.5%").unwrap()),
            reorder: Some(reorder("12.5%:4").unwrap()),
            keep_order: true,
        };
        assert_eq!(
            fields.to_string(),
            "loss bursts 1%,25%,70%,0.1%, duplicate 0.5%, reorder 12.5%:4, keep order"
        );
        assert_eq!(share(&percent(0.125)).unwrap(), 0.125);
    }

    #[test]
    fn a_profile_splits_by_direction_and_names_tcp_only_fields() {
        let spec = FaultSpec {
            latency: Some(Latency::Fixed(std::time::Duration::from_millis(5))),
            directions: Directions::parse("c2s").unwrap(),
            bandwidth: Some(1_000),
            datagram: DatagramFields {
                loss: Some(Loss::Random(0.1)),
                ..DatagramFields::default()
            },
            ..FaultSpec::default()
        };
        let c2s = spec.datagram_spec(Direction::C2s);
        let s2c = spec.datagram_spec(Direction::S2c);
        assert_eq!(c2s.loss, Some(Loss::Random(0.1)));
        assert!(c2s.latency.is_some());
        assert_eq!(s2c.loss, None);
        assert_eq!(s2c.latency, None);
        assert_eq!(s2c.bandwidth, Some(1_000), "bandwidth is both ways");
        assert!(spec.tcp_only_fields().is_empty());
        let tcp = FaultSpec {
            black_hole: true,
            toxicity: 0.5,
            ..FaultSpec::default()
        };
        assert_eq!(tcp.tcp_only_fields(), ["black_hole", "toxicity"]);
        let refusal = tcp.check_for_udp().unwrap_err();
        assert!(
            refusal.starts_with("black_hole, toxicity are TCP-only"),
            "{refusal}"
        );
        assert!(
            spec.check_for_tcp()
                .unwrap_err()
                .starts_with("loss is for UDP")
        );
        assert_eq!(spec.datagram.set_fields(), ["loss"]);
    }
}
