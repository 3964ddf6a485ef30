#!/usr/bin/env bash
# End-to-end rig: real skopeo / podman / buildah / docker (CLI and daemon) talking to a real
# registry, with credentials coming only from a docker credential helper.
#
#   rig.sh up DIR                  start registries, proxy (and a real dockerd with
#                                  RIG_REAL_DOCKERD=1); seed an image; install the helper
#                                  shim; write DIR/rig.env
#   rig.sh flow DIR FLOW [TARGET]  run one client flow; exit status = the client's
#   rig.sh down DIR                stop everything started by `up` (by pid)
#   rig.sh demo [DIR]              every flow with the stand-in helper, plus failure cases
#
# TARGET is `ecr` (default): the registry is reached as $RIG_ECR_HOST (an ECR-shaped name)
#            through tests/support/connect_proxy.py onto the TLS registry; the client
#            trusts the rig's CAs via --cert-dir (skopeo/podman/buildah) or SSL_CERT_FILE
#            (dockerd) - nothing is disabled;
#        or `public`: a registry without auth as public.ecr.aws (ECR Public's name, where
#            anonymous pulls work), through the proxy the same way;
#        or `local`: the plain-HTTP registry (htpasswd) as 127.0.0.1:PORT (--tls-verify=false);
#        or `open`: the registry without auth as 127.0.0.1:PORT (TLS, not verified): a
#            non-ECR registry that anyone may pull from.
# The real docker-credential-ecr only answers for ECR host names (or aliases in its config).
#
# FLOWs: skopeo-push skopeo-pull skopeo-pull-authfile skopeo-inspect
#        podman-pull (auth.json) podman-pull-dockerconfig podman-login
#        buildah-from (a working container from demo/app:1) buildah-push (commit it, push
#                                    as demo/built:N)
#        docker-pull docker-push docker-login docker-logout
#                                   (docker CLI -> a real dockerd; needs RIG_REAL_DOCKERD=1
#                                    at `up`, root and Debian's docker.io package)
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
#   RIG_CREDS_STORE     1 = config.json says {"credsStore": RIG_HELPER} instead of credHelpers
#                       (docker reads it; containers/image ignores credsStore)
#   RIG_NETNS           run the client (so its helper) in this network namespace, e.g. one
#                       made by tests/support/cutoff_netns.sh (a cut-off laptop)
# Everything else in the caller's environment (AWS_*, endpoint overrides) is passed on to
# the clients and so to the helper. Per flow, DIR/runs/NNN-FLOW-TARGET/ gets: cmd.sh (the
# exact command), config.json/auth.json used, helper-calls.jsonl (from the shim),
# client.out/.err, rc, ms. A flow's last stdout line is
# `RUN_DIR=<path>`.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SUPPORT=$(cd "$HERE/../support" && pwd)
# The seeded image as the real dockerd holds it from `up` on (what docker-push tags and pushes).
SEED_IMAGE=rig/seed:1

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
    local public_host=public.ecr.aws
    local password=${RIG_PASSWORD:-123456789012-auth-token}
    t0=$(now_ms)

    # Three registries: plain HTTP for `local`, TLS (cert for the ECR name) for `ecr`, and
    # TLS without auth (cert for public.ecr.aws) for `public` and `open`.
    local plain_port tls_port public_port
    plain_port=$("$SUPPORT/registry.sh" start "$dir/registry-plain" --password "$password")
    tls_port=$("$SUPPORT/registry.sh" start "$dir/registry-tls" --password "$password" --tls "$ecr_host")
    public_port=$("$SUPPORT/registry.sh" start "$dir/registry-public" --no-auth --tls "$public_host")
    # One trust store for both TLS registries: a cert dir for containers/image, a bundle for dockerd.
    mkdir -p "$dir/certs.d"
    cp "$dir/registry-tls/tls/ca.crt" "$dir/certs.d/ecr-ca.crt"
    cp "$dir/registry-public/tls/ca.crt" "$dir/certs.d/public-ca.crt"
    cat "$dir/certs.d/ecr-ca.crt" "$dir/certs.d/public-ca.crt" > "$dir/ca-bundle.crt"

    # CONNECT proxy: ECR name:443 -> TLS registry, public.ecr.aws:443 -> the open one.
    # Nothing else is routed.
    setsid python3 "$SUPPORT/connect_proxy.py" --map "$ecr_host:443=127.0.0.1:$tls_port" \
        --map "$public_host:443=127.0.0.1:$public_port" \
        --port-file "$dir/proxy.port" --log "$dir/proxy.log" > /dev/null 2> "$dir/proxy.err" < /dev/null &
    echo $! > "$dir/proxy.pid"
    wait_file "$dir/proxy.port" "$(cat "$dir/proxy.pid")"

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
    skopeo copy -q --dest-tls-verify=false \
        "oci:$dir/image:1" "docker://127.0.0.1:$public_port/demo/app:1"

    local engine_sock=""
    if [ "${RIG_REAL_DOCKERD:-0}" = 1 ]; then
        engine_sock=$("$SUPPORT/dockerd.sh" start "$dir/engine" \
            --proxy "http://127.0.0.1:$(cat "$dir/proxy.port")" --ca "$dir/ca-bundle.crt")
        # The image docker-push pushes, loaded without any registry: push flows do not depend
        # on a pull.
        skopeo copy -q "oci:$dir/image:1" "docker-archive:$dir/image.tar:$SEED_IMAGE"
        DOCKER_HOST=unix://$engine_sock DOCKER_CONFIG=$dir/engine/cli \
            "${RIG_DOCKER:-/usr/local/bin/docker}" load -q -i "$dir/image.tar" > /dev/null
    fi

    cat > "$dir/rig.env" <<EOF
RIG_DIR=$dir
RIG_ECR_HOST=$ecr_host
RIG_PASSWORD=$password
RIG_PUBLIC_HOST=$public_host
RIG_PLAIN_PORT=$plain_port
RIG_TLS_PORT=$tls_port
RIG_PUBLIC_PORT=$public_port
RIG_CERT_DIR=$dir/certs.d
RIG_CA=$dir/ca-bundle.crt
RIG_PROXY_PORT=$(cat "$dir/proxy.port")
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

# Running = exists and is not a zombie (PID 1 here reaps orphans ~1.5 s late).
alive() {
    local state
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

cmd_down() {
    local dir=$1 pid
    "$SUPPORT/dockerd.sh" stop "$dir/engine"
    if [ -f "$dir/proxy.pid" ]; then
        pid=$(cat "$dir/proxy.pid")
        kill "$pid" 2>/dev/null || true
        rm -f "$dir/proxy.pid"
    fi
    "$SUPPORT/registry.sh" stop "$dir/registry-plain"
    "$SUPPORT/registry.sh" stop "$dir/registry-tls"
    "$SUPPORT/registry.sh" stop "$dir/registry-public"
    rm -f "$dir/rig.env"
}

# Run the client with an explicit environment on top of the caller's, recording the
# exact command in $run/cmd.sh. Output goes to $run/client.{out,err} and to our stderr.
# With RIG_NETNS the client runs in that network namespace (`ip netns exec` execs it: same
# environment, and /etc/netns/NS/resolv.conf as /etc/resolv.conf).
run_client() {
    local run=$1; shift
    [ -z "${RIG_NETNS:-}" ] || set -- -- ip netns exec "$RIG_NETNS" env "$@"
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
        ecr|public)
               host=$RIG_ECR_HOST
               [ "$target" = ecr ] || host=$RIG_PUBLIC_HOST
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
        open)  host=127.0.0.1:$RIG_PUBLIC_PORT
               tls=(--tls-verify=false)
               src_tls=(--src-tls-verify=false)
               dest_tls=(--dest-tls-verify=false)
               proxy_env=(NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost) ;;
        *) die "target must be ecr, public, local or open" ;;
    esac

    # credHelpers keyed by the exact host[:port] the client will look up; with
    # RIG_NO_CRED_HELPERS=1 (a flow-time knob) none at all, so a test can show that the same
    # flow fails without the helper.
    if [ "${RIG_NO_CRED_HELPERS:-0}" = 1 ]; then
        echo '{}' > "$run/docker/config.json"
    elif [ "${RIG_CREDS_STORE:-0}" = 1 ]; then
        printf '{"credsStore":"%s"}\n' "$RIG_HELPER" > "$run/docker/config.json"
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
    # buildah as root: private storage like podman's.
    local buildah=(buildah --root "$dir/buildah/root" --runroot "$dir/buildah/run"
                   --storage-driver vfs)
    case $flow in
        docker-*) [ -n "$RIG_ENGINE_SOCK" ] || die "no real dockerd (RIG_REAL_DOCKERD=1 rig.sh up)" ;;
    esac
    local docker=("$RIG_DOCKER") docker_env=(DOCKER_HOST="unix://$RIG_ENGINE_SOCK")
    # What the rig itself does to the engine uses no helper and no user config.
    local docker_admin=(env DOCKER_HOST="unix://$RIG_ENGINE_SOCK" DOCKER_CONFIG="$dir/engine/cli" "$RIG_DOCKER")

    local rc=0
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
        buildah-from)
            # A fresh working container from the image, fetched for real each time.
            env "${buildah[@]}" rm rig-work > /dev/null 2>&1 || true
            env "${buildah[@]}" rmi -f "$host/demo/app:1" > /dev/null 2>&1 || true
            run_client "$run" "${base[@]}" "${via_auth_file[@]}" \
                "${buildah[@]}" from "${tls[@]}" --name rig-work "$host/demo/app:1" || rc=$? ;;
        buildah-push)
            # Commit the working container (local, no credentials), then push it.
            env "${buildah[@]}" commit -q rig-work "rig/built:$n" > /dev/null \
                || die "buildah commit failed (run buildah-from first)"
            run_client "$run" "${base[@]}" "${via_auth_file[@]}" \
                "${buildah[@]}" push "${tls[@]}" "rig/built:$n" "docker://$host/demo/built:$n" || rc=$? ;;
        docker-pull)
            # rmi first so the engine really fetches the layers.
            "${docker_admin[@]}" rmi -f "$host/demo/app:1" > /dev/null 2>&1 || true
            run_client "$run" "${base[@]}" "${via_docker_config[@]}" "${docker_env[@]}" \
                "${docker[@]}" pull "$host/demo/app:1" || rc=$?
            if [ "$rc" = 0 ] && ! grep -q "Digest: $RIG_IMAGE_DIGEST" "$run/client.out"; then
                echo "engine pulled an unexpected digest" >&2; rc=3
            fi ;;
        docker-push)
            "${docker_admin[@]}" tag "$SEED_IMAGE" "$host/demo/pushed:$n"
            run_client "$run" "${base[@]}" "${via_docker_config[@]}" "${docker_env[@]}" \
                "${docker[@]}" push "$host/demo/pushed:$n" || rc=$? ;;
        docker-login)
            # No -u: docker asks the helper (get), the daemon checks with the registry, then store.
            run_client "$run" "${base[@]}" "${via_docker_config[@]}" "${docker_env[@]}" \
                "${docker[@]}" login "$host" || rc=$? ;;
        docker-logout)
            run_client "$run" "${base[@]}" "${via_docker_config[@]}" "${docker_env[@]}" \
                "${docker[@]}" logout "$host" || rc=$? ;;
        *) die "unknown flow $flow" ;;
    esac
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
    # docker (a real daemon), podman and buildah flows run as root only.
    local root_flows="" root_fail_flows=""
    if [ "$(id -u)" = 0 ]; then
        root_flows="podman-pull podman-login buildah-from buildah-push"
        root_fail_flows="podman-pull"
        if [ -x /usr/sbin/dockerd ]; then
            export RIG_REAL_DOCKERD=1
            root_flows+=" docker-pull docker-push docker-login docker-logout"
            root_fail_flows+=" docker-pull docker-login"
        fi
    fi
    RIG_HELPER_BIN=$HERE/fake-helper.sh cmd_up "$dir" > /dev/null
    local flow target
    for target in local ecr; do
        for flow in skopeo-push skopeo-pull skopeo-pull-authfile skopeo-inspect $root_flows; do
            cmd_flow "$dir" "$flow" "$target" > /dev/null || { echo "FAILED: $flow $target" >&2; fails=$((fails + 1)); }
        done
    done
    # Failures must fail: wrong password (401), helper says not-found (anonymous -> 401),
    # helper errors (hard error for skopeo/podman; docker goes on anonymously).
    local mode
    for mode in FAKE_HELPER_SECRET=wrong FAKE_HELPER_MODE=notfound FAKE_HELPER_MODE=error; do
        for flow in skopeo-pull $root_fail_flows; do
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
    flow) [ $# -ge 3 ] || die "usage: rig.sh flow DIR FLOW [ecr|public|local|open]"; cmd_flow "$2" "$3" "${4:-ecr}" ;;
    demo) cmd_demo "${2:-}" ;;
    *) sed -n '2,30p' "$0" >&2; exit 2 ;;
esac
