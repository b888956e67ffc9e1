#!/usr/bin/env bash
# Watch subscribers against the data path, measured by hand (issue 13,
# finding 6):
#
#   bench/watch.sh [--secs S] [--counts "N..."] [--port-base N] [--no-build] [--bin-dir DIR]
#
# One reel-agent (--max-watchers above the largest count, when the binary
# has the flag), one proxy in front of `netbench echo`. For each count of
# subscribers (default "0 200 2000"): `netbench watchers` opens that many
# Watch streams of TRANSFER events (100 per HTTP/2 connection, default
# windows) and never reads them; then `netbench pingpong` runs 64-byte round
# trips through the proxy for S seconds (default 5; the first 0.3 s are
# warm-up), twice: in the first run the streams' HTTP/2 windows still take
# events, by the second they are full. Reports round trips per second, p99,
# the CPU (user + system, % of one core) of the agent and of the watchers'
# client over each run, the agent's RSS after, and how many streams the
# agent accepted. Prints a Markdown section on stdout (progress on
# stderr) for docs/PERFORMANCE.md; nothing is written into the docs.
# About 1.5 minutes per binary. Everything runs on 127.0.0.1; each process
# started here leads its own session and is stopped by PID on exit. Never
# run from the test suite (tests/watch_fanout.rs holds the assertions).
# --bin-dir takes reel-agent and reelctl from DIR (e.g. an older build).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CMDLINE="bench/watch.sh$(printf " %q" "$@")"
cd "$ROOT" || exit 2
HOST=127.0.0.1
SECS=5
COUNTS="0 200 2000"
PORT_BASE=24300
BUILD=1
BIN_DIR=""
usage() { sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case $1 in
        --secs) SECS=${2:?}; shift 2 ;;
        --counts) COUNTS=${2:?}; shift 2 ;;
        --port-base) PORT_BASE=${2:?}; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --bin-dir) BIN_DIR=${2:?}; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bench/watch.sh: unknown option: $1" >&2; usage >&2; exit 2 ;;
    esac
done
WORK=$(mktemp -d /tmp/reel-bench-watch.XXXXXX)
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ "$BUILD" = 1 ]; then
    log "building release binaries and netbench"
    timeout 1800 cargo build --release --quiet --bins --example netbench || die "cargo build --release failed"
fi
BIN=${BIN_DIR:-$ROOT/target/release}
NB=$ROOT/target/release/examples/netbench
for f in "$BIN/reel-agent" "$BIN/reelctl" "$NB"; do
    [ -x "$f" ] || die "$f is missing (run without --no-build)"
done

wait_line() {     # wait_line FILE PATTERN PID SECS: until FILE has PATTERN
    local i
    for i in $(seq $(($4 * 10))); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        alive "$3" || return 1
        sleep 0.1
    done
    return 1
}
rss_mib() { awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }

ulimit -n "$(ulimit -Hn)" 2>/dev/null
P_ECHO=$PORT_BASE P_CTL=$((PORT_BASE + 1)) P_PROXY=$((PORT_BASE + 2))
MAX=0
for n in $COUNTS; do [ "$n" -gt "$MAX" ] && MAX=$n; done
EXTRA=()
"$BIN/reel-agent" --help | grep -q -- --max-watchers && EXTRA=(--max-watchers $((MAX + 100)))

spawn "$WORK/echo.log" "$NB" echo "$P_ECHO"
spawn "$WORK/agent.log" "$BIN/reel-agent" --listen "$HOST:$P_CTL" --data-dir "$WORK/data" "${EXTRA[@]}"
AGENT=$REPLY
wait_line "$WORK/agent.log" "listening on" "$AGENT" 20 || { cat "$WORK/agent.log" >&2; die "reel-agent did not start"; }
timeout 30 "$BIN/reelctl" -q -a "$HOST:$P_CTL" proxy start --listen "$HOST:$P_PROXY" \
    --upstream "$HOST:$P_ECHO" >/dev/null || die "proxy start failed"
HZ=$(getconf CLK_TCK)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
ROWS=()
for n in $COUNTS; do
    W=""
    ok=$n
    if [ "$n" -gt 0 ]; then
        spawn "$WORK/watchers-$n.log" "$NB" watchers "$HOST:$P_CTL" "$n" 600
        W=$REPLY
        wait_line "$WORK/watchers-$n.log" READY "$W" 120 || { cat "$WORK/watchers-$n.log" >&2; die "watchers $n did not open"; }
        ok=$(sed -n 's/.*READY ok=\([0-9]*\).*/\1/p' "$WORK/watchers-$n.log")
    fi
    cells=""
    for phase in 1 2; do
        t0=$(cpu_ticks "$AGENT")
        w0=0; [ -n "$W" ] && w0=$(cpu_ticks "$W")
        out=$(timeout $((SECS + 30)) "$NB" pingpong "$HOST:$P_PROXY" "$SECS" 64) || die "pingpong with $n watchers failed"
        t1=$(cpu_ticks "$AGENT")
        w1=0; [ -n "$W" ] && w1=$(cpu_ticks "$W")
        rt=$(sed -n 's/.*n=\([0-9]*\).*/\1/p' <<<"$out")
        p99=$(sed -n 's/.*p99=\([0-9.]*\).*/\1/p' <<<"$out")
        rate=$((rt / SECS))
        pct() { awk -v d="$1" -v hz="$HZ" -v s="$SECS" 'BEGIN {printf "%.0f", 100 * d / hz / (s + 0.3)}'; }
        cpu=$(pct $((t1 - t0)))
        wcpu=$(pct $((w1 - w0)))
        rss=$(rss_mib "$AGENT")
        log "$n watchers ($ok open), run $phase: $rate round trips/s, p99 $p99 µs, agent CPU $cpu %, watchers client CPU $wcpu %, RSS $rss MiB"
        cells="$cells $rate | $p99 | $cpu | $wcpu |"
    done
    ROWS+=("| $n | $ok |$cells $rss |")
    [ -n "$W" ] && stop_pids "$W"
    sleep 1
done
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

cat <<EOF2
## Watch subscribers and the data path (bench/watch.sh)

\`$CMDLINE\` on $(nproc) CPUs ($(uname -r)), $(date -u '+%Y-%m-%d %H:%M UTC'),
agent $("$BIN/reel-agent" --version 2>/dev/null | head -1) from \`$BIN\`; load average $LOAD0 before, $LOAD1 after.
64-byte round trips through one proxy for $SECS s, twice in a row, while N Watch streams of transfer events are held
unread (\`netbench watchers\`, whose own CPU is the *client* column): in the 1st run the streams' HTTP/2 windows
still take events, by the 2nd they are full and the agent holds or drops what the streams do not read.

| watchers | accepted | 1st run: round trips/s | p99 µs | agent CPU % | client CPU % | 2nd run: round trips/s | p99 µs | agent CPU % | client CPU % | agent RSS MiB after |
|---|---|---|---|---|---|---|---|---|---|---|
$(printf '%s\n' "${ROWS[@]}")
EOF2
