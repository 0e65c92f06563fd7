#!/usr/bin/env bash
# A real Apache Kafka broker for tests, benchmarks and local runs: one KRaft
# node (broker + controller) on 127.0.0.1, run from the pinned
# org.apache.kafka:kafka_2.13 artifact and its dependencies, resolved from
# Maven Central by Maven (Debian's `maven` package) and cached in ~/.m2.
# Java 17 and Maven come from scripts/install-deps.sh. No Docker.
#
# Usage:
#   scripts/kafka.sh start DIR PORT
#       Formats KRaft storage in DIR (once: a DIR that holds a broker's data
#       restarts it with that data, on the same ports), starts the broker on
#       127.0.0.1:PORT (0: a free port of its choosing), writes DIR/kafka.pid,
#       prints the bootstrap address ("127.0.0.1:PORT") and returns once the
#       broker answers metadata requests (kcat -L). Also listens for
#       SASL_PLAINTEXT (mechanism PLAIN, user "ranker", password
#       "ranker-secret": test credentials) on the address in DIR/sasl.bootstrap.
#   scripts/kafka.sh stop DIR
#       Stops the broker of DIR (SIGTERM, SIGKILL after 30 s); keeps its data.
#   scripts/kafka.sh topic DIR NAME PARTITIONS [key=value ...]
#       Creates a topic with per-topic configs, e.g. cleanup.policy=compact,
#       retention.bytes=1048576, segment.bytes=65536.
#   scripts/kafka.sh classpath
#       Resolves the broker (if needed) and prints its Java class path.
#
# Environment:
#   RANKER_KAFKA_HEAP   JVM heap (default 512m)
#   RANKER_KAFKA_JVM_OPTS  more JVM flags (e.g. -XX:TieredStopAtLevel=1: a
#                       fresh broker then compiles less, and runs slower warm)
#   RANKER_KAFKA_PARENT_PID  start: SIGKILL the broker once this process is
#                       gone (tests, so a crashed test binary leaves none behind)
#   RANKER_KAFKA_CACHE  where the resolved class path is kept
#                       (default: .cache/kafka in the repository, gitignored)
#
# The broker is tuned for tests on one machine: group.min.session.timeout.ms
# 1000 (the default is 6000), no initial rebalance delay, retention checked
# every second, the log cleaner backing off 1 s. Otherwise Kafka's defaults.
set -euo pipefail

KAFKA_VERSION=3.9.0  # the same as docker-compose.yml's apache/kafka image
SCALA_VERSION=2.13
SASL_USER=ranker
SASL_PASSWORD=ranker-secret

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${RANKER_KAFKA_CACHE:-$repo/.cache/kafka}

die() {
  echo "kafka.sh: $*" >&2
  exit 1
}

# The class path of the broker and the admin tools, resolved by Maven once
# per version (under a lock: test binaries may start brokers concurrently).
classpath() {
  local cp_file="$cache/classpath-$KAFKA_VERSION.txt"
  if [[ ! -s "$cp_file" ]]; then
    command -v mvn >/dev/null || die "mvn not found (scripts/install-deps.sh installs maven)"
    mkdir -p "$cache"
    (
      flock 9
      [[ -s "$cp_file" ]] && exit 0
      write_pom >"$cache/pom.xml"
      mvn -q -B -f "$cache/pom.xml" dependency:build-classpath \
        -Dmdep.includeScope=runtime -Dmdep.outputFile="$cp_file.tmp" >&2 ||
        die "Maven could not resolve org.apache.kafka:kafka_$SCALA_VERSION:$KAFKA_VERSION"
      mv "$cp_file.tmp" "$cp_file"
    ) 9>"$cache/.lock"
  fi
  cat "$cp_file"
}

write_pom() {
  cat <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>ranker</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>1</version>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_$SCALA_VERSION</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka-tools</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-reload4j</artifactId>
      <version>1.7.36</version>
    </dependency>
  </dependencies>
</project>
EOF
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Sets java_cmd: the JVM command line up to the main class.
java_cmd() {
  # shellcheck disable=SC2206  # RANKER_KAFKA_JVM_OPTS is a word list on purpose
  java_cmd=(java -Xms128m -Xmx"${RANKER_KAFKA_HEAP:-512m}" -XX:+UseG1GC ${RANKER_KAFKA_JVM_OPTS:-}
    -Djava.awt.headless=true -Dlog4j.configuration="file:$dir/log4j.properties"
    -cp "$(classpath)")
}

java_run() {  # main-class args...
  java_cmd
  "${java_cmd[@]}" "$@"
}

write_config() {  # port
  local port=$1 cport sport
  [[ "$port" == 0 ]] && port=$(free_port)
  cport=$(free_port)
  sport=$(free_port)
  cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport,SASL_PLAINTEXT://127.0.0.1:$sport
advertised.listeners=PLAINTEXT://127.0.0.1:$port,SASL_PLAINTEXT://127.0.0.1:$sport
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
sasl.enabled.mechanisms=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$SASL_USER="$SASL_PASSWORD";
log.dirs=$dir/data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
log.retention.check.interval.ms=1000
log.cleaner.backoff.ms=1000
log.segment.delete.delay.ms=1000
EOF
  echo "127.0.0.1:$port" >"$dir/bootstrap"
  echo "127.0.0.1:$sport" >"$dir/sasl.bootstrap"
  cat >"$dir/log4j.properties" <<EOF
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$dir/server.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
EOF
}

# The broker of $dir is alive (a zombie waiting to be reaped is not).
running() {
  [[ -s "$dir/kafka.pid" ]] || return 1
  local state
  state=$(ps -o stat= -p "$(cat "$dir/kafka.pid")" 2>/dev/null) || return 1
  [[ "$state" != Z* ]]
}

cmd_start() {
  [[ $# -eq 2 ]] || die "usage: kafka.sh start DIR PORT"
  mkdir -p "$1"
  dir=$(cd "$1" && pwd)
  running && die "a broker already runs from $dir (pid $(cat "$dir/kafka.pid"))"
  command -v kcat >/dev/null || die "kcat not found (scripts/install-deps.sh installs it)"
  [[ -s "$dir/server.properties" ]] || write_config "$2"
  if [[ ! -e "$dir/data/meta.properties" ]]; then
    local id
    # Like Kafka's own Uuid.randomUuid: never an id that starts with '-', which
    # the tool's argument parser would take for an option (1 in 64 would).
    id=$(python3 -c '
import base64, uuid
while True:
    id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    if not id.startswith("-"):
        print(id)
        break')
    java_run kafka.tools.StorageTool format --cluster-id="$id" -c "$dir/server.properties" \
      >"$dir/format.log" 2>&1 || die "storage format failed: $(tail -n 5 "$dir/format.log")"
  fi
  java_cmd
  # A simple command, so $! is the JVM's own pid (what stop and kill -9 need).
  "${java_cmd[@]}" kafka.Kafka "$dir/server.properties" >>"$dir/kafka.out" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$dir/kafka.pid"
  if [[ -n "${RANKER_KAFKA_PARENT_PID:-}" ]]; then
    (
      while kill -0 "$RANKER_KAFKA_PARENT_PID" 2>/dev/null && kill -0 "$pid" 2>/dev/null; do
        sleep 1
      done
      kill -9 "$pid" 2>/dev/null
    ) </dev/null >/dev/null 2>&1 &
  fi
  wait_ready "$(cat "$dir/bootstrap")"
  cat "$dir/bootstrap"
}

# Until the broker lists itself in a metadata answer (60 s at most).
wait_ready() {
  local deadline=$((SECONDS + 60))
  while ((SECONDS < deadline)); do
    running || die "the broker exited: $(tail -n 20 "$dir/kafka.out" "$dir/server.log" 2>/dev/null)"
    kcat -b "$1" -L -m 2 2>/dev/null | grep -q "1 brokers" && return 0
    sleep 0.2
  done
  die "the broker did not answer on $1 within 60 s (see $dir/server.log)"
}

cmd_stop() {
  [[ $# -eq 1 ]] || die "usage: kafka.sh stop DIR"
  dir=$(cd "$1" && pwd)
  running || return 0
  local pid
  pid=$(cat "$dir/kafka.pid")
  kill -TERM "$pid"
  for _ in $(seq 1 300); do
    running || { rm -f "$dir/kafka.pid"; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$dir/kafka.pid"
}

cmd_topic() {
  [[ $# -ge 3 ]] || die "usage: kafka.sh topic DIR NAME PARTITIONS [key=value ...]"
  dir=$(cd "$1" && pwd)
  local name=$2 partitions=$3 configs=()
  shift 3
  for kv in "$@"; do configs+=(--config "$kv"); done
  java_run org.apache.kafka.tools.TopicCommand --bootstrap-server "$(cat "$dir/bootstrap")" \
    --create --if-not-exists --topic "$name" --partitions "$partitions" \
    --replication-factor 1 "${configs[@]}" >/dev/null
}

case "${1:-}" in
  start) shift && cmd_start "$@" ;;
  stop) shift && cmd_stop "$@" ;;
  topic) shift && cmd_topic "$@" ;;
  classpath) classpath ;;
  *) die "usage: kafka.sh start DIR PORT | stop DIR | topic DIR NAME PARTITIONS [key=value ...] | classpath" ;;
esac
