#!/usr/bin/env bash
# Stops a server started by scripts/start-clickhouse.sh.
#
#   scripts/stop-clickhouse.sh DIR [--purge]
#
# SIGTERM, then SIGKILL after CLICKHOUSE_STOP_TIMEOUT seconds (default 20). Data stays in DIR (start again with the
# same DIR to reuse it) unless --purge is given, which removes DIR. Stopping a server that is not running succeeds.
set -euo pipefail

dir="${1:?usage: stop-clickhouse.sh DIR [--purge]}"
purge="${2:-}"
wait_seconds="${CLICKHOUSE_STOP_TIMEOUT:-20}"
pid_file="$dir/clickhouse-server.pid"

if [ -f "$pid_file" ]; then
  pid="$(cat "$pid_file")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + wait_seconds))
    while kill -0 "$pid" 2>/dev/null; do
      if [ "$SECONDS" -ge "$deadline" ]; then
        echo "stop-clickhouse: pid $pid still running after ${wait_seconds}s; killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
        break
      fi
      sleep 0.1
    done
  fi
  rm -f "$pid_file"
fi

if [ "$purge" = "--purge" ]; then rm -rf "$dir"; fi
