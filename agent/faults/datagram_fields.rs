//! The part of a fault profile only a UDP proxy acts on (issue 16): loss,
//! duplication, reordering and order (and the loss and reorder models the
//! `datagram` engine runs), as plain values with their range
//! checks and their compact text (`loss 10%, reorder 5%:3`). Reading that
//! text, and splitting a profile by direction, is `udp`.

use std::fmt;

/// The Gilbert–Elliott loss model, in netem's terms (`tc ... loss gemodel
/// p r 1-h 1-k`): a good and a bad state, with a loss probability each.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GilbertElliott {
    /// Good to bad, per datagram.
    pub p: f64,
    /// Bad to good, per datagram.
    pub r: f64,
    /// Loss probability in the bad state (netem's 1-h).
    pub bad_loss: f64,
    /// Loss probability in the good state (netem's 1-k).
    pub good_loss: f64,
}

impl GilbertElliott {
    /// netem's Simple Gilbert model: every datagram in the bad state is
    /// lost, none in the good one; bursts of mean length 1/r.
    pub fn simple(p: f64, r: f64) -> GilbertElliott {
        GilbertElliott {
            p,
            r,
            bad_loss: 1.0,
            good_loss: 0.0,
        }
    }

    /// The share of datagrams lost in the long run.
    pub fn mean_loss(&self) -> f64 {
        if self.p + self.r == 0.0 {
            return self.good_loss;
        }
        let bad = self.p / (self.p + self.r);
        bad * self.bad_loss + (1.0 - bad) * self.good_loss
    }
}

/// How datagrams are lost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Loss {
    /// Each datagram independently, with this probability.
    Random(f64),
    Bursts(GilbertElliott),
}

/// A datagram held back and sent after some of the ones behind it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reorder {
    /// Share of datagrams held back.
    pub probability: f64,
    /// A held datagram goes out after 1 to `window` of the datagrams that
    /// follow it (drawn per datagram), or when the session goes idle.
    pub window: u32,
}

/// What a UDP proxy does to datagrams beyond latency and bandwidth. Each
/// applies to the profile's directions. `Default` is nothing.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DatagramFields {
    pub loss: Option<Loss>,
    /// Share of datagrams sent twice, 0 to 1.
    pub duplicate: Option<f64>,
    pub reorder: Option<Reorder>,
    /// Jittered datagrams keep their order (off: they overtake each other).
    pub keep_order: bool,
}

impl DatagramFields {
    pub fn is_none(&self) -> bool {
        *self == DatagramFields::default()
    }

    /// The fields set, by their wire names: what a TCP proxy refuses.
    pub fn set_fields(&self) -> Vec<&'static str> {
        let mut set = Vec::new();
        match self.loss {
            Some(Loss::Random(_)) => set.push("loss"),
            Some(Loss::Bursts(_)) => set.push("loss_bursts"),
            None => {}
        }
        if self.duplicate.is_some() {
            set.push("duplicate");
        }
        if self.reorder.is_some() {
            set.push("reorder");
        }
        if self.keep_order {
            set.push("keep_order");
        }
        set
    }

    /// Each value out of range: its field and why.
    pub(super) fn validate(&self) -> Vec<(&'static str, String)> {
        let mut errors = Vec::new();
        let mut share = |field: &'static str, v: f64| {
            if !(0.0..=1.0).contains(&v) || v.is_nan() {
                errors.push((field, format!("{v} is outside [0, 1]")));
            }
        };
        match self.loss {
            Some(Loss::Random(p)) => share("loss", p),
            Some(Loss::Bursts(ge)) => {
                for v in [ge.p, ge.r, ge.bad_loss, ge.good_loss] {
                    share("loss_bursts", v);
                }
            }
            None => {}
        }
        if let Some(d) = self.duplicate {
            share("duplicate", d);
        }
        if let Some(r) = self.reorder {
            share("reorder", r.probability);
            if r.window == 0 {
                errors.push(("reorder_window", "must be at least 1".to_owned()));
            }
        }
        errors
    }
}

/// `12.5%`: a share as `share` reads it back.
pub fn percent(v: f64) -> String {
    let text = format!("{:.4}", v * 100.0);
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}%")
}

impl fmt::Display for DatagramFields {
    /// The fields set, comma-separated, in the order of the flags.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut items = Vec::new();
        match self.loss {
            Some(Loss::Random(p)) => items.push(format!("loss {}", percent(p))),
            Some(Loss::Bursts(ge)) => items.push(format!(
                "loss bursts {},{},{},{}",
                percent(ge.p),
                percent(ge.r),
                percent(ge.bad_loss),
                percent(ge.good_loss)
            )),
            None => {}
        }
        if let Some(d) = self.duplicate {
            items.push(format!("duplicate {}", percent(d)));
        }
        if let Some(r) = self.reorder {
            items.push(format!("reorder {}:{}", percent(r.probability), r.window));
        }
        if self.keep_order {
            items.push("keep order".to_owned());
        }
        f.write_str(&items.join(", "))
    }
}
