#!/bin/sh
# Copy the generated alert rules and dashboards into the Helm chart (Helm cannot read files
# outside the chart):
#   alerts/*.rules.yml  -> helm/kafka-watchdog/files/alerts/
#   dashboards/*.json   -> helm/kafka-watchdog/files/dashboards/
# The chart's copies mirror the sources: a source that is gone loses its copy. Idempotent: a
# second run changes nothing. A source folder that does not exist yet leaves the chart's
# folder empty.
#
#   tools/chart-files.sh           copy (make chart-files; make generate calls it)
#   tools/chart-files.sh --check   exit 1 and name the files when the chart's copies differ
set -eu

repo=$(cd "$(dirname "$0")/.." && pwd)
chart=$repo/helm/kafka-watchdog/files
check=false
[ "${1:-}" = "--check" ] && check=true
stale=0

mirror() {  # mirror SOURCE_DIR PATTERN DEST_DIR
  src=$1 pattern=$2 dest=$3
  mkdir -p "$dest"
  for file in "$src"/$pattern; do
    [ -f "$file" ] || continue
    name=$(basename "$file")
    if ! cmp -s "$file" "$dest/$name"; then
      if $check; then echo "stale: $dest/$name (from $file)" >&2; stale=1
      else cp "$file" "$dest/$name"; fi
    fi
  done
  for copy in "$dest"/$pattern; do
    [ -f "$copy" ] || continue
    if [ ! -f "$src/$(basename "$copy")" ]; then
      if $check; then echo "stale: $copy (its source is gone)" >&2; stale=1
      else rm "$copy"; fi
    fi
  done
}

mirror "$repo/alerts" "*.rules.yml" "$chart/alerts"
mirror "$repo/dashboards" "*.json" "$chart/dashboards"
if [ $stale -ne 0 ]; then
  echo "the chart's copies are stale: run make chart-files" >&2
  exit 1
fi
