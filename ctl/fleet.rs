//! Concurrent fan-out: one task per selected agent, each operation under the
//! per-agent deadline, results kept in the agents' given order. One agent's
//! failure never stops the others. Commands of several steps (measure the
//! clocks, push files, start) chain them with `then_all`: an agent that failed
//! a step skips the next ones and keeps its first error.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use tokio::task::JoinSet;
use tonic::transport::Endpoint;

use crate::access::{self, Client};

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
pub(crate) struct AgentClient {
    client: Client,
    address: String,
    timeout: Duration,
}

impl AgentClient {
    /// A lazily connected client for `address`: nothing happens on the
    /// network until the first call, which connects within `timeout`.
    ///
    /// # Errors
    /// `Internal` if the address does not make a URI (settings checked it).
    pub(crate) fn new(address: &str, timeout: Duration) -> Result<AgentClient, AgentError> {
        let endpoint = endpoint(address, timeout)?;
        Ok(AgentClient {
            client: access::client(endpoint.connect_lazy(), address),
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
        F: FnOnce(Client) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        self.unary_within(self.timeout, call).await
    }

    /// Like `unary`, under another deadline: for calls the agent answers
    /// only after a wait of its own (a scheduled start, a replay stopping).
    ///
    /// # Errors
    /// As `unary`.
    pub(crate) async fn unary_within<T, F, Fut>(
        &self,
        deadline: Duration,
        call: F,
    ) -> Result<T, AgentError>
    where
        F: FnOnce(Client) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        match tokio::time::timeout(deadline, call(self.client.clone())).await {
            Ok(Ok(response)) => Ok(response.into_inner()),
            Ok(Err(status)) => {
                Err(explain(&self.address, self.timeout, self.status_error(status)).await)
            }
            Err(_elapsed) => Err(self.timed_out_after(deadline)),
        }
    }

    /// The gRPC client, for streaming calls that `unary` does not cover.
    pub(crate) fn client(&self) -> Client {
        self.client.clone()
    }

    /// HOST:PORT as the user gave it.
    pub(crate) fn address(&self) -> &str {
        &self.address
    }

    /// The per-operation deadline (`--timeout`).
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Classifies a failed call's status.
    pub(crate) fn status_error(&self, status: tonic::Status) -> AgentError {
        AgentError::from_status(status, &self.address)
    }

    /// The error for a call that outlived the deadline.
    pub(crate) fn timed_out(&self) -> AgentError {
        self.timed_out_after(self.timeout)
    }

    fn timed_out_after(&self, after: Duration) -> AgentError {
        AgentError::Timeout {
            address: self.address.clone(),
            after,
        }
    }
}

/// A TLS connection that broke may be the agent refusing our credentials
/// (no client certificate, or one it does not trust), which hyper does not
/// pass on to the call: one probe handshake (`tls_probe`) tells. Only a
/// connection that was made and then lost is probed (the agent checks the
/// certificate after the handshake), so an agent that is down or silent
/// costs no second attempt.
pub(crate) async fn explain(address: &str, timeout: Duration, error: AgentError) -> AgentError {
    if !matches!(error, AgentError::ConnectionLost { .. }) {
        return error;
    }
    let access = access::of(address);
    if access.tls_ca.is_none() {
        return error;
    }
    let alert = crate::tls_probe::alert(address, &access, timeout).await;
    match alert.and_then(crate::error::credentials_reason) {
        Some(reason) => AgentError::Credentials {
            address: address.to_owned(),
            reason,
        },
        None => error,
    }
}

/// Every selected agent, ready for a first step.
pub(crate) fn ready_all(settings: &Settings) -> Report<()> {
    settings
        .agents
        .iter()
        .map(|agent| Outcome {
            agent: agent.clone(),
            result: Ok(()),
        })
        .collect()
}

/// Maps the values of the agents that succeeded; failures stay as they are.
pub(crate) fn map_ok<S, T>(report: Report<S>, f: impl Fn(S) -> T) -> Report<T> {
    report
        .into_iter()
        .map(|o| Outcome {
            agent: o.agent,
            result: o.result.map(&f),
        })
        .collect()
}

/// Pairs each agent's value with its place in the selection, for a step
/// that treats agents by position (clock measurements are staggered).
pub(crate) fn indexed<S>(report: Report<S>) -> Report<(usize, S)> {
    report
        .into_iter()
        .enumerate()
        .map(|(index, o)| Outcome {
            agent: o.agent,
            result: o.result.map(|value| (index, value)),
        })
        .collect()
}

/// The endpoint of `address`, with the connect deadline set.
///
/// # Errors
/// `Internal` if the address does not make a URI.
pub(crate) fn endpoint(address: &str, timeout: Duration) -> Result<Endpoint, AgentError> {
    access::endpoint(address, timeout)
}

/// Runs `operation` on every selected agent concurrently and collects the
/// outcomes in the agents' order. Never returns early.
pub(crate) async fn run_all<T, F, Fut>(settings: &Settings, operation: F) -> Report<T>
where
    T: Send + 'static,
    F: Fn(AgentClient) -> Fut,
    Fut: Future<Output = Result<T, AgentError>> + Send + 'static,
{
    let inputs = settings.agents.iter().map(|_| Ok(())).collect();
    spawn_all(settings, inputs, |agent, ()| operation(agent)).await
}

/// The next step of a command: runs `operation` concurrently on every agent
/// whose `previous` outcome succeeded, handing it that outcome's value. An
/// agent that failed before keeps its error and is not called again.
/// `previous` must come from the same settings (one outcome per agent, in
/// order).
pub(crate) async fn then_all<S, T, F, Fut>(
    settings: &Settings,
    previous: Report<S>,
    operation: F,
) -> Report<T>
where
    T: Send + 'static,
    F: Fn(AgentClient, S) -> Fut,
    Fut: Future<Output = Result<T, AgentError>> + Send + 'static,
{
    let inputs = previous.into_iter().map(|outcome| outcome.result).collect();
    spawn_all(settings, inputs, operation).await
}

/// One task per agent whose input is `Ok`; the outcomes in the agents' order.
async fn spawn_all<S, T, F, Fut>(
    settings: &Settings,
    inputs: Vec<Result<S, AgentError>>,
    operation: F,
) -> Report<T>
where
    T: Send + 'static,
    F: Fn(AgentClient, S) -> Fut,
    Fut: Future<Output = Result<T, AgentError>> + Send + 'static,
{
    let mut tasks = JoinSet::new();
    let mut index_of = HashMap::new();
    let mut results: Vec<Option<Result<T, AgentError>>> =
        settings.agents.iter().map(|_| None).collect();
    let mut inputs = inputs.into_iter();
    for (index, target) in settings.agents.iter().enumerate() {
        let input = inputs
            .next()
            .unwrap_or_else(|| Err(AgentError::Internal("no input for this agent".to_owned())));
        let agent = input.and_then(|input| {
            AgentClient::new(&target.address, settings.timeout).map(|agent| (agent, input))
        });
        match agent {
            Ok((agent, input)) => {
                let handle = tasks.spawn(operation(agent, input));
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
