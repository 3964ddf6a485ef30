#!/bin/sh
# Installs docker-credential-ecr from a release archive, after checking its SHA-256 checksum.
#
# Usage: install.sh [--prefix DIR] [--sha256 HEX] ARCHIVE
#   ARCHIVE   a local path or an https:// URL of docker-credential-ecr-<version>-<target>.tar.gz,
#             holding the binaries docker-credential-ecr and docker-credential-ecr-engine at
#             its top level
#   --sha256  the expected checksum; without it, ARCHIVE.sha256 (as `sha256sum` writes it)
#             is read or downloaded from beside the archive
#   --prefix  where to install (default /usr/local as root, else ~/.local); both binaries go to
#             PREFIX/bin (the front runs the engine from its own directory), the man page and
#             completions under PREFIX/share
#
# Nothing is installed unless the checksum matches.
set -eu

name=docker-credential-ecr
engine=$name-engine
prefix=""
expected=""
archive=""
while [ $# -gt 0 ]; do
  case $1 in
    --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
    --sha256) expected=${2:?--sha256 needs a checksum}; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "install.sh: unknown option $1" >&2; exit 2 ;;
    *) archive=$1; shift ;;
  esac
done
[ -n "$archive" ] || { echo "usage: install.sh [--prefix DIR] [--sha256 HEX] ARCHIVE" >&2; exit 2; }
if [ -z "$prefix" ]; then
  if [ "$(id -u)" -eq 0 ]; then prefix=/usr/local; else prefix=$HOME/.local; fi
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

fetch() { # SOURCE DEST
  case $1 in
    https://*) curl --proto '=https' --tlsv1.2 -fsSL -o "$2" "$1" ;;
    http://*) echo "install.sh: refusing plain http: $1" >&2; exit 1 ;;
    *) cp "$1" "$2" ;;
  esac
}

fetch "$archive" "$work/archive.tar.gz"
if [ -z "$expected" ]; then
  fetch "$archive.sha256" "$work/archive.sha256" || {
    echo "install.sh: no checksum: pass --sha256 or put $archive.sha256 beside the archive" >&2
    exit 1
  }
  expected=$(cut -d' ' -f1 < "$work/archive.sha256")
fi
if command -v sha256sum >/dev/null 2>&1; then
  actual=$(sha256sum "$work/archive.tar.gz" | cut -d' ' -f1)
else
  actual=$(shasum -a 256 "$work/archive.tar.gz" | cut -d' ' -f1)
fi
expected=$(printf '%s' "$expected" | tr 'A-F' 'a-f')
if [ "$actual" != "$expected" ]; then
  echo "install.sh: checksum mismatch for $archive: expected $expected, got $actual; nothing installed" >&2
  exit 1
fi

tar -xzf "$work/archive.tar.gz" -C "$work" "$name" "$engine" 2>"$work/tar.err" || {
  echo "install.sh: $archive does not hold $name and $engine: $(cat "$work/tar.err")" >&2
  exit 1
}
bin="$work/$name"
# The front hands `version` to the engine beside it, so this runs both.
"$bin" version >/dev/null || { echo "install.sh: the archive's binaries do not run here" >&2; exit 1; }

install -d "$prefix/bin" "$prefix/share/man/man1" "$prefix/share/bash-completion/completions" \
  "$prefix/share/zsh/site-functions" "$prefix/share/fish/vendor_completions.d"
# The engine first: a client that runs the new front in between finds the new engine.
install -m 0755 "$work/$engine" "$prefix/bin/$engine"
install -m 0755 "$bin" "$prefix/bin/$name"
echo ".so man1/$name.1" > "$prefix/share/man/man1/$engine.1"
"$bin" --generate man > "$prefix/share/man/man1/$name.1"
"$bin" --generate bash > "$prefix/share/bash-completion/completions/$name"
"$bin" --generate zsh > "$prefix/share/zsh/site-functions/_$name"
"$bin" --generate fish > "$prefix/share/fish/vendor_completions.d/$name.fish"
echo "installed $("$prefix/bin/$name" version) in $prefix/bin"
case ":$PATH:" in
  *":$prefix/bin:"*) ;;
  *) echo "note: $prefix/bin is not on PATH; clients find the helper only through PATH" >&2 ;;
esac
