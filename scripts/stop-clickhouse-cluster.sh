#!/usr/bin/env bash
# Stops what scripts/start-clickhouse-cluster.sh started in DIR: both ClickHouse servers, then ZooKeeper.
#
#   scripts/stop-clickhouse-cluster.sh DIR [--purge]     (--purge also removes DIR)
set -euo pipefail

dir="${1:?usage: stop-clickhouse-cluster.sh DIR [--purge]}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
for node in "$dir/node1" "$dir/node2"; do
  if [ -d "$node" ]; then "$here/stop-clickhouse.sh" "$node"; fi
done
zk_pid="$dir/zookeeper/zookeeper.pid"
if [ -f "$zk_pid" ]; then
  pid="$(cat "$zk_pid")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$zk_pid"
fi
if [ "${2:-}" = "--purge" ]; then rm -rf "$dir"; fi
