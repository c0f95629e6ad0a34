#!/bin/sh
# One-shot for docker-compose.yaml (service `certs`): a private CA, a server certificate for otlp-capture (also
# valid for localhost and 127.0.0.1, so grpcurl on the host can verify it) and two random bearer tokens, written to
# the `certs` volume: `token` may ingest (the Collector sends it), `read-token` may read and replay (for you, on the
# API port) and scrape /metrics (compose/otlp-capture.yaml gives it those scopes). otlp-capture reads server.crt, server.key, token and read-token; the Collector reads ca.crt and token.
# Files already there are kept, so a restart of the stack keeps its certificates and tokens; a missing one is made.
#
#   CERT_DIR    where to write (default /certs)
#   CERT_OWNER  uid:gid that must read the key and token (default 10001:10001, the user of both the otlp-capture
#               and the Collector images); applied only when running as root
set -eu

dir=${CERT_DIR:-/certs}
owner=${CERT_OWNER:-10001:10001}

if [ -s "$dir/server.crt" ] && [ -s "$dir/server.key" ] && [ -s "$dir/ca.crt" ] && [ -s "$dir/token" ] && [ -s "$dir/read-token" ]; then
  echo "certs: keeping the certificates and tokens in $dir"
  exit 0
fi

# alpine has no openssl CLI by default.
command -v openssl >/dev/null 2>&1 || apk add --no-cache openssl >/dev/null

# Others must be able to enter the directory (the files' own modes protect the key and token).
mkdir -p "$dir"
chmod 0755 "$dir"

umask 077
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A volume from before the read token existed: add it, keep the rest.
if [ -s "$dir/server.crt" ] && [ -s "$dir/server.key" ] && [ -s "$dir/ca.crt" ] && [ -s "$dir/token" ]; then
  openssl rand -hex 32 > "$work/read-token"
  cp "$work/read-token" "$dir/"
  chmod 0400 "$dir/read-token"
  if [ "$(id -u)" = 0 ]; then chown "$owner" "$dir/read-token"; fi
  echo "certs: keeping the certificates and token in $dir; wrote a read token"
  exit 0
fi

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 \
  -subj "/CN=otlp-capture demo CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -keyout "$work/ca.key" -out "$work/ca.crt" 2>/dev/null

openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=otlp-capture" \
  -keyout "$work/server.key" -out "$work/server.csr" 2>/dev/null

cat > "$work/server.ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:otlp-capture,DNS:localhost,IP:127.0.0.1
EOF
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" -CAcreateserial -days 825 \
  -extfile "$work/server.ext" -out "$work/server.crt" 2>/dev/null

# 32 random bytes, hex: printable ASCII without spaces, as otlp-capture requires of a token. Two different ones:
# otlp-capture refuses one secret configured with two sets of scopes.
openssl rand -hex 32 > "$work/token"
openssl rand -hex 32 > "$work/read-token"

cp "$work/ca.crt" "$work/server.crt" "$work/server.key" "$work/token" "$work/read-token" "$dir/"
chmod 0444 "$dir/ca.crt" "$dir/server.crt"
chmod 0400 "$dir/server.key" "$dir/token" "$dir/read-token"
if [ "$(id -u)" = 0 ]; then
  chown "$owner" "$dir/ca.crt" "$dir/server.crt" "$dir/server.key" "$dir/token" "$dir/read-token"
fi
echo "certs: wrote a CA, a server certificate (otlp-capture, localhost, 127.0.0.1), a token and a read token to $dir"
