#!/bin/sh
# Build one of the Go tools the chart checks need, once per machine, and print its path.
#
#   tools/go-tool.sh helm            helm v3 (Debian has none)
#   tools/go-tool.sh helm-unittest   helm-unittest, run as `helm-unittest CHARTDIR`
#
# Binaries live in ${KAFKA_WATCHDOG_CACHE:-~/.cache/kafka-watchdog}/tools/<name>-<version>/,
# keyed by version, never in the repo. A cold build of helm takes about 6 minutes and 1 GB of
# memory, so it happens once; a second call only prints the path. A file lock per tool makes
# parallel callers wait for the first build instead of starting their own. The binary is moved
# into place last, so an interrupted build leaves nothing that looks finished.
set -eu

HELM_VERSION=v3.22.0
HELM_UNITTEST_VERSION=v1.1.2

tool=${1:?usage: tools/go-tool.sh helm|helm-unittest}
case "$tool" in
  helm) version=$HELM_VERSION ;;
  helm-unittest) version=$HELM_UNITTEST_VERSION ;;
  *) echo "go-tool.sh: unknown tool '$tool' (helm or helm-unittest)" >&2; exit 2 ;;
esac

go=${GO:-go}
command -v "$go" >/dev/null || {
  echo "go-tool.sh: Go >= 1.26 is needed to build $tool (go.dev/dl; set GO=/path/to/go)" >&2
  exit 1
}

cache=${KAFKA_WATCHDOG_CACHE:-$HOME/.cache/kafka-watchdog}
dir=$cache/tools/$tool-$version
bin=$dir/$tool
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi

mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi

work=$(mktemp -d "$dir/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "go-tool.sh: building $tool $version into $dir (once per machine)" >&2
case "$tool" in
  helm)
    GOBIN=$work "$go" install "helm.sh/helm/v3/cmd/helm@$version" >&2
    ;;
  helm-unittest)
    # `go install` refuses helm-unittest: its go.mod has a replace directive. A wrapper module
    # that requires it and repeats that one replace builds the same binary.
    (
      cd "$work"
      "$go" mod init kafka-watchdog/helm-unittest-wrapper >/dev/null 2>&1
      "$go" mod edit -replace=github.com/vmware-labs/yaml-jsonpath@v0.3.2=github.com/helm-unittest/yaml-jsonpath@v0.4.0
      "$go" get "github.com/helm-unittest/helm-unittest/cmd/helm-unittest@$version" >&2
      "$go" build -o "$work/helm-unittest" github.com/helm-unittest/helm-unittest/cmd/helm-unittest >&2
    )
    ;;
esac
mv "$work/$tool" "$bin"
echo "$bin"
