#!/usr/bin/env bash
# End-to-end rig: real skopeo / podman / docker CLI talking to a real registry, with
# credentials coming only from a docker credential helper.
#
#   rig.sh up DIR                  start registries, proxy, fake dockerd; seed an image;
#                                  install the helper shim; write DIR/rig.env
#   rig.sh flow DIR FLOW [TARGET]  run one client flow; exit status = the client's
#   rig.sh down DIR                stop everything started by `up` (by pid)
#   rig.sh demo [DIR]              every flow with the stand-in helper, plus failure cases
#
# TARGET is `ecr` (default): the registry is reached as $RIG_ECR_HOST (an ECR-shaped name)
#            through tests/support/connect_proxy.py onto the TLS registry; the client
#            trusts the rig's CA via --cert-dir (skopeo/podman) - nothing is disabled;
#        or `local`: the plain-HTTP registry as 127.0.0.1:PORT (--tls-verify=false).
# The real docker-credential-ecr only answers for ECR host names, so it needs `ecr`;
# the stand-in helper answers for anything.
#
# FLOWs: skopeo-push skopeo-pull skopeo-pull-authfile skopeo-inspect
#        podman-pull (auth.json) podman-pull-dockerconfig podman-login
#        docker-pull docker-login   (docker CLI -> fake dockerd)
#        engine-pull engine-login   (docker CLI -> a real dockerd; needs RIG_REAL_DOCKERD=1
#                                    at `up` and Debian's docker.io package)
#
# Knobs (environment, read by `up`):
#   RIG_HELPER_BIN   helper under test (default: tests/e2e/fake-helper.sh);
#                    e.g. target/debug/docker-credential-ecr
#   RIG_HELPER       credHelpers suffix the clients use (default: ecr, i.e. the rig's
#                    bin/docker-credential-ecr shim; the real helper is exec'd by path)
#   RIG_ECR_HOST     default 123456789012.dkr.ecr.us-east-1.amazonaws.com
#   RIG_PASSWORD     registry password (default 123456789012-auth-token, the ECR emulator's)
#   RIG_DOCKER       docker CLI (default /usr/local/bin/docker: 28.2; /usr/bin/docker is 20.10)
#   RIG_REAL_DOCKERD 1 = also start a real dockerd (/usr/sbin/dockerd, docker.io 20.10) on
#                    DIR/engine/docker.sock; it pulls for real, through the proxy.
# Knobs read by `flow`:
#   RIG_NO_CRED_HELPERS 1 = the flow's config.json / auth.json name no helper at all
# Everything else in the caller's environment (AWS_*, endpoint overrides) is passed on to
# the clients and so to the helper. Per flow, DIR/runs/NNN-FLOW-TARGET/ gets: cmd.sh (the
# exact command), config.json/auth.json used, helper-calls.jsonl (from the shim),
# dockerd.jsonl (docker flows), client.out/.err, rc, ms. A flow's last stdout line is
# `RUN_DIR=<path>`.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SUPPORT=$(cd "$HERE/../support" && pwd)

die() { echo "rig.sh: $*" >&2; exit 2; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# Wait for a file written by a background server (port files are written atomically).
wait_file() {
    local f=$1 pid=$2 i
    for i in $(seq 1 100); do
        [ -s "$f" ] && return 0
        kill -0 "$pid" 2>/dev/null || die "process for $f exited"
        sleep 0.05
    done
    die "timed out waiting for $f"
}

cmd_up() {
    local dir=$1
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    [ ! -e "$dir/rig.env" ] || die "$dir already has a rig (rig.sh down $dir first)"
    local t0 ecr_host=${RIG_ECR_HOST:-123456789012.dkr.ecr.us-east-1.amazonaws.com}
    local password=${RIG_PASSWORD:-123456789012-auth-token}
    t0=$(now_ms)

    # Two registries: plain HTTP for `local`, TLS (cert for the ECR name) for `ecr`.
    local plain_port tls_port
    plain_port=$("$SUPPORT/registry.sh" start "$dir/registry-plain" --password "$password")
    tls_port=$("$SUPPORT/registry.sh" start "$dir/registry-tls" --password "$password" --tls "$ecr_host")

    # CONNECT proxy: ECR name:443 -> TLS registry. Nothing else is routed.
    setsid python3 "$SUPPORT/connect_proxy.py" --map "$ecr_host:443=127.0.0.1:$tls_port" \
        --port-file "$dir/proxy.port" --log "$dir/proxy.log" > /dev/null 2> "$dir/proxy.err" < /dev/null &
    echo $! > "$dir/proxy.pid"
    # Fake dockerd; it checks the credentials docker sends against the plain registry
    # (both registries share one htpasswd password).
    setsid python3 "$SUPPORT/fake_dockerd.py" --record "$dir/dockerd.jsonl" \
        --port-file "$dir/dockerd.port" --verify-url "http://127.0.0.1:$plain_port/v2/" \
        > /dev/null 2> "$dir/dockerd.err" < /dev/null &
    echo $! > "$dir/dockerd.pid"
    wait_file "$dir/proxy.port" "$(cat "$dir/proxy.pid")"
    wait_file "$dir/dockerd.port" "$(cat "$dir/dockerd.pid")"

    # Helper shim: bin/docker-credential-$RIG_HELPER logs every call, then runs the helper.
    local suffix=${RIG_HELPER:-ecr} real=${RIG_HELPER_BIN:-$HERE/fake-helper.sh}
    real=$(cd "$(dirname "$real")" && pwd)/$(basename "$real")
    [ -x "$real" ] || die "helper $real is not executable"
    mkdir -p "$dir/bin"
    ln -sf "$HERE/log-helper.sh" "$dir/bin/docker-credential-$suffix"

    # Seed demo/app:1 in both registries with explicit credentials (no helper involved),
    # so pull flows do not depend on the push flow.
    "$SUPPORT/make_image.sh" "$dir/image" 1 > "$dir/image.digest"
    skopeo copy -q --dest-tls-verify=false --dest-creds "AWS:$password" \
        "oci:$dir/image:1" "docker://127.0.0.1:$plain_port/demo/app:1"
    skopeo copy -q --dest-tls-verify=false --dest-creds "AWS:$password" \
        "oci:$dir/image:1" "docker://127.0.0.1:$tls_port/demo/app:1"

    local engine_sock=""
    if [ "${RIG_REAL_DOCKERD:-0}" = 1 ]; then
        start_engine "$dir"
        engine_sock=$dir/engine/docker.sock
    fi

    cat > "$dir/rig.env" <<EOF
RIG_DIR=$dir
RIG_ECR_HOST=$ecr_host
RIG_PASSWORD=$password
RIG_PLAIN_PORT=$plain_port
RIG_TLS_PORT=$tls_port
RIG_CERT_DIR=$dir/registry-tls/tls/certs.d
RIG_CA=$dir/registry-tls/tls/ca.crt
RIG_PROXY_PORT=$(cat "$dir/proxy.port")
RIG_DOCKERD_PORT=$(cat "$dir/dockerd.port")
RIG_HELPER=$suffix
RIG_HELPER_REAL=$real
RIG_IMAGE=$dir/image
RIG_IMAGE_DIGEST=$(cat "$dir/image.digest")
RIG_DOCKER=${RIG_DOCKER:-/usr/local/bin/docker}
RIG_ENGINE_SOCK=$engine_sock
EOF
    cat "$dir/rig.env"
    echo "rig up in $(( $(now_ms) - t0 )) ms" >&2
}

# A real dockerd (Debian docker.io 20.10) that needs no network set-up and pulls through
# the rig's proxy. Found by trying, as root on this machine:
#  - --bridge=none --iptables=false --ip6tables=false --ip-masq=false: no docker0, no
#    iptables; pulls need none of it. --storage-driver vfs: no overlay mounts.
#  - --config-file must exist and be JSON ({}); /dev/null is refused ("EOF").
#  - SSL_CERT_FILE=the rig's CA: dockerd trusts it for the ECR name without writing
#    /etc/docker/certs.d. Do NOT use --insecure-registry instead: after a failed TLS
#    attempt dockerd falls back to plain http://HOST/v2/, resolving the ECR name in DNS.
#  - HTTPS_PROXY and HTTP_PROXY both at the proxy: no connection or lookup for a
#    non-loopback name ever leaves the rig (the proxy refuses unmapped http).
#  - 127.0.0.0/8 registries are insecure (plain HTTP) by default, so `local` works too.
# Side effects outside DIR it still has: /etc/docker/key.json, /run/docker/, /opt/containerd/.
# Ready in ~0.2 s; stops in ~1 s (its containerd child exits with it).
start_engine() {
    local dir=$1 proxy
    proxy=http://127.0.0.1:$(cat "$dir/proxy.port")
    mkdir -p "$dir/engine"
    echo '{}' > "$dir/engine/daemon.json"
    HTTPS_PROXY=$proxy HTTP_PROXY=$proxy NO_PROXY=127.0.0.1,localhost \
    SSL_CERT_FILE=$dir/registry-tls/tls/ca.crt \
        setsid /usr/sbin/dockerd --data-root "$dir/engine/data" --exec-root "$dir/engine/exec" \
            --pidfile "$dir/engine/dockerd.pid" -H "unix://$dir/engine/docker.sock" \
            --config-file "$dir/engine/daemon.json" --storage-driver vfs \
            --bridge=none --iptables=false --ip6tables=false --ip-masq=false \
            > "$dir/engine/dockerd.log" 2>&1 < /dev/null &
    echo $! > "$dir/engine.pid"
    local i
    for i in $(seq 1 150); do
        DOCKER_HOST=unix://$dir/engine/docker.sock "${RIG_DOCKER:-/usr/local/bin/docker}" version > /dev/null 2>&1 && return 0
        alive "$(cat "$dir/engine.pid")" || break
        sleep 0.1
    done
    tail -n 20 "$dir/engine/dockerd.log" >&2
    die "dockerd did not come up"
}

# Running = exists and is not a zombie (PID 1 here reaps orphans ~1.5 s late).
alive() {
    local state
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

cmd_down() {
    local dir=$1 f pid i
    if [ -f "$dir/engine.pid" ]; then
        pid=$(cat "$dir/engine.pid")
        kill "$pid" 2>/dev/null || true
        for i in $(seq 1 100); do alive "$pid" || break; sleep 0.1; done
        alive "$pid" && kill -9 "$pid"
        rm -f "$dir/engine.pid"
    fi
    for f in proxy dockerd; do
        [ -f "$dir/$f.pid" ] || continue
        pid=$(cat "$dir/$f.pid")
        kill "$pid" 2>/dev/null || true
        rm -f "$dir/$f.pid"
    done
    "$SUPPORT/registry.sh" stop "$dir/registry-plain"
    "$SUPPORT/registry.sh" stop "$dir/registry-tls"
    rm -f "$dir/rig.env"
}

# Run the client with an explicit environment on top of the caller's, recording the
# exact command in $run/cmd.sh. Output goes to $run/client.{out,err} and to our stderr.
run_client() {
    local run=$1; shift
    {
        printf 'env'
        printf ' %q' "$@"
        printf '\n'
    } > "$run/cmd.sh"
    echo "+ $(cat "$run/cmd.sh")" >&2
    local t0 rc=0
    t0=$(now_ms)
    env "$@" > "$run/client.out" 2> "$run/client.err" < /dev/null || rc=$?
    echo $(( $(now_ms) - t0 )) > "$run/ms"
    echo "$rc" > "$run/rc"
    sed 's/^/  | /' "$run/client.out" "$run/client.err" >&2
    return "$rc"
}

cmd_flow() {
    local dir=$1 flow=$2 target=${3:-ecr}
    dir=$(cd "$dir" && pwd)
    [ -f "$dir/rig.env" ] || die "no rig in $dir (rig.sh up $dir)"
    # shellcheck disable=SC1091
    source "$dir/rig.env"

    mkdir -p "$dir/runs"
    local n run
    # Numbered run dirs; plain mkdir is atomic, so flows started concurrently never share one.
    n=$(find "$dir/runs" -mindepth 1 -maxdepth 1 | wc -l)
    until run=$dir/runs/$(printf '%03d' "$n")-$flow-$target; mkdir "$run" 2> /dev/null; do n=$((n + 1)); done
    mkdir -p "$run/docker" "$run/empty-docker"

    # Host, per-client TLS flags and proxy env for the target.
    local host tls src_tls dest_tls proxy_env
    case $target in
        ecr)   host=$RIG_ECR_HOST
               tls=(--cert-dir "$RIG_CERT_DIR")
               src_tls=(--src-cert-dir "$RIG_CERT_DIR")
               dest_tls=(--dest-cert-dir "$RIG_CERT_DIR")
               # HTTPS_PROXY: how the client reaches the ECR name. HTTP_PROXY too, so a
               # plain-http attempt at the name is refused by the proxy instead of being
               # looked up in DNS. NO_PROXY keeps loopback (e.g. the helper's calls to
               # the ECR emulator) direct.
               local p="http://127.0.0.1:$RIG_PROXY_PORT"
               proxy_env=(HTTPS_PROXY="$p" https_proxy="$p" HTTP_PROXY="$p" http_proxy="$p"
                          NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost) ;;
        local) host=127.0.0.1:$RIG_PLAIN_PORT
               tls=(--tls-verify=false)
               src_tls=(--src-tls-verify=false)
               dest_tls=(--dest-tls-verify=false)
               proxy_env=(NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost) ;;
        *) die "target must be ecr or local" ;;
    esac

    # credHelpers keyed by the exact host[:port] the client will look up; with
    # RIG_NO_CRED_HELPERS=1 (a flow-time knob) none at all, so a test can show that the same
    # flow fails without the helper.
    if [ "${RIG_NO_CRED_HELPERS:-0}" = 1 ]; then
        echo '{}' > "$run/docker/config.json"
    else
        printf '{"credHelpers":{"%s":"%s"}}\n' "$host" "$RIG_HELPER" > "$run/docker/config.json"
    fi
    cp "$run/docker/config.json" "$run/auth.json"

    # Common env: our shim first in PATH, the shim's settings, isolated config files.
    # REGISTRY_AUTH_FILE always points into the run dir (absent unless the flow uses it)
    # so no auth.json of the machine's user is consulted.
    local base=(PATH="$RIG_DIR/bin:$PATH" RIG_HELPER_REAL="$RIG_HELPER_REAL"
                RIG_HELPER_LOG="$run/helper-calls.jsonl" "${proxy_env[@]}")
    local via_docker_config=(DOCKER_CONFIG="$run/docker" REGISTRY_AUTH_FILE="$run/no-auth.json")
    local via_auth_file=(DOCKER_CONFIG="$run/empty-docker" REGISTRY_AUTH_FILE="$run/auth.json")
    # podman as root: private storage (vfs: no overlay mounts needed), private tmpdir
    # (else /run/libpod), no events (no journald here), cgroupfs (no systemd).
    local podman=(podman --root "$dir/podman/root" --runroot "$dir/podman/run"
                  --tmpdir "$dir/podman/tmp" --storage-driver vfs
                  --events-backend none --cgroup-manager cgroupfs)
    local docker_env=(DOCKER_HOST="tcp://127.0.0.1:$RIG_DOCKERD_PORT")

    local rc=0 before=0
    [ -f "$dir/dockerd.jsonl" ] && before=$(wc -l < "$dir/dockerd.jsonl")
    case $flow in
        skopeo-push)
            run_client "$run" "${base[@]}" "${via_docker_config[@]}" \
                skopeo copy "${dest_tls[@]}" \
                "oci:$RIG_IMAGE:1" "docker://$host/demo/pushed:$n" || rc=$? ;;
        skopeo-pull)
            run_client "$run" "${base[@]}" "${via_docker_config[@]}" \
                skopeo copy "${src_tls[@]}" \
                "docker://$host/demo/app:1" "oci:$run/pulled:1" || rc=$? ;;
        skopeo-pull-authfile)
            run_client "$run" "${base[@]}" "${via_auth_file[@]}" \
                skopeo copy "${src_tls[@]}" \
                "docker://$host/demo/app:1" "oci:$run/pulled:1" || rc=$? ;;
        skopeo-inspect)
            run_client "$run" "${base[@]}" "${via_docker_config[@]}" \
                skopeo inspect "${tls[@]}" "docker://$host/demo/app:1" || rc=$? ;;
        podman-pull)
            # `podman rmi` first so every run really fetches (errors ignored: may be absent).
            env "${podman[@]}" rmi -f "$host/demo/app:1" > /dev/null 2>&1 || true
            run_client "$run" "${base[@]}" "${via_auth_file[@]}" \
                "${podman[@]}" pull "${tls[@]}" "$host/demo/app:1" || rc=$? ;;
        podman-pull-dockerconfig)
            # Credentials from $DOCKER_CONFIG/config.json. podman refuses a REGISTRY_AUTH_FILE
            # that does not exist, so unset it, and point XDG_RUNTIME_DIR at an empty dir so
            # root's /run/containers/0/auth.json is not read either.
            mkdir -p "$run/xdg-runtime"
            env "${podman[@]}" rmi -f "$host/demo/app:1" > /dev/null 2>&1 || true
            run_client "$run" -u REGISTRY_AUTH_FILE "${base[@]}" DOCKER_CONFIG="$run/docker" \
                XDG_RUNTIME_DIR="$run/xdg-runtime" \
                "${podman[@]}" pull "${tls[@]}" "$host/demo/app:1" || rc=$? ;;
        podman-login)
            # No -u: podman asks the helper (get); valid answer = "Already logged in".
            run_client "$run" "${base[@]}" "${via_auth_file[@]}" \
                "${podman[@]}" login "${tls[@]}" "$host" || rc=$? ;;
        docker-pull)
            run_client "$run" "${base[@]}" "${via_docker_config[@]}" "${docker_env[@]}" \
                "$RIG_DOCKER" pull "$host/demo/app:1" || rc=$? ;;
        docker-login)
            run_client "$run" "${base[@]}" "${via_docker_config[@]}" "${docker_env[@]}" \
                "$RIG_DOCKER" login "$host" || rc=$? ;;
        engine-pull)
            [ -n "$RIG_ENGINE_SOCK" ] || die "no real dockerd (RIG_REAL_DOCKERD=1 rig.sh up)"
            # rmi first so the engine really fetches; it always asks the registry anyway.
            DOCKER_HOST=unix://$RIG_ENGINE_SOCK "$RIG_DOCKER" rmi -f "$host/demo/app:1" > /dev/null 2>&1 || true
            run_client "$run" "${base[@]}" "${via_docker_config[@]}" DOCKER_HOST="unix://$RIG_ENGINE_SOCK" \
                "$RIG_DOCKER" pull "$host/demo/app:1" || rc=$?
            if [ "$rc" = 0 ] && ! grep -q "Digest: $RIG_IMAGE_DIGEST" "$run/client.out"; then
                echo "engine pulled an unexpected digest" >&2; rc=3
            fi ;;
        engine-login)
            [ -n "$RIG_ENGINE_SOCK" ] || die "no real dockerd (RIG_REAL_DOCKERD=1 rig.sh up)"
            run_client "$run" "${base[@]}" "${via_docker_config[@]}" DOCKER_HOST="unix://$RIG_ENGINE_SOCK" \
                "$RIG_DOCKER" login "$host" || rc=$? ;;
        *) die "unknown flow $flow" ;;
    esac
    if [ -f "$dir/dockerd.jsonl" ]; then
        tail -n +"$((before + 1))" "$dir/dockerd.jsonl" > "$run/dockerd.jsonl"
    fi
    # skopeo-pull*: the pulled manifest must be the seeded one.
    if [ "$rc" = 0 ] && [ -d "$run/pulled" ]; then
        grep -q "${RIG_IMAGE_DIGEST}" "$run/pulled/index.json" || { echo "pulled digest mismatch" >&2; rc=3; }
    fi
    echo "flow $flow ($target): rc=$rc in $(cat "$run/ms") ms; helper calls: $(jq -c -s 'map([.action, .stdin, .exit])' "$run/helper-calls.jsonl" 2>/dev/null || echo none)" >&2
    echo "RUN_DIR=$run"
    return "$rc"
}

# Demonstration with the stand-in helper: every flow on both targets, then failures.
cmd_demo() {
    DEMO_DIR=${1:-$(mktemp -d /tmp/rig-demo.XXXXXX)}   # global: the EXIT trap needs it
    local dir=$DEMO_DIR t0 fails=0
    t0=$(now_ms)
    trap 'cmd_down "$DEMO_DIR"' EXIT
    # The real-engine flows run when Debian's dockerd is installed.
    local engine_flows=""
    if [ -x /usr/sbin/dockerd ]; then export RIG_REAL_DOCKERD=1; engine_flows="engine-pull engine-login"; fi
    RIG_HELPER_BIN=$HERE/fake-helper.sh cmd_up "$dir" > /dev/null
    local flow target
    for target in local ecr; do
        for flow in skopeo-push skopeo-pull skopeo-pull-authfile skopeo-inspect \
                    podman-pull podman-login docker-pull docker-login $engine_flows; do
            cmd_flow "$dir" "$flow" "$target" > /dev/null || { echo "FAILED: $flow $target" >&2; fails=$((fails + 1)); }
        done
    done
    # Failures must fail: wrong password (401), helper says not-found (anonymous -> 401),
    # helper errors (hard error for skopeo/podman; docker goes on anonymously).
    local mode
    for mode in FAKE_HELPER_SECRET=wrong FAKE_HELPER_MODE=notfound FAKE_HELPER_MODE=error; do
        for flow in skopeo-pull podman-pull docker-pull docker-login $engine_flows; do
            if (export "${mode?}"; cmd_flow "$dir" "$flow" ecr > /dev/null); then
                echo "UNEXPECTED SUCCESS: $flow with $mode" >&2; fails=$((fails + 1))
            else
                echo "expected failure: $flow with $mode" >&2
            fi
        done
    done
    echo "demo: $fails unexpected result(s), $(( $(now_ms) - t0 )) ms total; runs in $dir/runs" >&2
    [ "$fails" = 0 ]
}

case ${1:-} in
    up)   [ $# -eq 2 ] || die "usage: rig.sh up DIR"; cmd_up "$2" ;;
    down) [ $# -eq 2 ] || die "usage: rig.sh down DIR"; cmd_down "$2" ;;
    flow) [ $# -ge 3 ] || die "usage: rig.sh flow DIR FLOW [ecr|local]"; cmd_flow "$2" "$3" "${4:-ecr}" ;;
    demo) cmd_demo "${2:-}" ;;
    *) sed -n '2,30p' "$0" >&2; exit 2 ;;
esac
