#!/usr/bin/env python3
"""Side-by-side report for bench/compare.sh.

    report.py OUTDIR
    report.py --median OUTDIR

Reads OUTDIR/meta.json and OUTDIR/<variant>/<server>/{facts.json,raw/*.json}
(raw files in the reference harness's format), prints markdown and writes
OUTDIR/results.json:

  * one table per (variant, workload): ops/s, p50, p99, server CPU µs per
    request and errors for Arca and OpenBao, with the ratios Arca/OpenBao
    (ops/s: higher is better for Arca; CPU: lower is better);
  * audit overhead: ops/s with a file audit device / without, per server,
    workload and concurrency, with the CPU and audit bytes per request;
  * login suite: the TokenReview responder's share of the kubernetes logins,
    the password-hash cost of each server's userpass login, token store growth;
  * the issue 4 and issue 5 targets, computed from the cells present;
  * memory and start-up per variant.

--median (compare.sh with ROUNDS > 1) first fills OUTDIR/<variant>/<server>
from OUTDIR/round-*/<variant>/<server>: every cell (raw/<workload>-c<N>.*)
from the round whose ops/s is the median of that cell's (the lower middle
one for an even count), everything else (facts, logs, warm-up) from round 1,
and rounds.json with each cell's ops/s in every round. The audit overhead
table then also lists with/without round by round, and the audit target is
judged on the median of those per-round ratios.
"""
import glob
import json
import os
import re
import shutil
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
for _wl in ("approle", "k8s", "jwt", "userpass"):
    VARIANT_TITLE["login-" + _wl] = "dev servers (in memory), a fresh server for this workload; every login creates a token"


def login_variant(wl):
    """The variant that holds a login workload's cells: approle_login -> login-approle."""
    return "login-" + wl[: -len("_login")]
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
            r_s = 0.0
            if h.get("responder_ticks_before") is not None and h.get("responder_ticks_after") is not None:
                r_s = (h["responder_ticks_after"] - h["responder_ticks_before"]) / h["clk_tck"]
                c["responder_cpu_us_per_req"] = 1e6 * r_s / max(w["requests"], 1)
                c["responder_cores"] = r_s / w["duration_s"] if w["duration_s"] else 0
            if h.get("responder_reviews_before") is not None and h.get("responder_reviews_after") is not None:
                c["reviews_per_req"] = (h["responder_reviews_after"] - h["responder_reviews_before"]) / max(w["requests"], 1)
            if h.get("responder_connections_before") is not None and h.get("responder_connections_after") is not None:
                c["responder_connections"] = h["responder_connections_after"] - h["responder_connections_before"]
            c["other_cores"] = max(0.0, busy - (cpu_s + r_s + h["wrk_cpu_s"]) / h["wall_s"])
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


def round_number(d):
    return int(d.rsplit("-", 1)[1])


def merge_rounds(out):
    rounds = sorted(glob.glob(os.path.join(out, "round-*")), key=round_number)
    if not rounds:
        sys.exit(f"report.py --median: no round-* directory in {out}")
    for vs in sorted(glob.glob(os.path.join(rounds[0], "*", "*"))):
        if not os.path.isdir(vs):
            continue
        rel = os.path.relpath(vs, rounds[0])
        dest = os.path.join(out, rel)
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(vs, dest)
        runs = {}
        for r in rounds:
            for path in glob.glob(os.path.join(r, rel, "raw", "*-c*.json")):
                base = os.path.basename(path)
                if base.endswith((".host.json", ".capture.json")):
                    continue
                with open(path) as f:
                    runs.setdefault(base[: -len(".json")], []).append((json.load(f)["rps"], round_number(r), r))
        summary = {}
        for name, got in sorted(runs.items()):
            by_rps = sorted(got)
            _, number, r = by_rps[(len(by_rps) - 1) // 2]
            for ext in (".json", ".host.json", ".capture.json", ".log"):
                src = os.path.join(r, rel, "raw", name + ext)
                dst = os.path.join(dest, "raw", name + ext)
                if os.path.exists(src):
                    shutil.copyfile(src, dst)
                elif os.path.exists(dst):
                    os.remove(dst)
            summary[name] = {"median_round": number,
                             "rps_by_round": [rps for rps, _, _ in sorted(got, key=lambda x: x[1])]}
        with open(os.path.join(dest, "rounds.json"), "w") as f:
            json.dump(summary, f, indent=1)


def round_ratios(without, with_):
    """with/without of each round, in round order."""
    a = without.get("rounds", {}).get("rps_by_round", [])
    b = with_.get("rounds", {}).get("rps_by_round", [])
    return " ".join(f"{y / x:.2f}" for x, y in zip(a, b) if x) or "n/a"


def ratio(a, b):
    return f"{a / b:.2f}x" if a and b else "n/a"


def ms(x):
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def mib(kib):
    return f"{kib / 1024:.1f}" if kib is not None else ""


# What each side does in the login workloads (printed under their tables).
WL_NOTE = {
    "approle_login": "`POST auth/approle/login {role_id, secret_id}`, one secret-id with unlimited uses; "
                     "the same role on both servers (token_policies default, token_ttl 10m).",
    "k8s_login": "`POST auth/kubernetes/login {role, jwt}`, an RS256 projected-service-account token; the same "
                 "config on both servers (pem_keys = the signing key, kubernetes_host = the local TokenReview "
                 "responder, its CA, a reviewer token). **Arca** checks the signature against pem_keys and does "
                 "not call the API server; **OpenBao** checks pem_keys too and then always calls TokenReview "
                 "(one HTTPS request to the responder per login). OpenBao's CPU column is its own process only: "
                 "the responder's CPU is in \"Kubernetes login: the TokenReview responder\" below.",
    "jwt_login": "`POST auth/jwt/login {role, jwt}` with the same token, `jwt_validation_pubkeys` = the same key, "
                 "bound_issuer, bound_audiences, bound_subject: local verification on both servers (OpenBao's "
                 "way to trust service-account tokens without TokenReview). Not an issue 5 target; it shows "
                 "OpenBao's local-key path next to k8s_login.",
    "userpass_login": "`POST auth/userpass/login/bench {password}`: each server with its own password hash, "
                      "**Arca Argon2id (m=19 MiB, t=2, p=1)**, **OpenBao bcrypt (cost 10, fixed)**; whole logins "
                      "are compared, see \"userpass: password-hash cost\" below for the cost of one hash on each side.",
}
LOGIN_ORDER = ("approle_login", "k8s_login", "jwt_login", "userpass_login")
HASHES = {"arca": "Argon2id m=19456 KiB, t=2, p=1", "openbao": "bcrypt cost 10"}


def login_sections(p, data, meta, results):
    concs = [int(c) for c in meta["concurrency"]]
    def cell(s, wl, c):
        return data.get((login_variant(wl), s), {}).get("cells", {}).get((wl, c))

    def f1(x):
        return f"{x:,.1f}" if x is not None else "–"

    # -- kubernetes: the responder
    if any(cell(s, "k8s_login", c) for s in SERVERS for c in concs):
        p("## Kubernetes login: the TokenReview responder\n")
        p("The responder (`helper.py responder`: Python http.server + ssl, a thread per connection, keep-alive) "
          "stands in for the cluster's API server; it runs on this machine for both servers' runs and competes "
          "with the server for its cores. Arca should make no TokenReview call (pem_keys verify the token); "
          "OpenBao makes one per login. \"server + responder\" is the CPU the whole login path costs on this "
          "machine; a real API server's cost per review differs (it also verifies the token), so quote OpenBao's "
          "figures as \"with a TokenReview per login\" and read its CPU µs/login (its own process) as the figure "
          "that does not depend on the responder.\n")
        p("| conc | server | logins/s | server CPU µs/login | responder CPU µs/login | TokenReview calls/login | "
          "new TLS connections to the responder | server + responder CPU µs/login | responder cores |")
        p("|--:|---|--:|--:|--:|--:|--:|--:|--:|")
        for c in concs:
            for s in SERVERS:
                x = cell(s, "k8s_login", c)
                if not x:
                    continue
                tot = (x.get("server_cpu_us_per_req") or 0) + (x.get("responder_cpu_us_per_req") or 0)
                rv = x.get("reviews_per_req")
                p(f"| {c} | {LABEL[s]} | {x['rps']:,.0f}{' (E)' if x['error_total'] else ''} | "
                  f"{f1(x.get('server_cpu_us_per_req'))} | {f1(x.get('responder_cpu_us_per_req'))} | "
                  f"{f'{rv:.3f}' if rv is not None else '–'} | {x.get('responder_connections', '–')} | {f1(tot)} | "
                  f"{x.get('responder_cores', 0):.2f} |")
        p()
        for c in concs:
            a, o = cell("arca", "k8s_login", c), cell("openbao", "k8s_login", c)
            if a and o:
                ta = (a.get("server_cpu_us_per_req") or 0) + (a.get("responder_cpu_us_per_req") or 0)
                to = (o.get("server_cpu_us_per_req") or 0) + (o.get("responder_cpu_us_per_req") or 0)
                p(f"- c={c}: CPU per login Arca/OpenBao {ratio(a.get('server_cpu_us_per_req'), o.get('server_cpu_us_per_req'))} "
                  f"(server processes only), {ratio(ta, to)} (server + responder); the responder used "
                  f"{o.get('responder_cores', 0):.2f} cores during OpenBao's cell, cores OpenBao did not have "
                  "(the server-only CPU ratio is the comparison that does not depend on it).")
        p()

    # -- userpass: the hash
    if any(cell(s, "userpass_login", c) for s in SERVERS for c in concs):
        p("## userpass: password-hash cost\n")
        p("The two servers hash differently and neither can be set to the other's algorithm (OpenBao's bcrypt "
          "cost is fixed at 10; Arca has no hash knob), so \"the same password-hash cost\" is checked, not "
          "imposed: the table gives what one login costs on each side with its own hash. A userpass login is "
          "one hash verification plus the login machinery; the approle login of the same run is that "
          "machinery without a hash, so \"≈ hash\" = userpass − approle CPU per login is the CPU of one hash "
          "(an estimate). At c=1 the p50 is about one hash's wall time. Hash CPU ratio near 1: comparable "
          "costs, and the userpass ops ratio compares the servers; far from 1: it mostly compares the hashes.\n")
        p(f"Arca: {HASHES['arca']}; OpenBao: {HASHES['openbao']}.\n")
        p("| conc | Arca userpass CPU µs/login | Arca approle CPU µs/login | Arca ≈ hash CPU µs | "
          "OpenBao userpass CPU µs/login | OpenBao approle CPU µs/login | OpenBao ≈ hash CPU µs | hash CPU ratio A/O | "
          "Arca p50 ms | OpenBao p50 ms | logins/s A/O |")
        p("|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
        for c in concs:
            row, hashes = [], {}
            for s in SERVERS:
                u, a = cell(s, "userpass_login", c), cell(s, "approle_login", c)
                uc = u.get("server_cpu_us_per_req") if u else None
                ac = a.get("server_cpu_us_per_req") if a else None
                h = uc - ac if uc is not None and ac is not None else None
                hashes[s] = h
                row += [f1(uc), f1(ac), f1(h)]
                if u:
                    results.setdefault("userpass_hash", []).append(
                        {"server": s, "conc": c, "hash": HASHES[s], "userpass_cpu_us": uc, "approle_cpu_us": ac,
                         "hash_cpu_us_est": h, "p50_ms": u["p50_ms"]})
            ua, uo = cell("arca", "userpass_login", c), cell("openbao", "userpass_login", c)
            p(f"| {c} | {' | '.join(row)} | {ratio(hashes.get('arca'), hashes.get('openbao'))} | "
              f"{ms(ua['p50_ms']) if ua else '–'} | {ms(uo['p50_ms']) if uo else '–'} | "
              f"{ratio(ua['rps'], uo['rps']) if ua and uo else 'n/a'} |")
        p()

    # -- token store growth
    p("## Logins and memory (token store growth)\n")
    p(f"Every login creates a {meta.get('login_token_type', 'service')} token (token_ttl "
      f"{meta.get('login_token_ttl', '10m')}: none expires during a variant), so the token stores grow; each "
      "workload runs on a fresh server, \"logins\" counts its measured cells and its warm-up. More logins/s "
      "means more tokens in the same time: compare the growth per 1000 logins, not the RSS after the load.\n")
    p("| workload | server | RSS before the load (MiB) | RSS after the load (MiB) | peak (MiB) | logins | RSS growth KiB per 1000 logins |")
    p("|---|---|--:|--:|--:|--:|--:|")
    for wl in LOGIN_ORDER:
        for s in SERVERS:
            d = data.get((login_variant(wl), s))
            if not d:
                continue
            f = d["facts"]
            n = sum(x["requests"] for x in d["cells"].values()) + f.get("warmup_requests", 0)
            r0, r1 = f.get("pre_load_rss_kib"), f.get("after_load_rss_kib")
            growth = (r1 - r0) / n * 1000 if r0 is not None and r1 is not None and n else None
            f["logins_total"] = n
            f["rss_growth_kib_per_1000_logins"] = growth
            p(f"| {wl} | {LABEL[s]} | {mib(r0)} | {mib(r1)} | {mib(f.get('peak_rss_kib'))} | {n:,} | "
              f"{f'{growth:.1f}' if growth is not None else '–'} |")
    p()
    if any(data.get((login_variant("userpass_login"), s)) for s in SERVERS):
        p("userpass_login makes few logins, and its growth is not its tokens: it is the working memory of the "
          "password hashes the process keeps afterwards (Argon2id takes 19 MiB per hash; bcrypt 4 KiB), so "
          "read its row as memory under password-login load, not as a per-token cost.\n")


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
            warm = 0
            for wp in glob.glob(os.path.join(d, "warmup", "*.json")):
                try:
                    with open(wp) as f:
                        warm += json.load(f)["requests"]
                except (ValueError, KeyError, OSError):
                    pass
            if warm:
                facts["warmup_requests"] = warm
            cells = load_cells(d)
            if os.path.exists(os.path.join(d, "rounds.json")):
                with open(os.path.join(d, "rounds.json")) as f:
                    for name, r in json.load(f).items():
                        m = re.match(r"(.+)-c(\d+)$", name)
                        if m and (m.group(1), int(m.group(2))) in cells:
                            cells[(m.group(1), int(m.group(2)))]["rounds"] = r
            data[(v, s)] = {"facts": facts, "cells": cells}

    p = print
    p("# Arca vs OpenBao (loopback, wrk, same run)\n")
    p(f"{meta.get('arca') or '-'} vs {meta.get('openbao') or '-'}; {meta['duration_s']} s per cell after "
      f"{meta['warmup_s']} s warm-up per workload, {meta['nkeys']} keys, wrk {meta['threads']} threads "
      f"({meta['wrk']}{', wrk on CPUs ' + meta['wrk_cpus'] + ', servers on ' + meta['server_cpus'] if meta.get('wrk_cpus') else ''}); "
      f"{meta['nproc']} x {meta['cpu']}, kernel {meta['kernel']}, load average at start {meta['loadavg_start']}; "
      f"started {meta['started']}.\n")
    if meta.get("rounds", 1) > 1:
        p(f"Every figure of a cell is from one of {meta['rounds']} rounds (each variant run again in every round, "
          "in turn): the round with the median ops/s for that cell. results.json has the ops/s of every round.\n")
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
            if v.startswith("login-") and wl in WL_NOTE:
                p(WL_NOTE[wl] + "\n")
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
        by_round = meta.get("rounds", 1) > 1
        p("| variant | workload | conc | server | ops/s without | ops/s with | with/without | CPU µs/req without → with | p99 ms without → with | audit B/req |"
          + (" with/without by round |" if by_round else ""))
        p("|---|---|--:|---|--:|--:|--:|--:|--:|--:|" + ("---|" if by_round else ""))
        for base, aud in pairs:
            for s in SERVERS:
                c0 = data.get((base, s), {}).get("cells", {})
                c1 = data.get((aud, s), {}).get("cells", {})
                for key in sorted(set(c0) & set(c1), key=lambda k: (k[0], k[1])):
                    x0, x1 = c0[key], c1[key]
                    p(f"| {base} | {key[0]} | {key[1]} | {LABEL[s]} | {x0['rps']:,.0f} | {x1['rps']:,.0f} | "
                      f"{ratio(x1['rps'], x0['rps'])} | {x0.get('server_cpu_us_per_req', 0):.1f} → {x1.get('server_cpu_us_per_req', 0):.1f} | "
                      f"{ms(x0['p99_ms'])} → {ms(x1['p99_ms'])} | {x1.get('audit_bytes_per_req', 0):,.0f} |"
                      + (f" {round_ratios(x0, x1)} |" if by_round else ""))
        p()

    # ---- login suite
    if any(v.startswith("login-") for v in meta["variants"]):
        login_sections(p, data, meta, results)

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
                    fig = f"{x1['rps']:,.0f} / {x0['rps']:,.0f} = {r:.2f} (cost {100 * (1 - r):.0f} %)"
                    per = [y / x for x, y in zip(x0.get("rounds", {}).get("rps_by_round", []),
                                                 x1.get("rounds", {}).get("rps_by_round", [])) if x]
                    if len(per) > 1:
                        # With rounds, the median of each round's own ratio
                        # decides: both halves of a round ran minutes apart,
                        # the rounds further.
                        r = sorted(per)[(len(per) - 1) // 2]
                        fig += (f"; by round {' '.join(f'{x:.2f}' for x in per)}, "
                                f"median {r:.2f} (cost {100 * (1 - r):.0f} %)")
                    targets.append((f"Arca file audit costs < 20 % ({base} {wl})", conc, fig, r > 0.8))
    if targets:
        p("## Issue 4 targets (from this run)\n")
        p("| target | conc | figure | met |")
        p("|---|--:|---|:-:|")
        for label, conc, fig, ok in targets:
            p(f"| {label} | {conc} | {fig} | {'yes' if ok else 'no'} |")
        p()
    targets5 = []
    for wl, label in (("approle_login", "approle logins/s ≥ 5x OpenBao"),
                      ("k8s_login", "kubernetes logins/s ≥ 5x OpenBao (Arca: pem_keys; OpenBao: pem_keys + TokenReview)"),
                      ("jwt_login", "(no target) jwt logins/s, local keys on both"),
                      ("userpass_login", "(no target) userpass logins/s, each with its own hash")):
        for conc in [int(c) for c in meta["concurrency"]]:
            a, o = cell(login_variant(wl), "arca", wl, conc), cell(login_variant(wl), "openbao", wl, conc)
            if a and o and o["rps"]:
                r = a["rps"] / o["rps"]
                met = ("yes" if r >= 5 else "no") if "≥" in label else "–"
                if a["error_total"] or o["error_total"]:
                    met = "no (errors)" if met != "–" else "– (errors)"
                targets5.append((label, conc, f"{a['rps']:,.0f} vs {o['rps']:,.0f} = {r:.2f}x", met))
    uh = {(h["server"], h["conc"]): h["hash_cpu_us_est"] for h in results.get("userpass_hash", [])}
    for conc in [int(c) for c in meta["concurrency"]]:
        a, o = uh.get(("arca", conc)), uh.get(("openbao", conc))
        if a is not None and o is not None:
            targets5.append(("userpass: same password-hash cost (≈ hash CPU µs, Arca/OpenBao)", conc,
                             f"{a:,.0f} vs {o:,.0f} µs = {ratio(a, o)}", "–"))
    if targets5:
        p("## Issue 5 targets (from this run)\n")
        p("| target | conc | figure | met |")
        p("|---|--:|---|:-:|")
        for label, conc, fig, ok in targets5:
            p(f"| {label} | {conc} | {fig} | {ok} |")
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
        if v.startswith("login-"):
            rows.append(("pre_load_rss_kib", "RSS after setup, before the load (MiB)", 1024, "{:.1f}"))
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
    if len(sys.argv) == 3 and sys.argv[1] == "--median":
        merge_rounds(sys.argv[2])
    elif len(sys.argv) == 2:
        main(sys.argv[1])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
