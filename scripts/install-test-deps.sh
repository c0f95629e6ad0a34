#!/usr/bin/env bash
# System packages the test suite needs, from Debian's archive. Idempotent: installs only what is missing.
#   protobuf-compiler: protoc, to check proto/descriptor-set.binpb is up to date with proto/.
#   libprotobuf-dev: the well-known types (google/protobuf/*.proto) protoc reads for that check.
#   clickhouse-server: ClickHouse 18.16; tests start private servers with scripts/start-clickhouse.sh.
#   python3-grpcio, python3-protobuf, protobuf-compiler-grpc: gRPC C-core as a second, independent HTTP/2 client
#     of the OTLP listener (tests/receiver/grpc/grpcio-client.int.test.ts), with stubs from grpc_python_plugin;
#     run with /usr/bin/python3 (Debian's Python, which sees Debian's packages).
#   prometheus: the server and promtool; tests check and unit-test deploy/prometheus/ and start private servers
#     (loopback, ephemeral port, temporary data directory) that scrape a running `serve`.
#   golang-go + the Go zstd and snappy libraries: tests/helpers/go-encoder compresses requests exactly as the
#     Collector's exporters do (klauspost/compress, golang/snappy), built offline from Debian's Go sources.
#   zookeeperd: ZooKeeper 3.8 (and a JRE) for the two-server cluster of scripts/start-clickhouse-cluster.sh.
#   golang-google-grpc-dev: grpc-go for tests/helpers/grpc-go-client, a real grpc-go client sending gzip, zstd and
#     snappy Exports with the Collector's compressors (tests/e2e/grpc-encodings.int.test.ts).
#   faketime: libfaketime, to step the wall clock of a running `serve` (tests/e2e/clock-step.int.test.ts).
set -euo pipefail

need=()
command -v protoc >/dev/null 2>&1 || need+=(protobuf-compiler)
[ -f /usr/include/google/protobuf/duration.proto ] || need+=(libprotobuf-dev)
command -v clickhouse-server >/dev/null 2>&1 || need+=(clickhouse-server)
command -v grpc_python_plugin >/dev/null 2>&1 || need+=(protobuf-compiler-grpc)
/usr/bin/python3 -c 'import grpc' >/dev/null 2>&1 || need+=(python3-grpcio)
/usr/bin/python3 -c 'import google.protobuf' >/dev/null 2>&1 || need+=(python3-protobuf)
{ command -v prometheus && command -v promtool; } >/dev/null 2>&1 || need+=(prometheus)
command -v go >/dev/null 2>&1 || need+=(golang-go)
[ -d /usr/share/gocode/src/github.com/klauspost/compress/zstd ] || need+=(golang-github-klauspost-compress-dev)
[ -d /usr/share/gocode/src/github.com/golang/snappy ] || need+=(golang-github-golang-snappy-dev)
[ -f /usr/share/java/zookeeper.jar ] || need+=(zookeeperd)
[ -d /usr/share/gocode/src/google.golang.org/grpc/encoding ] || need+=(golang-google-grpc-dev)
command -v faketime >/dev/null 2>&1 || need+=(faketime)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

# Packages with a service (prometheus) try to start it from their postinst. Tests start their own servers, so a
# service start is neither needed nor allowed to fail the install: policy-rc.d exit 101 tells invoke-rc.d "don't".
# Only a policy we put there ourselves is removed again.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
  $sudo chmod 755 "$policy"
  trap '$sudo rm -f "$policy"' EXIT
fi

echo "installing: ${need[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
