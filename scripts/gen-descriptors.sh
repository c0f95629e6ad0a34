#!/usr/bin/env bash
# Regenerates proto/descriptor-set.binpb: protoc's descriptors for every .proto under proto/ plus gRPC's reflection
# protos (so list_services can name the reflection service itself), with every import included.
#
# Why protoc and not @grpc/proto-loader: protoc writes fully-qualified type names (leading dot) and real file
# names, which grpcurl needs (grpc/grpc-node#3018). The output is deterministic for a given protoc version: the input
# list is sorted bytewise and no source info is written. tests/proto/descriptor-set.test.ts checks the committed file
# against a fresh run of this script.
#
# Usage: scripts/gen-descriptors.sh [OUTPUT]   (default: proto/descriptor-set.binpb)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/proto/descriptor-set.binpb}"
reflection_dir="$root/node_modules/@grpc/reflection/build/proto"
reflection_protos=(grpc/reflection/v1/reflection.proto grpc/reflection/v1alpha/reflection.proto)

if ! command -v protoc >/dev/null 2>&1; then
  echo "gen-descriptors: protoc not found (Debian/Ubuntu: apt-get install protobuf-compiler)" >&2
  exit 1
fi
for f in "${reflection_protos[@]}"; do
  if [[ ! -f "$reflection_dir/$f" ]]; then
    echo "gen-descriptors: $reflection_dir/$f missing (run npm ci first)" >&2
    exit 1
  fi
done

cd "$root/proto"
mapfile -t protos < <(find . -name '*.proto' -type f | sed 's|^\./||' | LC_ALL=C sort)

# The well-known types (google/protobuf/*.proto) come from protoc's own include directory.
protoc -I. -I"$reflection_dir" --include_imports --descriptor_set_out="$out" "${protos[@]}" "${reflection_protos[@]}"
