#!/usr/bin/env bash
# reel against the least work a relay and a recorder can do on this host
# (issue 17, items 5 and 2: are their targets within this machine's reach?):
#
#   bench/floor.sh [--reps N] [--secs S] [--data-dir DIR] [--no-build]
#                  [--bin-dir DIR] [--port-base N]
#
# Two yardsticks in C (bench/floor/, built here with cc) do the least a
# program can do for each job, and nothing a product needs:
#   floor-relay     a thread per direction, blocking splice(2) socket ->
#                   1 MiB pipe -> socket
#   floor-recorder  a thread per direction reads into page-aligned buffers
#                   and writes each on, a second thread per direction
#                   writes it with O_DIRECT to an unlinked file in the data
#                   dir (no framing, checksums, timestamps or order)
# Relay rows: DIRECT (no proxy), reel (its zero-copy relay) and floor-relay,
# each against DIRECT of the same repetition. Recording rows, into a fresh
# directory under --data-dir DIR (default target/ of this tree, a disk;
# refused on tmpfs): haproxy (mode tcp, no recording), reel+rec (a fresh recording, stopped
# and removed after each run) and floor-recorder, each against haproxy of
# the same repetition. iperf3 at 1 and 8 connections, S seconds (default 6)
# after 1 omitted; N repetitions (default 5), the order rotated each time.
# CPU per GB moved: the proxy's, and the whole host's. Prints Markdown on
# stdout (progress on stderr); nothing is written into the docs.
#
# Every process started here leads its own session and is stopped by PID on
# exit; runs are bounded in time; a recording run is skipped when it could
# leave less than 10 GiB free. Never run by the tests.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 2
CMDLINE="bench/floor.sh$(printf ' %q' "$@")"
HOST=127.0.0.1
REPS=5 SECS=6 PAR=8 PORT_BASE=24900 BUILD=1 BIN_DIR="" DATA_PARENT=$ROOT/target
FLOOR=$((10 * 1024 * 1024 * 1024))
usage() { sed -n '2,28p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case $1 in
        --reps) REPS=${2:?}; shift 2 ;;
        --secs) SECS=${2:?}; shift 2 ;;
        --data-dir) DATA_PARENT=${2:?}; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --bin-dir) BIN_DIR=${2:?}; shift 2 ;;
        --port-base) PORT_BASE=${2:?}; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bench/floor.sh: unknown option: $1" >&2; usage >&2; exit 2 ;;
    esac
done
for v in reps:REPS secs:SECS port-base:PORT_BASE; do
    n=${v#*:}
    [[ ${!n} =~ ^[1-9][0-9]*$ ]] || { echo "bench/floor.sh: --${v%%:*} wants a positive integer, got '${!n}'" >&2; exit 2; }
done

WORK=$(mktemp -d /tmp/reel-bench-floor.XXXXXX)
DATA=""
cleanup_extra() { [ -n "$DATA" ] && rm -rf "$DATA"; }
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_apt haproxy iperf3 python3 gcc=cc iproute2=ss
if [ "$BUILD" = 1 ]; then
    log "building release binaries"
    timeout 1800 cargo build --release --quiet --bins || die "cargo build --release failed"
fi
BIN=${BIN_DIR:-$ROOT/target/release}
for f in "$BIN/reel-agent" "$BIN/reelctl"; do [ -x "$f" ] || die "$f is missing (run without --no-build)"; done
for p in relay recorder; do
    cc -O2 -Wall -pthread -o "$WORK/floor-$p" "$ROOT/bench/floor/$p.c" || die "cc bench/floor/$p.c failed"
done
mkdir -p "$DATA_PARENT" || die "cannot create $DATA_PARENT"
DATA=$(mktemp -d "$DATA_PARENT/reel-floorbench.XXXXXX") || die "cannot create a data dir under $DATA_PARENT"
[ "$(stat -f -c %T "$DATA")" = tmpfs ] && die "$DATA is on tmpfs: give --data-dir a directory on a disk"
free_bytes() { df -B1 --output=avail "$DATA" | tail -1 | tr -d ' '; }
ports_free "$PORT_BASE" 8
RES=$WORK/results.tsv
: >"$RES"
ctl() { local p=$1; shift; timeout 60 "$BIN/reelctl" --timeout 30s -a "$HOST:$p" "$@"; }

IDLE_PCT=$(busy_pct 1)
noise_start

# ---------------------------------------------------------------- processes
declare -A PORT PID
P_IPERF=$(port 0)
spawn "$WORK/iperf.log" iperf3 -s -B "$HOST" -p "$P_IPERF"
wait_port "$P_IPERF" "$REPLY" || die "iperf3 server did not start"
PORT[DIRECT]=$P_IPERF
start_haproxy haproxy "$(port 1):$P_IPERF"
PORT[haproxy]=$(port 1) PID[haproxy]=$REPLY
AGENT=$(port 2)
spawn "$WORK/agent.log" "$BIN/reel-agent" --listen "$HOST:$AGENT" --data-dir "$DATA/reel" \
    --max-disk $(($(free_bytes) - FLOOR)) --min-free "$FLOOR"
PID[reel]=$REPLY PID[reel+rec]=$REPLY
wait_port "$AGENT" "$REPLY" || { cat "$WORK/agent.log" >&2; die "reel-agent did not start"; }
ctl "$AGENT" -q proxy start --listen "$HOST:$(port 3)" --upstream "$HOST:$P_IPERF" >/dev/null || die "reel: proxy start failed"
PORT[reel]=$(port 3) PORT[reel+rec]=$(port 3)
spawn "$WORK/relay.log" "$WORK/floor-relay" "$(port 4)" "$P_IPERF"
PORT[floor-relay]=$(port 4) PID[floor-relay]=$REPLY
wait_port "$(port 4)" "$REPLY" || die "floor-relay did not start"
mkdir -p "$DATA/floor"
spawn "$WORK/recorder.log" "$WORK/floor-recorder" "$(port 5)" "$P_IPERF" "$DATA/floor"
PORT[floor-recorder]=$(port 5) PID[floor-recorder]=$REPLY
wait_port "$(port 5)" "$REPLY" || die "floor-recorder did not start"

# ---------------------------------------------------------------- runs
one() {           # one GROUP ROW REP NCONN: an iperf3 run through ROW, its rate and CPU per GB
    local row=$2 n=$4 id="" c0 h0 c1 h1
    if [[ $row == reel+rec || $row == floor-recorder ]] &&
        [ "$(free_bytes)" -lt $((FLOOR + (SECS + 2) * 2000000000)) ]; then
        log "  $row skipped: too little free space on the data dir's disk"
        return
    fi
    [ "$row" = reel+rec ] && { id=$(ctl "$AGENT" -q record start --label floorbench) || { log "  record start failed"; return; }; }
    c0=$([ -n "${PID[$row]:-}" ] && cpu_ticks "${PID[$row]}" || echo 0); h0=$(busy_ticks)
    timeout $((SECS + 30)) iperf3 -c "$HOST" -p "${PORT[$row]}" -P "$n" -t "$SECS" -O 1 -J >"$WORK/iperf.json" 2>/dev/null
    c1=$([ -n "${PID[$row]:-}" ] && cpu_ticks "${PID[$row]}" || echo 0); h1=$(busy_ticks)
    if [ -n "$id" ]; then
        ctl "$AGENT" -q record stop "$id" >/dev/null || log "  record stop $id failed"
        ctl "$AGENT" -q record rm "$id" >/dev/null || log "  record rm $id failed"
    fi
    python3 - "$1" "$row" "$3" "$n" $((c1 - c0)) $((h1 - h0)) "$CLK_TCK" "$SECS" "$WORK/iperf.json" >>"$RES" <<'PY'
import json, sys
group, row, rep, n, proc, host, hz, secs, path = sys.argv[1:]
try:
    end = json.load(open(path))["end"]["sum_received"]
except Exception:
    sys.exit(0)
gb = end["bytes"] / 1e9
# CPU ticks cover the omitted second too: scale the bytes to the whole run.
gb_all = gb * (int(secs) + 1) / int(secs)
print(f"{group}\t{row}\t{rep}\t{n}\t{end['bits_per_second'] / 1e9:.2f}\t{1000 * int(proc) / int(hz) / gb_all:.0f}\t{1000 * int(host) / int(hz) / gb_all:.0f}")
PY
    log "  rep $3 $row, $n connection(s): $(tail -1 "$RES" | cut -f5) Gbit/s"
}
RELAY=(DIRECT reel floor-relay)
RECORD=(haproxy reel+rec floor-recorder)
for ((r = 0; r < REPS; r++)); do
    for ((k = 0; k < 3; k++)); do
        for n in 1 "$PAR"; do one relay "${RELAY[$(((k + r) % 3))]}" "$r" "$n"; done
    done
    for ((k = 0; k < 3; k++)); do
        for n in 1 "$PAR"; do one record "${RECORD[$(((k + r) % 3))]}" "$r" "$n"; done
    done
done
noise_end

# ---------------------------------------------------------------- report
echo "- machine: $(nproc) CPU(s), $(awk -F': *' '/^model name/{print $2; exit}' /proc/cpuinfo), kernel $(uname -r); data dir on $(df --output=source,fstype "$DATA" | tail -1 | xargs)"
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); reel $([ -n "$BIN_DIR" ] && echo "binaries from $BIN_DIR" || echo "$(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes')")"
echo "- command: \`$CMDLINE\` ($((RUN_T1 - RUN_T0)) s)"
noise_line
echo
python3 - "$RES" "$PAR" <<'PY'
import statistics, sys
path, par = sys.argv[1], sys.argv[2]
runs = {}
for line in open(path):
    group, row, rep, n, gbps, proc, host = line.rstrip("\n").split("\t")
    runs[(group, row, rep, n)] = (float(gbps), float(proc), float(host))
groups = (("relay", "DIRECT", ("DIRECT", "reel", "floor-relay")),
          ("record", "haproxy", ("haproxy", "reel+rec", "floor-recorder")))
print("| row | connections | Gbit/s, median | × the baseline of the same repetition: median (range) | proxy CPU per GB, ms | host CPU per GB, ms |")
print("|---|---:|---:|---|---:|---:|")
for group, base, rows in groups:
    for row in rows:
        for n in ("1", par):
            mine = {rep: v for (g, r, rep, m), v in runs.items() if (g, r, m) == (group, row, n)}
            if not mine:
                print(f"| {row} | {n} | — | | | |")
                continue
            ratios = [v[0] / runs[(group, base, rep, n)][0] for rep, v in mine.items()
                      if (group, base, rep, n) in runs and runs[(group, base, rep, n)][0] > 0]
            med = lambda i: statistics.median(v[i] for v in mine.values())
            ratio = f"{statistics.median(ratios):.2f}× ({min(ratios):.2f}–{max(ratios):.2f})" if ratios and row != base else ("1.00×" if row == base else "—")
            proc = f"{med(1):.0f}" if row != "DIRECT" else "—"
            print(f"| {row} | {n} | {med(0):.2f} | {ratio} | {proc} | {med(2):.0f} |")
print("\nBaselines: DIRECT for the relay rows, haproxy (no recording) for the recording rows; "
      f"{len({k[2] for k in runs})} repetition(s).")
PY
