#!/usr/bin/env python3
"""Side-by-side report for bench/compare.sh: one table per workload with
Arca and OpenBao figures and the ratios (ops/s: Arca/OpenBao, higher is
better; CPU per request and RSS: Arca/OpenBao, lower is better)."""
import json
import sys
from pathlib import Path

out = Path(sys.argv[1])
rows = [json.loads(l) for l in (out / "results.jsonl").read_text().splitlines() if l.strip()]
rss = [json.loads(l) for l in (out / "rss.jsonl").read_text().splitlines() if l.strip()]


def cell(server, wl, conc):
    for r in rows:
        if r["server"] == server and r["workload"] == wl and r["conc"] == conc:
            w = r["wrk"]
            secs = w["duration_us"] / 1e6
            ops = w["requests"] / secs if secs else 0
            cpu_us = r["cpu_ticks"] / r["clk_tck"] * 1e6 / w["requests"] if w["requests"] else 0
            return {"ops": ops, "p50": w["p50_ms"], "p99": w["p99_ms"], "cpu": cpu_us, "err": w["status_errors"] + w["errors"]}
    return None


def ratio(a, b):
    return f"{a / b:.2f}x" if a and b else "n/a"


workloads = []
for r in rows:
    if r["workload"] not in workloads:
        workloads.append(r["workload"])
print("# Arca vs OpenBao (dev servers, loopback, wrk)\n")
for wl in workloads:
    print(f"## {wl}\n")
    print("| conc | Arca ops/s | OpenBao ops/s | ratio | Arca p50/p99 ms | OpenBao p50/p99 ms | Arca CPU µs/req | OpenBao CPU µs/req | CPU ratio | errors (A/O) |")
    print("|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    concs = sorted({r["conc"] for r in rows if r["workload"] == wl})
    for c in concs:
        a, o = cell("arca", wl, c), cell("openbao", wl, c)
        if not a or not o:
            continue
        print(f"| {c} | {a['ops']:,.0f} | {o['ops']:,.0f} | {ratio(a['ops'], o['ops'])} | "
              f"{a['p50']:.3f} / {a['p99']:.3f} | {o['p50']:.3f} / {o['p99']:.3f} | "
              f"{a['cpu']:.1f} | {o['cpu']:.1f} | {ratio(a['cpu'], o['cpu'])} | {a['err']}/{o['err']} |")
    print()


def get(server, key):
    for r in rss:
        if r["server"] == server and key in r:
            return r[key]
    return None


print("## Memory and start-up\n")
print("| measure | Arca | OpenBao | Arca/OpenBao |")
print("|---|--:|--:|--:|")
for key, label, scale in [("idle_rss_kib", "idle RSS (MiB)", 1024), ("after_load_rss_kib", "RSS after load (MiB)", 1024), ("startup_ms", "start-up to health 200 (ms)", 1)]:
    a, o = get("arca", key), get("openbao", key)
    if a is None or o is None:
        continue
    print(f"| {label} | {a / scale:.1f} | {o / scale:.1f} | {a / o:.3f} |")
