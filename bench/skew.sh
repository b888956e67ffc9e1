#!/usr/bin/env bash
# Coordinated-start skew on one host, measured by hand:
#
#   bench/skew.sh [--runs N] [--agents N] [--bin-dir DIR] [--no-build]
#
# Starts N agents (default 3) on 127.0.0.1, a Python echo server and a proxy
# on each agent, then runs `reelctl --json record start --at T` --runs times
# (default 10), T one second ahead (an absolute instant, so each agent's
# lateness is known), and, after a short recording per agent, `reelctl
# --json replay --group LABEL --fast --at T` as many times. For each try it
# prints how busy the host's CPUs were during the try (every process), the
# skew reelctl reported (its agents' start instants on the local clock,
# corrected by the measured offsets), the true skew (the agents share this
# host's clock: the spread of their own start instants, uncorrected), each
# agent's lateness (start minus --at) and the measured offsets, which on one
# host are the offset estimate's error; then, per kind, the median, 90th
# percentile and maximum of both skews and how many tries stayed under 1 ms,
# over all tries and over those with the host under 50 % busy.
# Every process started here leads its own session and is stopped by PID on
# exit. Never run from the test suite; docs/PERFORMANCE.md has its figures.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 2
RUNS=10
AGENTS=3
BIN_DIR=""
BUILD=1
usage() { sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case $1 in
        --runs) RUNS=${2:?}; shift 2 ;;
        --agents) AGENTS=${2:?}; shift 2 ;;
        --bin-dir) BIN_DIR=${2:?}; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bench/skew.sh: unknown option: $1" >&2; usage >&2; exit 2 ;;
    esac
done
if [ -z "$BIN_DIR" ]; then
    if [ "$BUILD" -eq 1 ]; then
        cargo build --release --bins -q || exit 1
    fi
    BIN_DIR=$ROOT/target/release
fi
AGENT=$BIN_DIR/reel-agent
CTL=$BIN_DIR/reelctl
PY=${PYTHON:-python3}

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/reel-skew.XXXXXX")
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    sleep 0.5
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    rm -rf "$SCRATCH"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME CMD...: runs CMD in its own session, output in SCRATCH/NAME.out.
start() {
    setsid "${@:2}" >"$SCRATCH/$1.out" 2>"$SCRATCH/$1.err" </dev/null &
    PIDS+=($!)
}
# ready NAME PREFIX: waits (10 s at most) for a stdout line PREFIX ADDR.
ready() {
    local i line
    for i in $(seq 100); do
        line=$(grep -m1 "^$2" "$SCRATCH/$1.out" 2>/dev/null) && { echo "${line#"$2"}"; return 0; }
        sleep 0.1
    done
    echo "bench/skew.sh: $1 did not start:" >&2
    cat "$SCRATCH/$1.err" >&2
    exit 1
}

start echo "$PY" -u -c '
import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(64)
print("echo listening on 127.0.0.1:%d" % s.getsockname()[1], flush=True)
def serve(c):
    with c:
        while True:
            b = c.recv(65536)
            if not b: return
            c.sendall(b)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
'
ECHO=$(ready echo "echo listening on ")
ADDRS=()
for i in $(seq "$AGENTS"); do
    mkdir -p "$SCRATCH/data$i"
    start "agent$i" "$AGENT" --listen 127.0.0.1:0 --name "skew$i" --data-dir "$SCRATCH/data$i"
    ADDRS+=("$(ready "agent$i" "reel-agent listening on ")")
done
ALL=$(IFS=,; echo "${ADDRS[*]}")
ctl() { "$CTL" --agent "$ALL" --json "$@"; }
ctl proxy start --listen 127.0.0.1:0 --upstream "$ECHO" >"$SCRATCH/proxies.json" || exit 1

# cpu_busy: "busy total" jiffies of all CPUs so far, from /proc/stat.
cpu_busy() { awk '/^cpu /{t=0; for(i=2;i<=NF;i++) t+=$i; print t-$5-$6, t}' /proc/stat; }
# busy_since "BUSY TOTAL": % of the CPUs busy since then (every process).
busy_since() { cpu_busy | awk -v b="${1% *}" -v t="${1#* }" '{ printf "%d", ($2>t) ? 100*($1-b)/($2-t) : 0 }'; }

# at_in_1s: the instant one second from now, RFC 3339 with nanoseconds.
at_in_1s() {
    "$PY" -c 'import time; t = time.time_ns() + 10**9; print(time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t // 10**9)) + ".%09dZ" % (t % 10**9))'
}

# One try's JSON on stdin, its --at as $1: "reported true lateness...
# offsets..." (µs).
summarise() {
    "$PY" -c '
import json, sys
doc = json.load(sys.stdin)
rows = [r["data"] for r in doc["results"] if r.get("ok")]
if len(rows) != len(doc["results"]):
    sys.exit("an agent failed: %s" % doc)
def ns(text):
    # RFC 3339 with nanoseconds, UTC: 2024-05-01T12:03:04.000412000Z
    import calendar, time
    whole, frac = text.rstrip("Z").split(".")
    return calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) * 10**9 + int(frac.ljust(9, "0"))
raw = [ns(r["started_at_local"]) + r["clock_offset_us"] * 1000 for r in rows]
late = [round((ns(r["started_at_local"]) - ns(sys.argv[1])) / 1000) for r in rows]
print(doc["skew_us"], round((max(raw) - min(raw)) / 1000), " ".join(map(str, late)), "|", " ".join(str(r["clock_offset_us"]) for r in rows))
' "$1"
}

echo "agents: $AGENTS on 127.0.0.1, binaries: $BIN_DIR, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "kind try host_busy_% reported_skew_us true_skew_us lateness_us... | offsets_us..."
for i in $(seq "$RUNS"); do
    at=$(at_in_1s)
    busy=$(cpu_busy)
    out=$(ctl record start --label "skew$i" --at "$at") || { echo "$out" >&2; exit 1; }
    echo "record $i $(busy_since "$busy") $(summarise "$at" <<<"$out")" | tee -a "$SCRATCH/tries"
    ctl record stop --all >/dev/null || exit 1
done

# A short recording on each agent, replayed by label.
ctl record start --label replayme >/dev/null || exit 1
"$PY" - "$SCRATCH/proxies.json" <<'EOF' || exit 1
import json, socket, sys
for r in json.load(open(sys.argv[1]))["results"]:
    host, port = r["data"]["listen"].rsplit(":", 1)
    with socket.create_connection((host, int(port))) as c:
        c.sendall(b"hello\n")
        got = b""
        while len(got) < 6:
            got += c.recv(64)
EOF
sleep 0.5
ctl record stop --all >/dev/null || exit 1
for i in $(seq "$RUNS"); do
    at=$(at_in_1s)
    busy=$(cpu_busy)
    out=$(ctl replay --group replayme --target "$ECHO" --fast --at "$at") || { echo "$out" >&2; exit 1; }
    echo "replay $i $(busy_since "$busy") $(summarise "$at" <<<"$out")" | tee -a "$SCRATCH/tries"
done
"$PY" - "$SCRATCH/tries" <<'EOF'
import sys
tries = [l.split() for l in open(sys.argv[1])]
def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))]
print("kind tries median/p90/max_reported_us median/p90/max_true_us under_1ms")
for kind in ("record", "replay"):
    for label, keep in (("all", lambda t: True), ("busy<50%", lambda t: int(t[2]) < 50)):
        rows = [t for t in tries if t[0] == kind and keep(t)]
        if not rows:
            continue
        rep = [int(t[3]) for t in rows]
        true = [int(t[4]) for t in rows]
        print("%s %s %d %d/%d/%d %d/%d/%d %d/%d" % (kind, label, len(rows),
              pct(rep, .5), pct(rep, .9), max(rep), pct(true, .5), pct(true, .9), max(true),
              sum(1 for x in true if x < 1000), len(rows)))
EOF
