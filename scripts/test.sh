#!/usr/bin/env bash
# Runs the whole test suite: the one command for a developer or CI on a fresh
# Debian machine (as root). Installs what the tests need that cargo does not
# bring, then runs `cargo test --locked --no-fail-fast` with any extra
# arguments given, e.g.
#   scripts/test.sh --test watch
#
# What it sets up:
#   - system packages the tests need (see "System packages" below);
#   - REEL_TEST_PG_BIN, PostgreSQL's bin dir, which turns on the PostgreSQL
#     tests (tests/replay_pg.rs); they print that they are skipped without it;
#   - target/test-venv, a Python venv with grpcio and grpcio-reflection, for
#     tests/reflection.rs (a Python client driving the agent by reflection).
#     Its interpreter is passed to the tests as REEL_TEST_PYTHON. It also
#     holds moto[server], whose moto_server (an S3-compatible server) is
#     passed as REEL_TEST_S3 to tests/s3_store*.rs.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# --- System packages ---------------------------------------------------------
# need_apt PACKAGE[=COMMAND]...: installs each package whose command (the
# package name unless given after '=') is missing. Runs `apt-get update` once,
# and only when something must be installed.
apt_updated=0
need_apt() {
    local missing=() spec pkg cmd
    for spec in "$@"; do
        pkg=${spec%%=*}
        cmd=${spec#*=}
        command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo=(sudo)
        else
            echo "error: the tests need these Debian packages: ${missing[*]}; install them as root (apt-get install ${missing[*]})" >&2
            exit 1
        fi
    fi
    if [ "$apt_updated" -eq 0 ]; then
        "${sudo[@]}" apt-get update -q
        apt_updated=1
    fi
    echo "installing ${missing[*]}" >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
}

# Packages the tests need (PACKAGE, or PACKAGE=COMMAND when they differ):
#   redis-server: tests/replay.rs replays against a real Redis (tests/common/redis.rs).
#   tshark: the pcap tests check exports with Wireshark's own dissectors.
#   postgresql-15: tests/replay_pg.rs records pgbench and replays it into
#     throw-away clusters (tests/common/pg.rs). Its programs (initdb, postgres,
#     pgbench, psql, pg_isready) are in $REEL_TEST_PG_BIN, by default Debian
#     12's /usr/lib/postgresql/15/bin, which is not on PATH.
#   bsdutils: util-linux `script`, the pseudo-terminal of tests/shell.rs's
#     terminal test (essential on Debian, so normally already there).
REEL_TEST_PG_BIN=${REEL_TEST_PG_BIN:-/usr/lib/postgresql/15/bin}
need_apt redis-server tshark "postgresql-15=$REEL_TEST_PG_BIN/pgbench" bsdutils=script
for tool in initdb postgres pg_isready pgbench psql; do
    if [ ! -x "$REEL_TEST_PG_BIN/$tool" ]; then
        echo "error: $REEL_TEST_PG_BIN/$tool is missing: install postgresql-15 (apt-get install postgresql-15) or point REEL_TEST_PG_BIN at PostgreSQL's bin dir" >&2
        exit 1
    fi
done
# Turns the PostgreSQL tests on (without it they print that they are skipped).
export REEL_TEST_PG_BIN
# ------------------------------------------------------------------------------

# --- Python for tests/reflection.rs -------------------------------------------
venv=target/test-venv
if ! command -v python3 >/dev/null 2>&1; then
    echo "error: python3 is missing: install it (apt-get install -y python3 python3-venv)" >&2
    exit 1
fi
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
    rm -rf "$venv"
    mkdir -p target
    if ! python3 -m venv "$venv"; then
        rm -rf "$venv"
        echo "error: cannot create a Python venv: install python3-venv (apt-get install -y python3-venv)" >&2
        exit 1
    fi
fi
if ! "$venv/bin/python" -c 'import grpc, grpc_reflection' >/dev/null 2>&1; then
    echo "installing grpcio grpcio-reflection into $venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check grpcio grpcio-reflection
fi
REEL_TEST_PYTHON="$PWD/$venv/bin/python"
export REEL_TEST_PYTHON
# moto's S3-compatible server for tests/s3_store*.rs (the object store for
# recordings, --store); the tests start and stop it themselves.
if [ ! -x "$venv/bin/moto_server" ]; then
    echo "installing moto[server] into $venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check 'moto[server]'
fi
REEL_TEST_S3="$PWD/$venv/bin/moto_server"
export REEL_TEST_S3
# ------------------------------------------------------------------------------

# --- Switches for tests that need more than cargo ----------------------------
# Plain `cargo test` skips these (and says so); here everything they need is
# installed above, so all of them run and none skips (agent/fixtures/needs.rs;
# the unit tests that run tshark use the same switch).
export REEL_TEST_REDIS=1 REEL_TEST_TSHARK=1
if [ "$(id -u)" -eq 0 ]; then
    # The full-disk tests mount a small tmpfs.
    export REEL_TEST_ROOT=1
else
    echo "note: not root, so the tests that fill a tmpfs are skipped (the model-sink tests in agent/record cover the same paths)" >&2
fi
# ------------------------------------------------------------------------------

# --no-fail-fast: one failing test binary never hides the results of the
# others.
exec cargo test --locked --no-fail-fast "$@"
