#!/usr/bin/env bash
# bench/crosscheck.sh [OUTDIR]
#
# Cross-checks compare.sh against the reference harness (REF, default
# /work/shared/bench): starts `arca server -dev` and `bao server -dev` (one after
# the other, on loopback), points the reference run.sh at each with SERVER_PID
# (so it records server CPU per request too), stops each server, and prints both
# results.md tables. Their figures should agree with compare.sh's core/kv
# variants run at the same moment (same requests, keys, values and columns);
# compare.sh's raw directories can also be read by the reference report:
#   python3 $REF/lib/report.py table OUTDIR/kv/arca --order "kv_read kv_write"
#
# Knobs: REF, ARCA_BIN (target/release/arca), BAO_BIN (bao), ARCA_PORT (18430),
# BAO_PORT (18434), and run.sh's own: DURATION (10), WARMUP (2), CONCURRENCY
# ("1 16 64"), NKEYS (1000), WORKLOADS (default "sys_health token_lookup_self
# kv_read kv_write": Arca has no transit engine, and the reference prepare.py
# stops when transit cannot be mounted), REPEAT, WRK_CPUS.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
OUT=${1:-$HERE/results/crosscheck-$(date +%Y%m%d-%H%M%S)}
REF=${REF:-/work/shared/bench}
ARCA_BIN=${ARCA_BIN:-$ROOT/target/release/arca}
BAO_BIN=${BAO_BIN:-bao}
ARCA_PORT=${ARCA_PORT:-18430}
BAO_PORT=${BAO_PORT:-18434}
export WORKLOADS=${WORKLOADS:-"sys_health token_lookup_self kv_read kv_write"}
[ -x "$REF/run.sh" ] || { echo "crosscheck.sh: no $REF/run.sh" >&2; exit 1; }
[ -x "$ARCA_BIN" ] || (cd "$ROOT" && cargo build --release --bin arca)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/arca-crosscheck.XXXXXX")
PID=""
cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# measure NAME PORT CMD...
measure() {
  local name=$1 port=$2; shift 2
  local addr="http://127.0.0.1:$port"
  if curl -s -o /dev/null -m 1 "$addr/v1/sys/health"; then echo "crosscheck.sh: $addr is taken" >&2; exit 1; fi
  HOME=$WORK "$@" > "$OUT/$name.log" 2>&1 &
  PID=$!
  for _ in $(seq 600); do curl -sf -o /dev/null "$addr/v1/sys/health" && break; sleep 0.05; done
  curl -sf -o /dev/null "$addr/v1/sys/health" || { echo "crosscheck.sh: $name did not start, see $OUT/$name.log" >&2; exit 1; }
  echo "crosscheck.sh: $name: reference run.sh against $addr (pid $PID)" >&2
  SERVER_PID=$PID "$REF/run.sh" "$addr" root "$OUT/$name" > /dev/null
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
}

measure arca "$ARCA_PORT" "$ARCA_BIN" server -dev -dev-root-token-id=root \
  -dev-listen-address="127.0.0.1:$ARCA_PORT" -log-level=warn
measure openbao "$BAO_PORT" "$BAO_BIN" server -dev -dev-root-token-id=root \
  -dev-listen-address="127.0.0.1:$BAO_PORT" -dev-no-store-token -log-level=warn
for name in arca openbao; do
  f="$OUT/$name/results.md"; [ -e "$f" ] || f="$OUT/$name/summary.md"
  echo "## $name (reference run.sh)"; echo; cat "$f"; echo
done | tee "$OUT/report.md"
