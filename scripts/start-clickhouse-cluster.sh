#!/usr/bin/env bash
# Starts a two-node ClickHouse cluster on 127.0.0.1 for tests and local use: Debian's ZooKeeper (zookeeperd, 3.8) and
# two ClickHouse 18.16 servers (scripts/start-clickhouse.sh), each one shard of cluster NAME with macros {shard} and
# {replica}, ON CLUSTER DDL enabled. otlp-capture uses it with index.clickhouse.cluster: NAME (CLICKHOUSE_CLUSTER).
#
#   scripts/start-clickhouse-cluster.sh DIR ZK_PORT NODE1 NODE2 [NAME]
#
#   DIR      where ZooKeeper's and both servers' data, config and logs live (DIR/zookeeper, DIR/node1, DIR/node2).
#            Starting again with the same DIR reuses the data.
#   ZK_PORT  ZooKeeper's client port.
#   NODE1/2  HTTP,TCP,INTERSERVER ports of each server, e.g. 8123,9000,9009 (TCP: distributed queries between the
#            servers; INTERSERVER: replication).
#   NAME     the cluster's name in remote_servers (default otlp_capture_cluster).
#
# Installs zookeeperd from Debian's archive when missing. Stop everything with scripts/stop-clickhouse-cluster.sh DIR;
# one server alone with scripts/stop-clickhouse.sh DIR/nodeN (and start it again with start-clickhouse.sh HTTP DIR/nodeN TCP).
set -euo pipefail

dir="${1:?usage: start-clickhouse-cluster.sh DIR ZK_PORT HTTP,TCP,INTERSERVER HTTP,TCP,INTERSERVER [NAME]}"
zk_port="${2:?ZooKeeper port missing}"
node1="${3:?ports of node 1 missing}"
node2="${4:?ports of node 2 missing}"
name="${5:-otlp_capture_cluster}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
wait_seconds="${CLICKHOUSE_START_TIMEOUT:-60}"

for value in "$zk_port" ${node1//,/ } ${node2//,/ }; do
  case "$value" in (*[!0-9]*|'') echo "start-clickhouse-cluster: ports must be numbers, got '$value'" >&2; exit 2;; esac
done
case "$name" in (*[!A-Za-z0-9_]*|'') echo "start-clickhouse-cluster: NAME must be letters, digits and _" >&2; exit 2;; esac

if [ ! -f /usr/share/java/zookeeper.jar ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "start-clickhouse-cluster: installing Debian's zookeeperd" >&2
  $sudo apt-get update -qq
  # Its postinst would start the systemd unit; without systemd that is refused, harmlessly.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends zookeeperd >/dev/null
fi

mkdir -p "$dir/zookeeper/data"
dir="$(cd "$dir" && pwd)"
zk_pid="$dir/zookeeper/zookeeper.pid"

# A plain "srvr" over bash's /dev/tcp: no nc needed. ZooKeeper answers it once it serves.
zk_ready() {
  local reply
  exec 3<>"/dev/tcp/127.0.0.1/$zk_port" || return 1
  printf 'srvr' >&3
  reply="$(timeout 2 cat <&3 || true)"
  exec 3<&-
  [[ "$reply" == *"Mode: standalone"* ]]
}

if ! { [ -f "$zk_pid" ] && kill -0 "$(cat "$zk_pid")" 2>/dev/null; }; then
  ( cd "$dir/zookeeper" && exec setsid java -Xmx256m -Dzookeeper.admin.enableServer=false -Dzookeeper.4lw.commands.whitelist=srvr \
      -cp /etc/zookeeper/conf:/usr/share/java/zookeeper.jar org.apache.zookeeper.server.ZooKeeperServerMain \
      "$zk_port" "$dir/zookeeper/data" </dev/null >>"$dir/zookeeper/zookeeper.log" 2>&1 ) &
  echo "$!" >"$zk_pid"
fi
deadline=$((SECONDS + wait_seconds))
until zk_ready 2>/dev/null; do
  if ! kill -0 "$(cat "$zk_pid")" 2>/dev/null; then
    echo "start-clickhouse-cluster: ZooKeeper exited during start-up:" >&2
    tail -n 20 "$dir/zookeeper/zookeeper.log" >&2 || true
    exit 1
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then echo "start-clickhouse-cluster: ZooKeeper did not answer on $zk_port" >&2; exit 1; fi
  sleep 0.2
done

IFS=, read -r http1 tcp1 inter1 <<<"$node1"
IFS=, read -r http2 tcp2 inter2 <<<"$node2"
shard_xml() {
  printf '<shard><internal_replication>true</internal_replication><replica><host>127.0.0.1</host><port>%s</port></replica></shard>' "$1"
}
for n in 1 2; do
  node="$dir/node$n"
  mkdir -p "$node/config.d"
  inter_var="inter$n"
  cat >"$node/config.d/cluster.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <interserver_http_host>127.0.0.1</interserver_http_host>
    <interserver_http_port>${!inter_var}</interserver_http_port>
    <zookeeper><node><host>127.0.0.1</host><port>$zk_port</port></node></zookeeper>
    <remote_servers><$name>$(shard_xml "$tcp1")$(shard_xml "$tcp2")</$name></remote_servers>
    <macros><shard>0$n</shard><replica>node$n</replica></macros>
    <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>
</yandex>
XML
done
"$here/start-clickhouse.sh" "$http1" "$dir/node1" "$tcp1" >/dev/null
"$here/start-clickhouse.sh" "$http2" "$dir/node2" "$tcp2" >/dev/null
echo "start-clickhouse-cluster: $name ready: http://127.0.0.1:$http1 and http://127.0.0.1:$http2 (ZooKeeper :$zk_port, dir $dir)" >&2
echo "$dir"
