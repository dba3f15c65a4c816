#!/usr/bin/env python3
"""End-to-end test of `dossier serve` over HTTP and HTTPS.

Drives a real server the way clients do (http.client, ssl and raw sockets)
and checks the contract of API.md and the server's own OpenAPI document:
routing, authentication (bearer, cookie + CSRF, TOTP), admin routes, cases,
uploads and jobs, documents, search, bad input on every route, HTTP limits
(431, 413, slowloris, pipelining), session expiry and login throttling
under a moved clock, TLS, security headers, metrics, a graceful stop and
the access log.

Usage: python3 tests/e2e/http_test.py --dossier PATH_TO_DOSSIER [--keep]
Exit 0 only if every check passes. Python 3 standard library only.
"""

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import ssl
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse

MiB = 1 << 20
UPLOAD_CAP = 16 * MiB   # the main server's --upload-cap
JSON_CAP = 1 * MiB      # api::ServiceOptions::json_cap
HEADER_LIMIT = 8 * 1024
ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"  # crypto::RandomId
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# ---- reporting ------------------------------------------------------------------

_lock = threading.Lock()
_counts = {"ok": 0, "fail": 0, "skip": 0}
_failed = []


def check(name, cond, detail=""):
    with _lock:
        if cond:
            _counts["ok"] += 1
            print("ok: " + name, flush=True)
        else:
            _counts["fail"] += 1
            _failed.append(name)
            msg = "FAIL: " + name
            if detail:
                text = str(detail)
                if len(text) > 1500:
                    text = text[:1500] + "..."
                msg += "\n    " + text.replace("\n", "\n    ")
            print(msg, flush=True)
    return bool(cond)


def skip(name, why):
    with _lock:
        _counts["skip"] += 1
        print("skip: %s (%s)" % (name, why), flush=True)


def section(title):
    with _lock:
        print("\n== " + title, flush=True)


# ---- responses --------------------------------------------------------------------

class Resp:
    def __init__(self, status, headers, body, elapsed=0.0, what=""):
        self.status = status
        self.headers = headers  # [(name, value)]
        self.body = body
        self.elapsed = elapsed
        self.what = what

    def all(self, name):
        n = name.lower()
        return [v for k, v in self.headers if k.lower() == n]

    def header(self, name):
        vals = self.all(name)
        return ", ".join(vals) if vals else None

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except Exception:
            return None

    def error_code(self):
        j = self.json()
        if isinstance(j, dict) and isinstance(j.get("error"), dict):
            return j["error"].get("code")
        return None

    def is_json_error(self):
        j = self.json()
        return (isinstance(j, dict) and isinstance(j.get("error"), dict)
                and isinstance(j["error"].get("code"), str) and j["error"]["code"] != ""
                and isinstance(j["error"].get("message"), str) and j["error"]["message"] != "")

    def __repr__(self):
        return "%s -> %s %r" % (self.what, self.status, self.body[:300])


# Every answer seen is checked for the security headers; problems are
# collected and reported by one check at the end.
_answers = {"n": 0}
_header_problems = []


def note_headers(resp):
    problems = []
    if (resp.header("X-Content-Type-Options") or "").lower() != "nosniff":
        problems.append("X-Content-Type-Options=%r" % resp.header("X-Content-Type-Options"))
    if (resp.header("X-Frame-Options") or "").upper() != "DENY":
        problems.append("X-Frame-Options=%r" % resp.header("X-Frame-Options"))
    if (resp.header("Referrer-Policy") or "").lower() != "no-referrer":
        problems.append("Referrer-Policy=%r" % resp.header("Referrer-Policy"))
    with _lock:
        _answers["n"] += 1
        if problems:
            _header_problems.append("%s %s: %s" % (resp.what, resp.status, ", ".join(problems)))


def parse_responses(buf, what=""):
    """Splits raw bytes into complete HTTP responses (Content-Length bodies)."""
    out = []
    while True:
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            break
        head = buf[:end].decode("latin-1").split("\r\n")
        m = re.match(r"HTTP/1\.[01] (\d{3})", head[0])
        if not m:
            break
        headers = []
        for line in head[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers.append((k.strip(), v.strip()))
        status = int(m.group(1))
        length = 0
        for k, v in headers:
            if k.lower() == "content-length":
                length = int(v)
        if 100 <= status < 200:
            buf = buf[end + 4:]
            continue
        if len(buf) < end + 4 + length:
            break
        body = buf[end + 4:end + 4 + length]
        buf = buf[end + 4 + length:]
        r = Resp(status, headers, body, what=what)
        note_headers(r)
        out.append(r)
    return out


# ---- servers ----------------------------------------------------------------------

class Server:
    def __init__(self, ctx, name, repo, extra, tls=False):
        self.ctx, self.name, self.repo, self.extra, self.tls = ctx, name, repo, extra, tls
        self.proc = None
        self.port = None
        self.stdout_lines, self.stderr_lines = [], []
        self._ready = threading.Event()
        self._readers = []
        self.ssl_ctx = None

    def start(self):
        env = dict(os.environ, DOSSIER_PASSWORD_COST="interactive")
        cmd = [self.ctx.dossier, "serve", self.repo, "--listen", "127.0.0.1:0"] + self.extra
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env)
        self.ctx.servers.append(self)

        def read_out():
            for raw in self.proc.stdout:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                self.stdout_lines.append(line)
                m = re.search(r"Dossier is serving .* at (https?)://127\.0\.0\.1:(\d+)/", line)
                if m and not self._ready.is_set():
                    self.scheme = m.group(1)
                    self.port = int(m.group(2))
                    self._ready.set()

        def read_err():
            for raw in self.proc.stderr:
                self.stderr_lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

        for fn in (read_out, read_err):
            t = threading.Thread(target=fn, daemon=True)
            t.start()
            self._readers.append(t)
        if not self._ready.wait(30):
            raise RuntimeError("server %s did not start: %s %s" %
                               (self.name, self.stdout_lines, self.stderr_lines[-5:]))
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=20):
        """SIGTERM; returns (exit code or None if it had to be killed, seconds)."""
        if self.proc is None:
            return None, 0.0
        t0 = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = None
        elapsed = time.monotonic() - t0
        for t in self._readers:
            t.join(5)
        return rc, elapsed

    # -- http.client --
    def request(self, method, path, body=None, headers=None, token=None, cookie=None,
                json_body=None, timeout=30):
        hdrs = {}
        if token:
            hdrs["Authorization"] = "Bearer " + token
        if cookie:
            hdrs["Cookie"] = "dossier_session=" + cookie
        if json_body is not None:
            body = json.dumps(json_body).encode()
            hdrs["Content-Type"] = "application/json"
        if headers:
            hdrs.update(headers)
        if self.tls:
            conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout,
                                               context=self.ssl_ctx)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        t0 = time.monotonic()
        what = "%s %s" % (method, path[:120])
        try:
            try:
                conn.request(method, path, body=body, headers=hdrs)
            except (BrokenPipeError, ConnectionResetError) as e:
                # The server answered early and closed: read that answer.
                sent_error = e
            else:
                sent_error = None
            try:
                r = conn.getresponse()
                data = r.read()
            except (OSError, http.client.HTTPException) as e:
                return Resp(0, [], ("(no answer: %r; sending: %r)" % (e, sent_error)).encode(),
                            time.monotonic() - t0, what)
            resp = Resp(r.status, r.getheaders(), data, time.monotonic() - t0, what)
        finally:
            conn.close()
        note_headers(resp)
        return resp

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def login(self, user, password, totp=None):
        body = {"user": user, "password": password}
        if totp is not None:
            body["totp"] = totp
        r = self.post("/api/v1/auth/login", json_body=body)
        j = r.json()
        if r.status == 200 and isinstance(j, dict) and j.get("token"):
            self.ctx.secrets.append(j["token"])
            self.ctx.secrets.append(j.get("csrf_token", ""))
        return r

    def token(self, user, password, totp=None):
        r = self.login(user, password, totp)
        if r.status != 200:
            raise RuntimeError("login %s failed: %r" % (user, r))
        return r.json()["token"]

    # -- raw sockets --
    def connect(self, timeout=10):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        if self.tls:
            s = self.ssl_ctx.wrap_socket(s, server_hostname="localhost")
        return s

    def raw(self, data, timeout=10):
        """Sends `data`, reads until the server closes (or `timeout`)."""
        s = self.connect(timeout)
        buf = b""
        try:
            s.sendall(data)
            while True:
                try:
                    chunk = s.recv(65536)
                except (socket.timeout, ConnectionError, ssl.SSLError):
                    break
                if not chunk:
                    break
                buf += chunk
        finally:
            s.close()
        return buf

    def raw_stream(self, head, pieces, timeout=20):
        """Sends `head` then each piece while a reader collects the answer
        (so an answer written before the server stops reading is seen even
        if the connection is reset afterwards). Returns (bytes, sent)."""
        s = self.connect(timeout)
        got = []
        done = threading.Event()

        def reader():
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    got.append(chunk)
            except Exception:
                pass
            done.set()

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        sent = 0
        try:
            s.sendall(head)
            for p in pieces:
                if done.is_set() or got:
                    break
                s.sendall(p)
                sent += len(p)
        except (OSError, ssl.SSLError):
            pass
        done.wait(timeout)
        try:
            s.close()
        except OSError:
            pass
        t.join(2)
        return b"".join(got), sent


# ---- helpers ------------------------------------------------------------------------

def totp_code(secret_b32, at, step=30, digits=6):
    s = secret_b32.strip().replace(" ", "").upper()
    s += "=" * (-len(s) % 8)
    key = base64.b32decode(s)
    mac = hmac.new(key, struct.pack(">Q", int(at // step)), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    code = (struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % (10 ** digits)
    return "%0*d" % (digits, code)


def madeup(real):
    return real[0] + "".join(random.choice(ALPHABET) for _ in real[1:])


def cookie_attrs(set_cookie):
    parts = [p.strip() for p in set_cookie.split(";")]
    name, _, value = parts[0].partition("=")
    return name, value, {p.split("=", 1)[0].lower(): (p.split("=", 1)[1] if "=" in p else True)
                         for p in parts[1:]}


def session_cookie(resp):
    for sc in resp.all("Set-Cookie"):
        name, value, attrs = cookie_attrs(sc)
        if name == "dossier_session":
            return value, attrs
    return None, None


def uploads_entries(repo):
    d = os.path.join(repo, "uploads")
    if not os.path.isdir(d):
        return []
    return os.listdir(d)


def open_upload_fds(server):
    """Files of REPO/uploads the server process still holds open (an unnamed
    O_TMPFILE staging file shows as 'REPO/uploads/#123 (deleted)')."""
    prefix = os.path.realpath(os.path.join(server.repo, "uploads")) + "/"
    out = []
    fd_dir = "/proc/%d/fd" % server.proc.pid
    try:
        for fd in os.listdir(fd_dir):
            try:
                target = os.readlink(os.path.join(fd_dir, fd))
            except OSError:
                continue
            if target.startswith(prefix):
                out.append(target)
    except OSError:
        pass
    return out


def wait_until(pred, timeout, step=0.1):
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > end:
            return v
        time.sleep(step)


def fill_path(template, values, default="madeup"):
    return re.sub(r"\{([^}]+)\}", lambda m: values.get(m.group(1), default + m.group(1)),
                  template)


class Ctx:
    def __init__(self, dossier, tmp):
        self.dossier = dossier
        self.tmp = tmp
        self.servers = []
        self.secrets = []    # tokens and CSRF tokens handed out (never in the log)
        self.private = []    # filenames and query words (never in the log)
        self.offset = 0
        self.offset_file = os.path.join(tmp, "clock-offset")
        self.set_offset(0)

    def set_offset(self, seconds):
        self.offset = int(seconds)
        tmp = self.offset_file + ".new"
        with open(tmp, "w") as f:
            f.write("%d\n" % self.offset)
        os.replace(tmp, self.offset_file)

    def server_now(self):
        return time.time() + self.offset

    def init_repo(self, name, admin, password):
        pw = os.path.join(self.tmp, name + ".password")
        with open(pw, "w") as f:
            f.write(password + "\n")
        path = os.path.join(self.tmp, name)
        env = dict(os.environ, DOSSIER_PASSWORD_COST="interactive")
        r = subprocess.run([self.dossier, "init", path, "--admin", admin, "--no-protect",
                            "--password-file", pw], env=env, capture_output=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError("init %s failed: %s" % (name, r.stderr.decode()))
        return path


PW = {u: "%s-password-123" % u for u in
      ["alice", "bob", "carol", "erin", "frank", "gina", "tess", "thr", "thr2"]}


# ---- the checks -----------------------------------------------------------------------

def slowloris(srv, result):
    """A partial header, then silence: the server must close within ~20 s."""
    try:
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=40)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        t0 = time.monotonic()
        data = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except ConnectionError:
            pass
        except socket.timeout:
            result["timeout"] = True
        result["elapsed"] = time.monotonic() - t0
        result["data"] = data
        s.close()
    except Exception as e:  # reported by the caller
        result["error"] = repr(e)


def test_basics(m):
    section("health, metrics, page")
    r = m.get("/healthz")
    check("/healthz is 200 {\"ok\": true}", r.status == 200 and r.json() == {"ok": True}, r)
    r = m.get("/metrics")
    text = r.body.decode("utf-8", "replace")
    check("/metrics is Prometheus text",
          r.status == 200 and (r.header("Content-Type") or "").startswith("text/plain")
          and re.search(r"^# TYPE \w+ \w+$", text, re.M) is not None, r)
    check("/metrics has dossier_http_requests_total and dossier_http_open_connections",
          re.search(r"^dossier_http_requests_total\{", text, re.M) is not None
          and re.search(r"^dossier_http_open_connections(\{\})? ", text, re.M) is not None,
          text[:600])
    check("/metrics says how many reads the audit trail has queued and dropped (none)",
          re.search(r'^dossier_state\{what="audit_dropped"\} 0$', text, re.M) is not None
          and re.search(r'^dossier_state\{what="audit_queued"\} \d+', text, re.M) is not None, text[:2000])
    r = m.get("/")
    csp = r.header("Content-Security-Policy") or ""
    directives = {d.strip().split()[0]: d.strip().split()[1:] for d in csp.split(";") if d.strip()}
    check("the page / is served with a CSP: default-src 'self', no 'unsafe-inline'",
          r.status == 200 and "'self'" in directives.get("default-src", [])
          and "unsafe-inline" not in csp and (r.header("Content-Type") or "").startswith("text/html"),
          "%s CSP=%r" % (r.status, csp))


def test_routes(m):
    section("routes")
    r = m.get("/api/v1/openapi.json")
    doc = r.json()
    ok = (r.status == 200 and isinstance(doc, dict) and str(doc.get("openapi", "")).startswith("3")
          and isinstance(doc.get("paths"), dict) and doc["paths"])
    check("/api/v1/openapi.json is an OpenAPI 3 document", ok, r)
    if not ok:
        return []
    routes = sorted((meth.upper(), path) for path, ops in doc["paths"].items() for meth in ops)
    bad = []
    for meth, path in routes:
        rr = m.request(meth, fill_path(path, {}, "madeup"))
        if rr.error_code() == "no_route" or rr.status in (405, 500, 501) or rr.status >= 500:
            bad.append(repr(rr))
    check("every route of the OpenAPI document (%d) answers (none is no_route/405/5xx)" % len(routes),
          not bad, "\n".join(bad))
    r = m.get("/api/v1/no-such-route-%d" % random.randint(0, 10 ** 6))
    check("a made-up path is 404 no_route", r.status == 404 and r.error_code() == "no_route", r)
    r = m.get("/no/such/thing")
    check("a made-up path outside /api is 404 no_route", r.status == 404 and r.error_code() == "no_route", r)
    r = m.request("PUT", "/api/v1/cases")
    allow = [a.strip() for a in (r.header("Allow") or "").split(",")]
    check("wrong method on a known path is 405 with Allow",
          r.status == 405 and "GET" in allow and "POST" in allow and r.is_json_error(),
          "%r Allow=%r" % (r, r.header("Allow")))
    r = m.request("DELETE", "/healthz")
    check("DELETE /healthz is 405 with Allow: GET, HEAD",
          r.status == 405 and (r.header("Allow") or "").strip() == "GET, HEAD",
          "%r Allow=%r" % (r, r.header("Allow")))
    r = m.request("HEAD", "/healthz")
    check("HEAD /healthz answers GET's status and length without a body",
          r.status == 200 and r.header("Content-Length") == "11" and r.body == b"", r)

    api_md = os.path.join(ROOT, "docs", "api.md")
    if not os.path.exists(api_md):
        skip("docs/api.md rows match the OpenAPI document", "docs/api.md does not exist yet")
    else:
        rows = set()
        with open(api_md, encoding="utf-8") as f:
            for line in f:
                mm = re.match(r"^\|\s*`?([A-Z]+(?:\s*/\s*[A-Z]+)*)`?\s*\|\s*`?(/[^\s|`]*)`?\s*\|", line)
                if mm:
                    for meth in re.split(r"\s*/\s*", mm.group(1)):
                        rows.add((meth, mm.group(2)))
        spec = set(routes)
        missing = sorted(spec - rows)
        extra = sorted(rows - spec)
        check("docs/api.md lists every route of the OpenAPI document", not missing,
              "not in docs/api.md: %s" % missing)
        check("every route in docs/api.md is in the OpenAPI document", not extra,
              "not in OpenAPI: %s" % extra)
    return routes


def test_auth(ctx, m):
    section("auth")
    r = m.login("alice", PW["alice"])
    j = r.json() or {}
    check("login ok: token, csrf_token, expires_at, user",
          r.status == 200 and all(isinstance(j.get(k), str) and j.get(k) for k in
                                  ("token", "csrf_token", "expires_at"))
          and j.get("user") == "alice"
          and re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", j.get("expires_at", "")) is not None, r)
    token, csrf = j.get("token", ""), j.get("csrf_token", "")
    value, attrs = session_cookie(r)
    check("login sets the session cookie HttpOnly, SameSite=Strict, without Secure on http",
          value == token and attrs is not None and attrs.get("httponly") is True
          and str(attrs.get("samesite", "")).lower() == "strict" and "secure" not in attrs,
          r.all("Set-Cookie"))

    wrong = m.login("alice", "not-the-password-1")
    unknown = m.login("nobody-%d" % random.randint(0, 10 ** 6), "not-the-password-1")
    check("wrong password is 401", wrong.status == 401 and wrong.error_code() == "unauthenticated", wrong)
    check("unknown user is 401", unknown.status == 401, unknown)
    check("wrong password and unknown user get byte-identical bodies", wrong.body == unknown.body,
          "%r vs %r" % (wrong.body, unknown.body))
    tw, tu = [], []
    for i in range(5):
        tw.append(m.login("alice", "not-the-password-%d" % i).elapsed)
        tu.append(m.login("nobody-x%d" % i, "not-the-password-%d" % i).elapsed)
    mw, mu = statistics.median(tw), statistics.median(tu)
    check("wrong password and unknown user take similar time (within 3x): %.0f ms vs %.0f ms"
          % (mw * 1000, mu * 1000), max(mw, mu) <= 3 * min(mw, mu), (tw, tu))

    r = m.get("/api/v1/me", token=token)
    j = r.json() or {}
    check("/me gives the user, roles, csrf_token", r.status == 200 and j.get("user") == "alice"
          and isinstance(j.get("roles"), list) and j.get("csrf_token") == csrf, r)
    r = m.get("/api/v1/me")
    check("/me without a token is 401", r.status == 401 and r.error_code() == "unauthenticated", r)
    r = m.get("/api/v1/me", token="A" * 43)
    check("/me with a made-up token is 401", r.status == 401, r)

    t2 = m.token("alice", PW["alice"])
    r = m.post("/api/v1/auth/logout", token=t2)
    check("logout is 204", r.status == 204, r)
    r = m.get("/api/v1/me", token=t2)
    check("after logout the token is 401", r.status == 401, r)
    r = m.get("/api/v1/me", token=token)
    check("logout ended only that session", r.status == 200, r)

    r = m.get("/api/v1/me", cookie=token)
    check("cookie auth works for GET", r.status == 200 and (r.json() or {}).get("user") == "alice", r)
    name = "cookie-role-%d" % random.randint(0, 10 ** 6)
    r = m.post("/api/v1/roles", cookie=token, json_body={"name": name})
    check("cookie-authenticated POST without X-CSRF-Token is 403",
          r.status == 403 and r.is_json_error(), r)
    r = m.post("/api/v1/roles", cookie=token, json_body={"name": name},
               headers={"X-CSRF-Token": ("y" if csrf[0] == "x" else "x") + csrf[1:]})
    check("cookie-authenticated POST with a wrong X-CSRF-Token is 403", r.status == 403, r)
    r = m.post("/api/v1/roles", cookie=token, json_body={"name": name}, headers={"X-CSRF-Token": csrf})
    check("cookie-authenticated POST with X-CSRF-Token works", r.status == 201, r)
    r = m.post("/api/v1/roles", token=token, json_body={"name": name + "-b"})
    check("Bearer POST works without X-CSRF-Token", r.status == 201, r)
    r = m.post("/api/v1/auth/logout", cookie=token)
    check("cookie-authenticated logout without X-CSRF-Token is 403", r.status == 403, r)
    r = m.get("/api/v1/auth/session", cookie=token)
    check("/api/v1/auth/session reports the cookie's session",
          r.status == 200 and (r.json() or {}).get("authenticated") is True, r)
    r = m.get("/api/v1/auth/session")
    check("/api/v1/auth/session without a session is 200 authenticated=false",
          r.status == 200 and (r.json() or {}).get("authenticated") is False, r)
    return token


def test_admin(ctx, m, alice):
    section("admin")
    for role in ("investigator", "legal"):
        r = m.post("/api/v1/roles", token=alice, json_body={"name": role})
        check("admin adds role %s (201)" % role, r.status == 201, r)
    for user in ("bob", "erin", "frank", "gina", "tess", "thr", "thr2"):
        r = m.post("/api/v1/users", token=alice,
                   json_body={"user": user, "password": PW[user], "roles": ["investigator"]})
        check("admin adds user %s (201)" % user, r.status == 201, r)
    r = m.post("/api/v1/users", token=alice,
               json_body={"user": "carol", "password": PW["carol"], "roles": ["legal"]})
    check("admin adds user carol (201)", r.status == 201, r)
    r = m.post("/api/v1/users", token=alice,
               json_body={"user": "bob", "password": PW["bob"], "roles": ["investigator"]})
    check("adding an existing user is refused (4xx)", 400 <= r.status < 500 and r.is_json_error(), r)

    r = m.get("/api/v1/users", token=alice)
    users = {u.get("user"): u for u in (r.json() or {}).get("users", [])}
    check("admin lists users", r.status == 200 and "bob" in users and "carol" in users
          and "investigator" in users["bob"].get("roles", []), r)

    bob = m.token("bob", PW["bob"])
    carol = m.token("carol", PW["carol"])
    r = m.get("/api/v1/users", token=bob)
    check("non-admin GET /users is 403", r.status == 403 and r.error_code() == "forbidden", r)
    r = m.post("/api/v1/users", token=bob,
               json_body={"user": "mallory", "password": "mallory-password-1", "roles": []})
    check("non-admin POST /users is 403", r.status == 403, r)
    r = m.get("/api/v1/roles", token=bob)
    check("non-admin GET /roles is 403", r.status == 403, r)
    r = m.post("/api/v1/roles", token=bob, json_body={"name": "bobs-role"})
    check("non-admin POST /roles is 403", r.status == 403, r)

    def members(role):
        rr = m.get("/api/v1/roles", token=alice)
        for x in (rr.json() or {}).get("roles", []):
            if x.get("name") == role:
                return x.get("members", [])
        return None

    check("admin lists roles with members", "bob" in (members("investigator") or [])
          and "carol" in (members("legal") or []), members("investigator"))
    r = m.post("/api/v1/roles/investigator/members", token=alice, json_body={"user": "carol"})
    check("admin adds a member (204)", r.status == 204 and "carol" in (members("investigator") or []), r)
    r = m.request("DELETE", "/api/v1/roles/investigator/members/carol", token=alice)
    check("admin removes a member (204)",
          r.status == 204 and "carol" not in (members("investigator") or []), r)
    r = m.post("/api/v1/roles/investigator/members", token=bob, json_body={"user": "carol"})
    check("non-admin adding a member is 403", r.status == 403, r)

    erin = m.token("erin", PW["erin"])
    r = m.post("/api/v1/users/erin/disable", token=alice)
    check("admin disables a user (204)", r.status == 204, r)
    r = m.get("/api/v1/me", token=erin)
    check("a disabled user's session is 401", r.status == 401, r)
    r = m.login("erin", PW["erin"])
    check("a disabled user's login is 403", r.status == 403 and r.is_json_error(), r)

    frank = m.token("frank", PW["frank"])
    r = m.post("/api/v1/users/frank/password", token=alice, json_body={"new_password": "frank-new-pass-9"})
    check("admin resets a password (204)", r.status == 204, r)
    r = m.get("/api/v1/me", token=frank)
    check("after a reset the user's old session is 401", r.status == 401, r)
    r = m.login("frank", PW["frank"])
    check("after a reset the old password fails (401)", r.status == 401, r)
    r = m.login("frank", "frank-new-pass-9")
    check("after a reset the new password works", r.status == 200, r)

    g1 = m.token("gina", PW["gina"])
    g2 = m.token("gina", PW["gina"])
    r = m.post("/api/v1/me/password", token=g1, json_body={"old_password": "wrong-old-pass", "new_password": "gina-new-pass-9"})
    check("password change with a wrong old password is refused (401)", r.status == 401, r)
    r = m.post("/api/v1/me/password", token=g1, json_body={"old_password": PW["gina"], "new_password": "gina-new-pass-9"})
    check("password change is 204", r.status == 204, r)
    r1 = m.get("/api/v1/me", token=g1)
    r2 = m.get("/api/v1/me", token=g2)
    check("password change ends every session of the user (both 401)",
          r1.status == 401 and r2.status == 401, (r1, r2))
    r = m.login("gina", PW["gina"])
    check("after a change the old password fails", r.status == 401, r)
    r = m.login("gina", "gina-new-pass-9")
    check("after a change the new password works", r.status == 200, r)
    return bob, carol


def test_totp(ctx, m):
    section("TOTP")
    tess = m.token("tess", PW["tess"])
    r = m.post("/api/v1/me/totp", token=tess)
    j = r.json() or {}
    qr = j.get("qr") or {}
    size = qr.get("size") if isinstance(qr, dict) else None
    modules = qr.get("modules") if isinstance(qr, dict) else None
    check("enrolling gives secret, uri and a QR of size*size modules",
          r.status == 200 and isinstance(j.get("secret"), str) and j["secret"]
          and str(j.get("uri", "")).startswith("otpauth://totp/")
          and isinstance(size, int) and size >= 21 and isinstance(modules, str)
          and len(modules) == size * size and set(modules) <= {"0", "1"}, r)
    secret = j.get("secret")
    if not secret:
        return
    # Codes of steps T0-1 (confirm), T0 (login, replay), T0+1 (remove): all
    # within the server's one step of drift while the step stays T0.
    remaining = 30 - (ctx.server_now() % 30)
    if remaining < 6:
        time.sleep(remaining + 0.5)
    t0 = ctx.server_now()
    c_prev, c_now, c_next = (totp_code(secret, t0 - 30), totp_code(secret, t0),
                             totp_code(secret, t0 + 30))
    wrong = "%06d" % ((int(c_now) + 500000) % 1000000)
    while wrong in (c_prev, c_now, c_next):
        wrong = "%06d" % ((int(wrong) + 1) % 1000000)
    r = m.post("/api/v1/me/totp/confirm", token=tess, json_body={"code": wrong})
    check("confirm with a wrong code is 401", r.status == 401, r)
    r = m.post("/api/v1/me/totp/confirm", token=tess, json_body={"code": c_prev})
    check("confirm with a computed code is 204", r.status == 204, r)
    r = m.get("/api/v1/me", token=tess)
    check("/me says totp is on", r.status == 200 and (r.json() or {}).get("totp") is True, r)
    r = m.login("tess", PW["tess"])
    check("login without a code is 401 totp_required",
          r.status == 401 and r.error_code() == "totp_required", r)
    r = m.login("tess", PW["tess"], wrong)
    check("login with a wrong code is 401", r.status == 401 and r.error_code() == "unauthenticated", r)
    r = m.login("tess", "wrong-password-1", c_now)
    check("login with the right code and a wrong password is 401", r.status == 401, r)
    r = m.login("tess", PW["tess"], c_now)
    check("login with the right code is 200", r.status == 200, r)
    tess2 = (r.json() or {}).get("token", tess)
    r = m.login("tess", PW["tess"], c_now)
    check("the same code again (replay) is 401", r.status == 401, r)
    r = m.request("DELETE", "/api/v1/me/totp", token=tess2, json_body={"code": wrong})
    check("removing the second factor with a wrong code is 401", r.status == 401, r)
    r = m.request("DELETE", "/api/v1/me/totp", token=tess2, json_body={"code": c_next})
    check("removing the second factor with a code is 204", r.status == 204, r)
    r = m.login("tess", PW["tess"])
    check("after removal, login needs no code", r.status == 200, r)


def poll_job(m, token, job_id, timeout=90):
    end = time.monotonic() + timeout
    while True:
        r = m.get("/api/v1/jobs/" + job_id, token=token)
        j = r.json() or {}
        if r.status != 200 or j.get("state") not in ("queued", "running") or time.monotonic() > end:
            return r
        time.sleep(0.2)


def upload(m, token, case_id, filename, data, extra=""):
    return m.post("/api/v1/cases/%s/documents?filename=%s%s" % (case_id, filename, extra), body=data,
                  token=token, headers={"Content-Type": "application/octet-stream"})


def doc_count(m, token, case_id):
    r = m.get("/api/v1/cases/%s/documents" % case_id, token=token)
    return (r.json() or {}).get("total") if r.status == 200 else None


def test_cases(ctx, m, alice, bob, carol):
    section("cases, uploads, jobs")
    S = {}
    r = m.post("/api/v1/cases", token=bob,
               json_body={"title": "Tidewater harbour", "description": "containers", "risk": "high",
                          "roles": ["investigator"]})
    j = r.json() or {}
    check("create case (201)", r.status == 201 and j.get("id") and j.get("stage") == "screening"
          and j.get("risk") == "high" and j.get("status") == "open" and j.get("document_count") == 0, r)
    S["case"] = case = j.get("id", "cmissing")
    r = m.post("/api/v1/cases", token=alice,
               json_body={"title": "Counsel only", "roles": ["legal"]})
    check("admin creates a case with a role bob lacks (201)", r.status == 201, r)
    S["hidden"] = hidden = (r.json() or {}).get("id", "cmissing2")
    r = m.post("/api/v1/cases", token=bob, json_body={"title": "x", "roles": ["legal"]})
    check("creating a case for a role you lack is refused (4xx)", 400 <= r.status < 500, r)

    def listed(q):
        rr = m.get("/api/v1/cases" + q, token=bob)
        return rr.status, [c.get("id") for c in (rr.json() or {}).get("cases", [])]

    st, ids = listed("")
    check("list cases shows the user's case, not the hidden one",
          st == 200 and case in ids and hidden not in ids, (st, ids))
    for q, want in (("?stage=screening", True), ("?stage=planning", False), ("?risk=high", True),
                    ("?risk=low", False), ("?status=open", True), ("?status=closed", False),
                    ("?q=tidewater", True), ("?q=CONTAINERS", True), ("?q=nomatchzzz", False),
                    ("?stage=screening&risk=high&status=open&q=harbour", True)):
        st, ids = listed(q)
        check("list cases %s %s the case" % (q, "includes" if want else "excludes"),
              st == 200 and (case in ids) == want, (st, ids))
    for q in ("?stage=bogus", "?risk=extreme", "?status=pending"):
        rr = m.get("/api/v1/cases" + q, token=bob)
        check("list cases %s is 400" % q, rr.status == 400 and rr.is_json_error(), rr)

    r = m.get("/api/v1/cases/" + case, token=bob)
    check("get case", r.status == 200 and (r.json() or {}).get("id") == case, r)
    nf_unknown = m.get("/api/v1/cases/" + madeup(case), token=bob)
    nf_hidden = m.get("/api/v1/cases/" + hidden, token=bob)
    nf_doc = m.get("/api/v1/documents/d" + "".join(random.choice(ALPHABET) for _ in range(15)), token=bob)
    check("unknown case is 404", nf_unknown.status == 404 and nf_unknown.error_code() == "not_found", nf_unknown)
    check("a case the user may not see is 404, byte-identical to an unknown one",
          nf_hidden.status == 404 and nf_hidden.body == nf_unknown.body, (nf_hidden, nf_unknown))
    check("a made-up document id is 404, byte-identical too",
          nf_doc.status == 404 and nf_doc.body == nf_unknown.body, nf_doc)
    S["nf_body"] = nf_unknown.body
    r = m.get("/api/v1/cases/%s/documents" % hidden, token=bob)
    check("documents of a hidden case: 404 identical", r.status == 404 and r.body == nf_unknown.body, r)

    # Upload a text file.
    word = "quokkaflux%d" % random.randint(1000, 9999)
    fname = "dossier-secret-name-%d.txt" % random.randint(1000, 9999)
    ctx.private += [word, fname]
    data = ("Shipping manifest for the harbour.\nThe %s containers were repaired twice.\n"
            "Pay GB82 WEST 1234 5698 7654 32 by Friday.\n" % word).encode()
    r = upload(m, bob, case, fname, data, "&custodian=Audit")
    j = r.json() or {}
    check("upload a text file is 202 {job_id} with Location",
          r.status == 202 and j.get("job_id") and r.header("Location") == "/api/v1/jobs/" + j.get("job_id", ""), r)
    job = j.get("job_id", "jmissing")
    r = poll_job(m, bob, job)
    jj = r.json() or {}
    docs = (jj.get("summary") or {}).get("documents", [])
    check("the job ends done and its summary lists the document with its path",
          r.status == 200 and jj.get("state") == "done" and jj.get("kind")
          and isinstance(jj.get("progress"), dict)
          and any(d.get("path") == fname and d.get("id") for d in docs), r)
    doc = next((d.get("id") for d in docs if d.get("path") == fname), None) or "dmissing"
    S.update(job=job, doc=doc, word=word, fname=fname, data=data)
    r = m.get("/api/v1/jobs/%s?failures=csv" % job, token=bob)
    check("?failures=csv is text/csv", r.status == 200
          and (r.header("Content-Type") or "").startswith("text/csv")
          and r.body.startswith(b"path,status"), r)
    r = m.get("/api/v1/jobs/%s?failures=json" % job, token=bob)
    check("?failures=json is JSON", r.status == 200 and isinstance((r.json() or {}).get("documents"), list), r)
    r = m.request("DELETE", "/api/v1/jobs/" + job, token=bob)
    r2 = m.get("/api/v1/jobs/" + job, token=bob)
    check("cancel of a finished job is 204 and it stays done",
          r.status == 204 and (r2.json() or {}).get("state") == "done", (r, r2))
    r = m.get("/api/v1/jobs/" + job, token=carol)
    check("another user's job is 404 (identical body)", r.status == 404 and r.body == nf_unknown.body, r)
    r = m.request("DELETE", "/api/v1/jobs/" + job, token=carol)
    check("cancelling another user's job is 404", r.status == 404, r)
    r = m.get("/api/v1/jobs/" + job, token=alice)
    check("an admin sees any job", r.status == 200, r)
    r = m.get("/api/v1/jobs/" + madeup(job), token=bob)
    check("a made-up job id is 404 identical", r.status == 404 and r.body == nf_unknown.body, r)
    r = m.get("/api/v1/cases/" + case, token=bob)
    check("the case counts its document", (r.json() or {}).get("document_count") == 1, r)
    r = m.get("/api/v1/cases/%s/documents" % case, token=bob)
    check("the case's documents list it", r.status == 200 and (r.json() or {}).get("total") == 1
          and [d.get("id") for d in (r.json() or {}).get("documents", [])] == [doc], r)

    # An HTML file.
    hname = "page-%d.html" % random.randint(1000, 9999)
    ctx.private.append(hname)
    html = b"<!doctype html><html><body><script>alert(document.cookie)</script><p>htmlmarker</p></body></html>"
    r = upload(m, bob, case, hname, html)
    hj = poll_job(m, bob, (r.json() or {}).get("job_id", "jx")).json() or {}
    hdoc = next((d.get("id") for d in (hj.get("summary") or {}).get("documents", [])
                 if d.get("path") == hname), None)
    check("an HTML file uploads and ingests", r.status == 202 and hj.get("state") == "done" and hdoc, hj)
    S.update(hdoc=hdoc or "dmissing", html=html)
    r = upload(m, carol, case, "x.txt", b"hello")
    check("uploading into a case you may not see is 404 identical",
          r.status == 404 and r.body == nf_unknown.body, r)
    return S


def test_documents(ctx, m, bob, carol, S):
    section("documents")
    r = m.get("/api/v1/documents/" + S["doc"], token=bob)
    j = r.json() or {}
    fam = j.get("family")
    check("document metadata has family, filename, size, sha256",
          r.status == 200 and isinstance(fam, dict) and "parent" in fam and "children" in fam
          and j.get("filename") == S["fname"] and j.get("size") == len(S["data"])
          and j.get("sha256") == hashlib.sha256(S["data"]).hexdigest() and j.get("case_id") == S["case"], r)
    r = m.get("/api/v1/documents/%s/content" % S["doc"], token=bob)
    csp = r.header("Content-Security-Policy") or ""
    check("content is the exact bytes, as an attachment, nosniff, CSP sandbox",
          r.status == 200 and r.body == S["data"]
          and (r.header("Content-Disposition") or "").startswith("attachment")
          and (r.header("X-Content-Type-Options") or "") == "nosniff"
          and "sandbox" in [t.strip() for d in csp.split(";") for t in d.split()], r.headers)
    r = m.get("/api/v1/documents/%s/text" % S["doc"], token=bob)
    check("text is text/plain with the words", r.status == 200
          and (r.header("Content-Type") or "").startswith("text/plain")
          and S["word"].encode() in r.body, r)
    r = m.get("/api/v1/documents/%s/content" % S["hdoc"], token=bob)
    csp = r.header("Content-Security-Policy") or ""
    check("an uploaded HTML file is served as an attachment with CSP sandbox and nosniff",
          r.status == 200 and r.body == S["html"]
          and (r.header("Content-Disposition") or "").startswith("attachment")
          and "sandbox" in [t.strip() for d in csp.split(";") for t in d.split()]
          and (r.header("X-Content-Type-Options") or "") == "nosniff",
          "%s %s" % (r.status, r.headers))
    for suffix in ("", "/content", "/text"):
        r = m.get("/api/v1/documents/%s%s" % (S["doc"], suffix), token=carol)
        check("document%s for a user without the case's role is 404 identical" % suffix,
              r.status == 404 and r.body == S["nf_body"], r)


def test_search(ctx, m, bob, carol, S):
    section("search")
    w = S["word"]
    r = m.get("/api/v1/search?q=" + w, token=bob)
    j = r.json() or {}
    hits = j.get("hits") or []
    hit = next((h for h in hits if h.get("document_id") == S["doc"]), None)
    check("search finds the document with a <mark>ed snippet",
          r.status == 200 and j.get("total", 0) >= 1 and hit is not None
          and "<mark>" in hit.get("snippet", "") and w in hit.get("snippet", "").lower()
          and hit.get("case_id") == S["case"], r)
    r = m.get("/api/v1/search?q=%s&case=%s&limit=5&offset=0&sort=date" % (w, S["case"]), token=bob)
    check("search with case, limit, offset, sort", r.status == 200 and (r.json() or {}).get("total", 0) >= 1, r)
    r = m.get("/api/v1/search?q=htmlmarker", token=bob)
    j = r.json() or {}
    snippets = " ".join(h.get("snippet", "") for h in j.get("hits", []))
    check("snippets are HTML-escaped (no raw <script>)", r.status == 200 and "<script" not in snippets, r)
    r = m.get("/api/v1/search?q=" + w, token=carol)
    j = r.json() or {}
    check("a user without the case's role sees total 0 for the same query",
          r.status == 200 and j.get("total") == 0 and j.get("hits") == [], r)
    r = m.get("/api/v1/search?q=%s&case=%s" % (w, S["case"]), token=carol)
    check("naming the hidden case gives no hits either (4xx or total 0)",
          (r.status == 200 and (r.json() or {}).get("total") == 0) or (r.status in (400, 404)), r)
    r = m.get("/api/v1/search?q=%s&limit=101" % w, token=bob)
    check("limit over the max is 400", r.status == 400 and r.is_json_error(), r)
    # An empty query lists every document the user can open (docs/query.md).
    r = m.get("/api/v1/search", token=bob)
    check("a search without q lists the user's documents",
          r.status == 200 and (r.json() or {}).get("total", 0) > 0, r)
    r = m.get("/api/v1/search?q=", token=bob)
    check("an empty q does the same", r.status == 200 and (r.json() or {}).get("total", 0) > 0, r)
    r = m.get("/api/v1/search", token=carol)
    j = r.json() or {}
    leaked = [h for h in j.get("hits", []) if h.get("case_id") == S["case"]]
    check("a search without q shows a user without the case's role none of its documents",
          r.status == 200 and not leaked and j.get("total") == 0, r)


def test_review(ctx, m, bob, carol, S):
    section("search for reviewers: syntax, facets, tags, exports, saved searches, term reports")
    w = S["word"]
    r = m.get("/api/v1/search?q=" + urllib.parse.quote("invoice AND"), token=bob)
    err = (r.json() or {}).get("error") or {}
    check("a malformed query is 400 with its position", r.status == 400 and err.get("position") == 9
          and "position 9" in err.get("message", ""), r)
    r = m.get("/api/v1/search?q=" + urllib.parse.quote('"' + w), token=bob)
    check("a repaired query says so in query_note", r.status == 200 and "quote" in (r.json() or {}).get("query_note", ""), r)
    r = m.get("/api/v1/search?q=" + urllib.parse.quote(w[:5] + "*"), token=bob)
    j = r.json() or {}
    check("a prefix query finds the document", r.status == 200 and any(h.get("document_id") == S["doc"] for h in j.get("hits", [])), r)
    r = m.get("/api/v1/documents/%s/text" % S["doc"], token=bob)
    text = r.body.decode("utf-8", "replace")
    r = m.get("/api/v1/documents/%s/matches?q=%s" % (S["doc"], urllib.parse.quote(w[:5] + "* OR " + w)), token=bob)
    j = r.json() or {}
    spans = j.get("matches") or []
    check("a document's matches are character ranges of its text, each the word",
          r.status == 200 and spans and not j.get("truncated")
          and all(text[b:e].lower().startswith(w[:5].lower()) for b, e in spans), r)
    r = m.get("/api/v1/documents/%s/matches?q=%s" % (S["doc"], urllib.parse.quote("invoice AND")), token=bob)
    check("matches of a malformed query are 400 with its position",
          r.status == 400 and ((r.json() or {}).get("error") or {}).get("position") == 9, r)
    r = m.get("/api/v1/documents/%s/matches?q=%s" % (S["doc"], w), token=carol)
    check("matches in a document of a hidden case are the same 404", r.status == 404 and r.body == S["nf_body"], r)
    r = m.get("/api/v1/entities?type=iban&value=" + urllib.parse.quote("gb82 west 1234 5698 7654 32"), token=bob)
    j = r.json() or {}
    check("an entity's documents and cases, its value normalised",
          r.status == 200 and j.get("value") == "GB82WEST12345698765432" and j.get("total", 0) >= 1
          and any(d.get("document_id") == S["doc"] for d in j.get("documents", []))
          and any(c.get("case_id") == S["case"] for c in j.get("cases", [])), r)
    held = m.get("/api/v1/entities?type=iban&value=GB82WEST12345698765432", token=carol)
    never = m.get("/api/v1/entities?type=iban&value=DE89370400440532013000", token=carol)
    hj, nj = held.json() or {}, never.json() or {}
    check("a user without the case's role learns nothing of an entity it holds",
          held.status == 200 and hj.get("total") == 0 and hj.get("cases") == [] and hj.get("documents") == []
          and {k: v for k, v in hj.items() if k != "value"} == {k: v for k, v in nj.items() if k != "value"}, held)
    r = m.get("/api/v1/entities?type=shoe&value=42", token=bob)
    check("an unknown entity type is 400", r.status == 400, r)
    r = m.get("/api/v1/entities?type=iban&value=DE00", token=bob)
    check("an invalid value is 400", r.status == 400 and "not a valid iban" in r.body.decode(), r)
    r = m.get("/api/v1/search?q=" + w, token=bob)
    j = r.json() or {}
    facets = j.get("facets") or {}
    check("facets by type, custodian, language, case, tag and year, and the exceptions count",
          r.status == 200 and all(k in facets for k in ("type", "custodian", "language", "case", "tag", "year"))
          and any(v.get("value") == S["case"] for v in facets.get("case", [])) and "exceptions" in j, r)
    r = m.post("/api/v1/documents/%s/tags" % S["doc"], token=bob, json_body={"add": ["hot", "Responsive"]})
    check("tags are set on a document", r.status == 200 and (r.json() or {}).get("tags") == ["hot", "responsive"], r)
    r = m.get("/api/v1/search?q=tag:hot", token=bob)
    j = r.json() or {}
    check("tag: finds it and the tag facet counts it", r.status == 200
          and any(h.get("document_id") == S["doc"] and "hot" in h.get("tags", []) for h in j.get("hits", []))
          and any(v.get("value") == "hot" for v in (j.get("facets") or {}).get("tag", [])), r)
    r = m.post("/api/v1/documents/%s/tags" % S["doc"], token=carol, json_body={"add": ["x"]})
    check("tagging a document of a hidden case is the same 404", r.status == 404 and r.body == S["nf_body"], r)
    r = m.get("/api/v1/search?q=tag:hot", token=carol)
    check("the hidden case's tags count nothing for others", r.status == 200 and (r.json() or {}).get("total") == 0
          and not (r.json() or {}).get("facets", {}).get("tag"), r)
    r = m.post("/api/v1/search/tags", token=bob, json_body={"q": w, "add": ["bulk"]})
    check("bulk tagging of a query's hits", r.status == 200 and (r.json() or {}).get("changed", 0) >= 1, r)
    r = m.get("/api/v1/search/export?q=" + w, token=bob)
    check("the hit list exports as CSV with hashes and tags", r.status == 200
          and (r.header("Content-Type") or "").startswith("text/csv")
          and S["doc"].encode() in r.body and hashlib.sha256(S["data"]).hexdigest().encode() in r.body
          and b"bulk" in r.body, r)
    r = m.get("/api/v1/search/exceptions", token=bob)
    check("the exceptions list answers", r.status == 200 and "total" in (r.json() or {}), r)
    r = m.post("/api/v1/search/terms", token=bob, json_body={"terms": [w, "tag:hot", "nomatchwordzz"]})
    j = r.json() or {}
    rows = j.get("rows") or []
    check("a search-term report", r.status == 200 and len(rows) == 3 and rows[0].get("hits", 0) >= 1
          and rows[2].get("hits") == 0 and j.get("total_documents", 0) >= 1, r)
    r = m.post("/api/v1/search/terms", token=carol, json_body={"terms": [w, "tag:hot"]})
    j = r.json() or {}
    check("the report counts nothing of a hidden case", r.status == 200 and j.get("total_documents") == 0
          and all(x.get("hits") == 0 for x in j.get("rows", [])), r)
    r = m.request("POST", "/api/v1/search/terms?format=csv", token=bob, body=json.dumps({"terms": [w]}).encode(),
                  headers={"Content-Type": "application/json"})
    check("the report exports as CSV", r.status == 200 and r.body.startswith(b"term,hits,unique_hits"), r)
    r = m.post("/api/v1/searches", token=bob, json_body={"name": "mine", "query": w})
    sid = (r.json() or {}).get("id", "")
    check("a search is saved", r.status == 201 and sid, r)
    r = m.get("/api/v1/searches/%s/run" % sid, token=bob)
    j = r.json() or {}
    check("a saved search runs, with new_since_last_run", r.status == 200 and j.get("total", 0) >= 1
          and j.get("new_since_last_run") == 0, r)
    r = m.get("/api/v1/searches", token=carol)
    check("another user sees none of it", r.status == 200 and (r.json() or {}).get("searches") == [], r)
    r = m.get("/api/v1/searches/%s/run" % sid, token=carol)
    check("nor runs it", r.status == 404, r)
    r = m.request("DELETE", "/api/v1/searches/%s" % sid, token=bob)
    check("a saved search is deleted", r.status == 204, r)


def test_upload_limits(ctx, m, bob, S):
    section("upload limits and broken uploads")
    case = S["case"]
    before = doc_count(m, bob, case)
    name = "overcap-%d.bin" % random.randint(1000, 9999)
    ctx.private.append(name)
    head = ("POST /api/v1/cases/%s/documents?filename=%s HTTP/1.1\r\nHost: localhost\r\n"
            "Authorization: Bearer %s\r\nContent-Type: application/octet-stream\r\n"
            "Content-Length: %d\r\n\r\n" % (case, name, bob, UPLOAD_CAP + 1)).encode()
    t0 = time.monotonic()
    buf = m.raw(head, timeout=10)
    resp = parse_responses(buf, "upload Content-Length over cap")
    check("an upload announcing more than --upload-cap gets 413 before any body is sent",
          len(resp) == 1 and resp[0].status == 413 and resp[0].is_json_error()
          and time.monotonic() - t0 < 9, buf[:300])
    check("after it REPO/uploads holds no files", uploads_entries(m.repo) == [], uploads_entries(m.repo))

    # A file between 1 MiB and the cap, with Content-Length, is accepted.
    mid = ("middle-%d.txt" % random.randint(1000, 9999))
    ctx.private.append(mid)
    data = (b"middle sized upload line\n" * (2 * MiB // 25 + 1))[:2 * MiB]
    r = upload(m, bob, case, mid, data)
    jr = poll_job(m, bob, (r.json() or {}).get("job_id", "jx")) if r.status == 202 else r
    check("an upload of 2 MiB (under --upload-cap) with Content-Length is accepted (202, job done)",
          r.status == 202 and (jr.json() or {}).get("state") == "done", (r, jr))
    if r.status == 202:
        before = doc_count(m, bob, case)

    # The same without Content-Length: chunked past the cap.
    head = ("POST /api/v1/cases/%s/documents?filename=%s HTTP/1.1\r\nHost: localhost\r\n"
            "Authorization: Bearer %s\r\nContent-Type: application/octet-stream\r\n"
            "Transfer-Encoding: chunked\r\n\r\n" % (case, name, bob)).encode()
    piece = b"%x\r\n" % (256 * 1024) + b"z" * (256 * 1024) + b"\r\n"
    n = (UPLOAD_CAP // (256 * 1024)) + 8
    buf, sent = m.raw_stream(head, [piece] * n + [b"0\r\n\r\n"], timeout=30)
    resp = parse_responses(buf, "chunked upload over cap")
    check("a chunked upload past --upload-cap gets 413",
          len(resp) >= 1 and resp[0].status == 413 and resp[0].is_json_error(), (buf[:300], sent))
    wait_until(lambda: not open_upload_fds(m), 5)
    check("after it REPO/uploads holds no files and no staging file stays open",
          uploads_entries(m.repo) == [] and open_upload_fds(m) == [],
          (uploads_entries(m.repo), open_upload_fds(m)))

    # A client that goes away mid-upload: with Content-Length (10 MB
    # announced, 1 MiB sent), then the same with chunked encoding.
    for how in ("content-length", "chunked"):
        pname = "partial-%s-%d.bin" % (how, random.randint(1000, 9999))
        ctx.private.append(pname)
        s = m.connect(10)
        framing = ("Content-Length: %d" % (10 * 1000 * 1000) if how == "content-length"
                   else "Transfer-Encoding: chunked")
        early = b""
        try:
            s.sendall(("POST /api/v1/cases/%s/documents?filename=%s HTTP/1.1\r\nHost: localhost\r\n"
                       "Authorization: Bearer %s\r\nContent-Type: application/octet-stream\r\n"
                       "%s\r\n\r\n" % (case, pname, bob, framing)).encode())
            for _ in range(16):
                p = b"p" * 65536
                s.sendall(p if how == "content-length" else b"%x\r\n" % len(p) + p + b"\r\n")
            time.sleep(0.3)
            s.setblocking(False)
            try:
                early = s.recv(65536)
            except (BlockingIOError, ssl.SSLWantReadError):
                pass
        except OSError as e:
            early = early or ("(send failed: %r)" % e).encode()
        had_open = open_upload_fds(m)
        s.close()
        gone = wait_until(lambda: not open_upload_fds(m), 10)
        time.sleep(0.5)
        r = m.get("/healthz")
        check("upload (%s) in progress: 1 MiB sent, no answer yet, staged in REPO/uploads" % how,
              early == b"" and bool(had_open), (early[:300], had_open))
        check("a client that disconnects mid-upload (%s) leaves no new document, nothing in "
              "REPO/uploads, and the server keeps serving" % how,
              doc_count(m, bob, case) == before and uploads_entries(m.repo) == [] and bool(gone)
              and r.status == 200 and m.alive(),
              "before=%s after=%s entries=%s open=%s (while sending: %s) healthz=%s" % (
                  before, doc_count(m, bob, case), uploads_entries(m.repo), open_upload_fds(m),
                  had_open, r.status))


# Fields of each JSON route (from the handlers): s string, l list of strings, b bool.
JSON_FIELDS = {
    ("POST", "/api/v1/auth/login"): {"user": "s", "password": "s", "totp": "s"},
    ("POST", "/api/v1/me/password"): {"old_password": "s", "new_password": "s"},
    ("POST", "/api/v1/me/totp/confirm"): {"code": "s"},
    ("DELETE", "/api/v1/me/totp"): {"code": "s"},
    ("POST", "/api/v1/users"): {"user": "s", "password": "s", "roles": "l", "admin": "b"},
    ("POST", "/api/v1/users/{user}/password"): {"new_password": "s"},
    ("POST", "/api/v1/roles"): {"name": "s", "join": "b"},
    ("POST", "/api/v1/roles/{role}/members"): {"user": "s"},
    ("POST", "/api/v1/cases"): {"title": "s", "description": "s", "risk": "s", "roles": "l", "phone_region": "s"},
    ("POST", "/api/v1/cases/{id}/grants"): {"role": "s"},
    ("POST", "/api/v1/documents/{id}/tags"): {"add": "l", "remove": "l"},
    ("POST", "/api/v1/search/tags"): {"q": "s", "case": "s", "add": "l", "remove": "l"},
    ("POST", "/api/v1/search/terms"): {"terms": "l", "case": "s"},
    ("POST", "/api/v1/searches"): {"name": "s", "query": "s", "case": "s"},
    ("PUT", "/api/v1/tags/policy"): {"privileged_roles": "l"},
    ("POST", "/api/v1/cases/{id}/links"): {"case": "s", "decision": "s", "why": "s"},
    ("POST", "/api/v1/stop-entities"): {"type": "s", "value": "s", "stop": "b"},
    ("PUT", "/api/v1/links/settings"): {"stop_threshold": "n", "deconfliction": "s", "notices_per_hour": "n",
                                        "phone_region": "s"},
    ("PATCH", "/api/v1/cases/{id}"): {"title": "s", "description": "s", "stage": "s", "risk": "s", "status": "s",
                                      "owner": "s", "assignees": "l", "reason": "s"},
    ("POST", "/api/v1/cases/{id}/tasks"): {"title": "s", "due": "s", "assignee": "s"},
    ("PATCH", "/api/v1/tasks/{id}"): {"title": "s", "done": "b", "due": "s", "assignee": "s"},
    ("POST", "/api/v1/cases/{id}/notes"): {"text": "s"},
    ("POST", "/api/v1/notifications/read"): {"all": "b"},
    ("PUT", "/api/v1/settings/workflow"): {"due_soon_seconds": "n"},
}
# Harmless bodies: each is sent only after being broken.
BASE_BODY = {
    ("POST", "/api/v1/auth/login"): {"user": "nobody-badinput", "password": "badinput-pass-1"},
    ("POST", "/api/v1/me/password"): {"old_password": "not-my-pass-1", "new_password": "badinput-pass-1"},
    ("POST", "/api/v1/me/totp/confirm"): {"code": "000000"},
    ("DELETE", "/api/v1/me/totp"): {"code": "000000"},
    ("POST", "/api/v1/users"): {"user": "badinput-user", "password": "badinput-pass-1", "roles": [], "admin": False},
    ("POST", "/api/v1/users/{user}/password"): {"new_password": "badinput-pass-1"},
    ("POST", "/api/v1/roles"): {"name": "badinput-role", "join": False},
    ("POST", "/api/v1/roles/{role}/members"): {"user": "nobody-badinput"},
    ("POST", "/api/v1/cases"): {"title": "badinput", "description": "d", "risk": "low", "roles": ["investigator"]},
    ("POST", "/api/v1/cases/{id}/grants"): {"role": "legal"},
    ("POST", "/api/v1/documents/{id}/tags"): {"add": ["badinput"], "remove": []},
    ("POST", "/api/v1/search/tags"): {"q": "nomatchbadinputword", "add": ["badinput"]},
    ("POST", "/api/v1/search/terms"): {"terms": ["nomatchbadinputword"]},
    ("POST", "/api/v1/searches"): {"name": "badinput", "query": "nomatchbadinputword"},
    ("PUT", "/api/v1/tags/policy"): {"privileged_roles": []},
    ("POST", "/api/v1/cases/{id}/links"): {"case": "cmadeupcase1", "decision": "confirm", "why": "badinput"},
    ("POST", "/api/v1/stop-entities"): {"type": "iban", "value": "GB82WEST12345698765432", "stop": True},
    ("PUT", "/api/v1/links/settings"): {"stop_threshold": 50, "deconfliction": "notice", "notices_per_hour": 30},
    ("PATCH", "/api/v1/cases/{id}"): {"stage": "planning", "reason": "badinput"},
    ("POST", "/api/v1/cases/{id}/tasks"): {"title": "badinput", "due": "2030-01-01"},
    ("PATCH", "/api/v1/tasks/{id}"): {"done": True},
    ("POST", "/api/v1/cases/{id}/notes"): {"text": "badinput"},
    ("POST", "/api/v1/notifications/read"): {"all": True},
    ("PUT", "/api/v1/settings/workflow"): {"stage_targets": {"planning": 1209600}, "due_soon_seconds": 172800},
}


def test_bad_input(ctx, m, routes, alice, S):
    section("bad input on every route")
    spec = {}
    r = m.get("/api/v1/openapi.json")
    for path, ops in (r.json() or {}).get("paths", {}).items():
        for meth, op in ops.items():
            content = (op.get("requestBody") or {}).get("content", {})
            spec[(meth.upper(), path)] = ("json" if "application/json" in content else
                                          "stream" if content else "none", op)
    json_routes = sorted(k for k, v in spec.items() if v[0] == "json")
    stream_routes = sorted(k for k, v in spec.items() if v[0] == "stream")
    unknown = [k for k in json_routes if k not in JSON_FIELDS]
    check("every JSON route of the OpenAPI document has a field table here", not unknown, unknown)

    problems = []
    count = {"n": 0}

    def expect_error(resp, why):
        count["n"] += 1
        ok = 400 <= resp.status < 500 and resp.is_json_error() and \
            (resp.header("Content-Type") or "").startswith("application/json")
        if not ok:
            problems.append("%s: %r" % (why, resp))

    def send(meth, path, body=None, ctype="application/json", token=alice):
        hdrs = {"Content-Type": ctype} if body is not None else {}
        return m.request(meth, path, body=body, headers=hdrs, token=token)

    # -- JSON bodies --
    for key in json_routes:
        meth, tmpl = key
        path = fill_path(tmpl, {}, "madeup")  # made-up ids: no side effect even if accepted
        fields = JSON_FIELDS.get(key, {})
        base = dict(BASE_BODY.get(key, {}))
        first_str = next((f for f, t in fields.items() if t == "s"), "x")
        bodies = {
            "empty body": b"",
            "truncated JSON": b'{"a": 1,',
            "unquoted key": b"{a: 1}",
            "trailing garbage": b'{"a": 1}}',
            "bare word": b"nul",
            "JSON array": b"[]",
            "JSON array of the object": json.dumps([base]).encode(),
            "JSON string": b'"hello"',
            "JSON number": b"12",
            "JSON null": b"null",
            "empty object": b"{}",
            "unknown field": json.dumps(dict(base, zz_unknown_field=1)).encode(),
            "only an unknown field": b'{"zz_unknown_field": "x"}',
            "invalid UTF-8 in a string": b'{"' + first_str.encode() + b'": "\xff\xfe\xc0\xaf"}',
            "invalid UTF-8 in a key": b'{"\xff\xfe": "x"}',
            "lone surrogate escape": b'{"' + first_str.encode() + b'": "\\ud800"}',
            "deeply nested arrays": b"[" * 100000,
            "deeply nested objects": b'{"a":' * 20000,
            "huge exponent": b'{"' + first_str.encode() + b'": 1e999999}',
            "huge integer": b'{"' + first_str.encode() + b'": ' + b"9" * 400 + b"}",
            "NUL in a string": json.dumps(dict(base, **{first_str: "a\u0000b"})).encode(),
            "very long string": json.dumps(dict(base, **{first_str: "a" * 20000})).encode(),
            "duplicate key": b'{"' + first_str.encode() + b'": "a", "' + first_str.encode() + b'": 5}',
        }
        for why, body in bodies.items():
            expect_error(send(meth, path, body), "%s %s: %s" % (meth, tmpl, why))
        expect_error(send(meth, path, json.dumps(base).encode(), ctype="text/plain"),
                     "%s %s: JSON sent as text/plain" % (meth, tmpl))
        for f, t in fields.items():
            wrongs = {"s": [123, 1.5, True, ["a"], {"a": 1}, 10 ** 30],
                      "l": ["a", 5, [1], [["a"]], {"a": "b"}, ["x" * 300]],
                      "b": ["yes", 1, [True], 1e308],
                      "n": ["5", 1.5, True, [1], -1, 10 ** 30]}[t]
            for w in wrongs:
                body = json.dumps(dict(base, **{f: w})).encode()
                expect_error(send(meth, path, body), "%s %s: %s=%r" % (meth, tmpl, f, str(w)[:20]))
    # -- query strings on every route --
    real = {"id": S["case"], "user": "bob", "role": "investigator", "file": "app.js"}
    for meth, tmpl in routes:
        # Real ids for reads (so the query is what is wrong); made-up ids
        # for anything that changes state, in case a bad query got through.
        if meth == "GET":
            base_path = fill_path(tmpl, real, "madeup")
            if tmpl.startswith("/api/v1/jobs/"):
                base_path = fill_path(tmpl, {"id": S["job"]})
            if tmpl.startswith("/api/v1/documents/"):
                base_path = fill_path(tmpl, {"id": S["doc"]})
        else:
            base_path = fill_path(tmpl, {}, "madeup")
        for q in ("x=%zz", "x=%", "x=%4", "%zz=1", "x=%ff", "x=%c0%af", "x=%ed%a0%80", "x=a%00b",
                  "%00=1", "x=1&x=2", "q=%G1"):
            sep = "&" if "?" in base_path else "?"
            extra = "filename=q.txt&" if (meth, tmpl) in stream_routes else ""
            resp = m.request(meth, base_path + sep + extra + q, token=alice,
                             body=b"hi" if (meth, tmpl) in stream_routes else None)
            expect_error(resp, "%s %s?%s" % (meth, tmpl, q))
    # -- route-specific query values --
    case, job = S["case"], S["job"]
    specific = [
        ("GET", "/api/v1/cases?stage=bogus"), ("GET", "/api/v1/cases?risk=1"),
        ("GET", "/api/v1/cases?status=%ff"), ("GET", "/api/v1/cases?q=%00"),
        ("GET", "/api/v1/cases?stage=screening&stage=planning"),
        ("GET", "/api/v1/cases/%s/documents?limit=-1" % case),
        ("GET", "/api/v1/cases/%s/documents?limit=abc" % case),
        ("GET", "/api/v1/cases/%s/documents?limit=1e3" % case),
        ("GET", "/api/v1/cases/%s/documents?limit=5001" % case),
        ("GET", "/api/v1/cases/%s/documents?limit=99999999999999999999" % case),
        ("GET", "/api/v1/cases/%s/documents?offset=18446744073709551617" % case),
        ("GET", "/api/v1/cases/%s/documents?offset=+1" % case),
        ("GET", "/api/v1/jobs/%s?failures=xml" % job),
        ("GET", "/api/v1/jobs/%s?failures=%%ff" % job),
        ("GET", "/api/v1/search?q=x&limit=-1"), ("GET", "/api/v1/search?q=x&limit=abc"),
        ("GET", "/api/v1/search?q=x&limit=4294967296"), ("GET", "/api/v1/search?q=x&offset=10001"),
        ("GET", "/api/v1/search?q=x&sort=bogus"), ("GET", "/api/v1/search?q=" + "a" * 5000),
        ("GET", "/api/v1/search?q=%ff"), ("GET", "/api/v1/search?q=%00"), ("GET", "/api/v1/search?q=%zz"),
    ]
    for meth, path in specific:
        expect_error(m.request(meth, path, token=alice), "%s %s" % (meth, path[:80]))
    for extra in ("", "filename=", "filename=..%2Fescape.txt", "filename=%2Fabs.txt",
                  "path=a%2F..%2Fb.txt", "path=a%2F%2Fb.txt", "filename=a.txt&path=b%2Fc.txt",
                  "filename=q.txt&custodian=" + "c" * 300, "filename=a%00b.txt", "filename=%ff.txt",
                  "filename=" + "n" * 5000):
        p = "/api/v1/cases/%s/documents" % case + ("?" + extra if extra else "")
        expect_error(m.request("POST", p, token=alice, body=b"hi",
                               headers={"Content-Type": "application/octet-stream"}),
                     "upload ?%s" % extra[:60])
    # Odd but valid queries may be repaired (200) but never fail the server.
    odd = []
    for q in ('"unterminated', "((((", ")", "NEAR NEAR", "*", "AND", "NOT", "a NEAR/x b",
              "date:2020-13-45..x", "case:", "tag:%22%22", "%E2%80%AE", "a" * 4096):
        resp = m.get("/api/v1/search?q=" + urllib.parse.quote(q, safe="%"), token=alice)
        count["n"] += 1
        if resp.status >= 500 or resp.json() is None or (resp.status >= 400 and not resp.is_json_error()):
            odd.append(repr(resp))
    problems.extend(odd)
    # -- bad ids on every route with path parameters --
    for meth, tmpl in routes:
        if "{" not in tmpl:
            continue
        for bad in ("x" * 300, "x" * 256, "a%2Fb", "a%2F..%2F..%2Fb", "a%00b", "%2e%2e", "%2e",
                    "%ff%fe", "%zz", "%", "%c0%ae%c0%ae", "a%20b", "%3Cscript%3E"):
            path = re.sub(r"\{[^}]+\}", bad, tmpl)
            body, hdrs = None, {}
            if (meth, tmpl) in JSON_FIELDS:
                body, hdrs = json.dumps(BASE_BODY[(meth, tmpl)]).encode(), {"Content-Type": "application/json"}
            if (meth, tmpl) in stream_routes:
                path += "?filename=bad.txt"
                body, hdrs = b"hi", {"Content-Type": "application/octet-stream"}
            expect_error(m.request(meth, path, token=alice, body=body, headers=hdrs),
                         "%s %s with id %r" % (meth, tmpl, bad[:24]))
    check("bad input (%d requests): always a 4xx JSON error with code and message, never a 5xx"
          % count["n"], not problems, "\n".join(problems[:40]) + ("\n... %d problems" % len(problems)))
    r = m.get("/healthz")
    check("the server still answers /healthz after the bad input", r.status == 200 and m.alive(), r)
    r = m.get("/api/v1/me", token=alice)
    check("the admin's session survived the bad input", r.status == 200, r)


def test_slow_logins(m):
    section("logins whose bodies trickle in hold no login slot")
    socks = []
    try:
        # More slow logins than there are login slots and places waiting.
        for _ in range(20):
            s = m.connect(timeout=5)
            s.sendall(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: localhost\r\n"
                      b"Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"us")
            socks.append(s)
        time.sleep(0.5)
        r = m.login("alice", PW["alice"])
        check("a login succeeds while 20 others send their bodies slowly", r.status == 200, r)
    finally:
        for s in socks:
            s.close()


def test_limits(ctx, m, alice):
    section("HTTP limits")
    big = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * (HEADER_LIMIT + 1000) + b"\r\n\r\n"
    resp = parse_responses(m.raw(big), "GET /healthz with 9 KiB header")
    check("request headers over 8 KiB get 431",
          len(resp) == 1 and resp[0].status == 431 and resp[0].is_json_error(), resp)
    many = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n" + b"".join(
        b"X-H%d: %s\r\n" % (i, b"v" * 60) for i in range(200)) + b"\r\n"
    resp = parse_responses(m.raw(many), "GET /healthz with 200 headers")
    check("many headers summing over 8 KiB get 431", len(resp) == 1 and resp[0].status == 431, resp)
    ok = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Fine: " + b"a" * 6000 + b"\r\nConnection: close\r\n\r\n"
    resp = parse_responses(m.raw(ok), "GET /healthz with 6 KiB header")
    check("headers under 8 KiB are fine", len(resp) == 1 and resp[0].status == 200, resp)

    head = ("POST /api/v1/cases HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (alice, JSON_CAP + 1)).encode()
    resp = parse_responses(m.raw(head), "POST /api/v1/cases Content-Length 1 MiB + 1")
    check("a JSON body announced over 1 MiB gets 413 (before it is sent)",
          len(resp) == 1 and resp[0].status == 413 and resp[0].is_json_error(), resp)
    payload = b'{"title": "' + b"t" * (JSON_CAP + 1000) + b'", "roles": ["investigator"]}'
    head = ("POST /api/v1/cases HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" % alice).encode()
    pieces = []
    for i in range(0, len(payload), 65536):
        p = payload[i:i + 65536]
        pieces.append(b"%x\r\n" % len(p) + p + b"\r\n")
    buf, _ = m.raw_stream(head, pieces + [b"0\r\n\r\n"])
    resp = parse_responses(buf, "POST /api/v1/cases chunked 1 MiB+")
    check("a chunked JSON body over 1 MiB gets 413",
          len(resp) >= 1 and resp[0].status == 413 and resp[0].is_json_error(), buf[:300])
    head = ("POST /api/v1/cases HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: application/json\r\nContent-Length: 12abc\r\n\r\n" % alice).encode()
    resp = parse_responses(m.raw(head), "POST malformed Content-Length")
    check("a malformed Content-Length is a 4xx", len(resp) == 1 and 400 <= resp[0].status < 500, resp)
    r = m.request("GET", "/api/v1/me", token=alice, body=b"unexpected")
    check("a body on a route that takes none is refused (4xx)", 400 <= r.status < 500 and r.is_json_error(), r)

    two = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\nGET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    resp = parse_responses(m.raw(two), "pipelined /healthz x2")
    check("pipelining: two GET /healthz in one send get two answers",
          len(resp) == 2 and all(x.status == 200 and x.json() == {"ok": True} for x in resp), resp)
    three = (b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"
             b"GET /no-such-route HTTP/1.1\r\nHost: localhost\r\n\r\n"
             b"GET /api/v1/auth/session HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    resp = parse_responses(m.raw(three), "pipelined x3")
    check("pipelining: answers come in request order",
          [x.status for x in resp] == [200, 404, 200] and resp[0].json() == {"ok": True}
          and resp[1].error_code() == "no_route" and (resp[2].json() or {}).get("authenticated") is False,
          resp)
    bad = parse_responses(m.raw(b"NOT HTTP AT ALL\r\n\r\n"), "garbage request line")
    check("a garbage request line gets a 4xx or a close, never a 5xx",
          all(400 <= x.status < 500 for x in bad), bad)
    r = m.get("/healthz")
    check("still serving after the limit checks", r.status == 200, r)


def test_tls(ctx):
    section("TLS")
    if not shutil.which("openssl"):
        check("openssl CLI available for the TLS checks", False, "openssl not found")
        return
    key, cert = os.path.join(ctx.tmp, "tls.key"), os.path.join(ctx.tmp, "tls.crt")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=localhost", "-keyout", key, "-out", cert],
                       capture_output=True, timeout=60)
    if not check("openssl makes a self-signed certificate", r.returncode == 0, r.stderr.decode()[-500:]):
        return
    repo = ctx.init_repo("tlsrepo", "alice", PW["alice"])
    srv = Server(ctx, "tls", repo, ["--tls-cert", cert, "--tls-key", key], tls=True)
    sc = ssl.create_default_context(cafile=cert)
    sc.check_hostname = False
    srv.ssl_ctx = sc
    srv.start()
    check("the TLS server says https://", srv.scheme == "https", srv.stdout_lines)
    r = srv.get("/healthz")
    check("/healthz works over TLS", r.status == 200 and r.json() == {"ok": True}, r)
    check("Strict-Transport-Security is present under TLS",
          (r.header("Strict-Transport-Security") or "").startswith("max-age="), r.headers)
    r = srv.login("alice", PW["alice"])
    value, attrs = session_cookie(r)
    check("login over TLS sets the cookie Secure, HttpOnly, SameSite=Strict",
          r.status == 200 and attrs is not None and "secure" in attrs and attrs.get("httponly") is True
          and str(attrs.get("samesite", "")).lower() == "strict", r.all("Set-Cookie"))
    tok = (r.json() or {}).get("token", "")
    r = srv.get("/api/v1/me", token=tok)
    check("bearer auth over TLS", r.status == 200, r)
    # Plain HTTP to the TLS port.
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=8)
    data = b""
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ConnectionError):
        pass
    s.close()
    check("plain HTTP to the TLS port gets no HTTP answer", b"HTTP/" not in data, data[:200])
    r = srv.get("/healthz")
    check("the TLS server still serves", r.status == 200, r)
    rc, took = srv.stop()
    check("the TLS server stops on SIGTERM with exit code 0", rc == 0, (rc, took))


def test_clock(ctx, m):
    section("session expiry and login throttling under a moved clock")
    bob = m.token("bob", PW["bob"])
    r = m.get("/api/v1/me", token=bob)
    check("a fresh session works", r.status == 200, r)
    ctx.set_offset(31 * 60)
    r = m.get("/api/v1/me", token=bob)
    check("after 31 idle minutes the session is 401", r.status == 401, r)

    base = ctx.offset
    bob = m.token("bob", PW["bob"])
    statuses = []
    for k in range(1, 37):
        ctx.set_offset(base + k * 1200)
        statuses.append(m.get("/api/v1/me", token=bob).status)
    check("a session used every 20 minutes lives until 12 hours, then is 401",
          statuses[:35] == [200] * 35 and statuses[35] == 401, statuses)

    codes = []
    for i in range(100):
        codes.append(m.login("thr", "wrong-password-%d" % i).status)
    check("100 failed logins are each 401", codes == [401] * 100,
          {c: codes.count(c) for c in set(codes)})
    r = m.login("thr", PW["thr"])
    ra = r.header("Retry-After") or ""
    check("the 101st attempt, even with the right password, is 429 with Retry-After",
          r.status == 429 and ra.isdigit() and 0 < int(ra) <= 3600 and r.is_json_error(),
          "%r Retry-After=%r" % (r, ra))
    r = m.login("thr2", PW["thr2"])
    check("another account is unaffected", r.status == 200, r)
    ctx.set_offset(ctx.offset + 3601)
    r = m.login("thr", PW["thr"])
    check("an hour later (clock +3601 s) the account logs in again", r.status == 200, r)


def test_graceful_stop(ctx, m, S):
    section("graceful stop")
    bob = m.token("bob", PW["bob"])
    name = "slow-%d.bin" % random.randint(1000, 9999)
    ctx.private.append(name)
    # Chunked, so the upload stays in flight whatever the server thinks of
    # large Content-Length values (checked on their own above).
    s = m.connect(30)
    s.sendall(("POST /api/v1/cases/%s/documents?filename=%s HTTP/1.1\r\nHost: localhost\r\n"
               "Authorization: Bearer %s\r\nContent-Type: application/octet-stream\r\n"
               "Transfer-Encoding: chunked\r\n\r\n" % (S["case"], name, bob)).encode())
    sent = {"n": 0}
    stop = threading.Event()
    piece = b"%x\r\n" % 65536 + b"s" * 65536 + b"\r\n"

    def sender():
        try:
            while not stop.is_set() and sent["n"] < UPLOAD_CAP - 4 * 65536:
                s.sendall(piece)
                sent["n"] += 65536
                time.sleep(0.05)
        except OSError:
            pass

    t = threading.Thread(target=sender, daemon=True)
    t.start()
    wait_until(lambda: sent["n"] >= MiB, 10)
    s.setblocking(False)
    try:
        early = s.recv(65536)
    except (BlockingIOError, OSError):
        early = b""
    s.setblocking(True)
    check("a slow upload is in flight (1 MiB sent, no answer yet)", early == b"" and m.alive(), early[:200])
    rc, took = m.stop(timeout=30)
    stop.set()
    t.join(5)
    s.close()
    check("SIGTERM with a slow upload in flight: exits within 15 s with code 0 (took %.1f s)" % took,
          rc == 0 and took <= 15, (rc, took, sent["n"]))
    check("the server says 'Dossier stopped.'", "Dossier stopped." in m.stdout_lines, m.stdout_lines)


def test_access_log(ctx, m):
    section("access log")
    lines = [l for l in m.stderr_lines if l.strip()]
    bad, entries = [], []
    for l in lines:
        try:
            e = json.loads(l)
        except ValueError:
            bad.append(l)
            continue
        if not isinstance(e, dict):
            bad.append(l)
            continue
        entries.append(e)
        if not (isinstance(e.get("time"), str) and isinstance(e.get("method"), str)
                and isinstance(e.get("route"), str) and isinstance(e.get("status"), int)
                and isinstance(e.get("bytes"), int) and isinstance(e.get("ms"), (int, float))
                and "user" in e and (e["user"] is None or isinstance(e["user"], str))):
            bad.append(l)
    check("every stderr line (%d) is JSON with time, method, route, status, bytes, ms, user" % len(lines),
          lines and not bad, "\n".join(bad[:10]))
    check("the log names users and route templates",
          any(e.get("user") == "bob" for e in entries)
          and any(e.get("route") == "/api/v1/cases/{id}/documents" for e in entries), entries[-3:])
    leaks = []
    for secret in [x for x in ctx.secrets if x] + ctx.private:
        for l in lines:
            if secret in l:
                leaks.append("%s in %s" % (secret[:12], l[:200]))
                break
    check("the log never holds a token, a search word or an uploaded filename", not leaks,
          "\n".join(leaks[:10]))


def test_links(ctx, m, alice, bob, carol, S):
    section("case links: shared entities, decisions, deconfliction, the graph")
    r = m.post("/api/v1/cases", token=bob, json_body={"title": "Quay payments", "roles": ["investigator"]})
    quay = (r.json() or {}).get("id", "cmissing3")
    for token, case, name, text in ((bob, quay, "quay.txt", "Refund sent to GB82WEST12345698765432 on Monday.\n"),
                                    (carol, S["hidden"], "counsel-note.txt", "Settlement account GB82 WEST 1234 5698 7654 32.\n")):
        r = upload(m, token, case, name, text.encode())
        poll_job(m, token, (r.json() or {}).get("job_id", "jmissing"))
    r = m.get("/api/v1/cases/%s/links" % S["case"], token=bob)
    j = r.json() or {}
    links = {l.get("case_id"): l for l in j.get("links", [])}
    q = links.get(quay) or {}
    shared = q.get("shared") or [{}]
    check("the case links to the one sharing its IBAN, with the entity and its documents on both sides",
          r.status == 200 and q.get("state") == "suggested" and q.get("score", 0) > 0
          and shared[0].get("type") == "iban" and shared[0].get("value") == "GB82WEST12345698765432"
          and any(d.get("document_id") == S["doc"] for d in shared[0].get("here", []))
          and shared[0].get("there"), r)
    notices = [n for n in j.get("notices", []) if n.get("direction") == "outgoing"]
    check("a case bob may not open shows as a notice: a count, types and whom to contact",
          len(notices) == 1 and notices[0].get("types") == ["iban"] and notices[0].get("contact") == ["legal"]
          and notices[0].get("shared") == 1, r)
    check("nothing else of it: no id, title or filename", S["hidden"] not in r.body.decode()
          and "Counsel" not in r.body.decode() and "counsel-note" not in r.body.decode(), r)
    r = m.get("/api/v1/cases/%s/links" % S["hidden"], token=carol)
    j = r.json() or {}
    check("two-way: the restricted case's roles see who was told",
          r.status == 200 and any(n.get("direction") == "incoming" and n.get("user") == "bob"
                                  for n in j.get("notices", [])), r)
    r = m.get("/api/v1/cases/%s/links" % S["hidden"], token=bob)
    check("links of a case bob may not open: the same 404", r.status == 404 and r.body == S["nf_body"], r)
    r = m.post("/api/v1/cases/%s/links" % S["case"], token=bob, json_body={"case": quay, "decision": "confirm"})
    check("a decision without a reason is 400", r.status == 400, r)
    r = m.post("/api/v1/cases/%s/links" % S["case"], token=bob,
               json_body={"case": quay, "decision": "confirm", "why": "the same refund account"})
    j = r.json() or {}
    first = (j.get("links") or [{}])[0]
    check("confirm a link: who, when, why",
          r.status == 200 and first.get("case_id") == quay and first.get("state") == "confirmed"
          and first.get("decided_by") == "bob" and first.get("why") == "the same refund account", r)
    r = m.post("/api/v1/cases/%s/links" % S["case"], token=bob,
               json_body={"case": S["hidden"], "decision": "add", "why": "probe"})
    check("a link to a case bob may not open is the same 404", r.status == 404 and r.body == S["nf_body"], r)
    r = m.get("/api/v1/graph?case=%s&depth=2" % S["case"], token=bob)
    j = r.json() or {}
    ids = {n.get("case_id") for n in j.get("nodes", [])}
    check("the graph: both cases and the IBAN, nothing of the hidden case",
          r.status == 200 and {S["case"], quay} <= ids and S["hidden"] not in r.body.decode()
          and any(n.get("label") == "GB82WEST12345698765432" for n in j.get("nodes", [])), r)
    r = m.get("/api/v1/graph?case=%s&depth=9" % S["case"], token=bob)
    check("a graph depth out of range is 400", r.status == 400, r)
    r = m.post("/api/v1/stop-entities", token=carol, json_body={"type": "phone", "value": "+351912345678"})
    check("stopping an entity nobody shows you is 404", r.status == 404, r)
    r = m.post("/api/v1/stop-entities", token=bob, json_body={"type": "iban", "value": "GB82WEST12345698765432"})
    check("a stop-entity set by hand (204)", r.status == 204, r)
    r = m.get("/api/v1/cases/%s/links" % S["case"], token=bob)
    j = r.json() or {}
    check("it links no more, and is listed with who stopped it",
          any(s.get("manual") and s.get("set_by") == "bob" for s in j.get("stop_entities", [])), r)
    m.post("/api/v1/stop-entities", token=bob, json_body={"type": "iban", "value": "GB82WEST12345698765432", "stop": False})
    r = m.request("PUT", "/api/v1/links/settings", token=bob, json_body={"stop_threshold": 10})
    check("linking settings are for admins (403)", r.status == 403, r)
    r = m.request("PUT", "/api/v1/links/settings", token=alice, json_body={"stop_threshold": 10, "deconfliction": "notice"})
    check("an admin sets the stop threshold", r.status == 200 and (r.json() or {}).get("stop_threshold") == 10, r)
    r = m.request("PUT", "/api/v1/links/settings", token=alice, json_body={"deconfliction": "sometimes"})
    check("an unknown policy is 400", r.status == 400, r)


def test_workflow(ctx, m, alice, bob, carol, S):
    section("case management: stages, history, tasks, notes, reminders, reports")
    case = S["case"]
    patch = lambda path, body, token: m.request("PATCH", path, json_body=body, token=token)
    r = patch("/api/v1/cases/" + case, {"stage": "planning", "reason": "bank records in"}, bob)
    j = r.json() or {}
    check("PATCH moves the case to a stage", r.status == 200 and j.get("stage") == "planning" and
          j.get("stage_state") == "on_track" and j.get("stage_since"), r)
    r = patch("/api/v1/cases/" + case, {"assignees": ["carol"]}, bob)
    check("an assignee who cannot open the case is refused (400)", r.status == 400, r)
    r = patch("/api/v1/cases/" + case, {"assignees": ["bob"], "risk": "moderate"}, bob)
    j = r.json() or {}
    check("assignees and risk change", r.status == 200 and j.get("assignees") == ["bob"] and
          j.get("risk") == "moderate", r)
    r = patch("/api/v1/cases/" + case, {"stage": "bogus"}, bob)
    check("an unknown stage is a 400", r.status == 400, r)
    a = patch("/api/v1/cases/" + case, {"stage": "evaluation"}, carol)
    b = patch("/api/v1/cases/cAAAAAAAAAAA", {"stage": "evaluation"}, carol)
    check("changing a case one cannot open is the 404 of a missing case, byte for byte",
          a.status == 404 and a.body == b.body, (a, b))
    r = m.get("/api/v1/cases/%s/history" % case, token=bob)
    ev = (r.json() or {}).get("events", [])
    check("the history has who, when, from, to and why",
          r.status == 200 and ev and ev[0].get("field") == "stage" and ev[0].get("from") == "screening" and
          ev[0].get("to") == "planning" and ev[0].get("user") == "bob" and ev[0].get("reason") == "bank records in"
          and any(e.get("field") == "assignees" and e.get("to") == "bob" for e in ev), r)
    check("outsiders get no history (404)", m.get("/api/v1/cases/%s/history" % case, token=carol).status == 404)

    r = m.post("/api/v1/cases/%s/tasks" % case, token=bob,
               json_body={"title": "Call the <b>bank</b>", "due": "2020-01-01", "assignee": "bob"})
    late = r.json() or {}
    check("a task due in the past is overdue (201)", r.status == 201 and late.get("state") == "overdue" and
          late.get("due") == "2020-01-01T23:59:59Z" and late.get("assignee") == "bob", r)
    soon_due = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    r = m.post("/api/v1/cases/%s/tasks" % case, token=bob, json_body={"title": "Freeze account", "due": soon_due})
    soon = r.json() or {}
    check("a task due within two days is due soon", r.status == 201 and soon.get("state") == "due_soon", r)
    r = m.post("/api/v1/cases/%s/tasks" % case, token=bob, json_body={"title": "x", "due": "tomorrow"})
    check("a due date that is not a date is a 400", r.status == 400, r)
    r = m.get("/api/v1/tasks?overdue=true", token=bob)
    check("the overdue list across cases has the late task",
          r.status == 200 and [t["id"] for t in (r.json() or {}).get("tasks", [])] == [late.get("id")], r)
    r = m.get("/api/v1/tasks?overdue=true", token=carol)
    check("but not for someone who cannot open its case", r.status == 200 and (r.json() or {}).get("tasks") == [], r)
    r = m.get("/api/v1/tasks?format=csv", token=bob)
    check("tasks export as CSV", r.status == 200 and r.body.startswith(b"id,case_id,title"), r)
    r = patch("/api/v1/tasks/" + soon.get("id", "t"), {"done": True}, carol)
    check("a task of a case one cannot open is a 404", r.status == 404, r)

    r = m.post("/api/v1/cases/%s/notes" % case, token=bob, json_body={"text": "Spoke to <script>x</script>"})
    check("a note is added (201)", r.status == 201 and (r.json() or {}).get("author") == "bob", r)
    r = m.get("/api/v1/cases/%s/notes" % case, token=bob)
    check("and listed with its text", r.status == 200 and
          [n["text"] for n in (r.json() or {}).get("notes", [])] == ["Spoke to <script>x</script>"], r)
    check("outsiders get no notes (404)", m.get("/api/v1/cases/%s/notes" % case, token=carol).status == 404)

    def inbox(token, pred):
        got = {}

        def ready():
            rr = m.get("/api/v1/notifications", token=token)
            got["r"] = rr
            return rr.status == 200 and pred((rr.json() or {}).get("notifications", []))
        return wait_until(ready, 15), got.get("r")

    ok, r = inbox(bob, lambda ns: {n.get("task_id") for n in ns} >= {late.get("id"), soon.get("id")})
    check("the server fires the tasks' reminders into the assignee's and owner's inbox", ok, r)
    def hooked_now():
        with open(ctx.hook_file, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
    # The command runs after the reminders are committed (so after the
    # inbox has them), one reminder after the other.
    wait_until(lambda: {h.get("task_id") for h in hooked_now()} >= {late.get("id"), soon.get("id")}, 15)
    hooked = hooked_now()
    check("the notify command got each reminder as JSON with ids, not titles",
          {h.get("task_id") for h in hooked} >= {late.get("id"), soon.get("id")} and
          all("bank" not in json.dumps(h) and "Freeze" not in json.dumps(h) for h in hooked), hooked)
    fired = len(hooked)
    time.sleep(2.5)
    with open(ctx.hook_file, encoding="utf-8") as f:
        again = [line for line in f if line.strip()]
    check("each reminder fires once", len(again) == fired, again)
    r = m.post("/api/v1/notifications/read", token=bob, json_body={})
    check("marking read needs ids or all (400)", r.status == 400, r)
    r = m.post("/api/v1/notifications/read", token=bob, json_body={"all": True})
    check("mark all read (204)", r.status == 204, r)
    r = m.get("/api/v1/notifications?unread=true", token=bob)
    check("then none unread", r.status == 200 and (r.json() or {}).get("unread") == 0, r)

    r = m.request("PUT", "/api/v1/settings/workflow", token=bob,
                  json_body={"stage_targets": {"planning": 1}, "due_soon_seconds": 0})
    check("only an admin sets stage targets (403)", r.status == 403, r)
    before = m.get("/api/v1/settings/workflow", token=bob).json() or {}
    r = m.request("PUT", "/api/v1/settings/workflow", token=alice, json_body={"stage_targets": {"planning": 1}})
    check("settings need both fields, so none is wiped by omission (400)", r.status == 400, r)
    r = m.request("PUT", "/api/v1/settings/workflow", token=alice,
                  json_body={"stage_targets": {"planning": 1}, "due_soon_seconds": 0})
    check("an admin sets a one-second planning target", r.status == 200 and
          (r.json() or {}).get("stage_targets") == {"planning": 1}, r)
    ok, r = inbox(bob, lambda ns: any(n.get("kind") == "stage" and n.get("stage") == "planning" and
                                      n.get("state") == "overdue" and n.get("case_id") == case for n in ns))
    check("the stage past its target is in the owner's and assignee's inbox", ok, r)
    r = m.get("/api/v1/reports/overdue", token=bob)
    rows = (r.json() or {}).get("rows", [])
    check("the overdue report lists the case past its target",
          r.status == 200 and any(x.get("case_id") == case for x in rows), r)
    m.request("PUT", "/api/v1/settings/workflow", token=alice, json_body=before)

    r = m.get("/api/v1/reports/cases-by-stage", token=bob)
    j = r.json() or {}
    visible_open = [c for c in (m.get("/api/v1/cases?status=open", token=bob).json() or {}).get("cases", [])]
    check("cases by stage counts only the cases the reader opens",
          r.status == 200 and sum(x.get("cases", 0) for x in j.get("rows", [])) == len(visible_open), r)
    r = m.get("/api/v1/reports/documents-per-case", token=carol)
    check("a reader without the case's role sees nothing of it in a report",
          r.status == 200 and case not in r.body.decode("utf-8", "replace"), r)
    r = m.get("/api/v1/reports/time-in-stage?format=csv", token=bob)
    check("reports export as CSV", r.status == 200 and r.body.startswith(b"stage,intervals,median_seconds"), r)
    check("an unknown report is a 404", m.get("/api/v1/reports/nope", token=bob).status == 404)
    r = m.get("/api/v1/cases?stage=planning", token=bob)
    check("the case list filters by stage", r.status == 200 and
          [c["id"] for c in (r.json() or {}).get("cases", [])] == [case], r)


def test_audit(ctx, m, alice, bob, S):
    section("audit trail: every action recorded, chained and signed, for admins and auditors")
    r = m.get("/api/v1/audit?user=bob&limit=1000", token=alice)
    events = (r.json() or {}).get("events", [])
    actions = {e.get("action") for e in events}
    check("bob's logins, searches and link reads are in the trail, in order",
          r.status == 200 and {"login", "searched", "links_read"} <= actions and
          [e["seq"] for e in events] == sorted(e["seq"] for e in events), r)
    check("events name ids, never a case title or a query",
          events and all("Quay" not in e.get("target", "") and "payments" not in e.get("target", "") for e in events))
    r = m.get("/api/v1/audit", token=bob)
    check("a user without the auditor role is refused the trail", r.status == 403, r)
    r = m.get("/api/v1/audit/verify", token=bob)
    check("and its check", r.status == 403, r)
    r = m.get("/api/v1/audit/verify", token=alice)
    j = r.json() or {}
    check("the chain verifies under its signed head", r.status == 200 and j.get("ok") is True and j.get("events", 0) > 20, r)
    seq = events[len(events) // 2]["seq"] if events else 1
    r = m.get("/api/v1/audit/proof/%d" % seq, token=alice)
    proof = os.path.join(ctx.tmp, "proof.json")
    with open(proof, "wb") as f:
        f.write(r.body)
    checker = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "audit_check.py")
    out = subprocess.run([sys.executable, checker, proof], capture_output=True, text=True)
    check("an event's proof from the API holds for the independent checker", r.status == 200 and out.returncode == 0,
          out.stdout + out.stderr)
    r = m.get("/api/v1/audit/proof/999999999", token=alice)
    check("a proof of an event that does not exist: 404", r.status == 404, r)
    r = m.get("/api/v1/documents/%s/custody?format=pdf" % S["doc"], token=alice)
    check("the chain of custody is also a PDF", r.status == 200 and r.header("Content-Type") == "application/pdf" and
          r.body.startswith(b"%PDF-"), r)
    r = m.get("/api/v1/audit?format=csv&limit=5", token=alice)
    check("the trail exports as CSV", r.status == 200 and (r.header("Content-Type") or "").startswith("text/csv") and
          r.body.startswith(b"seq,time,user,action,target,detail,detail_hash,hash"), r)
    r = m.get("/api/v1/documents/%s/custody" % S["doc"], token=alice)
    j = r.json() or {}
    check("a document's chain of custody: its hashes and the reads of it",
          r.status == 200 and len((j.get("document") or {}).get("sha256", "")) == 64 and
          any(e.get("action") == "content_read" and e.get("user") == "bob" for e in j.get("events", [])), r)
    r = m.get("/api/v1/documents/%s/custody" % S["doc"], token=bob)
    check("and not for a user without the auditor role", r.status == 403, r)
    r = m.get("/api/v1/audit/consistency?first=5", token=alice)
    check("a consistency proof from an older head", r.status == 200 and (r.json() or {}).get("first_size") == 5, r)


def run(ctx):
    repo = ctx.init_repo("repo", "alice", PW["alice"])
    ctx.hook_file = os.path.join(ctx.tmp, "reminders.jsonl")
    open(ctx.hook_file, "w").close()
    m = Server(ctx, "main", repo, ["--test-clock-offset-file", ctx.offset_file,
                                   "--upload-cap", str(UPLOAD_CAP), "--remind-every", "1",
                                   "--notify-command", "cat >> '%s'" % ctx.hook_file]).start()
    print("main server on port %d (repo %s)" % (m.port, repo), flush=True)
    loris = {}
    loris_thread = threading.Thread(target=slowloris, args=(m, loris), daemon=True)
    loris_thread.start()

    test_basics(m)
    routes = test_routes(m)
    alice = test_auth(ctx, m)
    bob, carol = test_admin(ctx, m, alice)
    test_totp(ctx, m)
    S = test_cases(ctx, m, alice, bob, carol)
    test_documents(ctx, m, bob, carol, S)
    test_search(ctx, m, bob, carol, S)
    test_review(ctx, m, bob, carol, S)
    test_links(ctx, m, alice, bob, carol, S)
    test_workflow(ctx, m, alice, bob, carol, S)
    test_audit(ctx, m, alice, bob, S)
    test_upload_limits(ctx, m, bob, S)
    test_bad_input(ctx, m, routes, alice, S)
    test_limits(ctx, m, alice)
    test_slow_logins(m)

    test_tls(ctx)
    test_clock(ctx, m)

    section("slowloris")
    loris_thread.join(45)
    check("a partial header and then silence: the server closes within ~20 s (took %.1f s)"
          % loris.get("elapsed", -1),
          "error" not in loris and "timeout" not in loris and 0 <= loris.get("elapsed", 99) <= 20
          and b"HTTP/1.1 5" not in loris.get("data", b""), loris)
    r = m.get("/metrics")
    check("/metrics counts requests by route template",
          'route="/api/v1/cases/{id}"' in r.body.decode("utf-8", "replace"), r.body[:300])
    test_graceful_stop(ctx, m, S)
    test_access_log(ctx, m)
    section("security headers")
    check("X-Content-Type-Options nosniff, X-Frame-Options DENY, Referrer-Policy no-referrer "
          "on every answer (%d answers)" % _answers["n"], not _header_problems,
          "\n".join(_header_problems[:20]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dossier", required=True, help="path to the dossier binary")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    dossier = os.path.abspath(args.dossier)
    if not os.access(dossier, os.X_OK):
        print("no executable at %s" % dossier)
        return 2
    started = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="dossier-http-test-")

    def on_signal(signum, frame):
        raise KeyboardInterrupt()

    signal.signal(signal.SIGTERM, on_signal)
    ctx = Ctx(dossier, tmp)
    try:
        run(ctx)
    except KeyboardInterrupt:
        check("the test ran to its end", False, "interrupted")
    except Exception:
        check("the test ran to its end", False, traceback.format_exc())
    finally:
        for s in ctx.servers:
            if s.alive():
                s.stop()
        if args.keep:
            print("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("\n%d passed, %d failed, %d skipped in %.1f s" %
          (_counts["ok"], _counts["fail"], _counts["skip"], time.monotonic() - started))
    if _failed:
        print("failed:")
        for f in _failed:
            print("  - " + f)
    return 0 if _counts["fail"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
