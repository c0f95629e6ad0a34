#!/usr/bin/env bash
# System packages the test suite needs, from Debian's archive. Idempotent: installs only what is missing.
#   protobuf-compiler: protoc, to check proto/descriptor-set.binpb is up to date with proto/.
#   libprotobuf-dev: the well-known types (google/protobuf/*.proto) protoc reads for that check.
#   clickhouse-server: ClickHouse 18.16; tests start private servers with scripts/start-clickhouse.sh.
#   zookeeperd: ZooKeeper 3.8 (and a JRE) for the two-server cluster of scripts/start-clickhouse-cluster.sh.
set -euo pipefail

need=()
command -v protoc >/dev/null 2>&1 || need+=(protobuf-compiler)
[ -f /usr/include/google/protobuf/duration.proto ] || need+=(libprotobuf-dev)
command -v clickhouse-server >/dev/null 2>&1 || need+=(clickhouse-server)
[ -f /usr/share/java/zookeeper.jar ] || need+=(zookeeperd)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "installing: ${need[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
