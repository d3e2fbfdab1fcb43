#!/usr/bin/env python3
"""Side-by-side report for bench/compare.sh.

    report.py OUTDIR

Reads OUTDIR/meta.json and OUTDIR/<variant>/<server>/{facts.json,raw/*.json}
(raw files in the reference harness's format), prints markdown and writes
OUTDIR/results.json:

  * one table per (variant, workload): ops/s, p50, p99, server CPU µs per
    request and errors for Arca and OpenBao, with the ratios Arca/OpenBao
    (ops/s: higher is better for Arca; CPU: lower is better);
  * audit overhead: ops/s with a file audit device / without, per server,
    workload and concurrency, with the CPU and audit bytes per request;
  * the issue 4 targets, computed from the cells present;
  * memory and start-up per variant.
"""
import glob
import json
import os
import re
import sys

SERVERS = ["arca", "openbao"]
LABEL = {"arca": "Arca", "openbao": "OpenBao"}
VARIANT_TITLE = {
    "core": "dev servers (in memory)",
    "kv": "dev servers (in memory), no audit device",
    "kv-audit": "dev servers (in memory), file audit device",
    "persist": "persistent: Arca storage \"file\" vs OpenBao storage \"raft\", no audit device",
    "persist-audit": "persistent: Arca storage \"file\" vs OpenBao storage \"raft\", file audit device",
}
NOISY_CORES = 0.25


def load_cells(d):
    cells = {}
    for path in glob.glob(os.path.join(d, "raw", "*-c*.json")):
        base = os.path.basename(path)
        m = re.match(r"(.+)-c(\d+)\.json$", base)
        if not m or base.endswith((".host.json", ".capture.json")):
            continue
        with open(path) as f:
            w = json.load(f)
        c = {"workload": m.group(1), "conc": int(m.group(2)), "rps": w["rps"], "requests": w["requests"],
             "duration_s": w["duration_s"], "p50_ms": w["latency_ms"]["p50"], "p99_ms": w["latency_ms"]["p99"],
             "p999_ms": w["latency_ms"]["p999"], "max_ms": w["latency_ms"]["max"],
             "errors": w["errors"], "error_total": sum(w["errors"].values())}
        hp = path[:-5] + ".host.json"
        if os.path.exists(hp):
            with open(hp) as f:
                h = json.load(f)
            cpu_s = (h["server_ticks_after"] - h["server_ticks_before"]) / h["clk_tck"]
            c["server_cpu_us_per_req"] = 1e6 * cpu_s / max(w["requests"], 1)
            c["server_cores"] = cpu_s / w["duration_s"] if w["duration_s"] else 0
            c["server_rss_kib_after"] = h.get("server_rss_kib_after")
            d_ = [b - a for a, b in zip(h["cpu_before"], h["cpu_after"])]
            total = sum(d_) or 1
            busy = (total - d_[3] - d_[4]) / total * h["nproc"]
            c["other_cores"] = max(0.0, busy - (cpu_s + h["wrk_cpu_s"]) / h["wall_s"])
            c["wrk_cores"] = h["wrk_cpu_s"] / h["wall_s"]
            if h.get("audit_bytes") is not None:
                c["audit_bytes"] = h["audit_bytes"]
                c["audit_bytes_per_req"] = h["audit_bytes"] / max(w["requests"], 1)
        cp = path[:-5] + ".capture.json"
        if os.path.exists(cp):
            with open(cp) as f:
                c["capture"] = json.load(f).get("capture")
        cells[(c["workload"], c["conc"])] = c
    return cells


def ratio(a, b):
    return f"{a / b:.2f}x" if a and b else "n/a"


def ms(x):
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def mib(kib):
    return f"{kib / 1024:.1f}" if kib is not None else ""


def main(out):
    with open(os.path.join(out, "meta.json")) as f:
        meta = json.load(f)
    data = {}
    for v in meta["variants"]:
        for s in SERVERS:
            d = os.path.join(out, v, s)
            if not os.path.isdir(d):
                continue
            facts = {}
            if os.path.exists(os.path.join(d, "facts.json")):
                with open(os.path.join(d, "facts.json")) as f:
                    facts = json.load(f)
            data[(v, s)] = {"facts": facts, "cells": load_cells(d)}

    p = print
    p("# Arca vs OpenBao (loopback, wrk, same run)\n")
    p(f"{meta.get('arca') or '-'} vs {meta.get('openbao') or '-'}; {meta['duration_s']} s per cell after "
      f"{meta['warmup_s']} s warm-up per workload, {meta['nkeys']} keys, wrk {meta['threads']} threads "
      f"({meta['wrk']}{', wrk on CPUs ' + meta['wrk_cpus'] + ', servers on ' + meta['server_cpus'] if meta.get('wrk_cpus') else ''}); "
      f"{meta['nproc']} x {meta['cpu']}, kernel {meta['kernel']}, load average at start {meta['loadavg_start']}; "
      f"started {meta['started']}.\n")
    p("(E) after ops/s: that cell had errors (non-2xx answers or socket errors), listed under its table. "
      "Ratios are Arca/OpenBao: for ops/s higher is better for Arca, for latency, CPU and memory lower is. "
      "\"other cores\": CPU used during the cell by processes other than the server and wrk (noise; "
      f"figures are unreliable when it is above {NOISY_CORES}).\n")

    results = {"meta": meta, "cells": [], "facts": []}
    max_other = 0.0
    for v in meta["variants"]:
        wls = []
        for s in SERVERS:
            for (wl, _c) in sorted(data.get((v, s), {}).get("cells", {}), key=lambda k: k[1]):
                if wl not in wls:
                    wls.append(wl)
        order = {"sys_health": 0, "token_lookup_self": 1, "kv_read": 2, "kv_write": 3}
        if v.startswith("persist"):
            order = {"kv_write": 0, "kv_read": 1}
        wls.sort(key=lambda w: order.get(w, 9))
        for wl in wls:
            p(f"## {v} / {wl}: {VARIANT_TITLE.get(v, v)}\n")
            p("| conc | Arca ops/s | OpenBao ops/s | ops ratio | Arca p50 ms | OpenBao p50 ms | Arca p99 ms | "
              "OpenBao p99 ms | Arca CPU µs/req | OpenBao CPU µs/req | CPU ratio | errors A/O | other cores A/O |")
            p("|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
            concs = sorted({c for s in SERVERS for (w, c) in data.get((v, s), {}).get("cells", {}) if w == wl})
            for conc in concs:
                a = data.get((v, "arca"), {}).get("cells", {}).get((wl, conc))
                o = data.get((v, "openbao"), {}).get("cells", {}).get((wl, conc))

                def g(x, k, f=lambda y: y):
                    return f(x[k]) if x and x.get(k) is not None else "–"
                for s, x in (("arca", a), ("openbao", o)):
                    if x:
                        results["cells"].append(dict(x, variant=v, server=s))
                        max_other = max(max_other, x.get("other_cores", 0))
                def ops(x):
                    return f"{x['rps']:,.0f}" + (" (E)" if x["error_total"] else "") if x else "–"
                p(f"| {conc} | {ops(a)} | {ops(o)} | "
                  f"{ratio(a['rps'], o['rps']) if a and o else 'n/a'} | {g(a, 'p50_ms', ms)} | {g(o, 'p50_ms', ms)} | "
                  f"{g(a, 'p99_ms', ms)} | {g(o, 'p99_ms', ms)} | "
                  f"{g(a, 'server_cpu_us_per_req', lambda y: f'{y:.1f}')} | {g(o, 'server_cpu_us_per_req', lambda y: f'{y:.1f}')} | "
                  f"{ratio(a.get('server_cpu_us_per_req'), o.get('server_cpu_us_per_req')) if a and o else 'n/a'} | "
                  f"{g(a, 'error_total')}/{g(o, 'error_total')} | "
                  f"{g(a, 'other_cores', lambda y: f'{y:.2f}')}/{g(o, 'other_cores', lambda y: f'{y:.2f}')} |")
            p()
            for s in SERVERS:
                for conc in concs:
                    x = data.get((v, s), {}).get("cells", {}).get((wl, conc))
                    if x and x["error_total"]:
                        errs = ", ".join(f"{k}={n}" for k, n in x["errors"].items() if n)
                        cap = x.get("capture")
                        bodies = list(dict.fromkeys(b.strip() for b in (cap or {}).get("first_bodies", [])))
                        p(f"- **{LABEL[s]} c={conc}: {x['error_total']:,} errors ({errs}) in {x['requests']:,} requests.**"
                          + (f" A short re-run recording the answers saw {cap['non2xx']:,} non-2xx answers, statuses "
                             f"{cap['statuses'] or '-'}; first: `{'`; `'.join(bodies)}`" if cap else "")
                          + f" (raw: {v}/{s}/raw/{wl}-c{conc}.json)")
            if any(data.get((v, s), {}).get("cells", {}).get((wl, c), {}).get("error_total") for s in SERVERS for c in concs):
                p()

    # ---- audit overhead
    pairs = [(base, base + "-audit") for base in ("kv", "persist") if base in meta["variants"] and base + "-audit" in meta["variants"]]
    if pairs:
        p("## Audit overhead (file audit device)\n")
        p("ops/s with the device / without it, same server, same workload, fresh server for each; "
          "\"audit B/req\": bytes the device wrote per request.\n")
        p("| variant | workload | conc | server | ops/s without | ops/s with | with/without | CPU µs/req without → with | p99 ms without → with | audit B/req |")
        p("|---|---|--:|---|--:|--:|--:|--:|--:|--:|")
        for base, aud in pairs:
            for s in SERVERS:
                c0 = data.get((base, s), {}).get("cells", {})
                c1 = data.get((aud, s), {}).get("cells", {})
                for key in sorted(set(c0) & set(c1), key=lambda k: (k[0], k[1])):
                    x0, x1 = c0[key], c1[key]
                    p(f"| {base} | {key[0]} | {key[1]} | {LABEL[s]} | {x0['rps']:,.0f} | {x1['rps']:,.0f} | "
                      f"{ratio(x1['rps'], x0['rps'])} | {x0.get('server_cpu_us_per_req', 0):.1f} → {x1.get('server_cpu_us_per_req', 0):.1f} | "
                      f"{ms(x0['p99_ms'])} → {ms(x1['p99_ms'])} | {x1.get('audit_bytes_per_req', 0):,.0f} |")
        p()

    # ---- issue 4 targets
    targets = []

    def cell(v, s, wl, c):
        return data.get((v, s), {}).get("cells", {}).get((wl, c))
    for v, wl, label in (("kv", "kv_read", "KV read ops/s ≥ 5x OpenBao (dev, no audit)"),
                         ("persist", "kv_write", "durable KV write ops/s ≥ 5x OpenBao raft")):
        for conc in [int(c) for c in meta["concurrency"]]:
            a, o = cell(v, "arca", wl, conc), cell(v, "openbao", wl, conc)
            if a and o and o["rps"]:
                r = a["rps"] / o["rps"]
                targets.append((label, conc, f"{a['rps']:,.0f} vs {o['rps']:,.0f} = {r:.2f}x", r >= 5))
    for base, aud in pairs:
        for wl in ("kv_read", "kv_write"):
            for conc in [int(c) for c in meta["concurrency"]]:
                x0, x1 = cell(base, "arca", wl, conc), cell(aud, "arca", wl, conc)
                if x0 and x1 and x0["rps"]:
                    r = x1["rps"] / x0["rps"]
                    targets.append((f"Arca file audit costs < 20 % ({base} {wl})", conc,
                                    f"{x1['rps']:,.0f} / {x0['rps']:,.0f} = {r:.2f} (cost {100 * (1 - r):.0f} %)", r > 0.8))
    if targets:
        p("## Issue 4 targets (from this run)\n")
        p("| target | conc | figure | met |")
        p("|---|--:|---|:-:|")
        for label, conc, fig, ok in targets:
            p(f"| {label} | {conc} | {fig} | {'yes' if ok else 'no'} |")
        p()

    # ---- memory and start-up
    p("## Memory and start-up\n")
    p("RSS of the server process (VmRSS; anon = its own heap, without the mapped binary); \"max after a cell\" is the "
      "largest RSS read right after a measurement; peak is VmHWM over the server's life; each variant runs on a fresh server.\n")
    p("| variant | measure | Arca | OpenBao | Arca/OpenBao |")
    p("|---|---|--:|--:|--:|")
    for v in meta["variants"]:
        fa = data.get((v, "arca"), {}).get("facts", {})
        fo = data.get((v, "openbao"), {}).get("facts", {})
        for s, f in (("arca", fa), ("openbao", fo)):
            if f:
                results["facts"].append(f)
        persist = v.startswith("persist")
        rows = [("startup_ms", "start-up to first answer (ms)" if persist else "start-up to health 200 (ms)", 1, "{:.1f}")]
        if persist:
            rows += [("init_ms", "PUT sys/init (ms)", 1, "{:.1f}"), ("unseal_ms", "unseal, all shares (ms)", 1, "{:.1f}"),
                     ("health_200_ms", "unsealed → health 200 (ms)", 1, "{:.1f}")]
        rows += [("idle_rss_kib", "idle RSS (MiB)", 1024, "{:.1f}"), ("idle_rss_anon_kib", "idle RSS anon (MiB)", 1024, "{:.1f}")]
        for s, f in (("arca", fa), ("openbao", fo)):
            cells = data.get((v, s), {}).get("cells", {}).values()
            rs = [c["server_rss_kib_after"] for c in cells if c.get("server_rss_kib_after")]
            if rs:
                f["max_cell_rss_kib"] = max(rs)
        rows += [("max_cell_rss_kib", "RSS, max after a cell (MiB)", 1024, "{:.1f}"),
                 ("after_load_rss_kib", "RSS after the load (MiB)", 1024, "{:.1f}"),
                 ("peak_rss_kib", "peak RSS, VmHWM (MiB)", 1024, "{:.1f}")]
        if persist:
            rows.append(("data_dir_kib", "data directory after the load (MiB)", 1024, "{:.1f}"))
        if v.endswith("-audit"):
            rows.append(("audit_bytes_total", "audit file bytes written in the cells (MiB)", 1048576, "{:.1f}"))
        for key, label, scale, fmt in rows:
            a, o = fa.get(key), fo.get(key)
            if a is None and o is None:
                continue
            fa_ = fmt.format(a / scale) if a is not None else "–"
            fo_ = fmt.format(o / scale) if o is not None else "–"
            p(f"| {v} | {label} | {fa_} | {fo_} | {f'{a / o:.3f}' if a is not None and o else 'n/a'} |")
    p()
    if max_other > NOISY_CORES:
        p(f"**Noise: up to {max_other:.2f} cores were used by other processes during some cells "
          "(column \"other cores\"): re-run on a quiet machine before quoting figures.**\n")
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1])
