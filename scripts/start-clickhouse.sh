#!/usr/bin/env bash
# Starts a private ClickHouse server (Debian's clickhouse-server, 18.16) on 127.0.0.1 for tests and local use.
#
#   scripts/start-clickhouse.sh [HTTP_PORT] [DIR] [TCP_PORT]
#
#   HTTP_PORT  HTTP interface port (default 8123); what otlp-capture talks to (CLICKHOUSE_URL).
#   DIR        where config, data, tmp files, logs and the pid file live (default: a new temp dir). Starting again
#              with the same DIR reuses its data, so a test can stop and restart "the same" server.
#   TCP_PORT   native protocol port; omitted by default, so several servers never collide on it.
#
# Installs clickhouse-server from Debian's archive when missing (apt-get update first; sudo when not root). Runs
# without systemd, in the background; waits until `SELECT 1` answers over HTTP. Set CLICKHOUSE_PASSWORD to give the
# `default` user a password. Prints the DIR on stdout (last line). Stop it with scripts/stop-clickhouse.sh DIR.
set -euo pipefail

http_port="${1:-8123}"
dir="${2:-}"
tcp_port="${3:-}"
wait_seconds="${CLICKHOUSE_START_TIMEOUT:-60}"

case "$http_port" in (*[!0-9]*|'') echo "start-clickhouse: HTTP_PORT must be a number, got '$http_port'" >&2; exit 2;; esac
case "$tcp_port" in (*[!0-9]*) echo "start-clickhouse: TCP_PORT must be a number, got '$tcp_port'" >&2; exit 2;; esac

if ! command -v clickhouse-server >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "start-clickhouse: installing Debian's clickhouse-server" >&2
  $sudo apt-get update -qq
  # The package's postinst tries to start the systemd unit; without systemd that is refused, harmlessly.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends clickhouse-server >/dev/null
fi

if [ -z "$dir" ]; then dir="$(mktemp -d "${TMPDIR:-/tmp}/clickhouse.XXXXXX")"; fi
mkdir -p "$dir/data" "$dir/tmp" "$dir/user_files" "$dir/log"
dir="$(cd "$dir" && pwd)"
pid_file="$dir/clickhouse-server.pid"

if [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
  echo "start-clickhouse: a server is already running from $dir (pid $(cat "$pid_file"))" >&2
  exit 1
fi

xml_escape() { local s="$1"; s="${s//&/&amp;}"; s="${s//</&lt;}"; s="${s//>/&gt;}"; printf '%s' "$s"; }

tcp_line=""
if [ -n "$tcp_port" ]; then tcp_line="<tcp_port>$tcp_port</tcp_port>"; fi

cat >"$dir/config.xml" <<EOF
<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>$dir/log/clickhouse-server.log</log>
        <errorlog>$dir/log/clickhouse-server.err.log</errorlog>
        <size>10M</size>
        <count>2</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>$http_port</http_port>
    $tcp_line
    <path>$dir/data/</path>
    <tmp_path>$dir/tmp/</tmp_path>
    <user_files_path>$dir/user_files/</user_files_path>
    <users_config>$dir/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <max_concurrent_queries>100</max_concurrent_queries>
    <!-- Idle keep-alive connections hold up a stop; tests stop and start servers often. -->
    <keep_alive_timeout>3</keep_alive_timeout>
    <shutdown_wait_unfinished>2</shutdown_wait_unfinished>
    <mark_cache_size>268435456</mark_cache_size>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
</yandex>
EOF

cat >"$dir/users.xml" <<EOF
<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
        </default>
    </profiles>
    <users>
        <default>
            <password>$(xml_escape "${CLICKHOUSE_PASSWORD:-}")</password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
EOF
chmod 600 "$dir/users.xml"

# setsid: the server must outlive this script and not get the caller's terminal signals.
( cd "$dir" && exec setsid clickhouse-server --config-file="$dir/config.xml" </dev/null >>"$dir/log/stdout.log" 2>&1 ) &
pid=$!
echo "$pid" >"$pid_file"

# A plain HTTP/1.0 request over bash's /dev/tcp: no curl needed. Answers "1" once queries run.
select_one() {
  local reply
  exec 3<>"/dev/tcp/127.0.0.1/$http_port" || return 1
  printf 'GET /?query=SELECT%%201 HTTP/1.0\r\nHost: 127.0.0.1\r\nX-ClickHouse-User: default\r\nX-ClickHouse-Key: %s\r\n\r\n' \
    "${CLICKHOUSE_PASSWORD:-}" >&3
  reply="$(timeout 2 cat <&3 || true)"
  exec 3<&-
  [[ "$reply" == "HTTP/1."?" 200"* ]] && [[ "${reply##*$'\r\n\r\n'}" == "1"* ]]
}

deadline=$((SECONDS + wait_seconds))
until select_one 2>/dev/null; do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "start-clickhouse: clickhouse-server exited during start-up; last log lines:" >&2
    tail -n 20 "$dir/log/clickhouse-server.err.log" "$dir/log/stdout.log" >&2 2>/dev/null || true
    rm -f "$pid_file"
    exit 1
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "start-clickhouse: no answer on 127.0.0.1:$http_port after ${wait_seconds}s; stopping it" >&2
    kill "$pid" 2>/dev/null || true
    rm -f "$pid_file"
    exit 1
  fi
  sleep 0.1
done

echo "start-clickhouse: ready on http://127.0.0.1:$http_port (pid $pid, dir $dir)" >&2
echo "$dir"
