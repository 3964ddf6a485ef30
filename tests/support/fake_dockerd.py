#!/usr/bin/env python3
"""Test-only stand-in for the docker daemon's HTTP API, so the real `docker` CLI can be
driven without an engine:

    fake_dockerd.py --record FILE.jsonl [--port-file FILE] [--verify-url URL [--cacert CA]]

then `DOCKER_HOST=tcp://127.0.0.1:PORT docker pull HOST/repo:tag` / `docker login HOST`.

The docker CLI runs the credential helper itself and hands the result to the daemon in
the `X-Registry-Auth` header (pull) or the JSON body (POST /auth, login). This server
records every request as one JSON line: method, path, query, and the decoded auth
(`x_registry_auth`, `auth_body`), so a test can assert that the helper's credentials
reached the "daemon".

Answers just enough of the API for `docker pull` and `docker login`:
  GET|HEAD /_ping, /vX/_ping     -> "OK" with API-Version headers (version negotiation)
  GET /vX/version, /vX/info      -> minimal JSON
  POST /vX/images/create         -> a short JSON progress stream, as a real pull prints
  POST /vX/auth                  -> {"Status":"Login Succeeded"}
  anything else                  -> 404 {"message": ...}
With --verify-url (e.g. http://127.0.0.1:PORT/v2/ of the test registry) the received
username/password are checked with a Basic-auth GET there, and a failure is answered
the way dockerd does (pull: HTTP 500 "unauthorized..."; login: HTTP 401), so wrong
credentials make the docker CLI fail for real instead of passing by accident.

Listens on 127.0.0.1 only (free port unless --port); prints the port and writes --port-file.
"""

import argparse
import base64
import json
import os
import re
import ssl
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API_VERSION = "1.50"      # docker 28.2's maximum; the CLI negotiates down to this
MIN_API_VERSION = "1.24"
ARGS = None
REC_LOCK = threading.Lock()


def decode_registry_auth(value):
    """X-Registry-Auth is base64url(JSON), padding optional; tolerate std base64 too."""
    if not value:
        return None
    padded = value + "=" * (-len(value) % 4)
    for decoder in (base64.urlsafe_b64decode, base64.b64decode):
        try:
            return json.loads(decoder(padded))
        except Exception:
            continue
    return {"undecodable": value}


def credentials_ok(auth):
    """True when no --verify-url, else whether the registry accepts the credentials."""
    if not ARGS.verify_url:
        return True
    if not auth or not auth.get("username"):
        return False
    token = base64.b64encode(("%s:%s" % (auth["username"], auth.get("password", ""))).encode()).decode()
    req = urllib.request.Request(ARGS.verify_url, headers={"Authorization": "Basic " + token})
    ctx = ssl.create_default_context(cafile=ARGS.cacert) if ARGS.cacert else None
    # ProxyHandler({}): connect directly, never through an HTTP(S)_PROXY from the env.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                         urllib.request.HTTPSHandler(context=ctx))
    try:
        with opener.open(req, timeout=10) as r:
            return r.status == 200
    except urllib.error.HTTPError:
        return False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):   # keep stderr quiet; the JSONL file is the log
        pass

    def record(self, **extra):
        url = urllib.parse.urlsplit(self.path)
        entry = {
            "method": self.command,
            "path": url.path,
            "query": dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True)),
            "x_registry_auth": decode_registry_auth(self.headers.get("X-Registry-Auth")),
            "user_agent": self.headers.get("User-Agent"),
        }
        entry["t"] = time.time()
        entry.update(extra)
        with REC_LOCK, open(ARGS.record, "a") as f:
            f.write(json.dumps(entry) + "\n")
        return entry

    def send(self, code, body, content_type="application/json", headers=()):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("API-Version", API_VERSION)
        self.send_header("OSType", "linux")
        self.send_header("Docker-Experimental", "false")
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def route(self):
        raw = self.body()
        path = urllib.parse.urlsplit(self.path).path
        # Strip the /v1.NN prefix the CLI adds once it has negotiated a version.
        path = re.sub(r"^/v[0-9.]+(?=/)", "", path)

        if path == "/_ping":
            self.record()
            return self.send(200, b"OK", "text/plain; charset=utf-8",
                             [("Builder-Version", "1"), ("Cache-Control", "no-cache")])
        if path == "/version":
            self.record()
            return self.send(200, {"Version": "28.2.2-fake", "ApiVersion": API_VERSION,
                                   "MinAPIVersion": MIN_API_VERSION, "Os": "linux",
                                   "Arch": "amd64", "GoVersion": "go-fake",
                                   "Components": [{"Name": "Engine", "Version": "28.2.2-fake"}]})
        if path == "/info":
            self.record()
            return self.send(200, {"ID": "fake", "Name": "fake-dockerd", "OSType": "linux",
                                   "IndexServerAddress": "https://index.docker.io/v1/",
                                   "ServerVersion": "28.2.2-fake"})
        if path == "/auth" and self.command == "POST":
            try:
                auth = json.loads(raw or b"{}")
            except ValueError:
                auth = {"undecodable": raw.decode("latin-1")}
            self.record(auth_body=auth)
            if not credentials_ok(auth):
                return self.send(401, {"message": "login attempt to %s failed with status: 401 Unauthorized"
                                       % auth.get("serveraddress", "?")})
            return self.send(200, {"Status": "Login Succeeded", "IdentityToken": ""})
        if path == "/images/create" and self.command == "POST":
            entry = self.record()
            q = entry["query"]
            image = q.get("fromImage", "?")
            tag = q.get("tag") or "latest"
            if not credentials_ok(entry["x_registry_auth"]):
                return self.send(500, {"message": "Head \"https://%s/manifests/%s\": unauthorized: "
                                       "authentication required (fake dockerd)" % (image, tag)})
            lines = [{"status": "Pulling from %s" % image.split("/", 1)[-1], "id": tag},
                     {"status": "Digest: sha256:" + "0" * 64},
                     {"status": "Status: Downloaded newer image for %s:%s" % (image, tag)}]
            return self.send(200, b"".join(json.dumps(l).encode() + b"\r\n" for l in lines))
        self.record(unhandled=True)
        return self.send(404, {"message": "fake dockerd: %s %s not implemented" % (self.command, path)})

    do_GET = do_POST = do_HEAD = do_DELETE = do_PUT = route


def main():
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--record", required=True, help="JSONL file, one line per request")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--verify-url", help="registry /v2/ URL to check credentials against")
    ap.add_argument("--cacert", help="CA file for an https --verify-url")
    ARGS = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    server.daemon_threads = True
    port = server.server_address[1]
    if ARGS.port_file:
        with open(ARGS.port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        os.replace(ARGS.port_file + ".tmp", ARGS.port_file)
    print(port, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
