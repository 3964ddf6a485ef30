#!/usr/bin/env bash
# A cut-off laptop: a network namespace where every packet leaving is swallowed, so connects
# (the instance metadata address, any endpoint) and DNS queries hang exactly as on a dead
# network, instead of failing fast with "network unreachable". Root only.
#
#   cutoff_netns.sh up NAME     NAME = ecr-cutoff-<owner pid>-<tag>; creates namespaces NAME
#                               and NAME-sink and /etc/netns/NAME/resolv.conf
#   cutoff_netns.sh down NAME   removes them again (no error if already gone)
#   ip netns exec NAME CMD...   runs CMD on the cut-off laptop (resolv.conf swapped in)
#
# How: a veth pair from NAME into NAME-sink, both up; NAME's default route goes via a
# neighbour made permanent to a MAC nobody has, so frames reach the sink with a foreign
# destination MAC and are dropped there. The DNS server is that neighbour. Only TEST-NET-1
# (192.0.2.0/24, RFC 5737) is used, and only inside these two namespaces: no packet leaves them.
# `up` first removes namespaces of this naming scheme whose owner process is gone (a test
# killed before its clean-up ran).
set -euo pipefail

ADDR=192.0.2.2/24
GATEWAY=192.0.2.1              # the swallowing neighbour; also the DNS server
NOBODY_MAC=02:00:5e:00:53:01   # locally administered, owned by no interface here

die() { echo "cutoff_netns.sh: $*" >&2; exit 1; }

check_name() {
    [[ $1 =~ ^ecr-cutoff-[0-9]+-[A-Za-z0-9]+$ ]] || die "NAME must be ecr-cutoff-<pid>-<tag>, got '$1'"
}

cmd_down() {
    local name=$1
    ip netns delete "$name" 2>/dev/null || true
    ip netns delete "$name-sink" 2>/dev/null || true
    rm -rf "/etc/netns/$name"
}

sweep_stale() {
    local ns pid
    for ns in $(ip netns list | awk '{print $1}'); do
        [[ $ns =~ ^ecr-cutoff-([0-9]+)-[A-Za-z0-9]+$ ]] || continue
        pid=${BASH_REMATCH[1]}
        kill -0 "$pid" 2>/dev/null || cmd_down "$ns"
    done
}

cmd_up() {
    local name=$1
    [ "$(id -u)" = 0 ] || die "needs root (ip netns)"
    sweep_stale
    ip netns add "$name" || die "namespace $name exists"
    # From here on a failure removes what was made.
    trap 'cmd_down "$name"' ERR
    ip netns add "$name-sink"
    ip link add v0 netns "$name" type veth peer name v1 netns "$name-sink"
    ip -n "$name" link set lo up
    ip -n "$name" link set v0 up
    ip -n "$name-sink" link set v1 up
    ip -n "$name" addr add "$ADDR" dev v0
    ip -n "$name" neigh add "$GATEWAY" lladdr "$NOBODY_MAC" dev v0 nud permanent
    ip -n "$name" route add default via "$GATEWAY" dev v0
    mkdir -p "/etc/netns/$name"
    printf 'nameserver %s\n' "$GATEWAY" > "/etc/netns/$name/resolv.conf"
    trap - ERR
}

case ${1:-} in
    up)   [ $# -eq 2 ] || die "usage: cutoff_netns.sh up NAME"; check_name "$2"; cmd_up "$2" ;;
    down) [ $# -eq 2 ] || die "usage: cutoff_netns.sh down NAME"; check_name "$2"; cmd_down "$2" ;;
    *) die "usage: cutoff_netns.sh up|down NAME" ;;
esac
