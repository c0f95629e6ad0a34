#!/usr/bin/env bash
# Starts a local S3-protocol server (s3rver, from node_modules) on 127.0.0.1 for tests and demos, creates a bucket,
# waits until it answers, and prints the environment that points otlp-capture at it:
#
#   eval "$(scripts/start-s3.sh)"            # port 4568, a new temp directory, bucket otlp-capture
#   scripts/start-s3.sh 9000 /srv/s3-data    # given port and data directory (kept across restarts)
#   scripts/stop-s3.sh [PORT]
#
# s3rver needs S3_CHECKSUMS=when_required (with the SDK default it stores a streamed body's aws-chunked framing) and
# path-style addressing. Bucket name: $S3_BUCKET (default otlp-capture). State (pid, log) lives beside the data in
# DIR; ${TMPDIR:-/tmp}/otlp-capture-s3rver-PORT.pid points stop-s3.sh at it.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
port="${1:-4568}"
dir="${2:-}"
bucket="${S3_BUCKET:-otlp-capture}"
bin="$root/node_modules/s3rver/bin/s3rver.js"
pidfile="${TMPDIR:-/tmp}/otlp-capture-s3rver-$port.pid"

[[ "$port" =~ ^[0-9]+$ ]] || { echo "start-s3.sh: PORT must be a number, got '$port'" >&2; exit 2; }
[ -f "$bin" ] || { echo "start-s3.sh: $bin is missing: run npm ci first" >&2; exit 1; }
if [ -f "$pidfile" ] && kill -0 "$(head -n1 "$pidfile")" 2>/dev/null; then
  echo "start-s3.sh: an s3rver started by this script already runs on port $port (pid $(head -n1 "$pidfile")); scripts/stop-s3.sh $port stops it" >&2
  exit 1
fi

created=""
if [ -z "$dir" ]; then
  dir="$(mktemp -d "${TMPDIR:-/tmp}/otlp-capture-s3.XXXXXX")"
  created="yes"
fi
mkdir -p "$dir/data"
dir="$(cd "$dir" && pwd)"
log="$dir/s3rver.log"

# --openssl-legacy-provider: s3rver encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3 keeps there.
nohup node --openssl-legacy-provider "$bin" -d "$dir/data" -a 127.0.0.1 -p "$port" --silent --no-vhost-buckets \
  --configure-bucket "$bucket" >"$log" 2>&1 </dev/null &
pid=$!
printf '%s\n%s\n%s\n' "$pid" "$dir" "$created" >"$pidfile"

endpoint="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
  if ! kill -0 "$pid" 2>/dev/null; then
    rm -f "$pidfile"
    echo "start-s3.sh: s3rver exited at start (port $port in use?):" >&2
    cat "$log" >&2
    exit 1
  fi
  # Any HTTP answer means it is up (the bucket exists before it listens).
  if node -e "fetch('$endpoint/').then(() => process.exit(0), () => process.exit(1))" 2>/dev/null; then
    echo "s3rver (pid $pid) serves bucket '$bucket' at $endpoint, data in $dir/data, log $log" >&2
    cat <<ENV
export S3_ENDPOINT=$endpoint
export S3_BUCKET=$bucket
export S3_REGION=us-east-1
export S3_ACCESS_KEY=S3RVER
export S3_SECRET_KEY=S3RVER
export S3_FORCE_PATH_STYLE=true
export S3_CHECKSUMS=when_required
ENV
    exit 0
  fi
  sleep 0.1
done
echo "start-s3.sh: s3rver did not answer at $endpoint within 10 s; log: $log" >&2
kill "$pid" 2>/dev/null || true
rm -f "$pidfile"
exit 1
