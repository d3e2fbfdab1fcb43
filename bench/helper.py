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
    helper.py login-material DIR
        makes what the login workloads need, with openssl, into DIR: a CA and
        a TLS certificate for 127.0.0.1 signed by it (for the TokenReview
        responder), an RSA 2048 service-account signing key and its public
        PEM, and one RS256 JWT shaped like a projected service-account token
        (iss, sub, aud, exp an hour after iat as the kubelet's, iat, nbf, kubernetes.io block with
        namespace, serviceaccount, pod), all described in DIR/material.json.
    helper.py responder DIR PORT
        a TokenReview responder on https://127.0.0.1:PORT (TLS with DIR's
        certificate, HTTP/1.1 keep-alive, a thread per connection): POST
        /apis/authentication.k8s.io/v1/tokenreviews with "Authorization:
        Bearer <the reviewer token>" answers 201 with an authenticated
        TokenReview for the service account when spec.token is the bench JWT
        (echoing spec.audiences), unauthenticated otherwise, and 401 without
        the reviewer token; GET /bench/stats answers its counters as JSON.
    helper.py prepare ADDR TOKEN
        env WORKLOADS, NKEYS (1000), KV_MOUNT (secret): mounts kv-v2 at
        KV_MOUNT if it is missing (POST sys/mounts/<mount>
        {"type":"kv","options":{"version":"2"}}), writes NKEYS secrets
        k0..k<N-1> = {"value": "%064d" % i}, mounts transit + key "k" if
        transit_encrypt is wanted; then sends one request of each workload and
        fails unless the answer is the one Vault gives, so that a benchmark
        never measures error responses.
        Login workloads (approle_login, userpass_login, k8s_login, jwt_login)
        also need env LOGIN_DIR (login-material's DIR), RESPONDER_ADDR
        (https://127.0.0.1:PORT) and LOGIN_OUT: it enables each method,
        writes the same role/user/config on every server (see
        setup_logins), logs in once per workload and checks the answer
        carries auth.client_token, and writes to LOGIN_OUT the credentials the
        wrk script sends (JSON: role_id, secret_id, jwt, user, password,
        k8s_role, jwt_role).
    helper.py lease-tokens ADDR INIT_JSON N
        (lease_restore.sh) initializes the server at ADDR with one share
        (saved to INIT_JSON, throw-away values), then makes N service tokens
        with a 2 h TTL through POST auth/token/create on 8 connections: N
        real leases.
    helper.py lease-unseal ADDR INIT_JSON
        PUT sys/unseal with INIT_JSON's share.
    helper.py lease-log-span LOG
        seconds from OpenBao's "restoring leases" log line to its "lease
        restore complete".
"""
import base64
import http.client
import json
import os
import ssl
import subprocess
import sys
import threading
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


# ---- login workloads ---------------------------------------------------------------
# The same names on every server; the password is a throw-away, so is the key.
LOGIN_ROLE = "bench"
LOGIN_USER = "bench"
LOGIN_PASSWORD = "bench-password-0123456789"
SA_NAMESPACE = "bench"
SA_NAME = "bench-sa"
SA_UID = "5b0f4c6e-7d0e-4a8a-9a51-2f3c5d1e0a11"
POD_NAME = "bench-pod-7c9d8b6f5-x2x4q"
POD_UID = "0c9a2b1e-3f4d-4e5f-8a7b-6c5d4e3f2a10"
JWT_AUDIENCE = "vault"
JWT_ISSUER = "https://kubernetes.default.svc.cluster.local"
REVIEWER_TOKEN = "bench-token-reviewer-credential"
LOGIN_WORKLOADS = ("approle_login", "userpass_login", "k8s_login", "jwt_login")
# The dynamic suite's PostgreSQL (scripts/services starts it and makes the
# superuser arca_test_admin).
DEFAULT_DB_URL = "postgresql://{{username}}:{{password}}@127.0.0.1:5432/postgres?sslmode=disable"


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def openssl(*args, stdin=None):
    r = subprocess.run(["openssl", *args], input=stdin, capture_output=True)
    if r.returncode != 0:
        die(f"openssl {' '.join(args)} failed: {r.stderr.decode(errors='replace').strip()}")
    return r.stdout


def cmd_login_material(d):
    os.makedirs(d, exist_ok=True)
    f = lambda n: os.path.join(d, n)  # noqa: E731
    # A CA, and a leaf certificate for 127.0.0.1 signed by it (rustls and Go
    # both want a non-CA leaf with the address in subjectAltName).
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f("ca.key"), "-out", f("ca.pem"),
            "-days", "3650", "-subj", "/CN=arca-bench TokenReview CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f("tls.key"), "-out", f("tls.csr"),
            "-subj", "/CN=127.0.0.1")
    with open(f("tls.ext"), "w") as fh:
        fh.write("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                 "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", f("tls.csr"), "-CA", f("ca.pem"), "-CAkey", f("ca.key"), "-CAcreateserial",
            "-days", "3650", "-extfile", f("tls.ext"), "-out", f("tls.pem"))
    # The service-account signing key, and a projected-token-shaped JWT.
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", f("sa.key"))
    openssl("pkey", "-in", f("sa.key"), "-pubout", "-out", f("sa.pub.pem"))
    now = int(time.time())
    header = {"alg": "RS256", "kid": "arca-bench-sa-key", "typ": "JWT"}
    claims = {
        "aud": [JWT_AUDIENCE], "exp": now + 3540, "iat": now - 60, "nbf": now - 60,
        "iss": JWT_ISSUER, "sub": f"system:serviceaccount:{SA_NAMESPACE}:{SA_NAME}",
        "kubernetes.io": {"namespace": SA_NAMESPACE,
                          "pod": {"name": POD_NAME, "uid": POD_UID},
                          "serviceaccount": {"name": SA_NAME, "uid": SA_UID}},
    }
    signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "."
                     + b64url(json.dumps(claims, separators=(",", ":")).encode()))
    sig = openssl("dgst", "-sha256", "-sign", f("sa.key"), stdin=signing_input.encode())
    jwt = signing_input + "." + b64url(sig)
    # Check it with the public key before anything relies on it.
    with open(f("sa.sig"), "wb") as fh:
        fh.write(sig)
    openssl("dgst", "-sha256", "-verify", f("sa.pub.pem"), "-signature", f("sa.sig"), stdin=signing_input.encode())
    for n in ("tls.csr", "tls.ext", "sa.sig", "ca.srl"):
        if os.path.exists(f(n)):
            os.remove(f(n))
    with open(f("material.json"), "w") as fh:
        json.dump({"jwt": jwt, "claims": claims, "ca_pem": f("ca.pem"), "tls_pem": f("tls.pem"),
                   "tls_key": f("tls.key"), "sa_pub_pem": f("sa.pub.pem"), "reviewer_token": REVIEWER_TOKEN},
                  fh, indent=1)
    print(f"helper: login material in {d} (JWT of {len(jwt)} bytes for system:serviceaccount:{SA_NAMESPACE}:{SA_NAME})")


def cmd_responder(d, port):
    import http.server

    with open(os.path.join(d, "material.json")) as fh:
        m = json.load(fh)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(m["tls_pem"], m["tls_key"])
    stats = {"reviews": 0, "authenticated": 0, "unauthenticated": 0, "unauthorized": 0, "other": 0,
             "connections": 0, "other_requests": []}
    lock = threading.Lock()

    def count(k, what=None):
        with lock:
            stats[k] += 1
            if what and len(stats["other_requests"]) < 10:
                stats["other_requests"].append(what)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # TCP_NODELAY, and the whole answer in one write: with Nagle, the
        # body written after the headers waits for the client's delayed ACK
        # (~40 ms a review), which would be the responder's fault, not the
        # server's.
        disable_nagle_algorithm = True

        def log_message(self, *a):
            pass

        def answer(self, status, doc):
            body = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self._headers_buffer.append(b"\r\n" + body)
            self.flush_headers()

        def do_GET(self):
            if self.path == "/bench/stats":
                with lock:
                    doc = json.loads(json.dumps(stats))
                self.answer(200, doc)
            else:
                count("other", "GET " + self.path)
                self.answer(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound",
                                  "code": 404, "message": "the server could not find the requested resource"})

        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path != "/apis/authentication.k8s.io/v1/tokenreviews":
                count("other", "POST " + self.path)
                return self.answer(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                         "reason": "NotFound", "code": 404, "message": "not found"})
            if self.headers.get("Authorization") != "Bearer " + m["reviewer_token"]:
                count("unauthorized")
                return self.answer(401, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                         "reason": "Unauthorized", "code": 401, "message": "Unauthorized"})
            try:
                req = json.loads(raw)
                spec = req.get("spec") or {}
            except ValueError:
                count("other", "POST " + self.path + " (not JSON)")
                return self.answer(400, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                         "reason": "BadRequest", "code": 400, "message": "bad json"})
            count("reviews")
            auds = spec.get("audiences") or [JWT_AUDIENCE]
            out = {"kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1",
                   "metadata": {"creationTimestamp": None}, "spec": spec}
            if spec.get("token") == m["jwt"] and JWT_AUDIENCE in auds:
                count("authenticated")
                out["status"] = {
                    "authenticated": True,
                    "user": {"username": f"system:serviceaccount:{SA_NAMESPACE}:{SA_NAME}", "uid": SA_UID,
                             "groups": ["system:serviceaccounts", f"system:serviceaccounts:{SA_NAMESPACE}",
                                        "system:authenticated"],
                             "extra": {"authentication.kubernetes.io/pod-name": [POD_NAME],
                                       "authentication.kubernetes.io/pod-uid": [POD_UID]}},
                    "audiences": [JWT_AUDIENCE]}
            else:
                count("unauthenticated")
                out["status"] = {"user": {}, "error": "[invalid bearer token, service account token is not valid]"}
            self.answer(201, out)

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256

        def finish_request(self, request, client_address):
            # The TLS handshake in the connection's own thread, not in accept().
            count("connections")
            try:
                tls = ctx.wrap_socket(request, server_side=True)
            except (OSError, ssl.SSLError):
                return
            self.RequestHandlerClass(tls, client_address, self)

    srv = Server(("127.0.0.1", int(port)), Handler)
    srv.serve_forever()


def ensure_auth(c, path, mtype):
    st, doc = c.call("GET", "sys/auth")
    if st != 200:
        die(f"GET sys/auth -> {st} {doc}")
    existing = (doc.get("data", doc) or {}).get(path + "/")
    if existing:
        if existing.get("type") != mtype:
            die(f"auth {path}/ is {existing.get('type')}, not {mtype}")
        return
    st, doc = c.call("POST", "sys/auth/" + path, {"type": mtype})
    if st not in (200, 204):
        die(f"POST sys/auth/{path} -> {st} {doc}")


def must(c, method, path, body=None, ok=(200, 204)):
    st, doc = c.call(method, path, body)
    if st not in ok:
        die(f"{method} {path} -> {st} {json.dumps(doc)[:400]}")
    return doc


def login_ok(st, doc):
    auth = (doc or {}).get("auth") or {}
    return st == 200 and bool(auth.get("client_token")) and "default" in (auth.get("policies") or [])


def setup_logins(c, wanted):
    """Identical setup on both servers; returns (credentials, checks)."""
    creds = {"user": LOGIN_USER, "password": LOGIN_PASSWORD, "k8s_role": LOGIN_ROLE, "jwt_role": LOGIN_ROLE}
    checks = []
    # env LOGIN_TOKEN_TTL (10m), LOGIN_TOKEN_TYPE (service): the tokens every
    # login role issues; no max TTL below the system's.
    token = {"token_policies": "default", "token_ttl": os.environ.get("LOGIN_TOKEN_TTL", "10m"),
             "token_type": os.environ.get("LOGIN_TOKEN_TYPE", "service")}
    if "approle_login" in wanted:
        ensure_auth(c, "approle", "approle")
        must(c, "POST", f"auth/approle/role/{LOGIN_ROLE}",
             dict(token, secret_id_num_uses=0, secret_id_ttl=0, token_num_uses=0, bind_secret_id=True))
        doc = must(c, "GET", f"auth/approle/role/{LOGIN_ROLE}/role-id", ok=(200,))
        creds["role_id"] = doc["data"]["role_id"]
        doc = must(c, "POST", f"auth/approle/role/{LOGIN_ROLE}/secret-id", {}, ok=(200,))
        creds["secret_id"] = doc["data"]["secret_id"]
        st, doc = c.call("POST", "auth/approle/login", {"role_id": creds["role_id"], "secret_id": creds["secret_id"]},
                         token=False)
        checks.append(("approle_login", st, login_ok(st, doc), doc))
        # A second login with the same secret-id: unlimited uses really are.
        st, doc = c.call("POST", "auth/approle/login", {"role_id": creds["role_id"], "secret_id": creds["secret_id"]},
                         token=False)
        checks.append(("approle_login (again)", st, login_ok(st, doc), doc))
    if "userpass_login" in wanted:
        ensure_auth(c, "userpass", "userpass")
        must(c, "POST", f"auth/userpass/users/{LOGIN_USER}", dict(token, password=LOGIN_PASSWORD))
        st, doc = c.call("POST", f"auth/userpass/login/{LOGIN_USER}", {"password": LOGIN_PASSWORD}, token=False)
        checks.append(("userpass_login", st, login_ok(st, doc), doc))
    if wanted & {"k8s_login", "jwt_login"}:
        d = os.environ.get("LOGIN_DIR") or die("LOGIN_DIR is not set (helper.py login-material DIR)")
        with open(os.path.join(d, "material.json")) as fh:
            m = json.load(fh)
        with open(m["sa_pub_pem"]) as fh:
            pub = fh.read()
        creds["jwt"] = m["jwt"]
    if "k8s_login" in wanted:
        addr = os.environ.get("RESPONDER_ADDR") or die("RESPONDER_ADDR is not set")
        with open(m["ca_pem"]) as fh:
            ca = fh.read()
        ensure_auth(c, "kubernetes", "kubernetes")
        # The same config on both servers: the responder as the API server
        # (its CA, a reviewer token) and the signing key as pem_keys. OpenBao
        # checks the signature against pem_keys and still asks TokenReview;
        # Arca checks it locally and does not call the API server.
        must(c, "POST", "auth/kubernetes/config",
             {"kubernetes_host": addr, "kubernetes_ca_cert": ca, "token_reviewer_jwt": m["reviewer_token"],
              "pem_keys": [pub], "disable_local_ca_jwt": True})
        must(c, "POST", f"auth/kubernetes/role/{LOGIN_ROLE}",
             dict(token, bound_service_account_names=SA_NAME, bound_service_account_namespaces=SA_NAMESPACE,
                  audience=JWT_AUDIENCE))
        st, doc = c.call("POST", "auth/kubernetes/login", {"role": LOGIN_ROLE, "jwt": m["jwt"]}, token=False)
        ok = login_ok(st, doc) and ((doc.get("auth") or {}).get("metadata") or {}).get("service_account_uid") == SA_UID
        checks.append(("k8s_login", st, ok, doc))
    if "jwt_login" in wanted:
        ensure_auth(c, "jwt", "jwt")
        must(c, "POST", "auth/jwt/config", {"jwt_validation_pubkeys": [pub], "bound_issuer": JWT_ISSUER})
        must(c, "POST", f"auth/jwt/role/{LOGIN_ROLE}",
             dict(token, role_type="jwt", user_claim="sub", bound_audiences=[JWT_AUDIENCE],
                  bound_subject=f"system:serviceaccount:{SA_NAMESPACE}:{SA_NAME}"))
        st, doc = c.call("POST", "auth/jwt/login", {"role": LOGIN_ROLE, "jwt": m["jwt"]}, token=False)
        checks.append(("jwt_login", st, login_ok(st, doc), doc))
    return creds, checks


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
    if "db_creds" in wanted:
        ensure_mount(c, "database", "database")
        must(c, "POST", "database/config/pg", {
            "plugin_name": "postgresql-database-plugin",
            "connection_url": os.environ.get("DB_URL", DEFAULT_DB_URL),
            "username": os.environ.get("DB_USER", "arca_test_admin"),
            "password": os.environ.get("DB_PASSWORD", "arca-test-admin"),
            "allowed_roles": "*"})
        must(c, "POST", "database/roles/app", {
            "db_name": "pg", "default_ttl": "1h", "max_ttl": "24h",
            "creation_statements": "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' "
                                   "VALID UNTIL '{{expiration}}';"})
        st, doc = c.call("GET", "database/creds/app")
        ok = st == 200 and bool(((doc or {}).get("data") or {}).get("username")) and bool((doc or {}).get("lease_id"))
        checks.append(("db_creds", st, ok, doc))
    if wanted & set(LOGIN_WORKLOADS):
        creds, checks = setup_logins(c, wanted)
        out = os.environ.get("LOGIN_OUT")
        if out:
            with open(out, "w") as fh:
                json.dump(creds, fh)
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


def cmd_lease_tokens(addr, init_json, n):
    n = int(n)
    c = Client(addr)
    st, init = c.call("PUT", "sys/init", {"secret_shares": 1, "secret_threshold": 1})
    if st != 200:
        die(f"PUT sys/init -> {st} {init}")
    with open(init_json, "w") as f:
        json.dump(init, f)
    st, doc = c.call("PUT", "sys/unseal", {"key": init["keys"][0]})
    if st != 200 or doc.get("sealed") is not False:
        die(f"PUT sys/unseal -> {st} {doc}")
    deadline = time.monotonic() + 60
    while c.call("GET", "sys/health", token=False)[0] != 200:
        if time.monotonic() > deadline:
            die("sys/health not 200 60 s after unseal")
        time.sleep(0.05)
    errors = []
    workers = 8

    def work(k):
        cc = Client(addr, init["root_token"])
        for _ in range(k, n, workers):
            st, doc = cc.call("POST", "auth/token/create", {"ttl": "2h", "policies": ["default"]})
            if st != 200:
                errors.append(f"{st} {doc}")
                return

    t0 = time.monotonic()
    threads = [threading.Thread(target=work, args=(k,)) for k in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        die("auth/token/create failed: " + errors[0])
    print(f"helper: {n} token leases made in {time.monotonic() - t0:.1f}s")


def cmd_lease_unseal(addr, init_json):
    with open(init_json) as f:
        init = json.load(f)
    st, doc = Client(addr).call("PUT", "sys/unseal", {"key": init["keys"][0]})
    if st != 200 or doc.get("sealed") is not False:
        die(f"PUT sys/unseal -> {st} {doc}")


def cmd_lease_log_span(log):
    import datetime

    def at(line):
        return datetime.datetime.fromisoformat(line.split()[0].replace("Z", "+00:00"))

    start = end = None
    with open(log) as f:
        for line in f:
            if "core: restoring leases" in line:
                start = at(line)
            elif "lease restore complete" in line:
                end = at(line)
    if start is None or end is None:
        die(f"{log} has no lease restore span")
    print(f"{(end - start).total_seconds():.2f}")


def main(argv):
    cmds = {"wait": (cmd_wait, 4), "init": (cmd_init, 3), "audit": (cmd_audit, 3), "prepare": (cmd_prepare, 2),
            "login-material": (cmd_login_material, 1), "responder": (cmd_responder, 2),
            "lease-tokens": (cmd_lease_tokens, 3), "lease-unseal": (cmd_lease_unseal, 2),
            "lease-log-span": (cmd_lease_log_span, 1)}
    if not argv or argv[0] not in cmds or len(argv) - 1 != cmds[argv[0]][1]:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    cmds[argv[0]][0](*argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
