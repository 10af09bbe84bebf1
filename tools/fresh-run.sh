#!/usr/bin/env bash
# `make test` as CI runs it, on a fresh clone of this checkout's HEAD, timed, with the load
# sampled every 30 s; with "stress", stress-ng keeps every core busy from start to end (the
# busy-machine check of docs/testing.md).
#
#   tools/fresh-run.sh NAME [stress]
#
# Writes /tmp/ci-NAME.log (the run's output), /tmp/ci-NAME.load (uptime every 30 s) and
# /tmp/ci-NAME.result (commit, mode, exit code, seconds). The clone is /tmp/ci-NAME; its
# JVMs are reaped at the end whatever happened.
set -uo pipefail
name=${1:?usage: tools/fresh-run.sh NAME [stress]}
mode=${2:-idle}
repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
dir=/tmp/ci-$name
rm -rf "$dir"
git clone --quiet "$repo" "$dir"
commit=$(git -C "$dir" rev-parse --short HEAD)
(while sleep 30; do echo "$(date -u +%T) $(cut -d' ' -f1-3 /proc/loadavg)"; done) >"$dir.load" &
sampler=$!
hog=
if [ "$mode" = stress ]; then
  command -v stress-ng >/dev/null || make -C "$dir" --no-print-directory stress-ng
  stress-ng --cpu 0 --timeout 120m --quiet &
  hog=$!
  sleep 2
fi
began=$(date +%s)
(cd "$dir" && bash .ci/run) >"$dir.log" 2>&1
rc=$?
took=$(( $(date +%s) - began ))
[ -n "$hog" ] && kill "$hog" 2>/dev/null
kill "$sampler" 2>/dev/null
(cd "$dir" && .venv/bin/python -m testcluster reap) >/dev/null 2>&1
echo "$commit $mode rc=$rc ${took}s" >"$dir.result"
cat "$dir.result"
exit "$rc"
