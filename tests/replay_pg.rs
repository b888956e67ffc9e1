//! Replay against a real PostgreSQL, a server that makes clients wait for
//! each other (row locks): pgbench (8 clients, 2 threads, 150 transactions
//! each, simple protocol) is recorded through a reel proxy, then replayed
//! into a freshly initialised database, paced at the recorded speed (the
//! default; no `unpaced`). The replay must end within `REPLAY_LIMIT` and
//! leave the source's account balance sum, teller balances, branch balance
//! sum and history row count: pgbench's updates add deltas, so every order
//! the server may take them in gives the same sums.
//!
//! Runs only with `REEL_TEST_PG_BIN` set (scripts/test.sh sets it);
//! otherwise each test prints that it is skipped and passes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use reel::proto as pb;
use reel::proto::reel_client::ReelClient;
use tonic::transport::Channel;

use common::pg::{self, PgCluster, PgbenchState};
use common::replays::{describe_live, replay_request, stop, try_replay_within};
use common::*;

/// Longest a replay of the pgbench recording (about a second of traffic)
/// may take before the test fails with its live report.
const REPLAY_LIMIT: Duration = Duration::from_secs(180);

/// A pgbench run recorded through a proxy of a live agent.
struct Recorded {
    agent: AgentProc,
    ctl: ReelClient<Channel>,
    rec: pb::RecordingInfo,
    /// The source database after the run.
    want: PgbenchState,
    bin: PathBuf,
    /// Holds the agent's data dir; dropped last, after the agent.
    _dir: tempfile::TempDir,
}

/// Starts a cluster on a blocking thread and runs `pgbench -i` in it.
async fn fresh_cluster(bin: &Path) -> PgCluster {
    let bin = bin.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let c = PgCluster::start(&bin);
        c.pgbench_init();
        c
    })
    .await
    .expect("cluster thread")
}

async fn state_of(cluster: &PgCluster) -> PgbenchState {
    tokio::task::block_in_place(|| cluster.pgbench_state())
}

/// Records the pgbench load through a proxy in front of a fresh cluster.
async fn record_pgbench(bin: &Path) -> Recorded {
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start("127.0.0.1", &dir.path().join("data"));
    let mut ctl = agent.client().await;
    let source = fresh_cluster(bin).await;
    let proxy = start_proxy(&mut ctl, source.addr).await;
    let rec = start_recording(&mut ctl, "pgbench").await;
    let load = {
        let bin = bin.to_path_buf();
        let addr = proxy_addr(&proxy);
        tokio::task::spawn_blocking(move || pg::pgbench_load(&bin, addr))
            .await
            .expect("pgbench thread")
    };
    eprintln!("pgbench through the proxy:\n{load}");
    eventually(
        Duration::from_secs(20),
        "pgbench's connections closed at the proxy",
        || {
            let mut ctl = ctl.clone();
            async move {
                let p = ctl
                    .list_proxies(pb::ListProxiesRequest {})
                    .await
                    .unwrap()
                    .into_inner();
                p.proxies.iter().all(|p| p.active_connections == 0)
            }
        },
    )
    .await;
    let rec = stop_recording(&mut ctl, &rec.id).await;
    assert!(
        rec.connections >= 8,
        "8 clients (and pgbench's setup connection) recorded: {rec:?}"
    );
    let want = state_of(&source).await;
    assert_eq!(want.history_rows, 1200, "pgbench's transactions: {want:?}");
    eprintln!(
        "recording {}: {} ms, {} connections, {} B c2s, {} B s2c; source {want:?}",
        rec.id, rec.duration_ms, rec.connections, rec.bytes_c2s, rec.bytes_s2c
    );
    Recorded {
        agent,
        ctl,
        rec,
        want,
        bin: bin.to_path_buf(),
        _dir: dir,
    }
}

/// Replays the recording in `mode` into a fresh `pgbench -i` database and
/// checks the replay's totals and the database it leaves.
async fn replay_into_fresh(r: &mut Recorded, mode: &str) {
    let target = fresh_cluster(&r.bin).await;
    assert_eq!(state_of(&target).await, PgbenchState::initial());
    let req = replay_request(&r.rec.id, target.addr, mode);
    let report = match try_replay_within(&mut r.ctl, req, REPLAY_LIMIT).await {
        Ok(report) => report,
        Err(live) => {
            let activity = tokio::task::block_in_place(|| {
                target.psql(
                    "select pid, state, wait_event_type, wait_event, left(query, 50) \
                     from pg_stat_activity where backend_type = 'client backend' \
                     and pid <> pg_backend_pid() order by pid",
                )
            });
            stop(&mut r.ctl, &live.id).await;
            panic!(
                "{mode} replay of pgbench did not end within {REPLAY_LIMIT:?}:\n{}\
                 target's pg_stat_activity (pid|state|wait type|wait event|query):\n{activity}\n\
                 agent log tail:\n{}",
                describe_live(&live),
                tail(&r.agent.log(), 30)
            );
        }
    };
    eprintln!(
        "{mode} replay of pgbench: {} ms (recording {} ms), {} relaxations, {} server timeouts",
        report.duration_ms, r.rec.duration_ms, report.relaxations, report.server_timeouts
    );
    for x in report.relaxed.iter().take(10) {
        eprintln!("  relaxed: {x:?}");
    }
    assert_eq!(
        report.state(),
        reel::proto::ReplayState::Finished,
        "{}",
        describe_live(&report)
    );
    assert_eq!(
        (report.planned, report.opened, report.failed),
        (r.rec.connections, r.rec.connections, 0),
        "{}",
        describe_live(&report)
    );
    assert_eq!(report.bytes_sent, r.rec.bytes_c2s, "every client byte sent");
    assert!(
        report.relaxed.len() as u64 <= report.relaxations,
        "the relaxations listed ({}) are among those counted ({})",
        report.relaxed.len(),
        report.relaxations
    );
    let got = state_of(&target).await;
    if mode == "causal" {
        assert_eq!(got, r.want, "the target after a {mode} replay");
    } else {
        // pgbench starts with `truncate pgbench_history` on its main
        // connection before the clients run. `reactive` keeps no order
        // across connections, so that truncate may come after some
        // clients' first inserts (seen: 1,189 of 1,200 rows). The balances
        // are sums of deltas and come out the same in any order.
        assert_eq!(
            (got.accounts_sum, &got.tellers, got.branches_sum),
            (r.want.accounts_sum, &r.want.tellers, r.want.branches_sum),
            "the balances after a {mode} replay"
        );
        assert!(got.history_rows <= r.want.history_rows, "{got:?}");
    }
}

/// The last `n` lines of `text`, without terminal colour codes.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    for line in &lines[lines.len().saturating_sub(n)..] {
        let mut rest = *line;
        while let Some(at) = rest.find("\x1b[") {
            out.push_str(&rest[..at]);
            rest = rest[at..].find('m').map_or("", |m| &rest[at + m + 1..]);
        }
        out.push_str(rest);
        out.push('\n');
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn causal_replay_of_pgbench_finishes_and_reproduces_the_sums() {
    let Some(bin) = pg::bin_or_skip("causal_replay_of_pgbench_finishes_and_reproduces_the_sums")
    else {
        return;
    };
    let mut r = record_pgbench(&bin).await;
    replay_into_fresh(&mut r, "causal").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reactive_replay_of_pgbench_reproduces_the_sums() {
    let Some(bin) = pg::bin_or_skip("reactive_replay_of_pgbench_reproduces_the_sums") else {
        return;
    };
    let mut r = record_pgbench(&bin).await;
    replay_into_fresh(&mut r, "reactive").await;
}
