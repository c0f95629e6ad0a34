#!/usr/bin/env bash
# System packages the test suite needs, from Debian's archive. Idempotent: installs only what is missing.
#   protobuf-compiler: protoc, to check proto/descriptor-set.binpb is up to date with proto/.
#   clickhouse-server: ClickHouse 18.16; tests start private servers with scripts/start-clickhouse.sh.
#   python3-grpcio, python3-protobuf, protobuf-compiler-grpc: gRPC C-core as a second, independent HTTP/2 client
#     of the OTLP listener (tests/receiver/grpc/grpcio-client.int.test.ts), with stubs from grpc_python_plugin;
#     run with /usr/bin/python3 (Debian's Python, which sees Debian's packages).
set -euo pipefail

need=()
command -v protoc >/dev/null 2>&1 || need+=(protobuf-compiler)
command -v clickhouse-server >/dev/null 2>&1 || need+=(clickhouse-server)
command -v grpc_python_plugin >/dev/null 2>&1 || need+=(protobuf-compiler-grpc)
/usr/bin/python3 -c 'import grpc' >/dev/null 2>&1 || need+=(python3-grpcio)
/usr/bin/python3 -c 'import google.protobuf' >/dev/null 2>&1 || need+=(python3-protobuf)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "installing: ${need[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
