//! `reelctl faults set|clear|show`: the network conditions of proxies, on
//! every selected agent. `set` replaces a proxy's whole profile
//! (UpdateFaults); `clear` sends an empty one; `show` reads ListProxies.

use reel::faults::datagram::Loss;
use reel::faults::{FaultSpec, Latency};
use reel::proto::{FaultProfile, ListProxiesRequest, ProxyInfo, UpdateFaultsRequest};
use reel::wire::faults::{profile, spec};
use serde::Serialize;

use crate::args::{FaultsSetArgs, FaultsShowArgs, ProxyArg};
use crate::error::AgentError;
use crate::fleet::{self, Report};
use crate::settings::Settings;

/// A fault profile as results carry it: every field, `null` when off,
/// units in the names, plus the one-line `summary` humans see.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct FaultsView {
    /// `latency 500ms..800ms both, bandwidth 64 KiB/s, ...` or `none`.
    pub(crate) summary: String,
    pub(crate) latency: Option<LatencyView>,
    /// c2s, s2c or both: for latency, reset/limit after bytes, black hole, slice.
    pub(crate) direction: &'static str,
    pub(crate) bandwidth_bytes_per_sec: Option<u64>,
    pub(crate) proxy_bandwidth_bytes_per_sec: Option<u64>,
    pub(crate) reset_after_bytes: Option<u64>,
    pub(crate) reset_after_ms: Option<u64>,
    pub(crate) black_hole: bool,
    pub(crate) black_hole_close_after_ms: Option<u64>,
    pub(crate) slow_close_ms: Option<u64>,
    pub(crate) slice: Option<SliceView>,
    pub(crate) limit_data_bytes: Option<u64>,
    pub(crate) connect_delay_ms: Option<u64>,
    /// Fraction of connections affected, decided at accept.
    pub(crate) toxicity: f64,
    pub(crate) seed: Option<u64>,
    /// UDP proxies: share of datagrams lost independently, 0 to 1.
    pub(crate) loss: Option<f64>,
    /// UDP proxies: loss in bursts (netem's gemodel p, r, 1-h, 1-k).
    pub(crate) loss_bursts: Option<LossBurstsView>,
    /// UDP proxies: share of datagrams sent twice.
    pub(crate) duplicate: Option<f64>,
    pub(crate) reorder: Option<ReorderView>,
    /// UDP proxies: jittered datagrams keep their order.
    pub(crate) keep_order: bool,
}

/// `--loss-bursts p,r,1-h,1-k`, each 0 to 1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(crate) struct LossBurstsView {
    pub(crate) p: f64,
    pub(crate) r: f64,
    pub(crate) bad_loss: f64,
    pub(crate) good_loss: f64,
}

/// `--reorder PCT:WINDOW`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(crate) struct ReorderView {
    pub(crate) probability: f64,
    pub(crate) window: u32,
}

/// How long chunks are held, by distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "distribution", rename_all = "lowercase")]
pub(crate) enum LatencyView {
    Fixed { fixed_us: u64 },
    Uniform { min_us: u64, max_us: u64 },
    Normal { mean_us: u64, sd_us: u64 },
}

/// `--slice SIZE:PAUSE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct SliceView {
    pub(crate) bytes: u64,
    pub(crate) pause_us: u64,
}

fn us(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl FaultsView {
    /// Whether no fault is set (toxicity and seed aside).
    pub(crate) fn is_none(&self) -> bool {
        self.summary == "none"
    }

    /// The view of an agent's profile (absent = none).
    ///
    /// # Errors
    /// `Protocol` when the agent sent a profile this reelctl cannot read.
    pub(crate) fn from_profile(p: Option<FaultProfile>) -> Result<FaultsView, AgentError> {
        spec(p)
            .map(|s| FaultsView::from(&s))
            .map_err(|e| AgentError::Protocol(e.to_string()))
    }
}

impl From<&FaultSpec> for FaultsView {
    fn from(s: &FaultSpec) -> FaultsView {
        FaultsView {
            summary: s.to_string(),
            latency: s.latency.map(|l| match l {
                Latency::Fixed(d) => LatencyView::Fixed { fixed_us: us(d) },
                Latency::Uniform(lo, hi) => LatencyView::Uniform {
                    min_us: us(lo),
                    max_us: us(hi),
                },
                Latency::Normal(mean, sd) => LatencyView::Normal {
                    mean_us: us(mean),
                    sd_us: us(sd),
                },
            }),
            direction: s.directions.as_str(),
            bandwidth_bytes_per_sec: s.bandwidth,
            proxy_bandwidth_bytes_per_sec: s.proxy_bandwidth,
            reset_after_bytes: s.reset_after_bytes,
            reset_after_ms: s.reset_after.map(ms),
            black_hole: s.black_hole,
            black_hole_close_after_ms: s.black_hole_close_after.map(ms),
            slow_close_ms: s.slow_close.map(ms),
            slice: s.slicer.map(|x| SliceView {
                bytes: x.size as u64,
                pause_us: us(x.pause),
            }),
            limit_data_bytes: s.limit_bytes,
            connect_delay_ms: s.connect_delay.map(ms),
            toxicity: s.toxicity,
            seed: s.seed,
            loss: match s.datagram.loss {
                Some(Loss::Random(p)) => Some(p),
                _ => None,
            },
            loss_bursts: match s.datagram.loss {
                Some(Loss::Bursts(ge)) => Some(LossBurstsView {
                    p: ge.p,
                    r: ge.r,
                    bad_loss: ge.bad_loss,
                    good_loss: ge.good_loss,
                }),
                _ => None,
            },
            duplicate: s.datagram.duplicate,
            reorder: s.datagram.reorder.map(|r| ReorderView {
                probability: r.probability,
                window: r.window,
            }),
            keep_order: s.datagram.keep_order,
        }
    }
}

/// One proxy's profile, as `faults set|clear|show` answer.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ProxyFaults {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) faults: FaultsView,
}

impl ProxyFaults {
    fn from_info(info: ProxyInfo) -> Result<ProxyFaults, AgentError> {
        Ok(ProxyFaults {
            faults: FaultsView::from_profile(info.faults)?,
            id: info.id,
            name: info.name,
        })
    }
}

/// The answer to `faults set` and `faults clear`: the profile now in force.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct FaultsUpdated {
    pub(crate) proxy: ProxyFaults,
}

/// The answer to `faults show`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct FaultsShown {
    pub(crate) proxies: Vec<ProxyFaults>,
}

/// Replaces the profile of a proxy on every agent.
///
/// # Errors
/// A usage message when no fault flag was given or a value is out of range.
pub(crate) async fn set(
    settings: &Settings,
    args: &FaultsSetArgs,
) -> Result<Report<FaultsUpdated>, String> {
    if args.faults.is_empty() {
        return Err(
            "faults set needs at least one fault flag (use `reelctl faults clear` to remove faults)"
                .to_owned(),
        );
    }
    let spec = args.faults.checked()?;
    Ok(update(settings, &args.proxy, &spec).await)
}

/// Removes every fault of a proxy on every agent.
pub(crate) async fn clear(settings: &Settings, args: &ProxyArg) -> Report<FaultsUpdated> {
    update(settings, &args.proxy, &FaultSpec::default()).await
}

async fn update(settings: &Settings, proxy: &str, spec: &FaultSpec) -> Report<FaultsUpdated> {
    let request = UpdateFaultsRequest {
        proxy: proxy.to_owned(),
        faults: Some(profile(spec)),
    };
    fleet::run_all(settings, |agent| {
        let request = request.clone();
        async move {
            let info = agent
                .unary(|mut client| async move { client.update_faults(request).await })
                .await?;
            Ok(FaultsUpdated {
                proxy: ProxyFaults::from_info(info)?,
            })
        }
    })
    .await
}

/// Shows the profile of one proxy (an agent without it fails) or of all.
pub(crate) async fn show(settings: &Settings, args: &FaultsShowArgs) -> Report<FaultsShown> {
    let wanted = args.proxy.clone();
    fleet::run_all(settings, |agent| {
        let wanted = wanted.clone();
        async move {
            let all = agent
                .unary(|mut client| async move { client.list_proxies(ListProxiesRequest {}).await })
                .await?
                .proxies;
            let chosen: Vec<ProxyInfo> = match &wanted {
                None => all,
                Some(w) => {
                    let one: Vec<_> = all
                        .into_iter()
                        .filter(|p| p.id == *w || p.name == *w)
                        .collect();
                    if one.is_empty() {
                        return Err(AgentError::Rejected(tonic::Status::not_found(format!(
                            "unknown proxy {w:?}"
                        ))));
                    }
                    one
                }
            };
            let proxies = chosen
                .into_iter()
                .map(ProxyFaults::from_info)
                .collect::<Result<_, _>>()?;
            Ok(FaultsShown { proxies })
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn json_view_is_an_object_with_units() {
        let s = FaultSpec {
            latency: Some(Latency::Uniform(
                Duration::from_millis(500),
                Duration::from_millis(800),
            )),
            bandwidth: Some(65_536),
            toxicity: 0.5,
            seed: Some(7),
            ..FaultSpec::default()
        };
        let v = serde_json::to_value(FaultsView::from(&s)).unwrap();
        assert_eq!(
            v["summary"],
            "latency 500ms..800ms both, bandwidth 64 KiB/s, toxicity 0.5, seed 7"
        );
        assert_eq!(
            v["latency"],
            serde_json::json!({"distribution": "uniform", "min_us": 500_000, "max_us": 800_000})
        );
        assert_eq!(v["direction"], "both");
        assert_eq!(v["bandwidth_bytes_per_sec"], 65_536);
        assert_eq!(v["reset_after_ms"], serde_json::Value::Null);
        assert_eq!(v["black_hole"], false);
        assert_eq!(v["toxicity"], 0.5);
        assert_eq!(v["seed"], 7);
    }

    #[test]
    fn profiles_round_trip_through_protobuf() {
        let s = FaultSpec {
            latency: Some(Latency::Normal(
                Duration::from_millis(100),
                Duration::from_millis(20),
            )),
            slow_close: Some(Duration::from_millis(250)),
            ..FaultSpec::default()
        };
        let view = FaultsView::from_profile(Some(profile(&s))).unwrap();
        assert_eq!(view, FaultsView::from(&s));
        assert!(FaultsView::from_profile(None).unwrap().is_none());
        assert!(
            FaultsView::from_profile(Some(profile(&FaultSpec::default())))
                .unwrap()
                .is_none()
        );
    }
}
