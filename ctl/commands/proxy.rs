//! `reelctl proxy start|ls|stop`: TCP proxies on each agent.

use reel::proto::{ListProxiesRequest, ProxyInfo, StartProxyRequest, StopProxyRequest};
use reel::wire::faults::profile;
use serde::Serialize;
use tonic::Code;

use crate::args::{ProxyStartArgs, StopArgs};
use crate::commands::faults::FaultsView;
use crate::error::AgentError;
use crate::fleet::{self, AgentClient, Report};
use crate::settings::Settings;

/// A proxy and its counters, as `proxy start`, `proxy ls` and `proxy stop`
/// show it: the agent's `ProxyInfo` (its JSON shape is set in build.rs)
/// with the fault profile read into the engine's terms.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ProxyView {
    #[serde(flatten)]
    pub(crate) info: ProxyInfo,
    /// The network conditions in force.
    pub(crate) faults: FaultsView,
}

impl TryFrom<ProxyInfo> for ProxyView {
    type Error = AgentError;

    fn try_from(mut info: ProxyInfo) -> Result<ProxyView, AgentError> {
        let faults = FaultsView::from_profile(info.faults.take())?;
        Ok(ProxyView { info, faults })
    }
}

/// The answer to `proxy start`: the proxy as it started (`127.0.0.1:0`
/// comes back with the real port).
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub(crate) struct StartedProxy(pub(crate) ProxyView);

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
        udp: args.udp,
        idle_timeout_ms: args
            .idle_timeout
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
    };
    Ok(fleet::run_all(settings, |agent| {
        let request = request.clone();
        async move {
            let info = agent
                .unary(|mut client| async move { client.start_proxy(request).await })
                .await?;
            Ok(StartedProxy(info.try_into()?))
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

async fn list_on(agent: &AgentClient) -> Result<Vec<ProxyInfo>, AgentError> {
    let response = agent
        .unary(|mut client| async move { client.list_proxies(ListProxiesRequest {}).await })
        .await?;
    Ok(response.proxies)
}

async fn stop_on(agent: &AgentClient, id: String) -> Result<ProxyView, AgentError> {
    let response = agent
        .unary(|mut client| async move { client.stop_proxy(StopProxyRequest { id }).await })
        .await?;
    let proxy = response
        .proxy
        .ok_or_else(|| AgentError::Protocol("StopProxy answered without the proxy".to_owned()))?;
    proxy.try_into()
}
