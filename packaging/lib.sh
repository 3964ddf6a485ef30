# shellcheck shell=bash disable=SC2034 # the variables are read by the scripts that source this
# Sourced by packaging/release and the artefact checks (packaging/*/test): the facts they share
# (names, the version, the artefacts' file names) and the checks' helpers. Bash only.

name=docker-credential-ecr
# The engine, installed beside the front ($name) in every artefact: the front runs it from its
# own directory (src/front.rs) for everything the token cache cannot answer.
engine=$name-engine
# The binaries every artefact ships, as Cargo.toml's [[bin]] targets name them (packaging/test
# checks that these are all of them).
binaries=("$name" "$engine")
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"

# A field of the package in Cargo.toml, as `cargo metadata` shows it: a key path such as
# `version` (every artefact is named after it) or `metadata deb maintainer`.
crate_field() {
  cargo metadata --no-deps --format-version 1 --locked --manifest-path "$repo_root/Cargo.toml" \
    | python3 -c 'import json, sys
v = json.load(sys.stdin)["packages"][0]
for key in sys.argv[1:]:
    v = v[key]
print(v)' "$@"
}
host_target() { rustc -vV | sed -n 's/^host: //p'; }

# The oldest glibc the release binaries start on: Rust's own floor for x86_64-unknown-linux-gnu
# (manylinux2014's). packaging/release links against it with cargo-zigbuild (docs/install.md);
# older distributions than the ones AWS users run are not a goal, newer ones all qualify.
glibc_floor=2.17
# The glibc versions a binary needs, one a line, as the loader checks them: GLIBC_x.y and, with
# packed relative relocations, GLIBC_ABI_DT_RELR (the 2.36 loader).
glibc_needs() { # BINARY
  objdump -p "$1" | awk '/^Version References:/ { s = 1; next } s && /^[^ \t]/ { s = 0 }
    s && $NF ~ /^GLIBC_/ { print $NF }' | sort -uV
}
# Fails (and says why on stderr) if BINARY needs a glibc newer than the floor. A static
# executable (no PT_INTERP, no libraries) needs none.
check_glibc_floor() { # BINARY
  local needs newest
  needs=$(glibc_needs "$1")
  if [ -z "$needs" ]; then
    if ! readelf -l -W "$1" | grep -q '^ *INTERP ' && ! readelf -d -W "$1" | grep -q '(NEEDED)'; then
      return 0
    fi
    echo "$1 needs no glibc version, yet is dynamically linked (objdump -p read nothing)" >&2; return 1
  fi
  if grep -qx GLIBC_ABI_DT_RELR <<<"$needs"; then
    echo "$1 needs GLIBC_ABI_DT_RELR (packed relative relocations: glibc 2.36)" >&2; return 1
  fi
  newest=$(grep '^GLIBC_[0-9]' <<<"$needs" | sed 's/^GLIBC_//' | sort -V | tail -1)
  if [ "$(printf '%s\n' "$newest" "$glibc_floor" | sort -V | tail -1)" != "$glibc_floor" ]; then
    echo "$1 needs GLIBC_$newest, above the floor $glibc_floor: $(tr '\n' ' ' <<<"$needs")" >&2; return 1
  fi
}

# The artefacts' file names for VERSION, as packaging/release writes them into dist/.
# TARGET is a Rust target triple, this machine's by default (packaging/release --target).
tarball_name() { echo "$name-$1-${2:-$(host_target)}.tar.gz"; } # VERSION [TARGET]
deb_name() { # VERSION [TARGET]
  local arch; arch=$(target_arch "${2:-$(host_target)}")
  case $arch in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; esac
  echo "${name}_$1-1_$arch.deb"
}
rpm_name() { echo "$name-$1-1.$(target_arch "${2:-$(host_target)}").rpm"; } # VERSION [TARGET]
target_arch() { echo "${1%%-*}"; } # TARGET: x86_64, aarch64 (rpm's names; uname -m's)
image_archive_name() { echo "$name-$1-image.oci.tar"; }
image_ref() { echo "localhost/$name:$1"; }
sbom_name() { echo "$name-$1.cdx.json"; }

# Checks: `pass` counts, `fail` stops the script (its EXIT trap cleans up).
passed=0
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; passed=$((passed + 1)); }
# The closing line of one check script, as test runners print it.
summary() { echo "$1: $passed passed, 0 failed"; }

# The ECR API emulator on 127.0.0.1 (tests/support/ecr_emulator.py). Sets emulator_port and
# emulator_pid; stop it with stop_emulator. WORK is a scratch directory for its files.
emulator_pid=""
start_emulator() { # WORK
  python3 -c 'import moto.server' 2>/dev/null || fail "moto is not installed (run scripts/install-test-deps)"
  python3 "$repo_root/tests/support/ecr_emulator.py" --port 0 --port-file "$1/port" --parent-pid $$ \
    2>"$1/emulator.log" &
  emulator_pid=$!
  for _ in $(seq 100); do [ -s "$1/port" ] && break; sleep 0.2; done
  [ -s "$1/port" ] || fail "the emulator did not start: $(cat "$1/emulator.log")"
  emulator_port=$(cat "$1/port")
}
stop_emulator() {
  if [ -n "$emulator_pid" ]; then kill "$emulator_pid" 2>/dev/null || true; wait "$emulator_pid" 2>/dev/null || true; fi
  emulator_pid=""
}

# What a `get` against the emulator needs, and what it answers (moto's default account).
emulator_host=123456789012.dkr.ecr.us-east-1.amazonaws.com
emulator_password=123456789012-auth-token
emulator_env() { # prints NAME=VALUE lines for env(1) or podman --env
  printf '%s\n' AWS_ACCESS_KEY_ID=AKIDPACKAGETEST00001 \
    AWS_SECRET_ACCESS_KEY=testsecretkeytestsecretkeytestsecret0000 \
    AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true \
    "AWS_ENDPOINT_URL_ECR=http://127.0.0.1:$emulator_port"
}

# The files a dynamic binary loads, as ldd names them: "libc.so.6 => /lib/.../libc.so.6 (0x...)"
# and the loader's "/lib64/ld-linux-x86-64.so.2 (0x...)"; linux-vdso is the kernel's and has no
# file. Prints nothing for a static binary; fails when a library cannot be found.
ldd_files() { # BINARY
  local out
  if ! out=$(ldd "$1" 2>&1); then
    case $out in
      *"not a dynamic executable"*) return 0 ;;
      *) echo "ldd $1: $out" >&2; return 1 ;;
    esac
  fi
  if grep -q "not found" <<<"$out"; then
    echo "ldd cannot resolve every library of $1: $out" >&2; return 1
  fi
  sed -n -e 's/^.*=> \(\/[^ ]*\) (0x.*$/\1/p' -e 's/^[[:space:]]*\(\/[^ ]*\) (0x.*$/\1/p' <<<"$out"
}

# `podman run` as it works on this project's machines and on a stock one: runc, because crun
# refuses a hybrid cgroup hierarchy (cgroup v1 controllers beside a v2 mount); explicit open-file
# and process limits, because rootful podman otherwise raises both to 1048576, which fails
# where the bounding set lacks CAP_SYS_RESOURCE (as in CI's sandbox). The helper needs neither.
podman_run=(podman run --rm --runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
