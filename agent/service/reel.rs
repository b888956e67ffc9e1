//! The reel.v1.Reel service: validate, call the engine, convert. No logic of
//! its own beyond that.

use std::pin::Pin;
use std::sync::Arc;

use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use super::convert;
use crate::agent::Agent;
use crate::proto as pb;
use crate::proto::reel_server::Reel;
use crate::proxy::ProxySpec;

/// The service: a handle on the engine.
#[derive(Clone)]
pub struct ReelService {
    agent: Arc<Agent>,
    /// Ends Watch streams at shutdown, so the server can stop.
    shutdown: CancellationToken,
}

impl ReelService {
    pub fn new(agent: Arc<Agent>, shutdown: CancellationToken) -> Self {
        Self { agent, shutdown }
    }
}

fn required<'a>(field: &'static str, value: &'a str) -> Result<&'a str, Status> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Status::invalid_argument(format!("{field} is required")));
    }
    Ok(v)
}

/// Refuses control characters (NUL, CR, ESC and the rest) in a label the
/// agent will hand back to terminals, saying where, without echoing the
/// value itself. (Proxy names are ids, checked by the registry.)
fn printable(field: &'static str, value: &str) -> Result<(), Status> {
    match value.chars().position(char::is_control) {
        None => Ok(()),
        Some(at) => Err(Status::invalid_argument(format!(
            "invalid {field}: character {} is a control character (U+{:04X}); {field}s are shown in terminals",
            at + 1,
            u32::from(value.chars().nth(at).unwrap_or_default())
        ))),
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::Event, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl Reel for ReelService {
    async fn get_info(
        &self,
        _: Request<pb::GetInfoRequest>,
    ) -> Result<Response<pb::AgentInfo>, Status> {
        Ok(Response::new(convert::agent_info(self.agent.status())))
    }

    async fn start_proxy(
        &self,
        req: Request<pb::StartProxyRequest>,
    ) -> Result<Response<pb::ProxyInfo>, Status> {
        let r = req.into_inner();
        let spec = ProxySpec {
            listen: required("listen", &r.listen)?.to_string(),
            upstream: required("upstream", &r.upstream)?.to_string(),
            name: Some(r.name.trim().to_string()).filter(|n| !n.is_empty()),
            faults: crate::wire::faults::spec(r.faults)?,
            max_connections: (r.max_connections > 0).then_some(r.max_connections),
            udp: r.udp,
            idle_timeout: (r.idle_timeout_ms > 0)
                .then(|| std::time::Duration::from_millis(r.idle_timeout_ms)),
            ..ProxySpec::default()
        };
        let info = self.agent.proxies.start(spec).await?;
        Ok(Response::new(convert::proxy_info(info)))
    }

    async fn stop_proxy(
        &self,
        req: Request<pb::StopProxyRequest>,
    ) -> Result<Response<pb::StopProxyResponse>, Status> {
        let r = req.into_inner();
        let info = self.agent.proxies.stop(required("id", &r.id)?)?;
        Ok(Response::new(pb::StopProxyResponse {
            proxy: Some(convert::proxy_info(info)),
        }))
    }

    async fn list_proxies(
        &self,
        _: Request<pb::ListProxiesRequest>,
    ) -> Result<Response<pb::ListProxiesResponse>, Status> {
        let proxies = self
            .agent
            .proxies
            .list()
            .into_iter()
            .map(convert::proxy_info)
            .collect();
        Ok(Response::new(pb::ListProxiesResponse { proxies }))
    }

    async fn update_faults(
        &self,
        req: Request<pb::UpdateFaultsRequest>,
    ) -> Result<Response<pb::ProxyInfo>, Status> {
        let r = req.into_inner();
        let proxy = required("proxy", &r.proxy)?;
        let spec = crate::wire::faults::spec(r.faults)?;
        let info = self.agent.proxies.update_faults(proxy, spec)?;
        Ok(Response::new(convert::proxy_info(info)))
    }

    async fn list_connections(
        &self,
        req: Request<pb::ListConnectionsRequest>,
    ) -> Result<Response<pb::ListConnectionsResponse>, Status> {
        let r = req.into_inner();
        let proxies = if r.proxy.trim().is_empty() {
            self.agent.proxies.all_any()
        } else {
            vec![self.agent.proxies.find_any(r.proxy.trim())?]
        };
        let connections = proxies
            .iter()
            .flat_map(|p| p.connections())
            .map(|c| convert::connection_info(&c))
            .collect();
        Ok(Response::new(pb::ListConnectionsResponse { connections }))
    }

    async fn start_recording(
        &self,
        req: Request<pb::StartRecordingRequest>,
    ) -> Result<Response<pb::RecordingInfo>, Status> {
        let r = req.into_inner();
        printable("label", &r.label)?;
        let proxies: Vec<String> = r
            .proxies
            .iter()
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect();
        let start_at =
            (r.start_at_unix_ns != 0).then(|| crate::record::unix_ns_to_time(r.start_at_unix_ns));
        let ring = (r.ring_ms != 0).then(|| std::time::Duration::from_millis(r.ring_ms));
        let info = self
            .agent
            .start_recording(&proxies, r.label, start_at, ring)
            .await?;
        Ok(Response::new(convert::recording_info(info)))
    }

    async fn dump_recording(
        &self,
        req: Request<pb::DumpRecordingRequest>,
    ) -> Result<Response<pb::RecordingInfo>, Status> {
        let r = req.into_inner();
        printable("label", &r.label)?;
        let label = (!r.label.is_empty()).then_some(r.label);
        let info = self
            .agent
            .recordings
            .dump(required("id", &r.id)?, label)
            .await?;
        Ok(Response::new(convert::recording_info(info)))
    }

    async fn stop_recording(
        &self,
        req: Request<pb::StopRecordingRequest>,
    ) -> Result<Response<pb::RecordingInfo>, Status> {
        let r = req.into_inner();
        let info = self
            .agent
            .stop_recording(required("id", &r.id)?, "stopped by request")
            .await?;
        Ok(Response::new(convert::recording_info(info)))
    }

    async fn list_recordings(
        &self,
        _: Request<pb::ListRecordingsRequest>,
    ) -> Result<Response<pb::ListRecordingsResponse>, Status> {
        let local = self.agent.recordings.list();
        let recordings = match self.agent.store() {
            Some(store) => store
                .list(local)
                .await
                .into_iter()
                .map(convert::recording_listed)
                .collect(),
            None => local.into_iter().map(convert::recording_info).collect(),
        };
        Ok(Response::new(pb::ListRecordingsResponse { recordings }))
    }

    async fn get_recording(
        &self,
        req: Request<pb::GetRecordingRequest>,
    ) -> Result<Response<pb::RecordingInfo>, Status> {
        let r = req.into_inner();
        let id = required("id", &r.id)?;
        Ok(Response::new(super::stored::get(&self.agent, id).await?))
    }

    async fn delete_recording(
        &self,
        req: Request<pb::DeleteRecordingRequest>,
    ) -> Result<Response<pb::DeleteRecordingResponse>, Status> {
        let r = req.into_inner();
        let id = required("id", &r.id)?;
        Ok(Response::new(pb::DeleteRecordingResponse {
            recording: Some(super::stored::delete(&self.agent, id).await?),
        }))
    }

    type DownloadRecordingStream = ReceiverStream<Result<pb::FileChunk, Status>>;

    async fn download_recording(
        &self,
        req: Request<pb::DownloadRecordingRequest>,
    ) -> Result<Response<Self::DownloadRecordingStream>, Status> {
        let r = req.into_inner();
        Ok(Response::new(
            super::transfer::download(&self.agent, required("id", &r.id)?).await?,
        ))
    }

    async fn upload_recording(
        &self,
        req: Request<tonic::Streaming<pb::FileChunk>>,
    ) -> Result<Response<pb::RecordingInfo>, Status> {
        Ok(Response::new(
            super::transfer::upload(&self.agent, req.into_inner()).await?,
        ))
    }

    async fn start_replay(
        &self,
        req: Request<pb::StartReplayRequest>,
    ) -> Result<Response<pb::ReplayReport>, Status> {
        let opts = super::replay::options(&self.agent, req.into_inner())?;
        let report = match self.agent.store() {
            // Recordings only in the store are streamed from it.
            Some(_) => {
                let mut files = Vec::new();
                for id in &opts.recordings {
                    files.push((id.clone(), self.agent.source_of(id).await?.1));
                }
                self.agent.replays.start_with(files, opts).await?
            }
            None => {
                self.agent
                    .replays
                    .start(&self.agent.recordings, opts)
                    .await?
            }
        };
        Ok(Response::new(super::replay::report(report)))
    }

    async fn get_replay(
        &self,
        req: Request<pb::GetReplayRequest>,
    ) -> Result<Response<pb::ReplayReport>, Status> {
        let r = req.into_inner();
        let report = self.agent.replays.get(required("id", &r.id)?).await?;
        Ok(Response::new(super::replay::report(report)))
    }

    async fn stop_replay(
        &self,
        req: Request<pb::StopReplayRequest>,
    ) -> Result<Response<pb::ReplayReport>, Status> {
        let r = req.into_inner();
        let report = self.agent.replays.stop(required("id", &r.id)?).await?;
        Ok(Response::new(super::replay::report(report)))
    }

    async fn list_replays(
        &self,
        req: Request<pb::ListReplaysRequest>,
    ) -> Result<Response<pb::ListReplaysResponse>, Status> {
        let r = req.into_inner();
        let (page, next_page_token) = self.agent.replays.list_page(r.page_size, &r.page_token)?;
        Ok(Response::new(pb::ListReplaysResponse {
            replays: page.into_iter().map(super::replay::report).collect(),
            next_page_token,
        }))
    }

    async fn analyze_recording(
        &self,
        req: Request<pb::AnalyzeRecordingRequest>,
    ) -> Result<Response<pb::AnalyzeRecordingResponse>, Status> {
        super::analyze::analyze(&self.agent, req.into_inner())
            .await
            .map(Response::new)
    }

    type WatchStream = EventStream;

    async fn watch(
        &self,
        req: Request<pb::WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let stream = super::watch::watch(&self.agent, req.into_inner(), self.shutdown.clone())?;
        Ok(Response::new(Box::pin(stream)))
    }
}
