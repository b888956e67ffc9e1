#!/usr/bin/env bash
# The zero-copy relay against the copying one, measured by hand (issue 17,
# item 5):
#
#   bench/splice.sh [--reps N] [--secs S] [--port-base N] [--no-build]
#                   [--bin-dir DIR] [--no-haproxy]
#
# Rows: DIRECT (no proxy), reel (splice, the default), reel-copy (the same
# agent build with --no-splice), haproxy (mode tcp) and haproxy-splice (the
# same with `option splice-request` and `option splice-response`: haproxy's
# own splice(2) relay, the yardstick for what splicing reaches here);
# --no-haproxy leaves both out. Figures, as bench/run.sh's a) and b):
#   a) bulk throughput with 1 and 8 connections (iperf3, S s each after 1 s
#      omitted; default 4), as medians and as the median (and range) of
#      each repetition's ratio to the DIRECT run of the same repetition,
#      and the proxy's CPU during the 1-connection run (% of one core, and
#      ms per GB moved)
#   b) 64-byte ping-pong round trip p50/p99 (netbench pingpong, 2 s), all
#      pinned to CPU 0 and unpinned, and what the proxy adds to DIRECT's p50
# Medians of N repetitions (default 3), the order of the rows rotated each
# time. Prints a Markdown section on stdout (progress on stderr) for
# docs/PERFORMANCE.md; nothing is written into the docs. Everything runs on
# 127.0.0.1; each process started here leads its own session and is stopped
# by PID on exit. Installs haproxy and iperf3 with apt when missing (as
# root). Never run from the test suite. --bin-dir takes reel-agent and
# reelctl from DIR.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CMDLINE="bench/splice.sh$(printf " %q" "$@")"
cd "$ROOT" || exit 2
HOST=127.0.0.1
REPS=3
T_BULK=4
T_LAT=2
MSG=64
PAR=8
PIN_CPU=0
PORT_BASE=24500
BUILD=1
BIN_DIR=""
HAPROXY=1
usage() { sed -n '2,26p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case $1 in
        --reps) REPS=${2:?}; shift 2 ;;
        --secs) T_BULK=${2:?}; shift 2 ;;
        --port-base) PORT_BASE=${2:?}; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --bin-dir) BIN_DIR=${2:?}; shift 2 ;;
        --no-haproxy) HAPROXY=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bench/splice.sh: unknown option: $1" >&2; usage >&2; exit 2 ;;
    esac
done
WORK=$(mktemp -d /tmp/reel-bench-splice.XXXXXX)
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_apt iperf3 python3 iproute2=ss util-linux=taskset
[ "$HAPROXY" = 1 ] && need_apt haproxy
if [ "$BUILD" = 1 ]; then
    log "building release binaries and examples"
    timeout 1800 cargo build --release --quiet --bins --examples || die "cargo build --release failed"
fi
BIN=${BIN_DIR:-$ROOT/target/release}
NB=$ROOT/target/release/examples/netbench
for f in "$BIN/reel-agent" "$BIN/reelctl" "$NB"; do
    [ -x "$f" ] || die "$f is missing (run without --no-build)"
done
ports_free "$PORT_BASE" 21
RES=$WORK/results.tsv
: >"$RES"
rec() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RES"; }   # rec ROW METRIC VALUE
load() { cut -d' ' -f1 /proc/loadavg; }

# ---------------------------------------------------------------- processes
P_IPERF=$(port 0) P_ECHO=$(port 1) P_ECHO_PIN=$(port 2)
spawn "$WORK/iperf.log" iperf3 -s -B "$HOST" -p "$P_IPERF"
wait_port "$P_IPERF" "$REPLY" || die "iperf3 server did not start"
spawn "$WORK/echo.log" "$NB" echo "$P_ECHO"
wait_port "$P_ECHO" "$REPLY" || die "echo server did not start"
spawn "$WORK/echo-pin.log" taskset -c "$PIN_CPU" "$NB" echo "$P_ECHO_PIN"
wait_port "$P_ECHO_PIN" "$REPLY" || die "pinned echo server did not start"

declare -A BULK ECHO PIN PID
BULK[DIRECT]=$P_IPERF ECHO[DIRECT]=$P_ECHO PIN[DIRECT]=$P_ECHO_PIN
ctl() { local p=$1; shift; timeout 60 "$BIN/reelctl" -q --timeout 30s -a "$HOST:$p" "$@"; }
start_reel() {    # start_reel ROW FIRST_PORT [AGENT_ARG...]: a free agent and a pinned one
    local c=$2 pin_c=$(($2 + 1)) pid
    spawn "$WORK/$1.log" "$BIN/reel-agent" --listen "$HOST:$c" --data-dir "$WORK/$1" "${@:3}"
    pid=$REPLY
    wait_port "$c" "$pid" || die "reel-agent $1 did not start"
    spawn "$WORK/$1-pin.log" taskset -c "$PIN_CPU" "$BIN/reel-agent" --listen "$HOST:$pin_c" --data-dir "$WORK/$1-pin" "${@:3}"
    wait_port "$pin_c" "$REPLY" || die "pinned reel-agent $1 did not start"
    ctl "$c" proxy start --listen "$HOST:$(($2 + 2))" --upstream "$HOST:$P_IPERF" >/dev/null || die "$1: proxy start failed"
    ctl "$c" proxy start --listen "$HOST:$(($2 + 3))" --upstream "$HOST:$P_ECHO" >/dev/null || die "$1: proxy start failed"
    ctl "$pin_c" proxy start --listen "$HOST:$(($2 + 4))" --upstream "$HOST:$P_ECHO_PIN" >/dev/null || die "$1: proxy start failed"
    BULK[$1]=$(($2 + 2)) ECHO[$1]=$(($2 + 3)) PIN[$1]=$(($2 + 4)) PID[$1]=$pid
}
start_reel reel "$(port 5)"
start_reel reel-copy "$(port 10)" --no-splice
ROWS=(DIRECT reel reel-copy)
if [ "$HAPROXY" = 1 ]; then
    start_haproxy haproxy "$(port 15):$P_IPERF $(port 16):$P_ECHO"
    PID[haproxy]=$REPLY
    start_haproxy haproxy-pin "$(port 17):$P_ECHO_PIN" taskset -c "$PIN_CPU"
    BULK[haproxy]=$(port 15) ECHO[haproxy]=$(port 16) PIN[haproxy]=$(port 17)
    HAPROXY_OPTIONS="splice-request splice-response" start_haproxy haproxy-splice "$(port 18):$P_IPERF $(port 19):$P_ECHO"
    PID[haproxy-splice]=$REPLY
    HAPROXY_OPTIONS="splice-request splice-response" start_haproxy haproxy-splice-pin "$(port 20):$P_ECHO_PIN" taskset -c "$PIN_CPU"
    BULK[haproxy-splice]=$(port 18) ECHO[haproxy-splice]=$(port 19) PIN[haproxy-splice]=$(port 20)
    ROWS+=(haproxy haproxy-splice)
fi

# ---------------------------------------------------------------- runs
LOAD0=$(load)
T0=$SECONDS
for ((r = 0; r < REPS; r++)); do
    for ((k = 0; k < ${#ROWS[@]}; k++)); do
        row=${ROWS[$(((k + r) % ${#ROWS[@]}))]}
        pid=${PID[$row]:-}
        c0=$([ -n "$pid" ] && cpu_ticks "$pid" || echo 0)
        w0=$(date +%s.%N)
        v1=$(bulk "${BULK[$row]}" 1 "$T_BULK")
        w1=$(date +%s.%N)
        rec "$row" bulk1 "$v1"
        if [ -n "$pid" ]; then
            c=$(($(cpu_ticks "$pid") - c0))
            rec "$row" cpu1 "$(awk -v c="$c" -v hz="$CLK_TCK" -v a="$w0" -v b="$w1" 'BEGIN{printf "%.0f", 100 * c / hz / (b - a)}')"
            # CPU the proxy spent per GB it moved (iperf3's rate over the
            # whole run: an estimate, but one the host's load hardly moves).
            rec "$row" cpugb "$(awk -v c="$c" -v hz="$CLK_TCK" -v a="$w0" -v b="$w1" -v g="$v1" 'BEGIN{if (g + 0 > 0) printf "%.0f", 1000 * c / hz / (g / 8 * (b - a))}')"
        fi
        v8=$(bulk "${BULK[$row]}" "$PAR" "$T_BULK")
        rec "$row" bulk8 "$v8"
        read -r p50 p99 < <(pingpong "${PIN[$row]}" taskset -c "$PIN_CPU")
        rec "$row" p50 "$p50"; rec "$row" p99 "$p99"
        read -r f50 f99 < <(pingpong "${ECHO[$row]}")
        rec "$row" fp50 "$f50"; rec "$row" fp99 "$f99"
        log "rep $r $row: bulk $v1 / $v8 Gbit/s, RTT pinned $p50/$p99 µs, free $f50/$f99 µs"
    done
done
LOAD1=$(load)

# ---------------------------------------------------------------- report
echo "- machine: $(nproc) CPU(s), $(awk -F': *' '/^model name/{print $2; exit}' /proc/cpuinfo), kernel $(uname -r)"
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); reel $([ -n "$BIN_DIR" ] && echo "binaries from $BIN_DIR" || echo "$(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes')")"
echo "- command: \`$CMDLINE\` ($((SECONDS - T0)) s); load average $LOAD0 at the start, $LOAD1 at the end"
echo
python3 - "$RES" "${ROWS[@]}" <<'PY'
import statistics, sys
path, rows = sys.argv[1], sys.argv[2:]
vals = {}
for line in open(path):
    row, metric, value = line.rstrip("\n").split("\t")
    try:
        vals.setdefault((row, metric), []).append(float(value))
    except ValueError:
        pass
med = lambda r, m: statistics.median(vals[(r, m)]) if (r, m) in vals else None
fmt = lambda v, d=2: "—" if v is None else f"{v:.{d}f}"
def ratio(r, m):
    a, b = med(r, m), med("DIRECT", m)
    return "—" if a is None or not b else f"{a / b:.2f}×"
print("| figure | " + " | ".join(rows) + " |")
print("|---|" + "---|" * len(rows))
print("| bulk, 1 connection, Gbit/s (× DIRECT) | " + " | ".join(f"{fmt(med(r, 'bulk1'))} ({ratio(r, 'bulk1')})" for r in rows) + " |")
print("| bulk, 8 connections, Gbit/s (× DIRECT) | " + " | ".join(f"{fmt(med(r, 'bulk8'))} ({ratio(r, 'bulk8')})" for r in rows) + " |")
def paired(r, m):
    # Each repetition's figure over the DIRECT figure of the same
    # repetition (measured minutes apart at most): the host's slow drifts
    # cancel out of these, where they do not out of the medians' ratio.
    pairs = [a / b for a, b in zip(vals.get((r, m), []), vals.get(("DIRECT", m), [])) if b]
    if not pairs:
        return "—"
    return f"{statistics.median(pairs):.2f}× ({min(pairs):.2f}–{max(pairs):.2f})"
print("| bulk, 1 connection, × DIRECT of the same repetition: median (range) | " + " | ".join(paired(r, "bulk1") for r in rows) + " |")
print("| bulk, 8 connections, × DIRECT of the same repetition: median (range) | " + " | ".join(paired(r, "bulk8") for r in rows) + " |")
print("| proxy CPU during 1-connection bulk, % of a core | " + " | ".join(fmt(med(r, "cpu1"), 0) for r in rows) + " |")
print("| proxy CPU per GB moved, 1 connection, ms | " + " | ".join(fmt(med(r, "cpugb"), 0) for r in rows) + " |")
for m, label in (("p50", "RTT p50 µs, 1 CPU"), ("p99", "RTT p99 µs, 1 CPU"), ("fp50", "RTT p50 µs, free"), ("fp99", "RTT p99 µs, free")):
    print(f"| {label} | " + " | ".join(fmt(med(r, m), 1) for r in rows) + " |")
for m, label in (("p50", "added RTT p50 µs, 1 CPU"), ("fp50", "added RTT p50 µs, free")):
    d = med("DIRECT", m)
    print(f"| {label} | " + " | ".join("—" if r == "DIRECT" or d is None or med(r, m) is None else fmt(med(r, m) - d, 1) for r in rows) + " |")
runs = len(vals.get(("DIRECT", "bulk1"), []))
print(f"\nMedians of {runs} repetition(s). Every run (Gbit/s, 1 / 8 connections):\n")
for r in rows:
    print(f"- {r}: " + ", ".join(f"{a:.2f} / {b:.2f}" for a, b in zip(vals.get((r, "bulk1"), []), vals.get((r, "bulk8"), []))))
PY
