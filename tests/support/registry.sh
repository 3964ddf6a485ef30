#!/usr/bin/env bash
# Test-only OCI registry: Debian's docker-registry (distribution 2.8.2) on 127.0.0.1.
#
#   registry.sh start DIR [--user U] [--password PW | --no-auth] [--tls HOSTNAME]
#       Generates DIR/config.yml, DIR/htpasswd, DIR/data/, optional DIR/tls/, starts
#       the registry, waits until GET /v2/ answers 401 (200 with --no-auth: anyone may pull
#       and push, like ECR Public's anonymous pulls), prints the port on stdout and
#       writes it to DIR/port (pid in DIR/pid, log in DIR/registry.log).
#   registry.sh stop DIR
#       Stops it (SIGTERM, then SIGKILL after 5 s) and leaves DIR for inspection.
#
# Defaults: user AWS, password 123456789012-auth-token (what the ECR emulator hands
# out for account 123456789012), plain HTTP.
#
# With --tls HOSTNAME a throw-away CA (DIR/tls/ca.crt) signs a server certificate
# whose SAN is HOSTNAME plus localhost/127.0.0.1. DIR/tls/certs.d/ holds only ca.crt,
# which is the layout skopeo/podman's --cert-dir expects (*.crt = trusted CAs).
# A separate CA (rather than a self-signed leaf) is used because rustls/webpki refuse
# a self-signed end-entity certificate as its own trust anchor, while Go accepts both.
#
# What distribution 2.8.2 needs in its config (found by trying):
#   - `version: 0.1`, a `storage` driver, `http.addr`. Nothing else is mandatory.
#   - `http.addr: 127.0.0.1:0` works: it binds a free port and logs
#     `listening on 127.0.0.1:NNNNN` - we read the port from that line, so there is no
#     pick-a-free-port-then-bind race.
#   - htpasswd auth accepts only bcrypt entries (htpasswd -B).
#   - without http.secret it only warns (random secret; fine for a single instance).
set -euo pipefail

die() { echo "registry.sh: $*" >&2; exit 1; }

cmd_start() {
    local dir=$1; shift
    local user=AWS password=123456789012-auth-token tls_host="" auth=1
    while [ $# -gt 0 ]; do
        case $1 in
            --user) user=$2; shift 2 ;;
            --password) password=$2; shift 2 ;;
            --tls) tls_host=$2; shift 2 ;;
            --no-auth) auth=0; shift ;;
            *) die "unknown option $1" ;;
        esac
    done
    mkdir -p "$dir/data"
    dir=$(cd "$dir" && pwd)

    # -B: bcrypt (the only scheme distribution accepts); -n: print instead of writing a file.
    htpasswd -Bbn "$user" "$password" > "$dir/htpasswd"

    local tls_yaml="" scheme=http
    if [ -n "$tls_host" ]; then
        scheme=https
        make_certs "$dir/tls" "$tls_host"
        tls_yaml="  tls:
    certificate: $dir/tls/server.crt
    key: $dir/tls/server.key"
    fi

    local auth_yaml=""
    if [ "$auth" = 1 ]; then
        auth_yaml="auth:
  htpasswd:
    realm: test-registry
    path: $dir/htpasswd"
    fi

    cat > "$dir/config.yml" <<EOF
version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:0
  secret: test-only-secret
$tls_yaml
$auth_yaml
EOF

    # setsid: own process group, so a test harness killing us doesn't leave it orphaned
    # in ours, and `stop` can kill exactly this pid.
    # Create the log first: the background child opens it only after the fork, and the port
    # loop below must not find it missing (a race seen on a loaded machine).
    : > "$dir/registry.log"
    setsid /usr/bin/docker-registry serve "$dir/config.yml" > "$dir/registry.log" 2>&1 < /dev/null &
    echo $! > "$dir/pid"

    local port="" i
    for i in $(seq 1 100); do   # up to 10 s; it normally takes ~50 ms
        port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$dir/registry.log" | head -n1)
        [ -n "$port" ] && break
        kill -0 "$(cat "$dir/pid")" 2>/dev/null || { cat "$dir/registry.log" >&2; die "registry exited"; }
        sleep 0.1
    done
    [ -n "$port" ] || die "registry did not report its port (see $dir/registry.log)"
    echo "$port" > "$dir/port"

    # Ready means the auth layer answers: an anonymous GET /v2/ must be 401 (200 without auth).
    local code="" want=401
    [ "$auth" = 1 ] || want=200
    for i in $(seq 1 100); do
        code=$(curl --noproxy '*' -sk -o /dev/null -w '%{http_code}' "$scheme://127.0.0.1:$port/v2/" || true)
        [ "$code" = "$want" ] && break
        sleep 0.1
    done
    [ "$code" = "$want" ] || die "GET /v2/ answered '$code', expected $want"
    echo "$port"
}

# A CA and a server certificate for HOST (+ localhost, 127.0.0.1), valid 2 days.
make_certs() {
    local d=$1 host=$2
    mkdir -p "$d/certs.d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=test-registry-ca" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$host" \
        -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
    printf 'subjectAltName=DNS:%s,DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n' \
        "$host" > "$d/server.ext"
    openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
        -days 2 -extfile "$d/server.ext" -out "$d/server.crt" 2>/dev/null
    cp "$d/ca.crt" "$d/certs.d/ca.crt"
}

# Running = exists and is not a zombie. The registry is re-parented (setsid, our shell
# exits), and on this machine PID 1 reaps orphans only ~1.5 s later, so `kill -0` alone
# would keep "seeing" a process that has already exited.
alive() {
    local state
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

cmd_stop() {
    local dir=$1 pid i
    [ -f "$dir/pid" ] || return 0
    pid=$(cat "$dir/pid")
    kill "$pid" 2>/dev/null || { rm -f "$dir/pid"; return 0; }
    for i in $(seq 1 50); do
        alive "$pid" || break
        sleep 0.05
    done
    alive "$pid" && kill -9 "$pid" 2>/dev/null
    rm -f "$dir/pid"
}

case ${1:-} in
    start) [ $# -ge 2 ] || die "usage: registry.sh start DIR [--user U] [--password PW | --no-auth] [--tls HOST]"; shift; cmd_start "$@" ;;
    stop)  [ $# -eq 2 ] || die "usage: registry.sh stop DIR"; cmd_stop "$2" ;;
    *) die "usage: registry.sh start|stop DIR ..." ;;
esac
