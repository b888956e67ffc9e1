//! Concurrent fan-out: one task per selected agent, each operation under the
//! per-agent deadline, results kept in the agents' given order. One agent's
//! failure never stops the others.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use reel::proto::reel_client::ReelClient;
use tokio::task::JoinSet;
use tonic::transport::{Channel, Endpoint};

use crate::error::AgentError;
use crate::settings::{AgentTarget, Settings};

/// The result of one command on one agent.
#[derive(Debug)]
pub(crate) struct Outcome<T> {
    pub(crate) agent: AgentTarget,
    pub(crate) result: Result<T, AgentError>,
}

/// The results of one command on every selected agent, in the given order.
pub(crate) type Report<T> = Vec<Outcome<T>>;

/// A connection to one agent with its deadline. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Agent {
    client: ReelClient<Channel>,
    address: String,
    timeout: Duration,
}

impl Agent {
    /// A lazily connected client for `address`: nothing happens on the
    /// network until the first call, which connects within `timeout`.
    ///
    /// # Errors
    /// `Internal` if the address does not make a URI (settings checked it).
    pub(crate) fn new(address: &str, timeout: Duration) -> Result<Agent, AgentError> {
        let endpoint = endpoint(address, timeout)?;
        Ok(Agent {
            client: ReelClient::new(endpoint.connect_lazy()),
            address: address.to_owned(),
            timeout,
        })
    }

    /// Runs one unary call under the deadline and classifies its failure.
    ///
    /// # Errors
    /// The agent's refusal, a transport failure, or `Timeout`.
    pub(crate) async fn unary<T, F, Fut>(&self, call: F) -> Result<T, AgentError>
    where
        F: FnOnce(ReelClient<Channel>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        match tokio::time::timeout(self.timeout, call(self.client.clone())).await {
            Ok(Ok(response)) => Ok(response.into_inner()),
            Ok(Err(status)) => Err(AgentError::from_status(status, &self.address)),
            Err(_elapsed) => Err(self.timed_out()),
        }
    }

    /// The error for a call that outlived the deadline.
    fn timed_out(&self) -> AgentError {
        AgentError::Timeout {
            address: self.address.clone(),
            after: self.timeout,
        }
    }
}

/// The endpoint of `address`, with the connect deadline set.
///
/// # Errors
/// `Internal` if the address does not make a URI.
pub(crate) fn endpoint(address: &str, timeout: Duration) -> Result<Endpoint, AgentError> {
    Endpoint::from_shared(format!("http://{address}"))
        .map(|endpoint| endpoint.connect_timeout(timeout))
        .map_err(|e| AgentError::Internal(format!("bad agent address {address:?}: {e}")))
}

/// Runs `operation` on every selected agent concurrently and collects the
/// outcomes in the agents' order. Never returns early.
pub(crate) async fn run_all<T, F, Fut>(settings: &Settings, operation: F) -> Report<T>
where
    T: Send + 'static,
    F: Fn(Agent) -> Fut,
    Fut: Future<Output = Result<T, AgentError>> + Send + 'static,
{
    let mut tasks = JoinSet::new();
    let mut index_of = HashMap::new();
    let mut results: Vec<Option<Result<T, AgentError>>> =
        settings.agents.iter().map(|_| None).collect();
    for (index, target) in settings.agents.iter().enumerate() {
        match Agent::new(&target.address, settings.timeout) {
            Ok(agent) => {
                let handle = tasks.spawn(operation(agent));
                index_of.insert(handle.id(), index);
            }
            Err(error) => results[index] = Some(Err(error)),
        }
    }
    while let Some(joined) = tasks.join_next_with_id().await {
        let (id, result) = match joined {
            Ok((id, result)) => (id, result),
            Err(error) => (
                error.id(),
                Err(AgentError::Internal(format!("agent task failed: {error}"))),
            ),
        };
        if let Some(&index) = index_of.get(&id) {
            results[index] = Some(result);
        }
    }
    settings
        .agents
        .iter()
        .zip(results)
        .map(|(agent, result)| Outcome {
            agent: agent.clone(),
            result: result
                .unwrap_or_else(|| Err(AgentError::Internal("agent task vanished".to_owned()))),
        })
        .collect()
}
