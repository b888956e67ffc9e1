#!/usr/bin/env bash
# Sustained recording to disk against the disk's own write rate, in one run
# (issue 17, item 2's targets):
#
#   bench/record_disk.sh [--secs N] [--gib N] [--data-dir DIR] [--tmpfs]
#                        [--profile] [--write-doc] [--no-build] [--bin-dir DIR]
#                        [--port-base N] [--keep-scratch]
#
# Rows: CEILING (`dd ... conv=fdatasync` of --gib GiB, default 4, into the
# data dir, before and after the rest) and CEILING direct (the same with
# `oflag=direct bs=2M`: the device without the page cache), haproxy (mode
# tcp) and reel without a recording, reel with a recording on the disk (one
# writer lane per core, the default, segments written with O_DIRECT), the
# same with --no-direct-io (through the page cache), and with
# --record-writers 1 (one lane: the old single writer); each with iperf3 at 1 and 8 connections, --secs measured (default
# 30) after 2 s omitted. Each recording is fresh, stopped and removed after its
# figure, and its lost bytes are checked to be 0. --tmpfs adds a row recording
# into /dev/shm (measured at most 5 s: RAM would not hold more). --profile
# samples the agent during the 1-connection recording run (10 s): CPU per
# thread and time spent waiting for a CPU, the disk's utilisation, and
# `perf record -g`'s top symbols.
# --write-doc writes the table between the record-disk markers of
# docs/PERFORMANCE.md (the rest of the file is kept).
#
# The data dir is a fresh directory under DIR (default target/ of this tree:
# the real disk; refused on tmpfs). Disk guard: no run may leave less than
# 10 GiB free (the agent gets --max-disk and --min-free, and the script stops
# iperf3 if free space falls below the floor anyway); a row cut short says so.
# Every process started here leads its own session and is stopped by PID on
# exit, Ctrl-C or TERM; every step is bounded in time. Never run by the tests.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 2
CMDLINE="bench/record_disk.sh$(printf ' %q' "$@")"
HOST=127.0.0.1

SECS=30           # measured seconds of each iperf3 run
OMIT=2            # seconds omitted before measuring
GIB=4             # size of the ceiling's dd, GiB
PAR=8
TMPFS_SECS=5      # most measured seconds of a tmpfs recording run
PROF_SECS=10
FLOOR=$((10 * 1024 * 1024 * 1024))   # free bytes a run must leave on the data dir's filesystem
PORT_BASE=24800   # uses PORT_BASE .. PORT_BASE+29
DATA_PARENT=$ROOT/target
BUILD=1 TMPFS=0 PROFILE=0 WRITE_DOC=0 KEEP=0 BIN_DIR=""

usage() { sed -n '2,28p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case $1 in
        --secs) SECS=${2:?}; shift 2 ;;
        --gib) GIB=${2:?}; shift 2 ;;
        --data-dir) DATA_PARENT=${2:?}; shift 2 ;;
        --tmpfs) TMPFS=1; shift ;;
        --profile) PROFILE=1; shift ;;
        --write-doc) WRITE_DOC=1; shift ;;
        --no-build) BUILD=0; shift ;;
        --bin-dir) BIN_DIR=${2:?}; shift 2 ;;
        --port-base) PORT_BASE=${2:?}; shift 2 ;;
        --keep-scratch) KEEP=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bench/record_disk.sh: unknown option: $1" >&2; usage >&2; exit 2 ;;
    esac
done
for v in secs:SECS gib:GIB port-base:PORT_BASE; do
    n=${v#*:}
    [[ ${!n} =~ ^[1-9][0-9]*$ ]] || { echo "bench/record_disk.sh: --${v%%:*} wants a positive integer, got '${!n}'" >&2; exit 2; }
done

WORK=$(mktemp -d /tmp/reel-diskbench.XXXXXX)
DATA="" SHM=""
cleanup_extra() {
    [ -n "$DATA" ] && rm -rf "$DATA"
    [ -n "$SHM" ] && rm -rf "$SHM"
}
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_apt haproxy iperf3 python3 iproute2=ss coreutils=dd
[ "$PROFILE" = 0 ] || have perf || die "--profile needs perf (linux-perf)"
have cargo || [ "$BUILD" = 0 ] || die "cargo is missing"
if [ "$BUILD" = 1 ]; then
    log "building release binaries"
    timeout 1800 cargo build --release --quiet --bins || die "cargo build --release failed"
fi
BIN=${BIN_DIR:-$ROOT/target/release}
for f in "$BIN/reel-agent" "$BIN/reelctl"; do [ -x "$f" ] || die "$f is missing (run without --no-build)"; done

mkdir -p "$DATA_PARENT" || die "cannot create $DATA_PARENT"
DATA=$(mktemp -d "$DATA_PARENT/reel-diskbench.XXXXXX") || die "cannot create a data dir under $DATA_PARENT"
[ "$(stat -f -c %T "$DATA")" = tmpfs ] && die "$DATA is on tmpfs: give --data-dir a directory on a disk"
if [ "$TMPFS" = 1 ]; then
    SHM=$(mktemp -d /dev/shm/reel-diskbench.XXXXXX) || die "--tmpfs: cannot create a directory in /dev/shm"
fi
free_bytes() { df -B1 --output=avail "$1" | tail -1 | tr -d ' '; }
budget() { echo $(($(free_bytes "$DATA") - FLOOR)); }   # bytes a run may still write
gib() { awk -v b="$1" 'BEGIN{printf "%.1f", b / 1073741824}'; }
log "data dir $DATA: $(gib "$(free_bytes "$DATA")") GiB free, runs may write $(gib "$(budget)") GiB"
[ "$(budget)" -gt $((GIB * 1073741824)) ] || die "not enough free space for a $GIB GiB ceiling plus the 10 GiB floor"

ulimit -n "$(ulimit -Hn)" 2>/dev/null
ports_free "$PORT_BASE" 30
RES=$WORK/results.tsv
: >"$RES"
rec() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RES"; }     # rec ROW KEY VALUE
ctl() { local p=$1; shift; timeout 60 "$BIN/reelctl" --timeout 30s -a "$HOST:$p" "$@"; }
LANES=$(nproc); [ "$LANES" -gt 16 ] && LANES=16

# ---------------------------------------------------------------- host load (as bench/run.sh)
# busy_pct, noise_start, noise_end, noise_line: bench/lib.sh
IDLE_PCT=$(busy_pct 1)
noise_start

# ---------------------------------------------------------------- processes
P_IPERF=$(port 0)
spawn "$WORK/iperf.log" iperf3 -s -B "$HOST" -p "$P_IPERF"
wait_port "$P_IPERF" "$REPLY" || die "iperf3 server did not start"
start_haproxy haproxy "$(port 1):$P_IPERF"

declare -A CTL PROXY AGENT_PID
start_reel() {    # start_reel ROW CTL_PORT PROXY_PORT DATA_DIR [AGENT FLAG...]
    local max=$(($(free_bytes "$DATA") - FLOOR)) floor=$FLOOR
    if [ -n "$SHM" ] && [ "$4" = "$SHM/data" ]; then   # tmpfs is RAM: half of what is available
        max=$(($(awk '/MemAvailable/{print $2}' /proc/meminfo) * 1024 / 2)) floor=$((1024 * 1024 * 1024))
    fi
    mkdir -p "$4"
    spawn "$WORK/$1.log" "$BIN/reel-agent" --listen "$HOST:$2" --data-dir "$4" \
        --max-disk "$max" --min-free "$floor" "${@:5}"
    AGENT_PID[$1]=$REPLY CTL[$1]=$2 PROXY[$1]=$3
    wait_port "$2" "$REPLY" || { cat "$WORK/$1.log" >&2; die "reel-agent $1 did not start"; }
    ctl "$2" -q proxy start --listen "$HOST:$3" --upstream "$HOST:$P_IPERF" >/dev/null || die "reel $1: proxy start failed"
}
REC_LANES="reel+rec ($LANES writers)" REC_ONE="reel+rec (1 writer)" REC_SHM="reel+rec tmpfs ($LANES writers)"
REC_CACHE="reel+rec page cache ($LANES writers)"
start_reel reel "$(port 10)" "$(port 11)" "$DATA/lanes"
CTL[$REC_LANES]=${CTL[reel]} PROXY[$REC_LANES]=${PROXY[reel]} AGENT_PID[$REC_LANES]=${AGENT_PID[reel]}
start_reel "$REC_ONE" "$(port 12)" "$(port 13)" "$DATA/one" --record-writers 1
start_reel "$REC_CACHE" "$(port 16)" "$(port 17)" "$DATA/cache" --no-direct-io
[ "$TMPFS" = 1 ] && start_reel "$REC_SHM" "$(port 14)" "$(port 15)" "$SHM/data"
PROXY[haproxy]=$(port 1)

# ---------------------------------------------------------------- measurements
ceiling() {       # ceiling ROW DIR [direct]: MB/s of GIB GiB written with fdatasync (or O_DIRECT) into a new file in DIR
    local out how=(bs=1M count=$((GIB * 1024)) conv=fdatasync)
    [ "${3:-}" = direct ] && how=(bs=2M count=$((GIB * 512)) oflag=direct conv=fdatasync)
    if [ "$2" = "$DATA" ] && [ "$(budget)" -lt $((GIB * 1073741824)) ]; then
        log "  $1 skipped: $(gib "$(free_bytes "$DATA")") GiB free, 10 GiB must stay free"
        return 1
    fi
    out=$(timeout 600 dd if=/dev/zero of="$2/ceiling" "${how[@]}" 2>&1 | tail -1)
    rm -f "$2/ceiling"
    rec "$1" mbs "$(awk -v b="$(awk '{print $1}' <<<"$out")" -v s="$(sed -n 's/.*copied, \([0-9.]*\) s.*/\1/p' <<<"$out")" 'BEGIN{if (s > 0) printf "%.0f", b / s / 1e6; else print "failed"}')"
    log "  $1: $out"
}
df_check() {      # df_check WHAT: false (and a note) when the disk is at the floor
    [ "$(budget)" -gt $((1024 * 1024 * 1024)) ] && return 0
    log "  $1 skipped: $(gib "$(free_bytes "$DATA")") GiB free, 10 GiB must stay free"
    return 1
}
wait_bounded() {  # wait_bounded PID SECS: until PID ends, SECS pass, or the disk reaches the floor (then 1)
    local end=$((SECONDS + $2))
    while alive "$1"; do
        [ "$SECONDS" -ge "$end" ] && { stop_pids "$1"; return 0; }
        if [ "$(budget)" -lt 0 ]; then
            log "  disk guard: less than 10 GiB free, run stopped"
            stop_pids "$1"
            return 1
        fi
        sleep 0.5
    done
    stop_pids "$1"    # reaps it and takes it off the list cleanup stops
    return 0
}
task_ticks() {    # task_ticks PID: "thread-name ticks ns-waiting-for-a-CPU" per thread
    local t
    for t in /proc/"$1"/task/*; do
        awk -v w="$(awk '{print $2}' "$t/schedstat" 2>/dev/null)" '{n = substr($0, index($0, "(") + 1); n = substr(n, 1, index(n, ")") - 1); gsub(/ /, "_", n)
              s = substr($0, index($0, ")") + 2); split(s, f, " "); print n, f[12] + f[13], (w == "" ? 0 : w)}' "$t/stat" 2>/dev/null
    done
}
disk_of() { lsblk -no PKNAME "$(df --output=source "$1" | tail -1)" 2>/dev/null | head -1 | grep . || basename "$(df --output=source "$1" | tail -1)"; }
DISK=$(disk_of "$DATA")
disk_stat() { awk -v d="$DISK" '$3 == d {print $10, $13}' /proc/diskstats; }   # sectors written, ms busy
profile() {       # profile PID: CPU per thread, disk use and perf's top symbols over PROF_SECS
    local d0 d1 w0 w1 try t0
    # perf attaches to each thread in turn and gives up when one ends
    # meanwhile (segment rotation starts and ends a thread): try again.
    for try in 1 2 3; do
        task_ticks "$1" >"$WORK/ticks0"; d0=$(disk_stat); w0=$(date +%s.%N); t0=$SECONDS
        spawn "$WORK/perf.log" perf record -g -p "$1" -o "$WORK/perf.data" -- sleep "$PROF_SECS"
        wait_bounded "$REPLY" $((PROF_SECS + 20))
        task_ticks "$1" >"$WORK/ticks1"; d1=$(disk_stat); w1=$(date +%s.%N)
        [ $((SECONDS - t0)) -ge $((PROF_SECS - 1)) ] && break
        log "  perf record ended early ($(grep . "$WORK/perf.log" | tail -1)); again"
    done
    python3 - "$CLK_TCK" "$w0" "$w1" "$DISK" "$d0" "$d1" "$WORK/ticks0" "$WORK/ticks1" >"$WORK/threads.md" <<'EOF'
import sys, collections
hz, w0, w1 = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
before, after = open(sys.argv[7]).read(), open(sys.argv[8]).read()
def sums(text):
    s, w, n = collections.Counter(), collections.Counter(), collections.Counter()
    for line in text.split("\n"):
        if line.strip():
            name, ticks, wait = line.rsplit(" ", 2)
            # Threads of one kind (tokio workers, one lane's writer, syncer) are summed by name.
            s[name] += int(ticks); w[name] += int(wait); n[name] += 1
    return s, w, n
(a, aw, _), (b, bw, bn), t = sums(before), sums(after), w1 - w0
print("| agent thread(s) | threads | CPU, % of one core | runnable but waiting for a CPU, % of the time |\n|---|---:|---:|---:|")
for name, ticks in sorted(((n, b[n] - a.get(n, 0)) for n in b), key=lambda x: -x[1]):
    if ticks > 0:
        print(f"| {name} | {bn[name]} | {100 * ticks / hz / t:.0f} | {100 * (bw[name] - aw.get(name, 0)) / 1e9 / t:.0f} |")
try:
    (s0, m0), (s1, m1) = map(int, sys.argv[5].split()), map(int, sys.argv[6].split())
    print(f"\nDisk {sys.argv[4]} over the same {t:.1f} s: {(s1 - s0) * 512 / t / 1e6:.0f} MB/s written, busy {100 * (m1 - m0) / 1000 / t:.0f} % of the time.")
except ValueError:
    print(f"\nDisk {sys.argv[4]}: not found in /proc/diskstats.")
EOF
    timeout 120 perf report -i "$WORK/perf.data" --no-children --sort comm,dso,symbol --stdio 2>"$WORK/perf.err" |
        awk '/^ +[0-9.]+%/ {printf "%7s  %-16s %-18s %s %s\n", $1, $2, $3, $4, $5}' | head -25 >"$WORK/perf.top"
}
bulk() {          # bulk ROW NCONN SECS: iperf3 through ROW's proxy (a fresh recording around it for reel+rec)
    local row=$1 n=$2 secs=$3 key=$2 id="" out pid json stop cut=0 lost size status err d0 d1 w0 w1
    df_check "$row, $n connection(s)" || { rec "$row" "gbps$key" skipped; return; }
    if [[ $row == reel+rec* ]]; then
        id=$(ctl "${CTL[$row]}" -q record start --label diskbench) || { rec "$row" "gbps$key" failed; return; }
    fi
    json=$WORK/iperf.$n.json
    d0=$(disk_stat); w0=$(date +%s.%N)
    spawn "$json" iperf3 -c "$HOST" -p "${PROXY[$row]}" -P "$n" -t "$secs" -O "$OMIT" -J
    pid=$REPLY
    if [ "$PROFILE" = 1 ] && [ "$row" = "$REC_LANES" ] && [ "$n" = 1 ] && [ "$secs" -ge 2 ]; then
        [ "$PROF_SECS" -ge "$secs" ] && PROF_SECS=$((secs - 1))
        sleep $((OMIT + 1))
        log "  profiling the agent for $PROF_SECS s"
        profile "${AGENT_PID[$row]}"
    fi
    wait_bounded "$pid" $((secs + OMIT + 30)) || cut=1
    # What reached the disk meanwhile, and what the page cache still held:
    # a run shorter than the dirty limit takes would measure the cache.
    d1=$(disk_stat); w1=$(date +%s.%N)
    rec "$row" "disk$key" "$(awk -v a="${d0%% *}" -v b="${d1%% *}" -v t0="$w0" -v t1="$w1" 'BEGIN{if (a != "" && b != "") printf "%.0f", (b - a) * 512 / (t1 - t0) / 1e6; else print "?"}')"
    rec "$row" "dirty$key" "$(awk '/^Dirty:/{printf "%.1f", $2 / 1048576}' /proc/meminfo)"
    out=$(python3 -c 'import json,sys
try: print("%.2f" % (json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 1e9))
except Exception: print("failed")' "$json")
    [ "$cut" = 1 ] && out=cut
    rec "$row" "gbps$key" "$out"
    if [ -n "$id" ]; then
        stop=$(ctl "${CTL[$row]}" --json record stop "$id")
        read -r lost size status err < <(python3 -c 'import json,sys
try:
    r = json.loads(sys.argv[1])["results"][0]["data"]["stopped"][0]
    print(r.get("lost_bytes", "?"), r.get("size_bytes", "?"), r.get("status", "?"), (r.get("error") or "-").replace(" ", "_")[:80])
except Exception: print("? ? ? stop_failed")' "$stop")
        rec "$row" "lost$key" "$lost"; rec "$row" "size$key" "$size"; rec "$row" "err$key" "$err"
        ctl "${CTL[$row]}" -q record rm "$id" >/dev/null || log "  record rm $id failed"
        log "  $row, $n connection(s): $out Gbit/s, recording $(gib "${size//[!0-9]/}") GiB, $status, lost $lost bytes$([ "$err" = - ] || echo ", ended early: ${err//_/ }")"
    else
        log "  $row, $n connection(s): $out Gbit/s"
    fi
}

log "ceiling: dd of $GIB GiB with fdatasync into $DATA"
ceiling CEILING "$DATA"
log "ceiling: the same with O_DIRECT"
ceiling "CEILING direct" "$DATA" direct
need=$(awk -F'\t' -v t=$((SECS + OMIT)) '$1 == "CEILING" && $2 == "mbs" {printf "%.0f", $3 * 1e6 * t}' "$RES")
[ -n "$need" ] && [ "$need" -gt "$(budget)" ] &&
    log "WARNING: $((SECS + OMIT)) s at the disk's rate is $(gib "$need") GiB, more than the $(gib "$(budget)") GiB above the floor: recording runs may end early (lower --secs)"
ROWS=(haproxy reel "$REC_LANES" "$REC_CACHE" "$REC_ONE")
[ "$TMPFS" = 1 ] && ROWS+=("$REC_SHM")
for row in "${ROWS[@]}"; do
    s=$SECS
    [ "$row" = "$REC_SHM" ] && [ "$s" -gt "$TMPFS_SECS" ] && s=$TMPFS_SECS
    rec "$row" secs "$s"
    log "$row: 1 and $PAR connection(s), $s s each"
    bulk "$row" 1 "$s"
    bulk "$row" "$PAR" "$s"
done
log "ceiling again"
ceiling "CEILING after" "$DATA"
ceiling "CEILING direct after" "$DATA" direct
[ "$TMPFS" = 1 ] && { SHM_SAFE=$(($(awk '/MemAvailable/{print $2}' /proc/meminfo) / 1048576 / 3)); GIB=$((GIB < SHM_SAFE ? GIB : SHM_SAFE))
    [ "$GIB" -gt 0 ] && ceiling "CEILING tmpfs" "$SHM"; }

noise_end

# ---------------------------------------------------------------- report
{
    echo "- machine: $(nproc) CPU(s), $(awk -F': *' '/^model name/{print $2; exit}' /proc/cpuinfo), $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, kernel $(uname -r)"
    echo "- disk: $(df -h --output=source,fstype,size "$DATA" | tail -1 | xargs) ($(lsblk -dno NAME,SIZE,ROTA,MODEL "/dev/$DISK" 2>/dev/null | awk '{m = $4; for (i = 5; i <= NF; i++) m = m " " $i; printf "%s %s, rotational %s, model %s", $1, $2, $3, (m == "" ? "none given" : m)}')), data dir on it: $DATA_PARENT; vm.dirty_ratio $(cat /proc/sys/vm/dirty_ratio) %"
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); reel $([ -n "$BIN_DIR" ] && echo "binaries from $BIN_DIR" || echo "$(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes')")"
    echo "- command: \`$CMDLINE\` ($((RUN_T1 - RUN_T0)) s)"
    echo "- tools: $(iperf3 --version 2>/dev/null | head -1 | cut -d' ' -f1-2) (-O $OMIT, received rate), haproxy $(haproxy -v 2>/dev/null | head -1 | awk '{print $3}') (mode tcp)"
    noise_line
    echo
    python3 - "$RES" "$PAR" "$REC_LANES" "$REC_ONE" "$REC_SHM" "$REC_CACHE" <<'EOF'
import sys, collections
res, par, lanes, one, shm, cache = sys.argv[1], sys.argv[2], *sys.argv[3:7]
d = collections.defaultdict(dict)
for line in open(res):
    row, key, val = line.rstrip("\n").split("\t")
    d[row][key] = val
num = lambda v: float(v) if v not in (None, "", "failed", "skipped", "cut", "?") else None
def mean_gbps(rows):
    c = [x for x in (num(d[r].get("mbs")) for r in rows) if x]
    return sum(c) / len(c) * 8 / 1000 if c else None
sync_gbps = mean_gbps(("CEILING", "CEILING after"))
direct_gbps = mean_gbps(("CEILING direct", "CEILING direct after"))
# The disk's rate: the better of what dd got through the page cache and
# around it (on some VMs the page cache, not the disk, bounds the first).
ceil_gbps = max((x for x in (sync_gbps, direct_gbps) if x), default=None)
f2 = lambda x: "—" if x is None else f"{x:.2f}"
print("| row | connections | Gbit/s | ÷ haproxy | ÷ ceiling | disk MB/s | dirty GiB | recorded GiB | lost bytes | target | met |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|:-:|")
for r in ("CEILING", "CEILING direct", "CEILING after", "CEILING direct after", "CEILING tmpfs"):
    if r in d:
        mbs = num(d[r].get("mbs"))
        print(f"| {r}: dd {'' if mbs is None else f'{mbs:.0f} MB/s'} | — | {f2(mbs and mbs * 8 / 1000)} | | | | | | | | |")
misses = []
for row in ("haproxy", "reel", lanes, cache, one, shm):
    if row not in d:
        continue
    g = {k: num(d[row].get(f"gbps{k}")) for k in ("1", par)}
    for k in ("1", par):
        v, h = g[k], num(d["haproxy"].get(f"gbps{k}"))
        rh = v / h if v and h else None
        rc = v / ceil_gbps if v and ceil_gbps and row != shm else None
        target = met = lost = size = ""
        if row.startswith("reel+rec"):
            lost = d[row].get(f"lost{k}", "?")
            size = num(d[row].get(f"size{k}"))
            size = "?" if size is None else f"{size / 2**30:.1f}"
            err = d[row].get(f"err{k}", "-")
            if err not in ("-", ""):
                lost += f" (ended early: {err.replace('_', ' ')})"
            if h and ceil_gbps and row != shm:
                want = min(0.8 * h, 0.9 * ceil_gbps)
                target = f"≥ {want:.2f} ({'0.8× haproxy' if 0.8 * h <= 0.9 * ceil_gbps else '0.9× ceiling: the disk is the limit'})"
                ok = v is not None and v >= want and lost.split()[0] == "0"
                met = "yes" if ok else "**no**"
                if not ok:
                    misses.append(f"{row}, {k} connection(s)")
            if k == par and g["1"] is not None and v is not None:
                more = v >= g["1"]
                target += f"{'; ' if target else ''}≥ 1-connection {g['1']:.2f}"
                met += f"{' / ' if met else ''}{'yes' if more else '**no**'}"
                if not more:
                    misses.append(f"{row}: {par} connections slower than 1")
        secs = d[row].get("secs", "?")
        print(f"| {row} ({secs} s) | {k} | {d[row].get(f'gbps{k}', '—')} | {f2(rh)} | {f2(rc)} | {d[row].get(f'disk{k}', '—')} | {d[row].get(f'dirty{k}', '—')} | {size} | {lost} | {target} | {met} |")
print()
print(f"Ceiling for the ratios: the disk's rate, the better of the mean of the two `conv=fdatasync` dd runs ({f2(sync_gbps)} Gbit/s) "
      f"and the mean of the two `oflag=direct` ones ({f2(direct_gbps)} Gbit/s): {f2(ceil_gbps)} Gbit/s. Target per recording row (issue 17 item 2): "
      "≥ 0.8× haproxy's rate (no recording) where the disk is faster than that, else ≥ 0.9× the ceiling; "
      f"{par} connections never slower than 1; 0 bytes lost. *disk MB/s*: written to the data dir's disk during the run "
      "(from /proc/diskstats, omitted seconds included); *dirty GiB*: page cache not yet written back when the run ended "
      "(what the recording's rate owes to the cache rather than the disk). " + ("All met." if not misses else "Missed: " + "; ".join(misses) + "."))
EOF
    if [ -s "$WORK/threads.md" ]; then
        echo
        echo "Profile of the agent during the 1-connection recording run ($REC_LANES), $PROF_SECS s after the omitted start:"
        echo
        cat "$WORK/threads.md"
        if [ ! -s "$WORK/perf.top" ]; then
            echo
            echo "perf gave no samples: $(cat "$WORK/perf.log" "$WORK/perf.err" 2>/dev/null | grep . | head -2 | tr '\n' ' ')"
        else
            echo
            echo "\`perf record -g -p AGENT\`, \`perf report --no-children --sort comm,dso,symbol\`, top entries:"
            echo
            echo '```'
            sed 's/[[:space:]]*$//' "$WORK/perf.top"
            echo '```'
        fi
    fi
} >"$WORK/report.md"
cat "$WORK/report.md"
if [ "$WRITE_DOC" = 1 ]; then
    python3 - "$ROOT/docs/PERFORMANCE.md" "$WORK/report.md" <<'EOF' && log "wrote docs/PERFORMANCE.md"
import sys
path, body = sys.argv[1], open(sys.argv[2]).read()
begin, end = "<!-- record-disk:begin (written by bench/record_disk.sh --write-doc; edit outside these markers) -->", "<!-- record-disk:end -->"
doc = open(path).read()
block = f"{begin}\n{body.rstrip()}\n{end}\n"
if begin in doc and end in doc:
    doc = doc[: doc.index(begin)] + block + doc[doc.index(end) + len(end) + 1 :]
else:
    anchor = "## History: lab notes"
    if anchor not in doc:
        sys.exit(f"{path}: neither the record-disk markers nor '{anchor}' found")
    doc = doc.replace(anchor, f"### Recording to disk, sustained\n\n{block}\n{anchor}", 1)
open(path, "w").write(doc)
EOF
fi
exit 0
