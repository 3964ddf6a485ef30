#!/usr/bin/env python3
"""ECR API emulator for docker-credential-ecr's integration tests and benchmarks.

moto's own server app answers the ECR private API; a thin WSGI middleware in
front of it
  * gives GetAuthorizationToken a real expiry (moto hard-wires 2015-01-01) and a
    Date header, both on a server clock that can be skewed per AKID,
  * answers ECR Public's GetAuthorizationToken itself (moto has no backend),
  * counts GetAuthorizationToken calls per access key id, so tests that each
    sign with their own AKID can share one emulator,
  * injects faults per AKID, shaped like real AWS JSON 1.1 errors so the AWS
    SDK produces typed errors rather than "unhandled response" ones,
  * serves a small unauthenticated control API under /_emulator/.

Usage:
  ecr_emulator.py --port 0 --port-file FILE [--token-ttl SECONDS]
                  [--tls-cert PEM --tls-key PEM [--plain-port-file FILE]]
                  [--parent-pid PID] [--verbose]

The control API (see handle_control) is JSON over plain HTTP on the same port (with TLS,
on the --plain-port-file port). For TLS the Rust SDK (rustls, trusting SSL_CERT_FILE) rejects
a self-signed certificate marked CA:TRUE, which is openssl's default; make it with
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1,DNS:localhost \
    -addext basicConstraints=critical,CA:FALSE -keyout key.pem -out cert.pem
"""

import argparse
import base64
import io
import json
import os
import re
import signal
import sys
import threading
import time
import uuid
from email.utils import formatdate
from urllib.parse import parse_qs

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.test import Client
from werkzeug.wsgi import get_input_stream

PRIVATE_TARGET = "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"
PUBLIC_TARGET = "SpencerFrontendService.GetAuthorizationToken"
JSON_11 = "application/x-amz-json-1.1"
PUBLIC_PASSWORD = "public-auth-token"

# SigV4: "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/ecr/aws4_request, ..."
CREDENTIAL_RE = re.compile(r"Credential=([^/\s,]+)/[^/\s,]*/([^/\s,]+)/([^/\s,]+)/aws4_request")

# Error faults: HTTP status, __type, message. The Rust SDK reads the error code
# from x-amzn-ErrorType / __type and classifies ThrottlingException, 500 and 503
# as retryable, so those are retried (and counted) by a default-configured client.
ERROR_FAULTS = {
    "access-denied": (400, "AccessDeniedException",
                      "User: arn:aws:iam::123456789012:user/test is not authorized to perform: "
                      "ecr:GetAuthorizationToken on resource: * because no identity-based policy "
                      "allows the ecr:GetAuthorizationToken action"),
    "expired-token": (400, "ExpiredTokenException", "The security token included in the request is expired"),
    "unrecognized-client": (400, "UnrecognizedClientException", "The security token included in the request is invalid."),
    "throttle": (400, "ThrottlingException", "Rate exceeded"),
    "server-error": (500, "ServerException", "Internal service error (emulated)"),
    "service-unavailable": (503, "ServiceUnavailableException", "Service Unavailable (emulated)"),
}
# Faults that return 200 with a damaged body (applied in damage_body).
BODY_FAULTS = {"malformed-json", "bad-base64", "no-aws-prefix", "expired", "no-expiry", "empty-data"}
FAULTS = set(ERROR_FAULTS) | BODY_FAULTS | {"hang", "slow"}
HANG_SECONDS = 120

# Set on SIGTERM/SIGINT/parent death; also wakes "hang" handlers so shutdown is prompt.
STOP = threading.Event()


class State:
    """Per-AKID counters, faults and overrides, shared by all handler threads."""

    def __init__(self, default_ttl):
        self.default_ttl = default_ttl
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.calls = {}      # akid -> {"ecr": n, "ecr-public": n, "regions": [...]}
        self.faults = {}     # akid -> {"fault": name, "times": n|None, "delay_ms": n}
        self.ttls = {}       # akid -> seconds
        self.accounts = {}   # akid -> account id moto should answer for
        self.skews = {}      # akid -> seconds the server's clock is ahead (negative: behind)
        self.sts_calls = {}  # akid -> STS calls signed with it (who assumed a role)

    def record_call(self, akid, kind, region):
        """Count one call and return the fault to apply to it (or None)."""
        with self.lock:
            c = self.calls.setdefault(akid, {"ecr": 0, "ecr-public": 0, "regions": []})
            c[kind] += 1
            c["regions"].append(region)
            fault = self.faults.get(akid)
            if fault is None:
                return None
            if fault["times"] is not None:
                fault["times"] -= 1
                if fault["times"] <= 0:
                    del self.faults[akid]
            return dict(fault)

    def ttl(self, akid):
        with self.lock:
            return self.ttls.get(akid, self.default_ttl)

    def server_time(self, akid):
        """The server's clock for this AKID: its Date header and expiresAt are both on it."""
        with self.lock:
            return time.time() + self.skews.get(akid, 0.0)


def json_response(start_response, status, doc, extra_headers=(), content_type=JSON_11):
    body = json.dumps(doc).encode()
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body))),
               ("x-amzn-RequestId", str(uuid.uuid4()))]
    headers.extend(extra_headers)
    start_response(status, headers)
    return [body]


def aws_error(start_response, status, error_type, message):
    """An error the way AWS JSON 1.1 services send it: header and __type both name it."""
    reason = {400: "Bad Request", 500: "Internal Server Error", 503: "Service Unavailable"}[status]
    return json_response(start_response, f"{status} {reason}",
                         {"__type": error_type, "message": message},
                         [("x-amzn-ErrorType", f"{error_type}:http://internal.amazon.com/coral/com.amazon.coral.service/")])


def call_app(app, environ):
    """Run a WSGI app to completion and return (status, headers, body)."""
    captured = {}

    def start_response(status, headers, exc_info=None):
        captured["status"], captured["headers"] = status, headers

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    return captured["status"], captured["headers"], body


def entries(doc, public):
    """The authorizationData entries of a response (a list for ECR, one object for ECR Public)."""
    data = doc.get("authorizationData")
    if public:
        return [data] if isinstance(data, dict) else []
    return data if isinstance(data, list) else []


def damage_body(doc, fault, public, server_now):
    """Apply a 200-with-bad-content fault; returns the bytes to send."""
    for entry in entries(doc, public):
        if fault == "bad-base64":
            entry["authorizationToken"] = "%%% not base64 %%%"
        elif fault == "no-aws-prefix":
            user_pw = base64.b64decode(entry["authorizationToken"]).decode()
            entry["authorizationToken"] = base64.b64encode(
                ("user:" + user_pw.split(":", 1)[1]).encode()).decode()
        elif fault == "expired":
            entry["expiresAt"] = round(server_now - 3600, 3)
        elif fault == "no-expiry":
            entry.pop("expiresAt", None)
    if fault == "empty-data":
        doc["authorizationData"] = {} if public else []
    body = json.dumps(doc).encode()
    if fault == "malformed-json":
        body = body[: len(body) // 2]  # cut mid-document: valid prefix, invalid JSON
    return body


class Emulator:
    def __init__(self, state):
        self.state = state
        self.moto = DomainDispatcherApplication(create_backend_app)

    def warm_up(self):
        """Build moto's ECR app before announcing readiness (the first call costs ~0.1-0.3 s)."""
        client = Client(self.moto)
        resp = client.post("/", data=b"{}", headers={
            "X-Amz-Target": PRIVATE_TARGET, "Content-Type": JSON_11,
            "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDWARMUP/20240101/us-east-1/ecr/aws4_request, "
                             "SignedHeaders=host, Signature=0"})
        assert resp.status_code == 200, resp.data

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO", "").startswith("/_emulator/"):
            return self.handle_control(environ, start_response)

        target = environ.get("HTTP_X_AMZ_TARGET", "")
        match = CREDENTIAL_RE.search(environ.get("HTTP_AUTHORIZATION", ""))
        akid, region = (match.group(1), match.group(2)) if match else ("", "")
        with self.state.lock:
            account = self.state.accounts.get(akid)
        if account:
            # moto's per-request account override (MOTO_ACCOUNT_ID in the environment wins over it).
            environ["HTTP_X_MOTO_ACCOUNT_ID"] = account
        if target not in (PRIVATE_TARGET, PUBLIC_TARGET):
            if match and match.group(3) == "sts":
                with self.state.lock:
                    self.state.sts_calls[akid] = self.state.sts_calls.get(akid, 0) + 1
            return self.moto(environ, start_response)

        public = target == PUBLIC_TARGET
        fault = self.state.record_call(akid, "ecr-public" if public else "ecr", region)
        # Read the body ourselves, so a faulted reply never leaves an unread request behind,
        # and hand moto a fresh stream.
        body = get_input_stream(environ).read()
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ["wsgi.input_terminated"] = True
        # moto picks its response protocol from the request Content-Type; a raw request
        # without one (curl -d) would make it answer "query" protocol and crash.
        environ["CONTENT_TYPE"] = JSON_11

        name = fault["fault"] if fault else None
        if fault and fault.get("delay_ms"):
            STOP.wait(fault["delay_ms"] / 1000)
        if name == "hang":
            STOP.wait(HANG_SECONDS)
        if name in ERROR_FAULTS:
            return aws_error(start_response, *ERROR_FAULTS[name])

        server_now = self.state.server_time(akid)
        expires_at = round(server_now + self.state.ttl(akid), 3)
        if public:
            status, headers = "200 OK", [("Content-Type", JSON_11)]
            token = base64.b64encode(f"AWS:{PUBLIC_PASSWORD}".encode()).decode()
            doc = {"authorizationData": {"authorizationToken": token, "expiresAt": expires_at}}
        else:
            status, headers, raw = call_app(self.moto, environ)
            if not status.startswith("200"):
                start_response(status, headers)  # moto's own error: pass through untouched
                return [raw]
            doc = json.loads(raw)
            for entry in doc["authorizationData"]:
                entry["expiresAt"] = expires_at

        out = damage_body(doc, name, public, server_now) if name in BODY_FAULTS else json.dumps(doc).encode()
        headers = [(k, v) for k, v in headers
                   if k.lower() not in ("content-length", "x-amzn-requestid", "date")]
        headers += [("Content-Length", str(len(out))), ("x-amzn-RequestId", str(uuid.uuid4())),
                    ("Date", formatdate(server_now, usegmt=True))]
        start_response(status, headers)
        return [out]

    def handle_control(self, environ, start_response):
        """Control API (JSON, no auth):
        GET  /_emulator/health                       -> {"ok": true}
        GET  /_emulator/calls?akid=X                 -> {"ecr": n, "ecr-public": m, "regions": [...]}
        GET  /_emulator/calls                        -> {akid: {...}, ...}
        GET  /_emulator/sts?akid=X                   -> {"sts": n}: STS calls signed with X
        POST /_emulator/reset                        clear counters, faults, TTL and account overrides
        POST /_emulator/faults {"akid", "fault", "times"?, "delay_ms"?}   fault null/"none" clears
        POST /_emulator/ttl {"akid", "ttl"}          per-AKID token lifetime in seconds
        POST /_emulator/account {"akid", "account"}  per-AKID account id (moto's x-moto-account-id)
        POST /_emulator/skew {"akid", "skew"}        per-AKID server clock error in seconds (Date
                                                     header and expiresAt; negative = behind)
        """
        path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
        def ok(doc):
            return json_response(start_response, "200 OK", doc, content_type="application/json")

        def bad(msg, status="400 Bad Request"):
            return json_response(start_response, status, {"error": msg}, content_type="application/json")

        state = self.state
        if method == "GET" and path == "/_emulator/health":
            return ok({"ok": True})
        if method == "GET" and path == "/_emulator/calls":
            akid = parse_qs(environ.get("QUERY_STRING", "")).get("akid", [None])[0]
            with state.lock:
                if akid is None:
                    return ok(json.loads(json.dumps(state.calls)))
                return ok(dict(state.calls.get(akid, {"ecr": 0, "ecr-public": 0, "regions": []})))
        if method == "GET" and path == "/_emulator/sts":
            akid = parse_qs(environ.get("QUERY_STRING", "")).get("akid", [""])[0]
            with state.lock:
                return ok({"sts": state.sts_calls.get(akid, 0)})
        if method != "POST":
            return bad(f"no such control endpoint: {method} {path}", "404 Not Found")
        if path == "/_emulator/reset":
            with state.lock:
                state.reset()
            return ok({"ok": True})
        try:
            req = json.loads(get_input_stream(environ).read() or b"{}")
            akid = req["akid"]
        except (ValueError, KeyError, TypeError):
            return bad('body must be a JSON object with "akid"')
        if path == "/_emulator/faults":
            name = req.get("fault")
            if name in (None, "none"):
                with state.lock:
                    state.faults.pop(akid, None)
                return ok({"ok": True})
            if name not in FAULTS:
                return bad(f"unknown fault {name!r}; known: {sorted(FAULTS)}")
            times = req.get("times")
            with state.lock:
                state.faults[akid] = {"fault": name, "times": times, "delay_ms": req.get("delay_ms") or 0}
            return ok({"ok": True})
        if path == "/_emulator/ttl":
            with state.lock:
                state.ttls[akid] = float(req["ttl"])
            return ok({"ok": True})
        if path == "/_emulator/skew":
            with state.lock:
                state.skews[akid] = float(req["skew"])
            return ok({"ok": True})
        if path == "/_emulator/account":
            with state.lock:
                state.accounts[akid] = str(req["account"])
            return ok({"ok": True})
        return bad(f"no such control endpoint: {method} {path}", "404 Not Found")


class OneDateHandler(WSGIRequestHandler):
    """http.server stamps every response with the machine's Date before the app's headers; a
    reply that brings its own (the emulated server clock) must carry only that one."""

    def send_header(self, keyword, value):
        if keyword.lower() == "date" and getattr(self, "_headers_buffer", None):
            self._headers_buffer = [h for h in self._headers_buffer
                                    if not h.lower().startswith(b"date:")]
        super().send_header(keyword, value)


class QuietHandler(OneDateHandler):
    """werkzeug logs every request to stderr; tests make thousands, so stay quiet by default."""

    def log_request(self, *args, **kwargs):
        pass


class VerboseHandler(OneDateHandler):
    pass


def parent_alive(pid, original_ppid):
    if pid == original_ppid:
        # Our direct parent: once it dies we are re-parented. Immune to PID reuse.
        return os.getppid() == pid
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def write_port(path, port):
    """Atomically, so a poller never reads an empty or partial file."""
    with open(path + ".tmp", "w") as f:
        f.write(f"{port}\n")
    os.replace(path + ".tmp", path)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = any free one)")
    p.add_argument("--port-file", help="write the bound port here once ready")
    p.add_argument("--token-ttl", type=float, default=43200, help="token lifetime in seconds")
    p.add_argument("--tls-cert", help="PEM certificate: serve HTTPS")
    p.add_argument("--tls-key", help="PEM private key for --tls-cert")
    p.add_argument("--plain-port-file",
                   help="with TLS: also serve plain HTTP (same state) on another port, written here")
    p.add_argument("--parent-pid", type=int, help="exit when this process is gone (polled every 0.5 s)")
    p.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = p.parse_args()
    if bool(args.tls_cert) != bool(args.tls_key):
        p.error("--tls-cert and --tls-key go together")

    original_ppid = os.getppid()
    app = Emulator(State(args.token_ttl))
    app.warm_up()
    handler = VerboseHandler if args.verbose else QuietHandler
    ssl_context = (args.tls_cert, args.tls_key) if args.tls_cert else None
    servers = [make_server("127.0.0.1", args.port, app, threaded=True,
                           request_handler=handler, ssl_context=ssl_context)]
    if ssl_context and args.plain_port_file:
        servers.append(make_server("127.0.0.1", 0, app, threaded=True, request_handler=handler))
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()

    signal.signal(signal.SIGTERM, lambda *_: STOP.set())
    signal.signal(signal.SIGINT, lambda *_: STOP.set())
    # Plain port file first: a poller that sees the main port file may rely on both.
    if len(servers) > 1:
        write_port(args.plain_port_file, servers[1].server_port)
    if args.port_file:
        write_port(args.port_file, servers[0].server_port)
    scheme = "https" if ssl_context else "http"
    print(f"ecr_emulator: serving {scheme}://127.0.0.1:{servers[0].server_port}", file=sys.stderr, flush=True)

    while not STOP.wait(0.5):
        if args.parent_pid and not parent_alive(args.parent_pid, original_ppid):
            print("ecr_emulator: parent gone, exiting", file=sys.stderr, flush=True)
            break
    STOP.set()
    for server in servers:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    main()
