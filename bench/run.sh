#!/usr/bin/env bash
# The performance benchmark of reel, against its peers, in one run:
#
#   bench/run.sh [--quick] [--reps N] [--conns N] [--port-base N] [--no-build]
#                [--disk-data] [--no-doc] [--keep-scratch] [--bin-dir DIR]
#                [--wait-idle SECONDS] [--no-splice]
#
# Rows: DIRECT (no proxy), haproxy (mode tcp), reel, and reel with a
# recording running. Figures (docs/PERFORMANCE.md explains each):
#   a) bulk throughput, 1 and 8 connections (iperf3)
#   b) 64-byte ping-pong round trip p50/p99, all pinned to CPU 0 and unpinned
#   c) connections per second (connect, 64 B echo, close)
#   d) memory per idle connection with --conns (5,000) held open
#   e) a)-d) again with a recording running (the "reel+rec" row)
#   f) replay: 1,000 recorded connections x 20 chunks/s, timed, lateness p50/p99
#   g) delay accuracy: 1,000 connections through --latency 50ms, p99 |applied - 50 ms|
#   h) analysis (reelctl stats) GB/s on a 1 GiB recording
# Prints the table, and writes it with the machine, the date and the command
# between the bench markers of docs/PERFORMANCE.md (the rest of that file is
# kept). --quick: 1 repetition, 1 s runs, 500 idle connections, 256 MiB for
# h): a smoke test, not figures.
#
# Everything runs on 127.0.0.1 and every step is bounded in time. Each process
# started here leads its own session and is stopped by PID (and its process
# group) on exit, Ctrl-C or TERM. Installs haproxy and iperf3 with apt when
# missing (as root). Run it on a quiet machine: it reports how much CPU other
# processes took meanwhile. Never run from the test suite. --bin-dir takes
# reel-agent and reelctl from DIR (e.g. an older build, for a before/after);
# --wait-idle waits up to SECONDS for other processes to leave the CPUs;
# --no-splice starts the agents with --no-splice (the copying relay; see
# bench/splice.sh for both relays side by side).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 2
CMDLINE="bench/run.sh$(printf ' %q' "$@")"
HOST=127.0.0.1

REPS=3            # repetitions of a)-c) (medians reported)
T_BULK=4          # measured seconds of a 1-connection iperf3 run (after 1 s omitted)
T_PAR=3           # measured seconds of an 8-connection run
PAR=8
T_LAT=2           # seconds of one ping-pong run
MSG=64
T_CONN=2          # seconds of one connection-rate run
CONN_WORKERS=4
PIN_CPU=0
IDLE_CONNS=5000
GEN_CONNS=1000    # f) and g)
GEN_RATE=20       # chunks per second per connection
GEN_SECS=4
DELAY_MS=50
ANALYSIS_MIB=1024
PORT_BASE=24100   # uses PORT_BASE .. PORT_BASE+49
BUILD=1
WRITE_DOC=1
KEEP=0
DISK_DATA=0       # recordings on tmpfs unless --disk-data
BIN_DIR=""        # reel-agent and reelctl from here instead of target/release
WARM_GIB=12       # memory touched once before the run (see below)
WAIT_IDLE=0       # seconds to wait for a quiet host before starting
AGENT_ARGS=()     # extra reel-agent arguments (--no-splice)

usage() { sed -n '2,31p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case $1 in
        --quick) REPS=1; T_BULK=1; T_PAR=1; T_LAT=1; T_CONN=1; IDLE_CONNS=500; GEN_SECS=2; ANALYSIS_MIB=256; WARM_GIB=4; shift ;;
        --reps) REPS=${2:?}; shift 2 ;;
        --conns) IDLE_CONNS=${2:?}; shift 2 ;;
        --port-base) PORT_BASE=${2:?}; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --no-doc) WRITE_DOC=0; shift ;;
        --disk-data) DISK_DATA=1; shift ;;
        --keep-scratch) KEEP=1; shift ;;
        --bin-dir) BIN_DIR=${2:?}; shift 2 ;;
        --wait-idle) WAIT_IDLE=${2:?}; shift 2 ;;
        --no-splice) AGENT_ARGS+=(--no-splice); shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bench/run.sh: unknown option: $1" >&2; usage >&2; exit 2 ;;
    esac
done

WORK=$(mktemp -d /tmp/reel-bench.XXXXXX)
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# ---------------------------------------------------------------- tools
need_apt haproxy iperf3 python3 iproute2=ss util-linux=taskset procps=ps
have cargo || die "cargo is missing"

if [ "$BUILD" = 1 ]; then
    log "building release binaries and examples"
    timeout 1800 cargo build --release --quiet --bins --examples || die "cargo build --release failed"
fi
BIN=${BIN_DIR:-$ROOT/target/release}
NB=$ROOT/target/release/examples/netbench
GEN=$ROOT/target/release/examples/gen_recording
for f in "$BIN/reel-agent" "$BIN/reelctl" "$NB" "$GEN"; do
    [ -x "$f" ] || die "$f is missing (run without --no-build)"
done

# ---------------------------------------------------------------- processes
DATA_ROOT=$WORK/data
if [ "$DISK_DATA" = 0 ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
    DATA_ROOT=$(mktemp -d /dev/shm/reel-bench.XXXXXX)
fi
RES=$WORK/results.tsv
: >"$RES"
cleanup_extra() { case $DATA_ROOT in /dev/shm/reel-bench.*) rm -rf "$DATA_ROOT" ;; esac; }


ulimit -n "$(ulimit -Hn)" 2>/dev/null
NOFILE=$(ulimit -n)
if [ "$NOFILE" != unlimited ] && [ $((2 * IDLE_CONNS + 200)) -gt "$NOFILE" ]; then
    IDLE_CONNS=$(((NOFILE - 200) / 2))
    log "open-files limit $NOFILE: idle connections lowered to $IDLE_CONNS"
fi
ports_free "$PORT_BASE" 50
P_IPERF=$(port 0) P_ECHO=$(port 1) P_ECHO_PIN=$(port 2)

rec() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RES"; }   # rec ROW METRIC REP VALUE
note() { rec "$1" note - "$2"; log "$1: $2"; }

# ---------------------------------------------------------------- proxies
# start_haproxy: bench/lib.sh
start_reel() {    # start_reel NAME CTL_PORT "LISTEN:UPSTREAM ..." [PREFIX...]; PID in REPLY
    local d=$WORK/$1 pair pid
    mkdir -p "$d"
    spawn "$d/log" "${@:4}" "$BIN/reel-agent" --listen "$HOST:$2" --data-dir "$DATA_ROOT/$1" "${AGENT_ARGS[@]}"
    pid=$REPLY
    wait_port "$2" "$pid" || { cat "$d/log" >&2; die "reel-agent $1 did not start"; }
    for pair in $3; do
        ctl "$2" proxy start --listen "$HOST:${pair%%:*}" --upstream "$HOST:${pair#*:}" >/dev/null ||
            die "reel $1: proxy start failed"
    done
    REPLY=$pid
}
ctl() { local p=$1; shift; timeout 60 "$BIN/reelctl" -q --timeout 30s -a "$HOST:$p" "$@"; }
rec_start() { ctl "$1" record start --label bench; }          # prints the id
rec_drop() {      # rec_drop CTL_PORT ID: stop and delete a recording
    ctl "$1" record stop "$2" >/dev/null 2>&1
    ctl "$1" record rm "$2" >/dev/null 2>&1
}
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# ---------------------------------------------------------------- measurements
# bulk and pingpong: bench/lib.sh (bench/splice.sh measures with them too)
connrate() {      # connrate PORT -> cycles/s
    local out
    out=$(timeout $((T_CONN + 15)) "$NB" connrate "$HOST:$1" "$T_CONN" "$CONN_WORKERS" "$MSG" 2>&1)
    sed -n 's/.*rate=\([0-9]*\).*/\1/p' <<<"$out" | grep . || echo failed
}
hold() {          # hold PORT N: starts a holder; "ok secs" in HOLD_RES, PID in HOLD_PID
    local f=$WORK/hold.$1.out i
    spawn "$f" "$NB" hold "$HOST:$1" "$2" 300
    HOLD_PID=$REPLY HOLD_RES=""
    for i in $(seq 900); do
        if grep -q READY "$f" 2>/dev/null; then
            HOLD_RES=$(sed -n 's/.*ok=\([0-9]*\) fail=[0-9]* secs=\([0-9.]*\).*/\1 \2/p' "$f")
            return 0
        fi
        alive "$HOLD_PID" || break
        sleep 0.1
    done
    return 1
}

# busy_pct, noise_start, noise_end, noise_line: bench/lib.sh
IDLE_PCT=$(busy_pct 1)
wait_end=$((SECONDS + WAIT_IDLE))
while [ "$IDLE_PCT" -gt 10 ] && [ "$SECONDS" -lt "$wait_end" ]; do
    log "host ${IDLE_PCT}% busy; waiting for it to be quiet"
    IDLE_PCT=$(busy_pct 5)
done
noise_start

# On this VM, memory never touched before costs the hypervisor a page fault
# per page: a recording written into it runs at a third of the speed of one
# written into memory used before. Touch (and free) WARM_GIB of tmpfs once,
# so e) measures reel rather than the host's first-touch cost.
if [ "$DATA_ROOT" != "$WORK/data" ] && [ "$WARM_GIB" -gt 0 ]; then
    log "warming ${WARM_GIB} GiB of memory (tmpfs write + delete)"
    timeout 180 dd if=/dev/zero of="$DATA_ROOT/warm" bs=1M count=$((WARM_GIB * 1024)) status=none 2>/dev/null
    rm -f "$DATA_ROOT/warm"
fi

# ---------------------------------------------------------------- upstreams
spawn "$WORK/iperf.log" iperf3 -s -B "$HOST" -p "$P_IPERF"
IPERF_PID=$REPLY
wait_port "$P_IPERF" "$IPERF_PID" || die "iperf3 server did not start"
spawn "$WORK/echo.log" "$NB" echo "$P_ECHO"
wait_port "$P_ECHO" "$REPLY" || die "echo server did not start"
spawn "$WORK/echo-pin.log" taskset -c "$PIN_CPU" "$NB" echo "$P_ECHO_PIN"
wait_port "$P_ECHO_PIN" "$REPLY" || die "pinned echo server did not start"

# a)-c) and e): long-lived proxies, one set free and one pinned to CPU 0 (latency)
declare -A BULK_PORT ECHO_PORT PIN_PORT PID_OF
BULK_PORT[DIRECT]=$P_IPERF ECHO_PORT[DIRECT]=$P_ECHO PIN_PORT[DIRECT]=$P_ECHO_PIN
start_haproxy haproxy "$(port 10):$P_IPERF $(port 11):$P_ECHO"
PID_OF[haproxy]=$REPLY
start_haproxy haproxy-pin "$(port 12):$P_ECHO_PIN" taskset -c "$PIN_CPU"
PIN_PIDS=("$REPLY")
BULK_PORT[haproxy]=$(port 10) ECHO_PORT[haproxy]=$(port 11) PIN_PORT[haproxy]=$(port 12)
C_REEL=$(port 20) C_REEL_PIN=$(port 21)
start_reel reel "$C_REEL" "$(port 22):$P_IPERF $(port 23):$P_ECHO"
PID_OF[reel]=$REPLY PID_OF[reel+rec]=$REPLY
start_reel reel-pin "$C_REEL_PIN" "$(port 24):$P_ECHO_PIN" taskset -c "$PIN_CPU"
PIN_PIDS+=("$REPLY")
BULK_PORT[reel]=$(port 22) ECHO_PORT[reel]=$(port 23) PIN_PORT[reel]=$(port 24)
BULK_PORT[reel+rec]=$(port 22) ECHO_PORT[reel+rec]=$(port 23) PIN_PORT[reel+rec]=$(port 24)
ROWS=(DIRECT haproxy reel reel+rec)

log "a)-c), e): $REPS repetition(s), order rotated: ${ROWS[*]}"
REC_IDS=()
rec_on() {        # rec_on ROW: for reel+rec, a fresh recording on both reel agents
    REC_IDS=()
    [ "$1" = reel+rec ] || return 0
    REC_IDS=("$(rec_start "$C_REEL")" "$(rec_start "$C_REEL_PIN")")
    [ -n "${REC_IDS[0]}" ] && [ -n "${REC_IDS[1]}" ] || note "$1" "record start failed"
}
rec_off() {       # stops and deletes what rec_on started, so tmpfs never holds more than one figure's recording
    [ ${#REC_IDS[@]} -gt 0 ] || return 0
    rec_drop "$C_REEL" "${REC_IDS[0]}"
    rec_drop "$C_REEL_PIN" "${REC_IDS[1]}"
    REC_IDS=()
}
write_rate() {    # GB/s of one writer putting 1 GiB into a new file where recordings go: e)'s ceiling
    local f=$DATA_ROOT/ceiling out
    out=$(timeout 60 dd if=/dev/zero of="$f" bs=256K count=4096 2>&1 | tail -1)
    rm -f "$f"
    awk -v s="$(echo "$out" | sed -n 's/.*copied, \([0-9.]*\) s.*/\1/p')" 'BEGIN{if (s > 0) printf "%.2f", 1.073741824 / s}'
}
for ((r = 0; r < REPS; r++)); do
    for ((k = 0; k < ${#ROWS[@]}; k++)); do
        name=${ROWS[$(((k + r) % ${#ROWS[@]}))]}
        pid=${PID_OF[$name]:-}
        [ "$name" = reel+rec ] && rec "$name" ceiling "$r" "$(write_rate)"
        rec_on "$name"
        c0=$([ -n "$pid" ] && cpu_ticks "$pid" || echo 0)
        w0=$(date +%s.%N)
        v=$(bulk "${BULK_PORT[$name]}" 1 "$T_BULK")
        w1=$(date +%s.%N)
        rec "$name" bulk1 "$r" "$v"
        if [ -n "$pid" ]; then
            c1=$(cpu_ticks "$pid")
            rec "$name" cpu1 "$r" "$(awk -v c=$((c1 - c0)) -v hz="$CLK_TCK" -v a="$w0" -v b="$w1" 'BEGIN{printf "%.0f", 100 * c / hz / (b - a)}')"
        fi
        rec_off; rec_on "$name"
        v8=$(bulk "${BULK_PORT[$name]}" "$PAR" "$T_PAR")
        rec "$name" bulk8 "$r" "$v8"
        rec_off; rec_on "$name"
        read -r p50 p99 < <(pingpong "${PIN_PORT[$name]}" taskset -c "$PIN_CPU")
        rec "$name" p50 "$r" "$p50"; rec "$name" p99 "$r" "$p99"
        read -r f50 f99 < <(pingpong "${ECHO_PORT[$name]}")
        rec "$name" fp50 "$r" "$f50"; rec "$name" fp99 "$r" "$f99"
        cr=$(connrate "${ECHO_PORT[$name]}")
        rec "$name" conn "$r" "$cr"
        rec_off
        log "  rep $r $name: bulk $v / $v8 Gbit/s, RTT pinned $p50/$p99 µs, free $f50/$f99 µs, $cr conn/s"
    done
done
stop_pids "${PID_OF[haproxy]}" "${PID_OF[reel]}" "${PIN_PIDS[@]}"

# d) and e): idle memory, each on a fresh instance
log "d), e): memory with $IDLE_CONNS idle connections"
idle() {          # idle ROW PID PORT: warm up, hold IDLE_CONNS, record KiB per connection
    local rss0 rss1 ok secs
    hold "$3" 20 && stop_pids "$HOLD_PID"
    sleep 1
    rss0=$(rss_kib "$2")
    if hold "$3" "$IDLE_CONNS"; then
        sleep 1
        read -r ok secs <<<"$HOLD_RES"
        rss1=$(rss_kib "$2")
        rec "$1" idle_ok 0 "$ok"
        rec "$1" rss0 0 "$rss0"
        rec "$1" rss1 0 "$rss1"
        rec "$1" idle "0" "$(awk -v a="$rss0" -v b="$rss1" -v n="$ok" 'BEGIN{printf "%.2f", (n > 0 ? (b - a) / n : 0)}')"
        log "  $1: $ok/$IDLE_CONNS held (${secs}s), RSS $rss0 -> $rss1 KiB"
        [ "$ok" -lt "$IDLE_CONNS" ] && note "$1" "only $ok of $IDLE_CONNS idle connections established"
    else
        note "$1" "idle-connection holder did not finish"
    fi
    stop_pids "$HOLD_PID"
}
start_haproxy haproxy-idle "$(port 30):$P_ECHO"
pid=$REPLY; idle haproxy "$pid" "$(port 30)"; stop_pids "$pid"
start_reel reel-idle "$(port 31)" "$(port 32):$P_ECHO"
pid=$REPLY; idle reel "$pid" "$(port 32)"; stop_pids "$pid"
start_reel reel-rec-idle "$(port 33)" "$(port 34):$P_ECHO"
pid=$REPLY
id=$(rec_start "$(port 33)")
idle reel+rec "$pid" "$(port 34)"
rec_drop "$(port 33)" "$id"
stop_pids "$pid"

# f) replay lateness and g) delay accuracy, on one fresh agent
log "f): record $GEN_CONNS connections x $GEN_RATE chunks/s for ${GEN_SECS}s, then replay them timed"
C_FG=$(port 40)
start_reel reel-fg "$C_FG" "$(port 41):$P_ECHO"
FG_PID=$REPLY
id=$(rec_start "$C_FG")
out=$(timeout $((GEN_SECS + 60)) "$NB" traffic "$HOST:$(port 41)" "$GEN_CONNS" "$GEN_RATE" "$GEN_SECS" 64 2>&1)
log "  generator: $out"
ctl "$C_FG" record stop "$id" >/dev/null || note replay "record stop failed"
if timeout $((GEN_SECS + 120)) "$BIN/reelctl" --json --timeout 30s -a "$HOST:$C_FG" replay "$id" --mode timed >"$WORK/replay.json" 2>"$WORK/replay.err" ||
    [ -s "$WORK/replay.json" ]; then
    read -r l50 l99 lmax n opened failed < <(python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))["results"][0]["data"]; l = d["lateness"]
print(l["p50_us"], l["p99_us"], l["max_us"], l["samples"], d["opened"], d["failed"])' "$WORK/replay.json" 2>/dev/null || echo "failed failed failed 0 0 0")
    rec replay lat50 0 "$l50"; rec replay lat99 0 "$l99"; rec replay latmax 0 "$lmax"
    rec replay samples 0 "$n"; rec replay opened 0 "$opened"; rec replay failed 0 "$failed"
    log "  replay lateness p50 $l50 µs p99 $l99 µs max $lmax µs ($n chunks, $opened connections opened, $failed failed)"
else
    note replay "replay failed: $(head -c 300 "$WORK/replay.err")"
fi
ctl "$C_FG" record rm "$id" >/dev/null 2>&1

log "g): $GEN_CONNS connections x $GEN_RATE chunks/s through --latency ${DELAY_MS}ms"
ctl "$C_FG" proxy start --name delay --listen "$HOST:$(port 42)" --upstream "$HOST:$P_ECHO" --latency "${DELAY_MS}ms" >/dev/null ||
    die "delay proxy did not start"
spawn "$WORK/watch.json" "$BIN/reelctl" --json -a "$HOST:$C_FG" watch --raw --proxy delay --duration "$((GEN_SECS + 4))s"
WATCH_PID=$REPLY
sleep 1
out=$(timeout $((GEN_SECS + 60)) "$NB" traffic "$HOST:$(port 42)" "$GEN_CONNS" "$GEN_RATE" "$GEN_SECS" 64 2>&1)
log "  generator: $out"
for i in $(seq 100); do alive "$WATCH_PID" || break; sleep 0.1; done
stop_pids "$WATCH_PID"
read -r e50 e99 emax n lagged < <(python3 -c 'import json,sys
want = int(sys.argv[2]) * 1000; errs = []; lagged = 0
for line in open(sys.argv[1]):
    try: e = json.loads(line)
    except ValueError: continue
    if e.get("kind") == "transfer": errs.append(abs(e["delay_us"] - want))
    elif e.get("kind") == "lagged": lagged += int(e.get("missed") or 0)
errs.sort()
r = lambda q: errs[max(0, min(len(errs), -(-int(q * len(errs) * 1000) // 1000)) - 1)] if errs else "failed"
print(r(0.5), r(0.99), errs[-1] if errs else "failed", len(errs), lagged)' "$WORK/watch.json" "$DELAY_MS")
rtt99=$(sed -n 's/.*rtt_p99=\([0-9]*\).*/\1/p' <<<"$out")
rtt50=$(sed -n 's/.*rtt_p50=\([0-9]*\).*/\1/p' <<<"$out")
rec delay err50 0 "$e50"; rec delay err99 0 "$e99"; rec delay errmax 0 "$emax"; rec delay samples 0 "$n"
rec delay lagged 0 "$lagged"; rec delay rtt50 0 "${rtt50:-failed}"; rec delay rtt99 0 "${rtt99:-failed}"
log "  |applied - ${DELAY_MS}ms| p50 $e50 µs p99 $e99 µs max $emax µs ($n transfers seen, $lagged missed); client RTT p50 $rtt50 p99 $rtt99 µs (2 x ${DELAY_MS} ms expected)"
stop_pids "$FG_PID"
stop_pids "${STARTED[@]}"

# h) analysis throughput
log "h): reelctl stats on a $ANALYSIS_MIB MiB recording"
mkdir -p target/bench
recf=target/bench/bench-${ANALYSIS_MIB}m.reel
if [ ! -s "$recf" ]; then
    timeout 600 "$GEN" "$recf" "$ANALYSIS_MIB" 200 600 >/dev/null || note analysis "generating $recf failed"
fi
if [ -s "$recf" ]; then
    cat "$recf" >/dev/null
    for ((r = 0; r < REPS; r++)); do
        t0=$(date +%s%N)
        if timeout 300 "$BIN/reelctl" --json stats "$recf" >/dev/null 2>"$WORK/stats.err"; then
            t1=$(date +%s%N)
            gbs=$(awk -v b="$(stat -c %s "$recf")" -v ns=$((t1 - t0)) 'BEGIN{printf "%.2f", b / ns}')
            rec analysis gbs "$r" "$gbs"
            log "  rep $r: $gbs GB/s"
        else
            note analysis "reelctl stats failed: $(head -c 200 "$WORK/stats.err")"
        fi
    done
    rec analysis mib 0 "$ANALYSIS_MIB"
fi

noise_end

# ---------------------------------------------------------------- report
{
    echo "- machine: $(nproc) CPU(s), $(awk -F': *' '/^model name/{print $2; exit}' /proc/cpuinfo), $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, kernel $(uname -r)"
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); reel $([ -n "$BIN_DIR" ] && echo "binaries from $BIN_DIR" || echo "$(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes')")"
    echo "- command: \`$CMDLINE\` ($((RUN_T1 - RUN_T0)) s)"
    echo "- tools: $(iperf3 --version 2>/dev/null | head -1 | cut -d' ' -f1-2), haproxy $(haproxy -v 2>/dev/null | head -1 | awk '{print $3}') (mode tcp, threads = CPUs), helpers: examples/netbench.rs"
    noise_line
    echo "- recordings written to $([ "$DATA_ROOT" = "$WORK/data" ] && echo "disk ($WORK)" || echo "tmpfs (/dev/shm; ${WARM_GIB} GiB of memory touched first), so e) measures reel, not this VM's disk or its first-touch page faults; --disk-data to use the disk"); e) starts a fresh recording for each figure and deletes it after"
    echo
    python3 "$ROOT/bench/report.py" "$RES" "$REPS" "$IDLE_CONNS" "$GEN_CONNS" "$GEN_RATE" "$DELAY_MS"
} >"$WORK/report.md"
cat "$WORK/report.md"
if [ "$WRITE_DOC" = 1 ]; then
    python3 "$ROOT/bench/report.py" --splice "$ROOT/docs/PERFORMANCE.md" "$WORK/report.md" && log "wrote docs/PERFORMANCE.md"
fi
exit 0
