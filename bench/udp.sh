#!/usr/bin/env bash
# UDP through reel against direct and socat, measured by hand (issue 16):
#
#   bench/udp.sh [--secs S] [--reps N] [--sockets N] [--size BYTES]
#                [--port-base N] [--no-rec] [--no-build] [--bin-dir DIR]
#
# Rows: DIRECT (no proxy), socat (`UDP4-LISTEN:P,fork UDP4:...`, a child
# per client address), reel (a UDP proxy), reel+rec (the same proxy while
# `reelctl record start` records it; --no-rec leaves it out). Figures:
#   a) one-way datagrams/s: `netbench udpflood` sends SIZE-byte datagrams
#      (default 64) as fast as one thread can, round-robin over N client
#      sockets (default 4: 4 sessions), for S s (default 5) into
#      `netbench udpsink`, which counts what arrives; the delivered rate is
#      the figure (first to last datagram), with the share of what was sent
#   b) round trip: `netbench udprtt`, one socket, one SIZE-byte datagram at
#      a time through `netbench udpecho`, p50/p99 over S s, and what the
#      proxy adds to DIRECT's p50
#   c) replay lateness (not with --no-rec): `netbench udptraffic` runs 1,000
#      sessions x 20 datagrams/s x 4 s through the recorded echo proxy, then
#      `reelctl replay ID --mode timed` sends them again to the echo server;
#      lateness p50/p99/max per datagram (actual - scheduled send) from the
#      report, with the sessions opened and the datagrams missing
# Medians of N repetitions (default 3). Prints a Markdown section on stdout
# (progress on stderr) for docs/PERFORMANCE.md; nothing is written into the
# docs. Everything runs on 127.0.0.1; each process started here leads its
# own session and is stopped by PID on exit. Installs socat with apt when
# missing (as root). Never run from the test suite. --bin-dir takes
# reel-agent and reelctl from DIR (e.g. an older build).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CMDLINE="bench/udp.sh$(printf " %q" "$@")"
cd "$ROOT" || exit 2
HOST=127.0.0.1
SECS=5
REPS=3
SOCKETS=4
SIZE=64
PORT_BASE=24400
REC=1
BUILD=1
BIN_DIR=""
usage() { sed -n '2,28p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case $1 in
        --secs) SECS=${2:?}; shift 2 ;;
        --reps) REPS=${2:?}; shift 2 ;;
        --sockets) SOCKETS=${2:?}; shift 2 ;;
        --size) SIZE=${2:?}; shift 2 ;;
        --port-base) PORT_BASE=${2:?}; shift 2 ;;
        --no-rec) REC=0; shift ;;
        --no-build) BUILD=0; shift ;;
        --bin-dir) BIN_DIR=${2:?}; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bench/udp.sh: unknown option: $1" >&2; usage >&2; exit 2 ;;
    esac
done
WORK=$(mktemp -d /tmp/reel-bench-udp.XXXXXX)
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_apt socat iproute2=ss python3
# 1,000 replayed sessions and their generator need more descriptors.
ulimit -n "$(ulimit -Hn)" 2>/dev/null
GEN_SESSIONS=1000 GEN_RATE=20 GEN_SECS=4
if [ "$BUILD" = 1 ]; then
    log "building release binaries and netbench"
    timeout 1800 cargo build --release --quiet --bins --example netbench || die "cargo build --release failed"
fi
BIN=${BIN_DIR:-$ROOT/target/release}
NB=$ROOT/target/release/examples/netbench
for f in "$BIN/reel-agent" "$BIN/reelctl" "$NB"; do
    [ -x "$f" ] || die "$f is missing (run without --no-build)"
done

ctl() { timeout 60 "$BIN/reelctl" -q --timeout 30s -a "$HOST:$P_CTL" "$@"; }
median() { python3 -c 'import sys,statistics
v=[float(x) for x in sys.argv[1:] if x not in ("", "failed")]
print("%.0f" % statistics.median(v) if v else "failed")' "$@"; }

P_SINK=$PORT_BASE P_ECHO=$((PORT_BASE + 1)) P_CTL=$((PORT_BASE + 2))
P_REEL_SINK=$((PORT_BASE + 3)) P_REEL_ECHO=$((PORT_BASE + 4))
P_SOCAT_SINK=$((PORT_BASE + 5)) P_SOCAT_ECHO=$((PORT_BASE + 6))
ports_free "$PORT_BASE" 7 udp

spawn "$WORK/echo.log" "$NB" udpecho "$P_ECHO"
wait_port "$P_ECHO" "$REPLY" udp || die "udpecho did not start"
# -T: a forked child ends after 30 s without traffic.
spawn "$WORK/socat-sink.log" socat -T 30 "UDP4-LISTEN:$P_SOCAT_SINK,bind=$HOST,fork,reuseaddr" "UDP4:$HOST:$P_SINK"
wait_port "$P_SOCAT_SINK" "$REPLY" udp || die "socat (sink) did not start"
spawn "$WORK/socat-echo.log" socat -T 30 "UDP4-LISTEN:$P_SOCAT_ECHO,bind=$HOST,fork,reuseaddr" "UDP4:$HOST:$P_ECHO"
wait_port "$P_SOCAT_ECHO" "$REPLY" udp || die "socat (echo) did not start"
spawn "$WORK/agent.log" "$BIN/reel-agent" --listen "$HOST:$P_CTL" --data-dir "$WORK/data" --no-restore-proxies
AGENT=$REPLY
wait_port "$P_CTL" "$AGENT" || { cat "$WORK/agent.log" >&2; die "reel-agent did not start"; }
ctl proxy start --udp --name sink --listen "$HOST:$P_REEL_SINK" --upstream "$HOST:$P_SINK" >/dev/null ||
    die "reel: proxy start (sink) failed"
ctl proxy start --udp --name echo --listen "$HOST:$P_REEL_ECHO" --upstream "$HOST:$P_ECHO" >/dev/null ||
    die "reel: proxy start (echo) failed"

flood_once() {    # flood_once PORT -> "delivered_rate sent_rate"
    local sink out sent
    spawn "$WORK/sink.log" "$NB" udpsink "$P_SINK" $((SECS + 20))
    sink=$REPLY
    wait_port "$P_SINK" "$sink" udp || { echo "failed failed"; return; }
    out=$(timeout $((SECS + 15)) "$NB" udpflood "$HOST:$1" "$SOCKETS" "$SECS" "$SIZE" 2>&1)
    sent=$(sed -n 's/.*rate=\([0-9]*\).*/\1/p' <<<"$out")
    local i
    for i in $(seq 300); do alive "$sink" || break; sleep 0.1; done
    stop_pids "$sink"
    echo "$(sed -n 's/.*rate=\([0-9]*\).*/\1/p' "$WORK/sink.log" | grep . || echo failed) ${sent:-failed}"
}
rtt_once() {      # rtt_once PORT -> "p50 p99 lost"
    local out
    out=$(timeout $((SECS + 15)) "$NB" udprtt "$HOST:$1" "$SECS" "$SIZE" 2>&1)
    sed -n 's/.*lost=\([0-9]*\) p50=\([0-9.]*\) p99=\([0-9.]*\).*/\2 \3 \1/p' <<<"$out" | grep . || echo "failed failed failed"
}

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
ROWS=()
DIRECT_P50=""
measure() {       # measure ROW SINK_PORT ECHO_PORT
    local r got sent p50 p99 lost dl=() sn=() a=() b=() l=()
    for r in $(seq "$REPS"); do
        read -r got sent < <(flood_once "$2")
        read -r p50 p99 lost < <(rtt_once "$3")
        log "$1, run $r: $got datagrams/s delivered of $sent/s sent; round trip p50 $p50 µs, p99 $p99 µs, $lost lost"
        dl+=("$got") sn+=("$sent") a+=("$p50") b+=("$p99") l+=("$lost")
    done
    local mdl msn ma mb share added
    mdl=$(median "${dl[@]}") msn=$(median "${sn[@]}")
    ma=$(python3 -c 'import sys,statistics; v=[float(x) for x in sys.argv[1:] if x!="failed"]; print("%.1f" % statistics.median(v) if v else "failed")' "${a[@]}")
    mb=$(python3 -c 'import sys,statistics; v=[float(x) for x in sys.argv[1:] if x!="failed"]; print("%.1f" % statistics.median(v) if v else "failed")' "${b[@]}")
    share=$(awk -v d="$mdl" -v s="$msn" 'BEGIN { if (s > 0 && d != "failed") printf "%.0f %%", 100 * d / s; else print "-" }')
    if [ "$1" = DIRECT ]; then
        DIRECT_P50=$ma added="-"
    else
        added=$(awk -v p="$ma" -v d="$DIRECT_P50" 'BEGIN { if (d == "" || d == "failed" || p == "failed") print "-"; else printf "%+.1f", p - d }')
    fi
    lost=$(printf '%s\n' "${l[@]}" | awk '$1 ~ /^[0-9]+$/ { s += $1 } END { print s + 0 }')
    ROWS+=("| $1 | $mdl | $msn | $share | $ma | $mb | $added | $lost |")
}

measure DIRECT "$P_SINK" "$P_ECHO"
measure socat "$P_SOCAT_SINK" "$P_SOCAT_ECHO"
measure reel "$P_REEL_SINK" "$P_REEL_ECHO"
if [ "$REC" = 1 ]; then
    ID=$(ctl record start --label udp-bench) || die "record start failed"
    measure reel+rec "$P_REEL_SINK" "$P_REEL_ECHO"
    ctl record stop "$ID" >/dev/null 2>&1
    SIZE_REC=$(du -sh "$WORK/data" 2>/dev/null | cut -f1)
    ctl record rm "$ID" >/dev/null 2>&1

    log "c) record $GEN_SESSIONS sessions x $GEN_RATE datagrams/s for ${GEN_SECS}s, then replay them timed"
    ID=$(ctl record start --label udp-replay --proxy echo) || die "record start failed"
    out=$(timeout $((GEN_SECS + 60)) "$NB" udptraffic "$HOST:$P_REEL_ECHO" "$GEN_SESSIONS" "$GEN_RATE" "$GEN_SECS" "$SIZE" 2>&1)
    log "  generator: $out"
    ctl record stop "$ID" >/dev/null || die "record stop failed"
    timeout $((GEN_SECS + 120)) "$BIN/reelctl" --json --timeout 30s -a "$HOST:$P_CTL" \
        replay "$ID" --mode timed --target "$HOST:$P_ECHO" >"$WORK/replay.json" 2>"$WORK/replay.err"
    read -r L50 L99 LMAX LN OPENED FAILED MISSING < <(python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))["results"][0]["data"]; l = d["lateness"]
print(l["p50_us"], l["p99_us"], l["max_us"], l["samples"], d["opened"], d["failed"], d["datagrams_missing"])' "$WORK/replay.json" 2>/dev/null ||
        echo "failed failed failed 0 0 0 -")
    log "  replay lateness p50 $L50 µs p99 $L99 µs max $LMAX µs ($LN datagrams, $OPENED sessions opened, $FAILED failed, $MISSING datagrams missing)"
    ctl record rm "$ID" >/dev/null 2>&1
fi
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

cat <<EOF2
## UDP datagrams through a proxy (bench/udp.sh)

\`$CMDLINE\` on $(nproc) CPUs ($(uname -r)), $(date -u '+%Y-%m-%d %H:%M UTC'),
agent $("$BIN/reel-agent" --version 2>/dev/null | head -1) from \`$BIN\`, $(socat -V 2>/dev/null | sed -n 's/^socat version \([^ ]*\).*/socat \1/p'); load average $LOAD0 before, $LOAD1 after.
a) one thread sends $SIZE-byte datagrams as fast as it can for $SECS s, round-robin over $SOCKETS client sockets
(so $SOCKETS sessions), into a counting sink: *delivered/s* is what reached the sink, first to last datagram.
b) one socket, one $SIZE-byte datagram at a time through an echo server, for $SECS s: round trip p50/p99 (µs)
and what the proxy adds to DIRECT's p50; *lost* is round trips not answered within 200 ms (all repetitions).
Medians of $REPS repetitions.${SIZE_REC:+ The recording of the reel+rec row took $SIZE_REC on disk.}

| row | delivered/s | sent/s | delivered | RTT p50 µs | RTT p99 µs | added p50 µs | lost |
|---|---|---|---|---|---|---|---|
$(printf '%s\n' "${ROWS[@]}")
EOF2
if [ "$REC" = 1 ]; then
    cat <<EOF3

c) replay of $GEN_SESSIONS recorded UDP sessions x $GEN_RATE datagrams/s x ${GEN_SECS} s, timed, into the echo server:

| lateness p50 µs | p99 µs | max µs | datagrams timed | sessions opened | failed | datagrams missing |
|---|---|---|---|---|---|---|
| $L50 | $L99 | $LMAX | $LN | $OPENED | $FAILED | $MISSING |
EOF3
fi
