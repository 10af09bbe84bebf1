#!/bin/sh
# Build the container image without Docker: Debian's buildah on a local base image.
#
#   tools/image.sh base          make the local base once per machine, print its name
#   tools/image.sh build [TAG]   build the Dockerfile on that base (default TAG localhost/kafka-watchdog:dev)
#   tools/image.sh size [TAG]    the image's size in bytes: layers as stored, and gzipped
#   tools/image.sh lock          re-pin docker/requirements.txt from pyproject's dependencies
#
# Registry images cannot be pulled on the machines this project is tested on, so the base is
# made here: a debootstrap'ed Debian bookworm (minbase) with Debian's python3 3.11 and
# python3-venv, imported into buildah's storage as localhost/kafka-watchdog-base:<key>. The key
# changes with the recipe below, so a changed recipe makes a new base and an unchanged one is
# never made twice. The debootstrap'ed root is also kept as a tarball under
# ${KAFKA_WATCHDOG_CACHE:-~/.cache/kafka-watchdog}/image-base/, so a wiped container storage
# costs a re-import (seconds), not a re-bootstrap (about 80 s). Needs root (debootstrap and
# buildah's chroot isolation), like the apt-get installs of the Makefile.
#
# The Dockerfile itself defaults to the official python slim image; this script only swaps the
# base through its BASE_IMAGE build argument.
set -eu

SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
PACKAGES=python3,python3-venv,ca-certificates
BASE_KEY=$SUITE-py311-1   # bump when SUITE or PACKAGES change
BASE=localhost/kafka-watchdog-base:$BASE_KEY
BUILDER_CACHE=localhost/kafka-watchdog-cache:builder
BUILDAH="buildah --log-level=error"

cache=${KAFKA_WATCHDOG_CACHE:-$HOME/.cache/kafka-watchdog}/image-base
repo=$(cd "$(dirname "$0")/.." && pwd)

need() {
  command -v "$1" >/dev/null || {
    echo "image.sh: $1 is missing: run 'make image-tools' (apt-get install buildah debootstrap)" >&2
    exit 1
  }
}

have_image() { $BUILDAH inspect --type image "$1" >/dev/null 2>&1; }

base() {
  need buildah
  if have_image "$BASE"; then echo "$BASE"; return; fi
  mkdir -p "$cache"
  exec 8>"$cache/.lock"
  flock 8
  if have_image "$BASE"; then echo "$BASE"; return; fi
  tarball=$cache/$BASE_KEY.tar
  if [ ! -s "$tarball" ]; then
    need debootstrap
    root=$(mktemp -d "$cache/.rootfs.XXXXXX")
    echo "image.sh: debootstrap $SUITE ($PACKAGES) once per machine" >&2
    debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$root" "$MIRROR" >&2
    # What a slim image leaves out: package lists, caches, docs.
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
      "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/*
    tar -C "$root" --numeric-owner -cf "$tarball.part" .
    rm -rf "$root"
    mv "$tarball.part" "$tarball"   # last: a half-written tarball never looks finished
  fi
  ctr=$($BUILDAH from scratch)
  $BUILDAH add "$ctr" "$tarball" / >/dev/null
  $BUILDAH config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd /bin/bash --label "org.opencontainers.image.description=debootstrap $SUITE minbase + $PACKAGES" "$ctr"
  $BUILDAH commit --quiet --rm "$ctr" "$BASE" >/dev/null
  echo "$BASE"
}

build() {
  tag=${1:-localhost/kafka-watchdog:dev}
  base_image=$(base)
  # --format docker keeps HEALTHCHECK (the OCI image format has no such field);
  # --layers reuses unchanged steps, so a rebuild after a source change skips the
  # dependencies. The builder stage (built on the deps stage) is tagged so that removing the
  # layers a rebuild left dangling (rmi --prune: untagged images that nothing is built on)
  # keeps that cache: the final stage only copies from it, which does not protect it.
  bud "$base_image" "$BUILDER_CACHE" --target builder
  bud "$base_image" "$tag"
  $BUILDAH rmi --prune >/dev/null 2>&1 || true
  echo "$tag"
}

bud() {  # bud BASE_IMAGE TAG [more buildah bud arguments]
  base_image=$1 out=$2
  shift 2
  version=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' "$repo/watchdog/__init__.py")
  revision=$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)
  source=$(git -C "$repo" remote get-url origin 2>/dev/null || echo "")
  # pip inside the build trusts the CAs this machine's pip trusts (a TLS-inspecting proxy
  # brings its own), through a read-only mount that no layer keeps.
  cert=${PIP_CERT:-${SSL_CERT_FILE:-}}
  if [ -n "$cert" ] && [ -f "$cert" ]; then
    set -- "$@" -v "$(readlink -f "$cert"):/run/build-ca.pem:ro" --build-arg PIP_CERT=/run/build-ca.pem
  fi
  if [ -n "${PIP_INDEX_URL:-}" ]; then set -- "$@" --build-arg "PIP_INDEX_URL=$PIP_INDEX_URL"; fi
  $BUILDAH bud --isolation chroot --network host --layers --force-rm --format docker --quiet \
    --build-arg "BASE_IMAGE=$base_image" --build-arg "VERSION=$version" \
    --build-arg "REVISION=$revision" --build-arg "SOURCE_URL=$source" \
    "$@" -t "$out" "$repo" >/dev/null
}

size() {
  # The layers as stored (uncompressed tars) and as a registry moves them (gzip, as
  # `buildah push` writes them), in bytes.
  image=${1:-localhost/kafka-watchdog:dev}
  stored=$($BUILDAH inspect --type image --format '{{.Manifest}}' "$image" |
    python3 -c 'import json, sys; print(sum(l["size"] for l in json.load(sys.stdin)["layers"]))')
  out=$(mktemp -d)
  $BUILDAH push --quiet "$image" "oci:$out/image:x" >/dev/null
  pushed=$(python3 - "$out" <<'PY'
import json, pathlib, sys
root = pathlib.Path(sys.argv[1]) / "image"
index = json.loads((root / "index.json").read_text())
digest = index["manifests"][0]["digest"].split(":")[1]
manifest = json.loads((root / "blobs" / "sha256" / digest).read_text())
print(sum(layer["size"] for layer in manifest["layers"]))
PY
)
  rm -rf "$out"
  echo "$image: $stored bytes in layers, $pushed bytes gzipped (registry transfer)"
}

lock() {
  # Resolved in a throwaway venv with this machine's python3 (3.11, as in both bases), so the
  # pins are what pip picks today for pyproject's ranges; the image build checks them with
  # `pip check` against the wheel's own requirements.
  venv=$(mktemp -d)
  trap 'rm -rf "$venv"' EXIT
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$repo"
  # The build backend too (pyproject's build-system.requires): the image builds its wheel
  # without build isolation, so a rebuild after a source change downloads nothing.
  backend=$(python3 -c 'import tomllib; print(" ".join(tomllib.load(open("'"$repo"'/pyproject.toml", "rb"))["build-system"]["requires"]))')
  # shellcheck disable=SC2086
  "$venv/bin/pip" install --quiet --disable-pip-version-check $backend
  {
    echo "# The image's Python dependencies and build backend, pinned (regenerate: tools/image.sh lock)."
    echo "# Generated from pyproject.toml's ranges with $("$venv/bin/python" -V)."
    "$venv/bin/pip" freeze --all --exclude pip --exclude kafka-watchdog
  } >"$repo/docker/requirements.txt"
  echo "$repo/docker/requirements.txt"
}

case "${1:-}" in
  base) base ;;
  build) shift; build "$@" ;;
  size) shift; size "$@" ;;
  lock) lock ;;
  *) echo "usage: tools/image.sh base | build [TAG] | size [TAG] | lock" >&2; exit 2 ;;
esac
