#!/usr/bin/env bash
# Stops the s3rver that scripts/start-s3.sh started on PORT (default 4568). Removes its data directory only if
# start-s3.sh created it (no DIR given); a directory you named is kept.
set -euo pipefail

port="${1:-4568}"
pidfile="${TMPDIR:-/tmp}/otlp-capture-s3rver-$port.pid"
if [ ! -f "$pidfile" ]; then
  echo "stop-s3.sh: no s3rver started by start-s3.sh on port $port ($pidfile is missing)" >&2
  exit 0
fi
pid="$(sed -n 1p "$pidfile")"
dir="$(sed -n 2p "$pidfile")"
created="$(sed -n 3p "$pidfile")"

if kill -0 "$pid" 2>/dev/null; then
  kill "$pid"
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
fi
rm -f "$pidfile"
if [ "$created" = "yes" ] && [ -n "$dir" ]; then
  rm -rf "$dir"
  echo "stopped s3rver (pid $pid) and removed $dir" >&2
else
  echo "stopped s3rver (pid $pid); data kept in $dir" >&2
fi
