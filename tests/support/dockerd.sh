#!/usr/bin/env bash
# A real docker daemon (Debian docker.io 20.10, /usr/sbin/dockerd) for tests and the demo, as root,
# with all of its state under one directory.
#
#   dockerd.sh start DIR --proxy URL --ca FILE [--docker CLI]
#       Starts dockerd with data, exec root, socket, pidfile and log in DIR; waits until the
#       docker CLI answers through DIR/docker.sock; prints the socket path.
#   dockerd.sh stop DIR
#       SIGTERM, up to 10 s, then SIGKILL; its containerd child exits with it.
#
# Found by trying, as root on this machine:
#  - --bridge=none --iptables=false --ip6tables=false --ip-masq=false: no docker0, no
#    iptables; pulls and pushes need none of it. --storage-driver vfs: no overlay mounts.
#  - --config-file must exist and be JSON ({}); /dev/null is refused ("EOF"), and the
#    machine's /etc/docker/daemon.json must not leak in.
#  - SSL_CERT_FILE=FILE: dockerd trusts the test CAs for the registries' names without
#    writing /etc/docker/certs.d. Do NOT use --insecure-registry instead: after a failed TLS
#    attempt dockerd falls back to plain http://HOST/v2/, resolving the name in DNS.
#  - HTTPS_PROXY and HTTP_PROXY both at the test's CONNECT proxy: no connection or lookup for a
#    non-loopback name ever leaves the machine (the proxy refuses what it does not map).
#  - 127.0.0.0/8 registries are insecure by default (TLS unverified, then plain HTTP).
#  - Several daemons run side by side (each starts its own containerd under its exec root).
# Side effects outside DIR it still has: /etc/docker/key.json, /run/docker/plugins, /opt/containerd/.
# Ready in ~0.2 s; stops in ~1 s.
set -euo pipefail

die() { echo "dockerd.sh: $*" >&2; exit 1; }

# Running = exists and is not a zombie (PID 1 here reaps orphans ~1.5 s late).
alive() {
    local state
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

cmd_start() {
    local dir=$1; shift
    local proxy="" ca="" docker=${RIG_DOCKER:-/usr/local/bin/docker}
    while [ $# -gt 0 ]; do
        case $1 in
            --proxy) proxy=$2; shift 2 ;;
            --ca) ca=$2; shift 2 ;;
            --docker) docker=$2; shift 2 ;;
            *) die "unknown option $1" ;;
        esac
    done
    [ -n "$proxy" ] && [ -n "$ca" ] || die "start needs --proxy and --ca"
    [ "$(id -u)" = 0 ] || die "dockerd needs root"
    [ -x /usr/sbin/dockerd ] || die "/usr/sbin/dockerd missing (Debian: docker.io)"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    [ ! -e "$dir/dockerd.pid" ] || die "$dir already has a daemon (dockerd.sh stop $dir first)"
    echo '{}' > "$dir/daemon.json"
    HTTPS_PROXY=$proxy HTTP_PROXY=$proxy NO_PROXY=127.0.0.1,localhost SSL_CERT_FILE=$ca \
        setsid /usr/sbin/dockerd --data-root "$dir/data" --exec-root "$dir/exec" \
            --pidfile "$dir/daemon.pid" -H "unix://$dir/docker.sock" \
            --config-file "$dir/daemon.json" --storage-driver vfs \
            --bridge=none --iptables=false --ip6tables=false --ip-masq=false \
            > "$dir/dockerd.log" 2>&1 < /dev/null &
    echo $! > "$dir/dockerd.pid"
    local i
    for i in $(seq 1 150); do
        if DOCKER_HOST=unix://$dir/docker.sock DOCKER_CONFIG=$dir/cli "$docker" version > /dev/null 2>&1; then
            echo "$dir/docker.sock"
            return 0
        fi
        alive "$(cat "$dir/dockerd.pid")" || break
        sleep 0.1
    done
    tail -n 20 "$dir/dockerd.log" >&2
    cmd_stop "$dir"
    die "dockerd did not come up"
}

cmd_stop() {
    local dir=$1 pid i
    [ -f "$dir/dockerd.pid" ] || return 0
    pid=$(cat "$dir/dockerd.pid")
    kill "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do alive "$pid" || break; sleep 0.1; done
    alive "$pid" && kill -9 "$pid" 2>/dev/null
    rm -f "$dir/dockerd.pid"
}

case ${1:-} in
    start) [ $# -ge 2 ] || die "usage: dockerd.sh start DIR --proxy URL --ca FILE"; shift; cmd_start "$@" ;;
    stop)  [ $# -eq 2 ] || die "usage: dockerd.sh stop DIR"; cmd_stop "$2" ;;
    *) die "usage: dockerd.sh start|stop DIR ..." ;;
esac
