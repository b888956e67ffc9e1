#!/usr/bin/env bash
# Replay benchmark on a real server, and replay memory at size:
#
#   bench/replay.sh [--no-build] [--bin-dir DIR] [--port-base N] [--sizes "MIB..."]
#                   [--limit SECONDS] [--server-timeout DUR] [--keep-scratch]
#
# a) pgbench (PostgreSQL 15; 8 clients, 2 threads, 150 transactions each,
#    simple protocol) recorded through a reel proxy; then `causal` and
#    `reactive` replays (paced, the default) of that recording, each into a
#    freshly initialised database. For each: the replay's duration against
#    the recording's own, relaxations counted, server timeouts, and whether
#    the database ends as the source did (sum of account balances, teller
#    balances, sum of branch balances, history rows). A replay that has not
#    ended after --limit seconds (default 300) is stopped and reported as
#    such, with what its connections were waiting for.
# b) peak RSS of the agent (VmHWM, a fresh agent per size) during a `fast`
#    replay of synthetic recordings (examples/gen_recording.rs, 200
#    connections) of each of --sizes MiB (default "100 1024") against a
#    loopback echo server (examples/netbench.rs).
# Prints a Markdown section on stdout (progress on stderr) for
# docs/PERFORMANCE.md; nothing is written into the docs.
#
# Everything runs on 127.0.0.1 and every step is bounded in time. Each process
# started here leads its own session and is stopped by PID on exit, Ctrl-C or
# TERM. Installs postgresql-15 with apt when missing (as root); initdb and
# postgres run as the `postgres` user when this runs as root. Never run from
# the test suite (tests/replay_pg.rs and tests/replay_memory.rs are the
# assertions). --bin-dir takes reel-agent and reelctl from DIR.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 2
CMDLINE="bench/replay.sh$(printf ' %q' "$@")"
HOST=127.0.0.1

PG_BIN=${REEL_TEST_PG_BIN:-/usr/lib/postgresql/15/bin}
SIZES="100 1024"   # MiB of the synthetic recordings of b)
SYN_CONNS=200      # their connections
LIMIT=300          # longest a replay may run (s)
SERVER_TIMEOUT=5s  # --server-timeout of the pgbench replays (the agent's default)
PORT_BASE=24200    # uses PORT_BASE .. PORT_BASE+19
BUILD=1
KEEP=0
BIN_DIR=""

usage() { sed -n '2,28p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case $1 in
        --no-build) BUILD=0; shift ;;
        --bin-dir) BIN_DIR=${2:?}; shift 2 ;;
        --port-base) PORT_BASE=${2:?}; shift 2 ;;
        --sizes) SIZES=${2:?}; shift 2 ;;
        --limit) LIMIT=${2:?}; shift 2 ;;
        --server-timeout) SERVER_TIMEOUT=${2:?}; shift 2 ;;
        --keep-scratch) KEEP=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bench/replay.sh: unknown option: $1" >&2; usage >&2; exit 2 ;;
    esac
done

WORK=$(mktemp -d /tmp/reel-bench-replay.XXXXXX)
chmod 711 "$WORK"   # the postgres user reaches its cluster dirs inside
STOP_WAIT=5         # PostgreSQL's fast shutdown takes a moment
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# ---------------------------------------------------------------- tools
need_apt "postgresql-15=$PG_BIN/pgbench" python3 iproute2=ss util-linux=setpriv
for t in initdb postgres pg_isready pgbench psql; do
    [ -x "$PG_BIN/$t" ] || die "$PG_BIN/$t is missing (set REEL_TEST_PG_BIN to PostgreSQL's bin dir)"
done
have cargo || [ "$BUILD" = 0 ] || die "cargo is missing"

if [ "$BUILD" = 1 ]; then
    log "building release binaries and examples"
    timeout 1800 cargo build --release --quiet --bins --example gen_recording --example netbench ||
        die "cargo build --release failed"
fi
BIN=${BIN_DIR:-$ROOT/target/release}
NB=$ROOT/target/release/examples/netbench
GEN=$ROOT/target/release/examples/gen_recording
for f in "$BIN/reel-agent" "$BIN/reelctl" "$NB" "$GEN"; do
    [ -x "$f" ] || die "$f is missing (run without --no-build)"
done

# ---------------------------------------------------------------- processes
ports_free "$PORT_BASE" 20
ctl() { local p=$1; shift; timeout 60 "$BIN/reelctl" -q --timeout 30s -a "$HOST:$p" "$@"; }
json() {          # json FILE EXPR: EXPR of results[0].data (as d) of reelctl --json output
    python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))["results"][0]["data"]
v = eval(sys.argv[2])
print("" if v is None else v)' "$1" "$2" 2>/dev/null
}
kib() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
start_agent() {   # start_agent NAME CTL_PORT: a fresh agent with data in WORK/NAME; PID in REPLY
    mkdir -p "$WORK/$1/data"
    spawn "$WORK/$1/agent.log" "$BIN/reel-agent" --listen "$HOST:$2" --data-dir "$WORK/$1/data"
    wait_port "$2" "$REPLY" || { cat "$WORK/$1/agent.log" >&2; die "reel-agent $1 did not start"; }
}

# ---------------------------------------------------------------- PostgreSQL
AS_PG=()
if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || die "no postgres user for initdb and postgres (the postgresql-15 package creates it)"
    AS_PG=(setpriv --reuid=postgres --regid=postgres --init-groups --)
fi
pg_client() {     # pg_client TOOL PORT ARGS...: TOOL aimed at 127.0.0.1:PORT as postgres
    local t=$1 p=$2; shift 2
    PGSSLMODE=disable PGGSSENCMODE=disable timeout 300 "$PG_BIN/$t" -h "$HOST" -p "$p" -U postgres "$@"
}
pg_start() {      # pg_start NAME PORT: initdb + postgres + pgbench -i; PID in REPLY
    local d=$WORK/$1 i
    mkdir -p "$d"
    [ ${#AS_PG[@]} -gt 0 ] && chown postgres: "$d"
    (cd "$d" && LC_ALL=C timeout 120 "${AS_PG[@]}" "$PG_BIN/initdb" -D "$d/data" -U postgres --auth=trust \
        --no-locale -E UTF8 --no-sync --no-instructions >"$d/initdb.log" 2>&1) ||
        { cat "$d/initdb.log" >&2; die "initdb $1 failed"; }
    spawn "$d/postgres.log" env -C "$d" "${AS_PG[@]}" "$PG_BIN/postgres" -D "$d/data" -k "$d" -p "$2" \
        -c listen_addresses=$HOST -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
        -c shared_buffers=16MB -c max_connections=40 -c autovacuum=off
    local pid=$REPLY
    for i in $(seq 300); do
        pg_client pg_isready "$2" -t 1 >/dev/null 2>&1 && break
        alive "$pid" || { cat "$d/postgres.log" >&2; die "postgres $1 exited"; }
        sleep 0.1
    done
    pg_client pg_isready "$2" -t 1 >/dev/null 2>&1 || { cat "$d/postgres.log" >&2; die "postgres $1 did not start"; }
    pg_client pgbench "$2" -i -s 1 -q postgres >"$d/init.log" 2>&1 || { cat "$d/init.log" >&2; die "pgbench -i on $1 failed"; }
    REPLY=$pid
}
pg_stop() {       # pg_stop PID: fast shutdown (SIGINT ends the sessions), then as any process
    local i
    kill -INT "$1" 2>/dev/null
    for i in $(seq 100); do alive "$1" || break; sleep 0.1; done
    stop_pids "$1"
}
pg_state() {      # pg_state PORT: "accounts|tellers|branches|history"
    pg_client psql "$1" -X -At -F '|' -d postgres -c "select
        (select sum(abalance) from pgbench_accounts),
        (select string_agg(tbalance::text, ',' order by tid) from pgbench_tellers),
        (select sum(bbalance) from pgbench_branches),
        (select count(*) from pgbench_history)" 2>&1
}

# ---------------------------------------------------------------- a) pgbench
C_PG=$(port 0) P_PROXY=$(port 1) P_SRC=$(port 2)
log "a): pgbench through a reel proxy, recorded"
pg_start source "$P_SRC"
SRC_PID=$REPLY
start_agent pg "$C_PG"
PG_AGENT=$REPLY
ctl "$C_PG" proxy start --name pg --listen "$HOST:$P_PROXY" --upstream "$HOST:$P_SRC" >/dev/null || die "proxy start failed"
REC=$(ctl "$C_PG" record start --label pgbench) || die "record start failed"
pg_client pgbench "$P_PROXY" -c 8 -j 2 -t 150 -M simple postgres >"$WORK/pgbench.out" 2>&1 ||
    { cat "$WORK/pgbench.out" >&2; die "pgbench through the proxy failed"; }
grep -q 'actually processed: 1200/1200' "$WORK/pgbench.out" || die "pgbench did not run every transaction"
PGBENCH_TPS=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$WORK/pgbench.out")
for i in $(seq 200); do   # until pgbench's connections closed at the proxy (20 s max)
    ctl "$C_PG" --json proxy ls >"$WORK/proxies.json" 2>/dev/null
    [ "$(json "$WORK/proxies.json" 'sum(p["active_connections"] for p in d["proxies"])')" = 0 ] && break
    sleep 0.1
done
ctl "$C_PG" --json record stop "$REC" >"$WORK/rec.json" || die "record stop failed"
REC_MS=$(json "$WORK/rec.json" 'd["stopped"][0]["duration_ms"]')
REC_CONNS=$(json "$WORK/rec.json" 'd["stopped"][0]["connections"]')
REC_C2S=$(json "$WORK/rec.json" 'd["stopped"][0]["bytes_c2s"]')
SRC_STATE=$(pg_state "$P_SRC")
pg_stop "$SRC_PID"
log "  recording $REC: $REC_MS ms, $REC_CONNS connections, $REC_C2S B c2s; pgbench $PGBENCH_TPS tps; source $SRC_STATE"

ROWS=()
replay_pg() {     # replay_pg MODE PORT: one replay into a fresh database; a table row in ROWS
    local mode=$1 p=$2 id t0 t1 state ms relax tos same note="" tgt
    pg_start "target-$mode" "$p"
    tgt=$REPLY
    ctl "$C_PG" --json replay "$REC" --target "$HOST:$p" --mode "$mode" --server-timeout "$SERVER_TIMEOUT" \
        --detach >"$WORK/start-$mode.json" || die "replay $mode did not start"
    id=$(json "$WORK/start-$mode.json" 'd["id"]')
    t0=$(date +%s%N)
    while :; do
        ctl "$C_PG" --json replay status "$id" >"$WORK/status-$mode.json" 2>/dev/null
        state=$(json "$WORK/status-$mode.json" 'd["state"]')
        case $state in running|scheduled|"") ;; *) break ;; esac
        if [ $(( ($(date +%s%N) - t0) / 1000000000 )) -ge "$LIMIT" ]; then
            note="did not end within $LIMIT s: $(json "$WORK/status-$mode.json" \
                '"sent %s/%s B, received %s B, %s server timeouts, waits: %s" % (d["bytes_sent"], d["expected_sent"], d["bytes_received"], d["server_timeouts"], d.get("waits", "not reported"))')"
            ctl "$C_PG" replay stop "$id" >/dev/null 2>&1
            break
        fi
        sleep 0.2
    done
    t1=$(date +%s%N)
    ms=$(json "$WORK/status-$mode.json" 'd["duration_ms"]')
    relax=$(json "$WORK/status-$mode.json" 'd.get("relaxations", "not reported")')
    tos=$(json "$WORK/status-$mode.json" 'd["server_timeouts"]')
    if [ -z "$note" ]; then
        [ "$(pg_state "$p")" = "$SRC_STATE" ] && same=yes || same="**no**: $(pg_state "$p")"
    else
        same="-"
    fi
    pg_stop "$tgt"
    log "  $mode: ${ms:-?} ms (wall $(( (t1 - t0) / 1000000 )) ms), relaxations $relax, server timeouts $tos, database as source: $same ${note:+($note)}"
    ROWS+=("| $mode | $(awk -v m="${ms:-0}" 'BEGIN{printf "%.2f", m / 1000}') s | $(awk -v m="${ms:-0}" -v r="${REC_MS:-1}" 'BEGIN{printf "%.2f", (r > 0 ? m / r : 0)}')x | $relax | $tos | $same | ${note:-finished} |")
}
log "a): causal and reactive replays into fresh databases (limit $LIMIT s each)"
replay_pg causal "$(port 3)"
replay_pg reactive "$(port 4)"
stop_pids "$PG_AGENT"

# ---------------------------------------------------------------- b) memory
log "b): peak agent RSS during fast replays of synthetic recordings: $SIZES MiB"
P_ECHO=$(port 10)
spawn "$WORK/echo.log" "$NB" echo "$P_ECHO"
wait_port "$P_ECHO" "$REPLY" || die "echo server did not start"
MEM_ROWS=()
k=0
for mib in $SIZES; do
    id=bench-${mib}m
    c=$(port $((11 + k)))
    k=$((k + 1))
    mkdir -p target/bench "$WORK/mem-$mib/data"
    src=target/bench/replay-${SYN_CONNS}c-${mib}m.reel
    if [ ! -s "$src" ]; then
        log "  generating $src"
        timeout 900 "$GEN" "$WORK/$id.reel" "$mib" "$SYN_CONNS" 600 >/dev/null && mv "$WORK/$id.reel" "$src" ||
            die "generating a $mib MiB recording failed"
    fi
    # The recording's id is its file name; the header's id is not used.
    ln "$src" "$WORK/mem-$mib/data/$id.reel" 2>/dev/null || cp "$src" "$WORK/mem-$mib/data/$id.reel"
    start_agent "mem-$mib" "$c"
    pid=$REPLY
    base=$(kib "$pid" VmHWM)
    t0=$(date +%s%N)
    if timeout "$LIMIT" "$BIN/reelctl" --json --timeout 30s -a "$HOST:$c" replay "$id" --target "$HOST:$P_ECHO" \
        --fast --server-timeout 1s >"$WORK/mem-$mib.json" 2>"$WORK/mem-$mib.err"; then
        t1=$(date +%s%N)
        peak=$(kib "$pid" VmHWM)
        sent=$(json "$WORK/mem-$mib.json" 'd["bytes_sent"]')
        MEM_ROWS+=("| $mib MiB | $SYN_CONNS | $(awk -v ns=$((t1 - t0)) 'BEGIN{printf "%.1f", ns / 1e9}') s | $(awk -v b="$sent" 'BEGIN{printf "%.0f", b / 1048576}') MiB | $((base / 1024)) MiB | **$((peak / 1024)) MiB** |")
        log "  $mib MiB: peak RSS $((peak / 1024)) MiB (before the replay $((base / 1024)) MiB)"
    else
        peak=$(kib "$pid" VmHWM)
        MEM_ROWS+=("| $mib MiB | $SYN_CONNS | failed or > $LIMIT s | - | $((base / 1024)) MiB | $((peak / 1024)) MiB |")
        log "  $mib MiB: replay failed: $(head -c 300 "$WORK/mem-$mib.err")"
    fi
    stop_pids "$pid"
    rm -f "$WORK/mem-$mib/data/$id.reel"
done

# ---------------------------------------------------------------- report
cat <<EOF
## Replay on real servers and replay memory (bench/replay.sh)

- machine: $(nproc) CPU(s), $(awk -F': *' '/^model name/{print $2; exit}' /proc/cpuinfo), $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, kernel $(uname -r)
- date: $(date -u '+%Y-%m-%d %H:%M UTC'); reel $([ -n "$BIN_DIR" ] && echo "binaries from $BIN_DIR" || echo "$(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes')"); PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}')
- command: \`$CMDLINE\` ($SECONDS s)

pgbench, 8 clients, 2 threads, 150 transactions each, simple protocol ($PGBENCH_TPS tps through the proxy), recorded: $(awk -v m="${REC_MS:-0}" 'BEGIN{printf "%.2f", m / 1000}') s, $REC_CONNS connections, $(awk -v b="${REC_C2S:-0}" 'BEGIN{printf "%.0f", b / 1024}') KiB client to server. Each replay (paced, --server-timeout $SERVER_TIMEOUT) goes into a fresh \`pgbench -i -s 1\` database; "as source" compares the sum of account balances, every teller balance, the sum of branch balances and the history rows.

| replay | duration | of the recording's | relaxations | server timeouts | database as source | outcome |
|---|---:|---:|---:|---:|---|---|
$(printf '%s\n' "${ROWS[@]}")

Peak RSS of the agent (VmHWM of a fresh agent) during a \`fast\` replay of a synthetic recording (examples/gen_recording.rs) against a loopback echo server:

| recording | connections | replay | client bytes sent | RSS before | peak RSS |
|---|---:|---:|---:|---:|---:|
$(printf '%s\n' "${MEM_ROWS[@]}")
EOF
exit 0
