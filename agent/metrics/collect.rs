//! Maps the engine's counters into Prometheus metric families at scrape
//! time. Nothing is recorded on the data path for the exporter: each scrape
//! reads the counters the engine keeps anyway (proxy counters, the
//! recordings catalog, running replays, the event bus) and the two
//! histograms it feeds with atomic adds. A proxy or replay that has ended
//! is simply not read any more, so its series disappear and label sets stay
//! bounded by what runs now.
//!
//! Labels: `agent` (on every series, from the registry), `proxy` and
//! `proxy_name`, `direction` (`c2s`/`s2c`), `replay` for running replays.
//! Never a connection id.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use crate::Agent;
use crate::histogram::{BOUNDS_US, HistogramSnapshot};
use crate::proxy::ProxyMeters;

/// Prefix of every metric name (`reel_proxy_bytes_total`...).
pub const PREFIX: &str = "reel";

/// A registry whose one collector reads `agent` at every scrape; every
/// series carries `agent="<name>"`.
pub fn registry(agent: Arc<Agent>) -> Registry {
    let name: Cow<'static, str> = Cow::Owned(agent.identity.name.clone());
    let mut registry =
        Registry::with_prefix_and_labels(PREFIX, std::iter::once((Cow::Borrowed("agent"), name)));
    registry.register_collector(Box::new(AgentCollector { agent }));
    registry
}

struct AgentCollector {
    agent: Arc<Agent>,
}

impl fmt::Debug for AgentCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentCollector")
            .field("agent", &self.agent.identity.name)
            .finish()
    }
}

impl Collector for AgentCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        let agent = &self.agent;
        let mut proxies: Vec<ProxyMeters> =
            agent.proxies.all().iter().map(|p| p.meters()).collect();
        proxies.extend(agent.proxies.udp().iter().map(|p| p.meters()));
        encode_proxies(&mut enc, &proxies)?;
        encode_recordings(&mut enc, agent)?;
        encode_replays(&mut enc, agent)?;
        encode_events(&mut enc, agent)
    }
}

/// One metric family: its descriptor, then `each` series.
fn family(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    kind: MetricType,
    each: impl FnOnce(&mut MetricEncoder) -> fmt::Result,
) -> fmt::Result {
    let mut m = enc.encode_descriptor(name, help, None, kind)?;
    each(&mut m)
}

fn counter(m: &mut MetricEncoder, labels: &[(&str, &str)], v: u64) -> fmt::Result {
    ConstCounter::new(v).encode(m.encode_family(&labels)?)
}

fn gauge(m: &mut MetricEncoder, labels: &[(&str, &str)], v: i64) -> fmt::Result {
    ConstGauge::new(v).encode(m.encode_family(&labels)?)
}

/// A histogram of microsecond samples, exported in seconds.
fn histogram(m: &mut MetricEncoder, labels: &[(&str, &str)], h: &HistogramSnapshot) -> fmt::Result {
    let buckets: Vec<(f64, u64)> = BOUNDS_US
        .iter()
        .zip(h.buckets)
        .map(|(&b, n)| (b as f64 / 1e6, n))
        .collect();
    m.encode_family(&labels)?.encode_histogram::<NoLabelSet>(
        h.sum_us as f64 / 1e6,
        h.count,
        &buckets,
        None,
    )
}

fn as_gauge(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

const DIRECTIONS: [&str; 2] = ["c2s", "s2c"];

fn encode_proxies(enc: &mut DescriptorEncoder, proxies: &[ProxyMeters]) -> fmt::Result {
    let per_dir = |enc: &mut DescriptorEncoder,
                   name: &str,
                   help: &str,
                   value: fn(&ProxyMeters) -> [u64; 2]|
     -> fmt::Result {
        family(enc, name, help, MetricType::Counter, |m| {
            for p in proxies {
                for (dir, v) in DIRECTIONS.iter().zip(value(p)) {
                    let labels = [
                        ("proxy", p.id.as_str()),
                        ("proxy_name", p.name.as_str()),
                        ("direction", dir),
                    ];
                    counter(m, &labels, v)?;
                }
            }
            Ok(())
        })
    };
    per_dir(
        enc,
        "proxy_bytes",
        "Bytes a proxy forwarded (read from one side), by direction",
        |p| [p.bytes_c2s, p.bytes_s2c],
    )?;
    per_dir(
        enc,
        "proxy_chunks",
        "Chunks (socket reads) a proxy forwarded, by direction",
        |p| [p.chunks_c2s, p.chunks_s2c],
    )?;
    let per_proxy = |enc: &mut DescriptorEncoder,
                     name: &str,
                     help: &str,
                     kind: MetricType,
                     value: fn(&ProxyMeters) -> u64|
     -> fmt::Result {
        family(enc, name, help, kind, |m| {
            for p in proxies {
                let labels = [("proxy", p.id.as_str()), ("proxy_name", p.name.as_str())];
                match kind {
                    MetricType::Gauge => gauge(m, &labels, as_gauge(value(p)))?,
                    _ => counter(m, &labels, value(p))?,
                }
            }
            Ok(())
        })
    };
    per_proxy(
        enc,
        "proxy_connections_active",
        "Client connections a proxy relays now",
        MetricType::Gauge,
        |p| p.active_connections,
    )?;
    per_proxy(
        enc,
        "proxy_connections",
        "Client connections a proxy relayed (upstream reached)",
        MetricType::Counter,
        |p| p.total_connections,
    )?;
    per_proxy(
        enc,
        "proxy_connections_refused",
        "Clients closed at once: the proxy's connection limit or the agent's descriptor budget was reached",
        MetricType::Counter,
        |p| p.refused_connections,
    )?;
    per_proxy(
        enc,
        "proxy_connections_failed_upstream",
        "Clients closed because the upstream could not be reached",
        MetricType::Counter,
        |p| p.failed_connections,
    )?;
    family(
        enc,
        "proxy_fault_delay_seconds",
        "Delay a fault profile gave each chunk (arrival to release), by direction",
        MetricType::Histogram,
        |m| {
            for p in proxies {
                for (dir, h) in DIRECTIONS
                    .iter()
                    .zip([&p.fault_delay_c2s, &p.fault_delay_s2c])
                {
                    let labels = [
                        ("proxy", p.id.as_str()),
                        ("proxy_name", p.name.as_str()),
                        ("direction", dir),
                    ];
                    histogram(m, &labels, h)?;
                }
            }
            Ok(())
        },
    )?;
    family(enc, "proxies", "Proxies running", MetricType::Gauge, |m| {
        gauge(m, &[], as_gauge(proxies.len() as u64))
    })
}

fn encode_recordings(enc: &mut DescriptorEncoder, agent: &Agent) -> fmt::Result {
    let r = agent.recordings.meters();
    family(
        enc,
        "recordings_active",
        "Recordings in progress",
        MetricType::Gauge,
        |m| gauge(m, &[], as_gauge(r.active)),
    )?;
    family(
        enc,
        "recording_bytes_written",
        "Bytes recordings wrote since the agent started",
        MetricType::Counter,
        |m| counter(m, &[], r.bytes_written),
    )?;
    family(
        enc,
        "recording_bytes_lost",
        "Bytes recordings could not capture (queue full, disk limits, write errors) since the agent started",
        MetricType::Counter,
        |m| counter(m, &[], r.bytes_lost),
    )?;
    family(
        enc,
        "recordings_disk_bytes",
        "Bytes the recordings in the data directory take",
        MetricType::Gauge,
        |m| gauge(m, &[], as_gauge(r.disk_used)),
    )
}

fn encode_replays(enc: &mut DescriptorEncoder, agent: &Agent) -> fmt::Result {
    let running = agent.replays.running();
    family(
        enc,
        "replays_running",
        "Replays running or scheduled",
        MetricType::Gauge,
        |m| gauge(m, &[], as_gauge(running.len() as u64)),
    )?;
    let per_replay = |enc: &mut DescriptorEncoder,
                      name: &str,
                      help: &str,
                      value: fn(&crate::replay::ReplayReport) -> u64|
     -> fmt::Result {
        family(enc, name, help, MetricType::Gauge, |m| {
            for r in &running {
                gauge(m, &[("replay", r.id.as_str())], as_gauge(value(r)))?;
            }
            Ok(())
        })
    };
    per_replay(
        enc,
        "replay_connections_planned",
        "Connections a running replay will open in all",
        |r| r.planned,
    )?;
    per_replay(
        enc,
        "replay_connections_done",
        "Connections of a running replay that finished or failed",
        |r| r.finished + r.failed,
    )?;
    per_replay(
        enc,
        "replay_bytes_sent",
        "Bytes a running replay sent to its targets",
        |r| r.bytes_sent,
    )?;
    per_replay(
        enc,
        "replay_bytes_expected",
        "Bytes a running replay will send in all (as recorded)",
        |r| r.expected_sent,
    )?;
    let lateness = agent.replays.lateness();
    family(
        enc,
        "replay_lateness_seconds",
        "How much later than scheduled paced replays sent each chunk",
        MetricType::Histogram,
        |m| histogram(m, &[], &lateness),
    )
}

fn encode_events(enc: &mut DescriptorEncoder, agent: &Agent) -> fmt::Result {
    let b = agent.bus.meters();
    family(
        enc,
        "watch_subscribers",
        "Watch streams served now",
        MetricType::Gauge,
        |m| gauge(m, &[], as_gauge(b.watchers as u64)),
    )?;
    family(
        enc,
        "watch_subscribers_max",
        "Watch streams the agent serves at most (--max-watchers)",
        MetricType::Gauge,
        |m| gauge(m, &[], as_gauge(b.max_watchers as u64)),
    )?;
    family(
        enc,
        "watch_missed_events",
        "Events subscribers were told they missed (lagged) because they read too slowly",
        MetricType::Counter,
        |m| counter(m, &[], b.missed_told),
    )?;
    family(
        enc,
        "events_dropped",
        "Events dropped because the shared event queue was full",
        MetricType::Counter,
        |m| counter(m, &[], b.dropped),
    )
}
