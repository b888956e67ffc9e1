# Shared scaffolding of the bench scripts (sourced, not run): logging, tool
# installs, processes started in their own session and stopped by pid and
# process group, waits for ports, and the scratch directory's cleanup.
#
# The sourcing script sets WORK (its scratch directory) and may set KEEP=1
# (keep WORK), STOP_WAIT (seconds before KILL, default 3) and define
# cleanup_extra (run before WORK goes) before it sources this file.

log() { printf '[%s %3ds] %s\n' "$(date +%T)" "$SECONDS" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

need_apt() {      # need_apt PACKAGE[=COMMAND]...: installs what is missing (root)
    local missing=() spec
    for spec in "$@"; do have "${spec#*=}" || missing+=("${spec%%=*}"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" = 0 ] || die "missing ${missing[*]}: install them as root (apt-get install ${missing[*]})"
    log "installing ${missing[*]} with apt"
    timeout 300 apt-get update -q >/dev/null 2>&1
    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 ||
        die "apt-get install ${missing[*]} failed"
}

STARTED=()
# CPU accounting for a run's noise figure: what the host's CPUs spent
# running processes (user and system time; interrupt and softirq time are
# left out, since loopback traffic's own packet work lands there) against
# what this script, its waited-for children and every process it started
# with `spawn` spent (a spawned process's time is noted as it is stopped).
CLK_TCK=$(getconf CLK_TCK)
SPENT=${WORK:?WORK must be set before bench/lib.sh is sourced}/.spent_ticks
busy_ticks() { awk '/^cpu /{print $2 + $3 + $4}' /proc/stat; }
cpu_ticks() {     # cpu_ticks PID [children]: its user + system ticks (with "children", its waited-for children's too), 0 when gone
    awk -v c="${2:-}" '{s = substr($0, index($0, ")") + 2); split(s, f, " "); print f[12] + f[13] + (c == "" ? 0 : f[14] + f[15])}' "/proc/$1/stat" 2>/dev/null || echo 0
}
own_ticks() {
    local t p
    t=$(cpu_ticks $$ children)
    for p in "${STARTED[@]}"; do t=$((t + $(cpu_ticks "$p" children))); done
    [ -s "$SPENT" ] && t=$((t + $(awk '{s += $1} END {print s + 0}' "$SPENT")))
    echo "$t"
}
busy_pct() {      # busy_pct SECONDS: share of all CPUs busy over the next SECONDS
    local b0 b1
    b0=$(busy_ticks); sleep "$1"; b1=$(busy_ticks)
    awk -v d=$((b1 - b0)) -v hz="$CLK_TCK" -v n="$(nproc)" -v t="$1" 'BEGIN{printf "%.0f", 100 * d / hz / n / t}'
}
noise_start() {   # from here the run counts: RUN_T0, and the CPU ticks the host and this script had spent (warns when IDLE_PCT, busy before the start, passed 10 %)
    [ "${IDLE_PCT:-0}" -gt 10 ] && log "WARNING: host already ${IDLE_PCT}% busy before start; figures will be noisy"
    RUN_T0=$SECONDS BUSY0=$(busy_ticks) OWN0=$(own_ticks)
}
noise_end() {     # the run ends: RUN_T1, and FOREIGN_PCT, the share of all CPUs other processes took (warned past 10 %)
    RUN_T1=$SECONDS
    FOREIGN_PCT=$(awk -v b=$(($(busy_ticks) - BUSY0)) -v o=$(($(own_ticks) - OWN0)) -v hz="$CLK_TCK" -v n="$(nproc)" \
        -v t=$((RUN_T1 - RUN_T0)) 'BEGIN{x = (b - o) / hz / n / (t > 0 ? t : 1) * 100; printf "%.0f", (x < 0 ? 0 : x)}')
    [ "$FOREIGN_PCT" -gt 10 ] && log "WARNING: other processes used ~${FOREIGN_PCT}% of the CPUs during the run"
    return 0
}
noise_line() {    # the report's noise line, from IDLE_PCT (busy before the start) and noise_end's FOREIGN_PCT
    echo "- noise: host ${IDLE_PCT}% busy before the start; other processes took ~${FOREIGN_PCT}% of all CPUs during the run$([ "$FOREIGN_PCT" -gt 10 ] && echo " — **the host was not quiet: figures are contaminated**")"
}
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null && ! grep -q '^[^ ]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null; }
stop_pids() {     # TERM each PID and its process group; KILL what is left after STOP_WAIT s
    local p i left=""
    for p in "$@"; do cpu_ticks "$p" children >>"$SPENT"; done
    for p in "$@"; do kill -TERM "$p" 2>/dev/null; kill -TERM -- "-$p" 2>/dev/null; done
    for i in $(seq $((${STOP_WAIT:-3} * 10))); do
        left=""
        for p in "$@"; do alive "$p" && left="$left $p"; done
        [ -z "$left" ] && break
        sleep 0.1
    done
    for p in $left; do kill -KILL "$p" 2>/dev/null; kill -KILL -- "-$p" 2>/dev/null; done
    for p in "$@"; do wait "$p" 2>/dev/null; done
    local keep=() s
    for s in "${STARTED[@]}"; do case " $* " in *" $s "*) ;; *) keep+=("$s") ;; esac; done
    STARTED=("${keep[@]}")
}
cleanup() {
    trap - EXIT INT TERM
    [ ${#STARTED[@]} -gt 0 ] && stop_pids "${STARTED[@]}"
    declare -F cleanup_extra >/dev/null && cleanup_extra
    if [ "${KEEP:-0}" = 1 ]; then log "scratch kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

spawn() {         # spawn LOG CMD...: CMD in its own session; PID in $REPLY
    setsid "${@:2}" >"$1" 2>&1 </dev/null &
    REPLY=$!
    STARTED+=("$REPLY")
}
wait_port() {     # wait_port PORT PID [udp]: until PORT listens (a UDP socket is bound to it), PID alive; 15 s max
    local i flags=-Htln
    [ "${3:-}" = udp ] && flags=-Huan
    for i in $(seq 150); do
        alive "$2" || return 1
        [ -n "$(ss "$flags" "( sport = :$1 )" 2>/dev/null)" ] && return 0
        sleep 0.1
    done
    return 1
}
ports_free() {    # ports_free FIRST COUNT [udp]: dies naming the first port in use (by TCP, or with udp by either)
    local p
    for p in $(seq "$1" $(($1 + $2 - 1))); do
        [ -z "$(ss -Htln "( sport = :$p )" 2>/dev/null)" ] || die "port $p is in use; pick another --port-base"
        [ "${3:-}" != udp ] || [ -z "$(ss -Huan "( sport = :$p )" 2>/dev/null)" ] ||
            die "port $p is in use; pick another --port-base"
    done
}
port() { echo $((PORT_BASE + $1)); }

# Peers and relay measurements of bench/run.sh and bench/splice.sh. They
# read HOST; start_haproxy also WORK, IDLE_CONNS (room for that many more
# connections, default none) and HAPROXY_OPTIONS (option lines for its
# defaults section, e.g. "splice-auto"), pingpong NB (netbench), T_LAT (seconds) and
# MSG (bytes).
start_haproxy() { # start_haproxy NAME "LISTEN:UPSTREAM ..." [PREFIX...]
    local d=$WORK/$1 i=0 pair
    mkdir -p "$d"
    {
        printf 'global\n    maxconn %d\ndefaults\n    mode tcp\n    timeout connect 5s\n    timeout client 300s\n    timeout server 300s\n    maxconn %d\n' \
            $((${IDLE_CONNS:-0} + 1000)) $((${IDLE_CONNS:-0} + 1000))
        for pair in ${HAPROXY_OPTIONS:-}; do printf '    option %s\n' "$pair"; done
        for pair in $2; do
            printf 'listen l%d\n    bind %s:%s\n    server s1 %s:%s\n' "$i" "$HOST" "${pair%%:*}" "$HOST" "${pair#*:}"
            i=$((i + 1))
        done
    } >"$d/haproxy.cfg"
    spawn "$d/log" "${@:3}" haproxy -db -f "$d/haproxy.cfg"
    wait_port "${2%%:*}" "$REPLY" || { cat "$d/log" >&2; die "haproxy $1 did not start"; }
}
bulk() {          # bulk PORT NCONN SECS -> Gbit/s on stdout (or "failed")
    local out
    out=$(timeout $(($3 + 20)) iperf3 -c "$HOST" -p "$1" -P "$2" -t "$3" -O 1 -J 2>/dev/null)
    python3 -c 'import json,sys
try: print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))
except Exception: print("failed")' <<<"$out"
}
pingpong() {      # pingpong PORT [PREFIX...] -> "p50 p99"
    local out
    out=$(timeout $((T_LAT + 15)) "${@:2}" "$NB" pingpong "$HOST:$1" "$T_LAT" "$MSG" 2>&1)
    sed -n 's/.*p50=\([0-9.]*\) p99=\([0-9.]*\).*/\1 \2/p' <<<"$out" | grep . || echo "failed failed"
}
