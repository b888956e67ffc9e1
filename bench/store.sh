#!/usr/bin/env bash
# Replay memory streaming from the object store (issue 17, item 3): peak RSS
# of an agent (VmHWM, a fresh agent each time) during a `fast` replay of a
# synthetic recording (examples/gen_recording.rs, 200 connections) that is
#   - local: pushed into the agent's data directory, and
#   - stored: only in an S3-compatible store (moto_server on loopback; the
#     agent has --store and an empty data directory), read by ranged GETs.
# Prints a Markdown section for docs/PERFORMANCE.md. By hand only.
#
#   bench/store.sh [--no-build] [--port-base N] [--sizes "MIB..."]
#
# Needs moto_server: target/test-venv/bin/moto_server (scripts/test.sh
# installs it) or one on PATH.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
CMDLINE="bench/store.sh$(printf ' %q' "$@")"
HOST=127.0.0.1
SIZES="100 1024"
CONNS=200
LIMIT=600
PORT_BASE=24300
BUILD=1
while [ $# -gt 0 ]; do
    case $1 in
        --no-build) BUILD=0; shift ;;
        --port-base) PORT_BASE=${2:?}; shift 2 ;;
        --sizes) SIZES=${2:?}; shift 2 ;;
        -h|--help) sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench/store.sh: unknown option: $1 (--help lists them)" >&2; exit 2 ;;
    esac
done

WORK=$(mktemp -d /tmp/reel-bench-store.XXXXXX)
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_apt curl python3 iproute2=ss
MOTO=$ROOT/target/test-venv/bin/moto_server
[ -x "$MOTO" ] || MOTO=$(command -v moto_server || true)
[ -n "$MOTO" ] || die "moto_server is missing: run scripts/test.sh once, or pip install 'moto[server]'"
if [ "$BUILD" = 1 ]; then
    log "building release binaries and examples"
    timeout 1800 cargo build --release --quiet --bins --example gen_recording --example netbench ||
        die "cargo build --release failed"
fi
BIN=$ROOT/target/release
GEN=$BIN/examples/gen_recording
NB=$BIN/examples/netbench
for f in "$BIN/reel-agent" "$BIN/reelctl" "$GEN" "$NB"; do
    [ -x "$f" ] || die "$f is missing (run without --no-build)"
done

ports_free "$PORT_BASE" 10
kib() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
P_S3=$(port 0)
P_ECHO=$(port 1)
spawn "$WORK/moto.log" "$MOTO" -H "$HOST" -p "$P_S3"
wait_port "$P_S3" "$REPLY" || die "moto_server did not start"
curl -fsS -X PUT "http://$HOST:$P_S3/reel" >/dev/null || die "cannot create the bucket"
spawn "$WORK/echo.log" "$NB" echo "$P_ECHO"
wait_port "$P_ECHO" "$REPLY" || die "echo server did not start"
export AWS_ENDPOINT_URL=http://$HOST:$P_S3 AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench \
    AWS_REGION=us-east-1 AWS_ALLOW_HTTP=true

ROWS=()
k=2
for mib in $SIZES; do
    id=mem-$mib
    src=target/bench/replay-${CONNS}c-${mib}m.reel
    mkdir -p target/bench
    if [ ! -s "$src" ]; then
        log "generating $src"
        timeout 900 "$GEN" "$WORK/$id.reel" "$mib" "$CONNS" 600 >/dev/null && mv "$WORK/$id.reel" "$src" ||
            die "generating a $mib MiB recording failed"
    fi
    size=$(stat -c %s "$src")
    # Stored as a segmented recording of one segment: the segment, then
    # its index (moto takes unsigned PUTs).
    curl -fsS -T "$src" "http://$HOST:$P_S3/reel/bench/$id/00-000000.reel" >/dev/null
    printf '{"id":"%s","complete":true,"segments":[{"name":"00-000000.reel","lane":0,"index":0,"size":%s}]}' \
        "$id" "$size" | curl -fsS -T - "http://$HOST:$P_S3/reel/bench/$id/index.json" >/dev/null
    for where in local stored; do
        c=$(port "$k"); k=$((k + 1))
        mkdir -p "$WORK/$where-$mib/data"
        args=(--listen "$HOST:$c" --data-dir "$WORK/$where-$mib/data")
        if [ "$where" = local ]; then
            ln "$src" "$WORK/$where-$mib/data/$id.reel" 2>/dev/null || cp "$src" "$WORK/$where-$mib/data/$id.reel"
        else
            args+=(--store s3://reel/bench)
        fi
        spawn "$WORK/$where-$mib.log" "$BIN/reel-agent" "${args[@]}"
        pid=$REPLY
        wait_port "$c" "$pid" || { cat "$WORK/$where-$mib.log" >&2; die "reel-agent did not start"; }
        base=$(kib "$pid" VmHWM)
        t0=$(date +%s%N)
        if timeout "$LIMIT" "$BIN/reelctl" --json --timeout "${LIMIT}s" -a "$HOST:$c" replay "$id" \
            --target "$HOST:$P_ECHO" --fast --server-timeout 1s >"$WORK/$where-$mib.json" 2>"$WORK/$where-$mib.err"; then
            t1=$(date +%s%N)
            peak=$(kib "$pid" VmHWM)
            ROWS+=("| $mib MiB | $where | $(awk -v ns=$((t1 - t0)) 'BEGIN{printf "%.1f", ns / 1e9}') s | $((base / 1024)) MiB | **$((peak / 1024)) MiB** |")
            log "$mib MiB $where: peak RSS $((peak / 1024)) MiB (before $((base / 1024)) MiB)"
        else
            peak=$(kib "$pid" VmHWM)
            ROWS+=("| $mib MiB | $where | failed or > $LIMIT s | $((base / 1024)) MiB | $((peak / 1024)) MiB |")
            log "$mib MiB $where: replay failed: $(head -c 300 "$WORK/$where-$mib.err")"
        fi
        stop_pids "$pid"
    done
done

cat <<EOF2
### Replay streaming from the object store (bench/store.sh)

- machine: $(nproc) CPU(s), $(awk -F': *' '/^model name/{print $2; exit}' /proc/cpuinfo), $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, kernel $(uname -r)
- date: $(date -u '+%Y-%m-%d %H:%M UTC'); reel $(git rev-parse --short HEAD 2>/dev/null); store: moto_server on loopback
- command: \`$CMDLINE\` ($SECONDS s)

Peak RSS of a fresh agent (VmHWM) during a \`fast\` replay of a synthetic
recording ($CONNS connections) against a loopback echo server, the
recording in the agent's data directory (local) or only in the store
(stored: read by 4 MiB ranged GETs):

| recording | where | replay | RSS before | peak RSS |
|---|---|---:|---:|---:|
$(printf '%s\n' "${ROWS[@]}")
EOF2
