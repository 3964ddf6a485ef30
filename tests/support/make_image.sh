#!/usr/bin/env bash
# Builds a tiny OCI image layout (no docker engine needed):
#
#   make_image.sh DIR [TAG] [ARCH]      TAG defaults to "1", ARCH to the host's (amd64/arm64)
#
# DIR/oci-layout, DIR/index.json, DIR/blobs/sha256/{config,manifest,layer}. The one layer
# is a gzipped tar holding /hello.txt. Everything is reproducible (fixed mtimes, owners,
# gzip -n), so the digests are the same on every run: tests can assert on them.
# Use it as `oci:DIR:TAG` (skopeo) or `oci:DIR` when it is the only image.
set -euo pipefail

dir=${1:?usage: make_image.sh DIR [TAG] [ARCH]}
tag=${2:-1}
arch=${3:-}
if [ -z "$arch" ]; then
    # podman warns/refuses when the image's architecture differs from the host's.
    case $(uname -m) in aarch64|arm64) arch=arm64 ;; *) arch=amd64 ;; esac
fi

mkdir -p "$dir/blobs/sha256"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# sha256 + size of a file, stored into the blob store under its digest.
add_blob() {  # add_blob FILE -> prints "sha256:HEX SIZE"
    local hex size
    hex=$(sha256sum "$1" | cut -d' ' -f1)
    size=$(stat -c %s "$1")
    cp "$1" "$dir/blobs/sha256/$hex"
    echo "sha256:$hex $size"
}

# The layer: one file, deterministic tar (GNU tar flags) then gzip -n (no name/time).
mkdir -p "$work/rootfs"
printf 'hello from the docker-credential-ecr e2e rig\n' > "$work/rootfs/hello.txt"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=posix \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
    -C "$work/rootfs" -cf "$work/layer.tar" hello.txt
# diff_id (in the config) is the digest of the *uncompressed* tar.
diff_id=sha256:$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
gzip -n -9 -c "$work/layer.tar" > "$work/layer.tar.gz"
read -r layer_digest layer_size < <(add_blob "$work/layer.tar.gz")

printf '{"architecture":"%s","os":"linux","config":{"Cmd":["/hello.txt"]},"rootfs":{"type":"layers","diff_ids":["%s"]},"history":[{"created":"1970-01-01T00:00:00Z","created_by":"make_image.sh"}],"created":"1970-01-01T00:00:00Z"}' \
    "$arch" "$diff_id" > "$work/config.json"
read -r config_digest config_size < <(add_blob "$work/config.json")

printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%s}]}' \
    "$config_digest" "$config_size" "$layer_digest" "$layer_size" > "$work/manifest.json"
read -r manifest_digest manifest_size < <(add_blob "$work/manifest.json")

printf '{"imageLayoutVersion":"1.0.0"}' > "$dir/oci-layout"
# ref.name annotation = the tag that `oci:DIR:TAG` selects.
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}' \
    "$manifest_digest" "$manifest_size" "$tag" > "$dir/index.json"

echo "$manifest_digest"
