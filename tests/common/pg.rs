//! Throw-away PostgreSQL clusters for the replay tests, and pgbench.
//!
//! A cluster is `initdb` into a temp dir and `postgres` started directly as
//! a child of the test on a free 127.0.0.1 port, with its socket in that dir,
//! fsync off and small buffers. It is stopped by pid on drop (SIGQUIT, the
//! immediate shutdown that also ends its backends; SIGKILL after 10 s) and
//! its dir removed. initdb and postgres refuse to run as root: as root they
//! run as the `postgres` system user (the Debian package creates it), with
//! the temp dir given to that user.
//!
//! The tests run only when `REEL_TEST_PG_BIN` names PostgreSQL's bin dir
//! (scripts/test.sh installs postgresql-15 and sets it to
//! /usr/lib/postgresql/15/bin); without it they say so and pass.

use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{CtlOutput, closed_port, run_bounded, signal, wait_bounded};

/// The variable naming PostgreSQL's bin dir; unset = PG tests are skipped.
pub const PG_BIN_ENV: &str = "REEL_TEST_PG_BIN";
/// The programs the tests take from that dir.
const TOOLS: [&str; 5] = ["initdb", "postgres", "pg_isready", "pgbench", "psql"];
/// Longest initdb, `pgbench -i` or a query may take.
const TOOL_TIMEOUT: Duration = Duration::from_secs(120);
/// Longest a started server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest a server may take to stop after SIGQUIT before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// The database every cluster has and pgbench uses.
pub const DB: &str = "postgres";
/// The superuser initdb creates (trust auth on loopback: no password).
pub const USER: &str = "postgres";

/// PostgreSQL's bin dir when the PG tests are on; otherwise prints that
/// `test` is skipped, and why, and returns `None`.
pub fn bin_or_skip(test: &str) -> Option<PathBuf> {
    let Some(dir) = std::env::var_os(PG_BIN_ENV) else {
        super::skipped(
            test,
            &format!(
                "{PG_BIN_ENV} is not set. It names PostgreSQL's bin dir; \
                 scripts/test.sh installs postgresql-15 and sets it to /usr/lib/postgresql/15/bin"
            ),
        );
        return None;
    };
    let dir = PathBuf::from(dir);
    for tool in TOOLS {
        assert!(
            dir.join(tool).is_file(),
            "{PG_BIN_ENV}={} has no {tool}: install postgresql-15 (scripts/test.sh does)",
            dir.display()
        );
    }
    Some(dir)
}

/// Uid and gid the server runs as when the test runs as root.
fn server_user() -> Option<(u32, u32)> {
    if effective_uid() != 0 {
        return None;
    }
    let id = |flag: &str| -> u32 {
        let out = Command::new("id")
            .args([flag, USER])
            .output()
            .expect("run id");
        assert!(
            out.status.success(),
            "running as root, and there is no `{USER}` user for initdb and postgres \
             (the postgresql-15 package creates it)"
        );
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    };
    Some((id("-u"), id("-g")))
}

/// The effective uid of the test, from /proc (no libc in the tests).
fn effective_uid() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|rest| rest.split_whitespace().nth(1))
        .and_then(|euid| euid.parse().ok())
        .expect("effective uid in /proc/self/status")
}

/// Sums of pgbench's tables: what every replay of the same transactions
/// must leave, whatever order the server took them in (pgbench's updates
/// add deltas, which commute).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgbenchState {
    /// `sum(abalance)` of pgbench_accounts.
    pub accounts_sum: i64,
    /// Every teller's `tbalance`, by tid.
    pub tellers: Vec<i64>,
    /// `sum(bbalance)` of pgbench_branches.
    pub branches_sum: i64,
    /// `count(*)` of pgbench_history.
    pub history_rows: i64,
}

impl PgbenchState {
    /// What `pgbench -i -s 1` leaves: ten tellers, every balance 0.
    pub fn initial() -> PgbenchState {
        PgbenchState {
            accounts_sum: 0,
            tellers: vec![0; 10],
            branches_sum: 0,
            history_rows: 0,
        }
    }
}

/// One PostgreSQL server on 127.0.0.1, in its own temp dir.
pub struct PgCluster {
    child: Child,
    pub addr: SocketAddr,
    bin: PathBuf,
    log: PathBuf,
    /// Removed on drop, after the server stopped.
    dir: tempfile::TempDir,
}

impl PgCluster {
    /// initdb, then starts postgres on a free port and waits (bounded) until
    /// it accepts connections. Blocking: call it from `spawn_blocking`.
    pub fn start(bin: &Path) -> PgCluster {
        let dir = tempfile::tempdir().expect("temp dir for a cluster");
        let user = server_user();
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .expect("give the cluster's dir to the postgres user");
        }
        let data = dir.path().join("data");
        let mut initdb = server_command(bin, "initdb", dir.path(), user);
        initdb
            .arg("-D")
            .arg(&data)
            .args(["-U", USER, "--auth=trust", "--no-locale", "-E", "UTF8"])
            .args(["--no-sync", "--no-instructions"]);
        let out = run_bounded(&mut initdb, TOOL_TIMEOUT, "initdb");
        assert_ok(&out, "initdb");

        let port = closed_port().port();
        let log = dir.path().join("postgres.log");
        let mut postgres = server_command(bin, "postgres", dir.path(), user);
        postgres
            .arg("-D")
            .arg(&data)
            .arg("-k")
            .arg(dir.path())
            .args(["-p", &port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off", "-c", "shared_buffers=16MB"])
            .args(["-c", "max_connections=40", "-c", "autovacuum=off"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("postgres log file"));
        let child = postgres.spawn().expect("spawn postgres");
        let cluster = PgCluster {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            bin: bin.to_path_buf(),
            log,
            dir,
        };
        cluster.wait_ready();
        cluster
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let mut probe = self.client("pg_isready");
            probe.args(["-t", "2"]);
            if run_bounded(&mut probe, Duration::from_secs(5), "pg_isready").code == Some(0) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "postgres on {} did not accept connections within {START_TIMEOUT:?}; log:\n{}",
                self.addr,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A client program of the bin dir, aimed at this cluster over TCP.
    fn client(&self, tool: &str) -> Command {
        client_command(&self.bin, tool, self.addr)
    }

    /// `pgbench -i -s 1`: the four tables, every balance 0 (deterministic).
    pub fn pgbench_init(&self) {
        let mut cmd = self.client("pgbench");
        cmd.args(["-i", "-s", "1", "-q", DB]);
        let out = run_bounded(&mut cmd, TOOL_TIMEOUT, "pgbench -i");
        assert_ok(&out, "pgbench -i");
    }

    /// Runs `sql` with psql and returns its unaligned output.
    pub fn psql(&self, sql: &str) -> String {
        let mut cmd = self.client("psql");
        cmd.args(["-X", "-At", "-F", "|", "-v", "ON_ERROR_STOP=1", "-d", DB])
            .args(["-c", sql]);
        let out = run_bounded(&mut cmd, TOOL_TIMEOUT, "psql");
        assert_ok(&out, "psql");
        out.stdout.trim().to_string()
    }

    /// The sums that pgbench's transactions change.
    pub fn pgbench_state(&self) -> PgbenchState {
        let line = self.psql(
            "select (select coalesce(sum(abalance), 0) from pgbench_accounts), \
                    (select string_agg(tbalance::text, ',' order by tid) from pgbench_tellers), \
                    (select coalesce(sum(bbalance), 0) from pgbench_branches), \
                    (select count(*) from pgbench_history)",
        );
        let fields: Vec<&str> = line.split('|').collect();
        let num = |s: &str| -> i64 {
            s.parse()
                .unwrap_or_else(|e| panic!("{s:?} in psql output {line:?}: {e}"))
        };
        assert_eq!(fields.len(), 4, "psql output {line:?}");
        PgbenchState {
            accounts_sum: num(fields[0]),
            tellers: fields[1].split(',').map(num).collect(),
            branches_sum: num(fields[2]),
            history_rows: num(fields[3]),
        }
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        // Immediate shutdown: the postmaster ends its backends, then exits.
        signal(self.child.id(), "QUIT");
        wait_bounded(&mut self.child, STOP_TIMEOUT);
    }
}

/// The pgbench load of the replay tests: 8 clients on 2 threads, 150
/// transactions each (TPC-B-like), simple protocol, against `addr` (a reel
/// proxy in front of a cluster). Returns pgbench's report. Blocking.
pub fn pgbench_load(bin: &Path, addr: SocketAddr) -> String {
    let mut cmd = client_command(bin, "pgbench", addr);
    cmd.args(["-c", "8", "-j", "2", "-t", "150", "-M", "simple", DB]);
    let out = run_bounded(&mut cmd, TOOL_TIMEOUT, "pgbench");
    assert_ok(&out, "pgbench");
    assert!(
        out.stdout
            .contains("number of transactions actually processed: 1200/1200"),
        "pgbench ran every transaction: {}",
        out.stdout
    );
    out.stdout
}

/// A client program of `bin` aimed at `addr` as the superuser, with TLS and
/// GSS encryption off so the connection starts the same way every time.
fn client_command(bin: &Path, tool: &str, addr: SocketAddr) -> Command {
    let mut cmd = Command::new(bin.join(tool));
    cmd.args(["-h", &addr.ip().to_string(), "-p", &addr.port().to_string()])
        .args(["-U", USER])
        .env("PGSSLMODE", "disable")
        .env("PGGSSENCMODE", "disable")
        .env_remove("PGPASSWORD")
        .env_remove("PGDATABASE")
        .env_remove("PGOPTIONS");
    cmd
}

/// A server program of `bin`, run in `dir` and, as root, as `user`.
fn server_command(bin: &Path, tool: &str, dir: &Path, user: Option<(u32, u32)>) -> Command {
    let mut cmd = Command::new(bin.join(tool));
    cmd.current_dir(dir).env("LC_ALL", "C").env_remove("PGDATA");
    if let Some((uid, gid)) = user {
        // std drops root's supplementary groups when it sets a uid.
        cmd.gid(gid).uid(uid);
    }
    cmd
}

#[track_caller]
fn assert_ok(out: &CtlOutput, what: &str) {
    assert_eq!(
        out.code,
        Some(0),
        "{what} failed\nstdout: {}\nstderr: {}",
        out.stdout,
        out.stderr
    );
}
