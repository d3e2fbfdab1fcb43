#!/usr/bin/env python3
"""HTTP chores for bench/compare.sh, on one keep-alive connection each (standard
library only, so no CLI start-up or curl spawn is ever counted):

    helper.py wait URL WANT TIMEOUT_S MARKER
        poll URL every millisecond until it answers WANT (an HTTP status, or
        "any"); creates MARKER once it polls, so the caller can start the
        server after it (start-up timing to ~1 ms). Prints "<time_ns> <status>".
    helper.py init ADDR SHARES THRESHOLD
        PUT sys/init, then PUT sys/unseal with THRESHOLD shares, then waits for
        sys/health 200. Prints JSON: init_ms, unseal_ms, health_200_ms,
        root_token, keys (throw-away values: keep them out of results).
    helper.py audit ADDR TOKEN FILE_PATH
        PUT sys/audit/file {"type":"file","options":{"file_path":FILE_PATH}},
        then checks that GET sys/audit lists it.
    helper.py prepare ADDR TOKEN
        env WORKLOADS, NKEYS (1000), KV_MOUNT (secret): mounts kv-v2 at
        KV_MOUNT if it is missing (POST sys/mounts/<mount>
        {"type":"kv","options":{"version":"2"}}), writes NKEYS secrets
        k0..k<N-1> = {"value": "%064d" % i}, mounts transit + key "k" if
        transit_encrypt is wanted; then sends one request of each workload and
        fails unless the answer is the one Vault gives, so that a benchmark
        never measures error responses.
"""
import base64
import http.client
import json
import os
import sys
import time
import urllib.parse


class Client:
    def __init__(self, addr, token="", timeout=120):
        u = urllib.parse.urlsplit(addr)
        self.conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
        self.token = token

    def call(self, method, path, body=None, token=True):
        headers = {"X-Vault-Token": self.token} if token and self.token else {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        self.conn.request(method, "/v1/" + path, body=data, headers=headers)
        resp = self.conn.getresponse()
        raw = resp.read()
        try:
            doc = json.loads(raw) if raw else None
        except ValueError:
            doc = {"raw": raw.decode(errors="replace")}
        return resp.status, doc


def die(msg):
    print("helper: " + msg, file=sys.stderr)
    sys.exit(1)


def cmd_wait(url, want, timeout_s, marker):
    u = urllib.parse.urlsplit(url)
    path = u.path + ("?" + u.query if u.query else "")
    deadline = time.monotonic() + float(timeout_s)
    open(marker, "w").close()
    while time.monotonic() < deadline:
        conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=2)
        try:
            conn.request("GET", path)
            status = conn.getresponse().status
            if want == "any" or status == int(want):
                print(time.time_ns(), status)
                return
        except (OSError, http.client.HTTPException):
            pass
        finally:
            conn.close()
        time.sleep(0.001)
    die(f"{url} did not answer {want} within {timeout_s}s")


def cmd_init(addr, shares, threshold):
    shares, threshold = int(shares), int(threshold)
    c = Client(addr)
    t = time.perf_counter()
    st, init = c.call("PUT", "sys/init", {"secret_shares": shares, "secret_threshold": threshold})
    init_ms = (time.perf_counter() - t) * 1000
    if st != 200:
        die(f"PUT sys/init -> {st} {init}")
    keys = init.get("keys_base64") or init["keys"]
    t = time.perf_counter()
    doc = {}
    for k in keys[:threshold]:
        st, doc = c.call("PUT", "sys/unseal", {"key": k})
        if st != 200:
            die(f"PUT sys/unseal -> {st} {doc}")
    unseal_ms = (time.perf_counter() - t) * 1000
    if doc.get("sealed") is not False:
        die(f"still sealed after {threshold} shares: {doc}")
    t = time.perf_counter()
    deadline = time.monotonic() + 60
    while True:
        st, _ = c.call("GET", "sys/health", token=False)
        if st == 200:
            break
        if time.monotonic() > deadline:
            die(f"sys/health still {st} 60 s after unseal")
        time.sleep(0.001)
    health_ms = (time.perf_counter() - t) * 1000
    print(json.dumps({"init_ms": round(init_ms, 1), "unseal_ms": round(unseal_ms, 1),
                      "health_200_ms": round(health_ms, 1), "shares": shares, "threshold": threshold,
                      "root_token": init["root_token"], "keys": keys}))


def cmd_audit(addr, token, file_path):
    c = Client(addr, token)
    st, doc = c.call("PUT", "sys/audit/file", {"type": "file", "options": {"file_path": file_path}})
    if st not in (200, 204):
        die(f"PUT sys/audit/file -> {st} {doc}")
    st, doc = c.call("GET", "sys/audit")
    devices = (doc or {}).get("data", doc) or {}
    dev = devices.get("file/")
    if st != 200 or not dev or dev.get("type") != "file" or dev.get("options", {}).get("file_path") != file_path:
        die(f"GET sys/audit does not list the file device: {st} {doc}")
    print(f"helper: file audit device enabled at file/ -> {file_path}")


def ensure_mount(c, path, mtype, options=None):
    st, doc = c.call("GET", "sys/mounts")
    if st != 200:
        die(f"GET sys/mounts -> {st} {doc}")
    mounts = doc.get("data", doc)
    existing = mounts.get(path + "/")
    if existing:
        if existing.get("type") != mtype:
            die(f"{path}/ is mounted as {existing.get('type')}, not {mtype}")
        if options and (existing.get("options") or {}).get("version") != options.get("version"):
            die(f"{path}/ is {mtype} with options {existing.get('options')}, want {options}")
        return
    body = {"type": mtype}
    if options:
        body["options"] = options
    st, doc = c.call("POST", "sys/mounts/" + path, body)
    if st not in (200, 204):
        die(f"POST sys/mounts/{path} -> {st} {doc}")


def write_with_retry(c, path, body, deadline_s=30):
    # A freshly mounted kv-v2 may refuse writes for a moment (OpenBao upgrades it
    # in the background); retry before calling it a failure.
    end = time.monotonic() + deadline_s
    while True:
        st, doc = c.call("POST", path, body)
        if st in (200, 204):
            return
        if time.monotonic() > end:
            die(f"POST {path} -> {st} {doc}")
        time.sleep(0.1)


def cmd_prepare(addr, token):
    c = Client(addr, token)
    t0 = time.monotonic()
    kv = os.environ.get("KV_MOUNT", "secret")
    nkeys = int(os.environ.get("NKEYS", "1000"))
    wanted = set(os.environ.get("WORKLOADS", "").split())
    if wanted & {"kv_read", "kv_write"}:
        ensure_mount(c, kv, "kv", {"version": "2"})
        write_with_retry(c, f"{kv}/data/k0", {"data": {"value": "%064d" % 0}})
        for i in range(1, nkeys):
            st, doc = c.call("POST", f"{kv}/data/k{i}", {"data": {"value": "%064d" % i}})
            if st not in (200, 204):
                die(f"POST {kv}/data/k{i} -> {st} {doc}")
    if "transit_encrypt" in wanted:
        ensure_mount(c, "transit", "transit")
        st, _ = c.call("GET", "transit/keys/k")
        if st == 404:
            st, doc = c.call("POST", "transit/keys/k", {"type": "aes256-gcm96"})
            if st not in (200, 204):
                die(f"POST transit/keys/k -> {st} {doc}")

    checks = []
    if "kv_read" in wanted:
        st, doc = c.call("GET", f"{kv}/data/k{nkeys - 1}")
        ok = st == 200 and ((doc or {}).get("data") or {}).get("data", {}).get("value") == "%064d" % (nkeys - 1)
        checks.append(("kv_read", st, ok, doc))
    if "kv_write" in wanted:
        st, doc = c.call("POST", f"{kv}/data/w0", {"data": {"value": "%064d" % 0}})
        ok = st == 200 and "version" in ((doc or {}).get("data") or {})
        checks.append(("kv_write", st, ok, doc))
    if "transit_encrypt" in wanted:
        pt = base64.b64encode(b"0123456789abcdef" * 4).decode()
        st, doc = c.call("POST", "transit/encrypt/k", {"plaintext": pt})
        ok = st == 200 and ((doc or {}).get("data") or {}).get("ciphertext", "").startswith("vault:v")
        checks.append(("transit_encrypt", st, ok, doc))
    if "token_lookup_self" in wanted:
        st, doc = c.call("GET", "auth/token/lookup-self")
        ok = st == 200 and bool(((doc or {}).get("data") or {}).get("policies"))
        checks.append(("token_lookup_self", st, ok, doc))
    if "sys_health" in wanted:
        st, doc = c.call("GET", "sys/health", token=False)
        ok = st == 200 and (doc or {}).get("sealed") is False
        checks.append(("sys_health", st, ok, doc))
    bad = [f"{name} (HTTP {st}: {json.dumps(doc)[:300]})" for name, st, ok, doc in checks if not ok]
    if bad:
        die("sanity check failed for: " + "; ".join(bad))
    names = ", ".join(name for name, _, _, _ in checks)
    print(f"helper: {nkeys if wanted & {'kv_read', 'kv_write'} else 0} keys written, "
          f"{len(checks)} workloads answer correctly ({names}; {time.monotonic() - t0:.1f}s)")


def main(argv):
    cmds = {"wait": (cmd_wait, 4), "init": (cmd_init, 3), "audit": (cmd_audit, 3), "prepare": (cmd_prepare, 2)}
    if not argv or argv[0] not in cmds or len(argv) - 1 != cmds[argv[0]][1]:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    cmds[argv[0]][0](*argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
