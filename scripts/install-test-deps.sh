#!/usr/bin/env bash
# System packages the test suite needs, from Debian's archive. Idempotent: installs only what is missing.
#   protobuf-compiler: protoc, to check proto/descriptor-set.binpb is up to date with proto/.
#   clickhouse-server: ClickHouse 18.16; tests start private servers with scripts/start-clickhouse.sh.
#   golang-go + the Go zstd and snappy libraries: tests/helpers/go-encoder compresses requests exactly as the
#     Collector's exporters do (klauspost/compress, golang/snappy), built offline from Debian's Go sources.
set -euo pipefail

need=()
command -v protoc >/dev/null 2>&1 || need+=(protobuf-compiler)
command -v clickhouse-server >/dev/null 2>&1 || need+=(clickhouse-server)
command -v go >/dev/null 2>&1 || need+=(golang-go)
[ -d /usr/share/gocode/src/github.com/klauspost/compress/zstd ] || need+=(golang-github-klauspost-compress-dev)
[ -d /usr/share/gocode/src/github.com/golang/snappy ] || need+=(golang-github-golang-snappy-dev)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "installing: ${need[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
