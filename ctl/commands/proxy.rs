//! `reelctl proxy start|ls|stop`: TCP proxies on each agent.

use reel::proto::{ListProxiesRequest, ProxyInfo, StartProxyRequest, StopProxyRequest};
use reel::wire::faults::profile;
use serde::Serialize;
use tonic::Code;

use crate::args::{ProxyStartArgs, StopArgs};
use crate::commands::faults::FaultsView;
use crate::error::AgentError;
use crate::fleet::{self, Agent, Report};
use crate::settings::Settings;

/// A proxy and its counters, as `proxy ls` and `proxy stop` show it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ProxyView {
    pub(crate) id: String,
    pub(crate) name: String,
    /// The bound address (the real port when 0 was asked for).
    pub(crate) listen: String,
    pub(crate) upstream: String,
    pub(crate) active_connections: u64,
    pub(crate) total_connections: u64,
    pub(crate) bytes_c2s: u64,
    pub(crate) bytes_s2c: u64,
    /// Upstream connects that failed or timed out.
    pub(crate) failed_connections: u64,
    /// Clients closed at once: the proxy was at its `max_connections`, or
    /// the agent's file descriptors left for clients were all in use.
    pub(crate) refused_connections: u64,
    /// Recordings taking this proxy's traffic now.
    pub(crate) recordings: Vec<String>,
    /// The network conditions in force.
    pub(crate) faults: FaultsView,
    /// Started again from the agent's saved proxies when it restarted.
    pub(crate) restored: bool,
}

impl TryFrom<ProxyInfo> for ProxyView {
    type Error = AgentError;

    fn try_from(info: ProxyInfo) -> Result<ProxyView, AgentError> {
        Ok(ProxyView {
            faults: FaultsView::from_profile(info.faults)?,
            id: info.id,
            name: info.name,
            listen: info.listen,
            upstream: info.upstream,
            active_connections: info.active_connections,
            total_connections: info.total_connections,
            bytes_c2s: info.bytes_c2s,
            bytes_s2c: info.bytes_s2c,
            failed_connections: info.failed_connections,
            refused_connections: info.refused_connections,
            recordings: info.recordings,
            restored: info.restored,
        })
    }
}

/// The answer to `proxy start`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct StartedProxy {
    pub(crate) id: String,
    pub(crate) name: String,
    /// The bound address: `127.0.0.1:0` comes back with the real port.
    pub(crate) listen: String,
    pub(crate) upstream: String,
    /// The network conditions its connections get.
    pub(crate) faults: FaultsView,
}

/// The answer to `proxy ls`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ProxyList {
    pub(crate) proxies: Vec<ProxyView>,
}

/// The answer to `proxy stop`: the proxies as they were when they stopped.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct StoppedProxies {
    pub(crate) stopped: Vec<ProxyView>,
}

/// Starts the same proxy on every agent.
///
/// # Errors
/// A usage message when a fault flag is out of range.
pub(crate) async fn start(
    settings: &Settings,
    args: &ProxyStartArgs,
) -> Result<Report<StartedProxy>, String> {
    let faults = args.faults.checked()?;
    let request = StartProxyRequest {
        listen: args.listen.clone(),
        upstream: args.upstream.clone(),
        name: args.name.clone().unwrap_or_default(),
        faults: (!args.faults.is_empty()).then(|| profile(&faults)),
        max_connections: 0,
    };
    Ok(fleet::run_all(settings, |agent| {
        let request = request.clone();
        async move {
            let info = agent
                .unary(|mut client| async move { client.start_proxy(request).await })
                .await?;
            Ok(StartedProxy {
                faults: FaultsView::from_profile(info.faults)?,
                id: info.id,
                name: info.name,
                listen: info.listen,
                upstream: info.upstream,
            })
        }
    })
    .await)
}

/// Lists every agent's proxies.
pub(crate) async fn list(settings: &Settings) -> Report<ProxyList> {
    fleet::run_all(settings, |agent| async move {
        let proxies = list_on(&agent).await?;
        Ok(ProxyList {
            proxies: proxies
                .into_iter()
                .map(ProxyView::try_from)
                .collect::<Result<_, _>>()?,
        })
    })
    .await
}

/// Stops one proxy, or with `--all` every running proxy, on every agent.
pub(crate) async fn stop(settings: &Settings, args: &StopArgs) -> Report<StoppedProxies> {
    let id = args.id.clone();
    fleet::run_all(settings, |agent| {
        let id = id.clone();
        async move {
            let mut stopped = Vec::new();
            match id {
                Some(id) => stopped.push(stop_on(&agent, id).await?),
                None => {
                    for proxy in list_on(&agent).await? {
                        match stop_on(&agent, proxy.id).await {
                            Ok(view) => stopped.push(view),
                            // Stopped by someone else since we listed it.
                            Err(AgentError::Rejected(s)) if s.code() == Code::NotFound => {}
                            Err(error) => return Err(error),
                        }
                    }
                }
            }
            Ok(StoppedProxies { stopped })
        }
    })
    .await
}

async fn list_on(agent: &Agent) -> Result<Vec<ProxyInfo>, AgentError> {
    let response = agent
        .unary(|mut client| async move { client.list_proxies(ListProxiesRequest {}).await })
        .await?;
    Ok(response.proxies)
}

async fn stop_on(agent: &Agent, id: String) -> Result<ProxyView, AgentError> {
    let response = agent
        .unary(|mut client| async move { client.stop_proxy(StopProxyRequest { id }).await })
        .await?;
    let proxy = response
        .proxy
        .ok_or_else(|| AgentError::Protocol("StopProxy answered without the proxy".to_owned()))?;
    proxy.try_into()
}
