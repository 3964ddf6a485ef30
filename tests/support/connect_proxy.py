#!/usr/bin/env python3
"""Test-only HTTP proxy that lets real clients reach a loopback registry under an
ECR-shaped host name.

    connect_proxy.py --map 123456789012.dkr.ecr.us-east-1.amazonaws.com:443=127.0.0.1:PORT \
                     [--map ...] [--port-file FILE] [--log FILE]

Why: skopeo/podman/docker look credential helpers up by the exact registry host in
`credHelpers`, and the real helper only answers for ECR host names. ECR names do not
resolve here (no network), and /etc/hosts must not be touched, so clients are pointed
at this proxy with HTTPS_PROXY; it resolves the name itself, from the --map table.

Safety: it only ever connects to 127.0.0.1. A destination missing from the table is
refused with 403 and nothing is dialled; a mapping whose target is not 127.0.0.1 is
rejected at start-up.

Supports CONNECT (HTTPS, the TLS stays end-to-end between client and registry) and
absolute-URI plain-HTTP requests (`GET http://host:port/path`), which it forwards
with the request line rewritten to origin form. It listens on 127.0.0.1 on a free
port (or --port), prints the port on stdout and writes it to --port-file.
Each request is logged as one JSON line (--log, default stderr).
"""

import argparse
import json
import os
import select
import socket
import socketserver
import sys
import threading
import time

ROUTES = {}        # "host:port" (lower case) -> target port on 127.0.0.1
LOG = sys.stderr
LOG_LOCK = threading.Lock()


def log(**fields):
    fields["t"] = round(time.time(), 3)
    with LOG_LOCK:
        LOG.write(json.dumps(fields) + "\n")
        LOG.flush()


def pipe(a, b):
    """Copy bytes both ways until either side closes."""
    socks = [a, b]
    while True:
        readable, _, errored = select.select(socks, [], socks, 300)
        if errored or not readable:
            return
        for s in readable:
            try:
                data = s.recv(65536)
            except OSError:
                return
            if not data:
                return
            (b if s is a else a).sendall(data)


class Handler(socketserver.StreamRequestHandler):
    # Unbuffered reads: the header lines are read byte by byte, so no bytes the client
    # sent after them (e.g. a TLS ClientHello) get stuck in a Python-side buffer.
    rbufsize = 0

    def reply(self, code, text):
        body = (text + "\n").encode()
        self.wfile.write(
            b"HTTP/1.1 %d %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
            % (code, text.encode(), len(body), body))

    def handle(self):
        line = self.rfile.readline(65536).decode("latin-1").rstrip("\r\n")
        headers = []
        while True:
            h = self.rfile.readline(65536)
            if h in (b"\r\n", b"\n", b""):
                break
            headers.append(h)
        try:
            method, target, version = line.split(" ", 2)
        except ValueError:
            return self.reply(400, "Bad Request")

        if method == "CONNECT":
            dest = target.lower()
            rest = b""
        elif target.startswith("http://"):
            # Absolute-URI form: http://host[:port]/path -> origin form /path.
            hostport, _, path = target[len("http://"):].partition("/")
            dest = hostport.lower() if ":" in hostport else hostport.lower() + ":80"
            rest = ("%s /%s %s\r\n" % (method, path, version)).encode("latin-1")
            rest += b"".join(h for h in headers
                             if not h.lower().startswith((b"proxy-", b"connection:")))
            rest += b"Connection: close\r\n\r\n"
        else:
            return self.reply(400, "Bad Request")

        port = ROUTES.get(dest)
        if port is None:
            log(method=method, dest=dest, result="refused")
            return self.reply(403, "Forbidden")
        try:
            upstream = socket.create_connection(("127.0.0.1", port), timeout=10)
        except OSError as e:
            log(method=method, dest=dest, result="upstream error: %s" % e)
            return self.reply(502, "Bad Gateway")
        upstream.settimeout(None)
        log(method=method, dest=dest, target="127.0.0.1:%d" % port, result="ok")
        with upstream:
            if method == "CONNECT":
                self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                self.wfile.flush()
            else:
                upstream.sendall(rest)
            pipe(self.connection, upstream)


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    global LOG
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--map", action="append", default=[], metavar="HOST:PORT=127.0.0.1:PORT")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--log")
    args = ap.parse_args()

    for m in args.map:
        src, _, dst = m.partition("=")
        dhost, _, dport = dst.rpartition(":")
        if dhost != "127.0.0.1" or not dport.isdigit() or ":" not in src:
            ap.error("--map wants HOST:PORT=127.0.0.1:PORT, got %r" % m)
        ROUTES[src.lower()] = int(dport)

    if args.log:
        LOG = open(args.log, "a", buffering=1)
    server = Server(("127.0.0.1", args.port), Handler)
    port = server.server_address[1]
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        os.replace(args.port_file + ".tmp", args.port_file)   # readers never see a half file
    print(port, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
