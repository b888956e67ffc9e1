#!/usr/bin/env bash
# Benchmark of the offline analysis and the pcap bridge, run by hand (not by
# the tests): builds release binaries, generates a synthetic recording
# (examples/gen_recording.rs; 1 GiB by default), then times
#   - reelctl stats FILE                     (the analysis, no framing)
#   - reelctl stats FILE --framing u16be     (with message counting)
#   - reelctl export FILE --pcap OUT.pcapng  (recording -> pcapng)
#   - tshark -r OUT.pcapng -q -z conv,tcp    (the reference: Wireshark's own
#                                             per-conversation totals)
#   - reelctl import OUT.pcapng              (pcapng -> recording, reassembly)
# and prints a markdown table (seconds, throughput of the input read, peak RSS).
#
# Usage: bench/analysis.sh [SIZE_MIB] [WORK_DIR]
#   SIZE_MIB   size of the generated recording (default 1024)
#   WORK_DIR   where the files go (default target/bench; about 2.3 x SIZE of
#              free space is needed; the files are left for inspection)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

case ${1:-} in
    -h|--help) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
size_mib=${1:-1024}
[[ $size_mib =~ ^[1-9][0-9]*$ ]] || { echo "bench/analysis.sh: SIZE_MIB wants a positive integer, got '$size_mib' (--help)" >&2; exit 2; }
work=${2:-target/bench}
connections=${CONNECTIONS:-200}
seconds=${SECONDS_SPAN:-600}

for tool in tshark /usr/bin/time; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "error: $tool is missing: install tshark and time (apt-get install tshark time)" >&2
        exit 1
    fi
done

echo "building release binaries..." >&2
cargo build --release --quiet --bin reelctl --example gen_recording
reelctl=target/release/reelctl
gen=target/release/examples/gen_recording

mkdir -p "$work"
rec="$work/bench-${size_mib}m.reel"
pcap="$work/bench-${size_mib}m.pcapng"
back="$work/bench-${size_mib}m-imported.reel"

if [ ! -s "$rec" ]; then
    echo "generating $rec ($size_mib MiB, $connections connections over $seconds s)..." >&2
    "$gen" "$rec" "$size_mib" "$connections" "$seconds" >&2
fi

rows=()
# timed NAME INPUT_FILE COMMAND...: runs COMMAND (stdout discarded), records
# its wall time, the input's read rate and its peak resident memory.
timed() {
    local name=$1 input=$2
    shift 2
    local bytes start end secs rss
    bytes=$(stat -c %s "$input")
    # Warm the page cache so every tool reads from memory alike.
    cat "$input" >/dev/null
    start=$(date +%s%N)
    /usr/bin/time -f %M -o "$work/rss" "$@" >/dev/null 2>"$work/stderr" || {
        echo "error: $name failed:" >&2
        cat "$work/stderr" >&2
        exit 1
    }
    end=$(date +%s%N)
    rss=$(tail -n 1 "$work/rss")
    secs=$(awk -v ns=$((end - start)) 'BEGIN { printf "%.2f", ns / 1e9 }')
    rows+=("$(awk -v name="$name" -v b="$bytes" -v ns=$((end - start)) -v rss="$rss" 'BEGIN {
        printf "| %s | %.0f MiB | %.2f | %.2f GB/s | %.0f MiB |", name, b / 1048576, ns / 1e9,
            b / (ns / 1e9) / 1e9, rss / 1024 }')")
    echo "$name: ${secs}s" >&2
}

timed "reelctl stats" "$rec" "$reelctl" --json stats "$rec"
timed "reelctl stats --framing u16be" "$rec" "$reelctl" --json stats "$rec" --framing u16be
timed "reelctl export (pcapng)" "$rec" "$reelctl" export "$rec" --pcap "$pcap"
timed "tshark -q -z conv,tcp (reference)" "$pcap" tshark -r "$pcap" -q -z conv,tcp
timed "reelctl import" "$pcap" "$reelctl" import "$pcap" --server 10.0.0.1:5630 -o "$back"

# The figures must agree: stats of the recording and of its round trip.
"$reelctl" --json stats "$rec" >"$work/stats.json"
"$reelctl" --json stats "$back" >"$work/stats-back.json"
totals() {
    # bytes and chunks each way, and the connection count, from stats JSON.
    grep -o '"c2s":{"bytes":[0-9]*,"chunks":[0-9]*\|"s2c":{"bytes":[0-9]*,"chunks":[0-9]*\|"total":[0-9]*' "$1" | head -n 3
}
if [ "$(totals "$work/stats.json")" != "$(totals "$work/stats-back.json")" ]; then
    echo "error: the imported recording's totals differ from the original's" >&2
    exit 1
fi

echo
echo "Recording: $size_mib MiB, $connections connections, $seconds s of traffic;" \
    "$(stat -c %s "$pcap" | awk '{ printf "%.0f MiB", $1 / 1048576 }') as pcapng." \
    "$(nproc) cores, $(uname -m)."
echo
echo "| step | input | seconds | input read rate | peak RSS |"
echo "|---|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
