//! `replay --spread`: the recordings' connections are split across the
//! agents, so every agent must hold every recording first. For each
//! recording, the agents that lack it (GetRecording says NOT_FOUND) receive
//! a copy streamed from the first selected agent that has it; then agent i
//! of the N that are ready replays shard i of N.

use reel::proto::GetRecordingRequest;
use serde::Serialize;
use tonic::Code;

use crate::error::AgentError;
use crate::fleet::{self, AgentClient, Report};
use crate::relay::{self, Relayed};
use crate::settings::Settings;

/// Which share of the connections an agent replays: every connection whose
/// position modulo `count` is `index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct Shard {
    pub(crate) index: u32,
    pub(crate) count: u32,
}

/// The shard of each agent: the ready ones, in order, get 0..N of N; the
/// others none. Sharding over the agents that can start keeps every
/// connection replayed when one agent dropped out while preparing.
pub(crate) fn assign_shards(ready: &[bool]) -> Vec<Option<Shard>> {
    let count = u32::try_from(ready.iter().filter(|r| **r).count()).unwrap_or(u32::MAX);
    let mut next = 0;
    ready
        .iter()
        .map(|ready| {
            ready.then(|| {
                let shard = Shard { index: next, count };
                next += 1;
                shard
            })
        })
        .collect()
}

/// A recording an agent received before the replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Copied {
    pub(crate) id: String,
    /// The agent it was copied from (address as given), or the local file.
    pub(crate) from: String,
    pub(crate) size_bytes: u64,
}

/// One recording pushed to some agents, for the human notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pushed {
    pub(crate) id: String,
    pub(crate) from: String,
    /// The agents that stored it.
    pub(crate) to: Vec<String>,
    pub(crate) size_bytes: u64,
}

/// Makes every recording present on every agent that `ready` says is
/// usable (with what it already received). Returns, per agent, what it
/// received (or why it cannot take part), and what was pushed where.
pub(crate) async fn distribute(
    settings: &Settings,
    ready: Report<Vec<Copied>>,
    recordings: &[String],
) -> (Report<Vec<Copied>>, Vec<Pushed>) {
    let mut state = ready;
    let mut pushed = Vec::new();
    for id in recordings {
        let (next, push) = distribute_one(settings, state, id).await;
        state = next;
        pushed.extend(push);
    }
    (state, pushed)
}

/// Copies one recording to the agents that lack it.
async fn distribute_one(
    settings: &Settings,
    state: Report<Vec<Copied>>,
    id: &str,
) -> (Report<Vec<Copied>>, Option<Pushed>) {
    let owned = id.to_owned();
    let presence = fleet::then_all(settings, state, move |agent, copied| {
        let id = owned.clone();
        async move { Ok((copied, has(&agent, id).await?)) }
    })
    .await;
    let source = presence
        .iter()
        .position(|o| matches!(o.result, Ok((_, true))));
    let lacking: Vec<usize> = presence
        .iter()
        .enumerate()
        .filter(|(_, o)| matches!(o.result, Ok((_, false))))
        .map(|(i, _)| i)
        .collect();
    let mut results: Vec<Option<Result<Copied, AgentError>>> =
        presence.iter().map(|_| None).collect();
    let mut push = None;
    match source {
        _ if lacking.is_empty() => {}
        None => {
            for &i in &lacking {
                results[i] = Some(Err(AgentError::Local(format!(
                    "recording {id} is on none of the selected agents"
                ))));
            }
        }
        Some(source) => {
            let from = presence[source].agent.address.clone();
            let relayed = relay(settings, &from, id, &presence, &lacking).await;
            let mut to = Vec::new();
            for (&i, result) in lacking.iter().zip(relayed.targets) {
                results[i] = Some(result.map(|_info| {
                    to.push(presence[i].agent.address.clone());
                    Copied {
                        id: id.to_owned(),
                        from: from.clone(),
                        size_bytes: relayed.size,
                    }
                }));
            }
            if !to.is_empty() {
                push = Some(Pushed {
                    id: id.to_owned(),
                    from,
                    to,
                    size_bytes: relayed.size,
                });
            }
        }
    }
    let next = presence
        .into_iter()
        .zip(results)
        .map(|(outcome, copy)| {
            let result = match (outcome.result, copy) {
                (Err(error), _) | (Ok(_), Some(Err(error))) => Err(error),
                (Ok((mut copied, _)), Some(Ok(copy))) => {
                    copied.push(copy);
                    Ok(copied)
                }
                (Ok((copied, _)), None) => Ok(copied),
            };
            fleet::Outcome {
                agent: outcome.agent,
                result,
            }
        })
        .collect();
    (next, push)
}

/// Streams `id` from the agent at `from` to the agents at `lacking`.
async fn relay(
    settings: &Settings,
    from: &str,
    id: &str,
    presence: &Report<(Vec<Copied>, bool)>,
    lacking: &[usize],
) -> Relayed {
    let agents = std::iter::once(from)
        .chain(lacking.iter().map(|&i| presence[i].agent.address.as_str()))
        .map(|address| AgentClient::new(address, settings.timeout))
        .collect::<Result<Vec<AgentClient>, AgentError>>();
    match agents.as_deref() {
        // `agents` starts with the source, chained in above.
        Ok([source, targets @ ..]) => relay::relay(source, id, targets).await,
        Ok([]) => Relayed {
            size: 0,
            targets: Vec::new(),
        },
        // Settings checked every address, so this does not happen.
        Err(error) => Relayed {
            size: 0,
            targets: lacking
                .iter()
                .map(|_| Err(AgentError::Internal(error.to_string())))
                .collect(),
        },
    }
}

/// Whether `agent` holds recording `id`.
pub(crate) async fn has(agent: &AgentClient, id: String) -> Result<bool, AgentError> {
    let found = agent
        .unary(|mut client| async move { client.get_recording(GetRecordingRequest { id }).await })
        .await;
    match found {
        Ok(_) => Ok(true),
        Err(AgentError::Rejected(status)) if status.code() == Code::NotFound => Ok(false),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(index: u32, count: u32) -> Option<Shard> {
        Some(Shard { index, count })
    }

    #[test]
    fn ready_agents_share_the_connections_in_order() {
        let cases: &[(&[bool], &[Option<Shard>])] = &[
            (&[], &[]),
            (&[true], &[shard(0, 1)]),
            (
                &[true, true, true],
                &[shard(0, 3), shard(1, 3), shard(2, 3)],
            ),
            (&[true, false, true], &[shard(0, 2), None, shard(1, 2)]),
            (&[false, false], &[None, None]),
        ];
        for (ready, expected) in cases {
            assert_eq!(assign_shards(ready), *expected, "{ready:?}");
        }
    }
}
