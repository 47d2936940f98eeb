#!/usr/bin/env bash
# A real, single-node Apache Kafka broker (KRaft, combined broker+controller) for
# tests, without Docker. The jars come from Maven Central through Maven (pom.xml
# beside this script) and are cached; the broker runs as a plain java process.
#
#   kafka.sh up       resolve jars (once), format storage if needed, start, wait
#   kafka.sh start    start again on existing data (no format), wait
#   kafka.sh stop     stop the broker (SIGTERM, then SIGKILL after 30 s), keep data
#   kafka.sh down     stop and delete the data dir
#   kafka.sh status   exit 0 if the broker answers a Metadata request, 1 otherwise
#   kafka.sh log      print the path of the broker log
#   kafka.sh env      print the variables below without starting anything
#   kafka.sh fetch    only fetch the jars and build the probe (CI warm-up)
#
# A three-broker cluster (KRaft: one controller, node 0, and brokers 1-3;
# replication factor 3, min.insync.replicas=2), for the chaos tests:
#   kafka.sh cluster up             format (once), start the four nodes, wait
#                                   until the three brokers are registered
#   kafka.sh cluster down           stop every node, delete the data
#   kafka.sh cluster status         each node's state; exit 0 if all three
#                                   brokers are registered and unfenced
#   kafka.sh cluster env            print the variables below
#   kafka.sh cluster stop-node N    SIGTERM broker N (1-3), wait for its exit
#   kafka.sh cluster kill-node N    SIGKILL broker N, wait for its exit
#   kafka.sh cluster start-node N   start broker N on its data, wait until
#                                   it is registered again
#   kafka.sh cluster pause-node N   SIGSTOP broker N (a hang, not a death)
#   kafka.sh cluster resume-node N  SIGCONT broker N
#   kafka.sh cluster log N          print the path of node N's log (0-3)
# cluster up ends by printing, on stdout and nothing else:
#   KAFKA_CLUSTER_BROKERS=127.0.0.1:19192,127.0.0.1:19193,127.0.0.1:19194
#   KAFKA_CLUSTER_CONTROLLER=127.0.0.1:19195
#   KAFKA_CLUSTER_DIR=/tmp/eventguard-kafka-cluster-19192
#   KAFKA_CLUSTER_LOGS=<node1 log>,<node2 log>,<node3 log>,<controller log>
# Cluster environment: KAFKA_CLUSTER_PORT (19192: brokers on it and the next
# two ports, the controller on +3), KAFKA_CLUSTER_DIR
# (${TMPDIR:-/tmp}/eventguard-kafka-cluster-$KAFKA_CLUSTER_PORT),
# KAFKA_CLUSTER_HEAP_OPTS (per broker, -Xms128m -Xmx512m),
# KAFKA_CLUSTER_CONTROLLER_HEAP_OPTS (-Xms64m -Xmx256m); KAFKA_WAIT, JAVA,
# KAFKA_JAVA_OPTS, KAFKA_VERSION and XDG_CACHE_HOME as below.
#
# up and start end by printing, on stdout and nothing else:
#   KAFKA_BROKERS=127.0.0.1:19092
#   KAFKA_LOG=/tmp/eventguard-kafka-19092/broker.log
#   KAFKA_DIR=/tmp/eventguard-kafka-19092
#   KAFKA_SASL_SSL_BROKERS=127.0.0.1:19094
#   KAFKA_MTLS_BROKERS=127.0.0.1:19095
#   KAFKA_TLS_CA=/tmp/eventguard-kafka-19092/tls/ca.pem
#   KAFKA_TLS_CLIENT_CERT=/tmp/eventguard-kafka-19092/tls/client.pem
#   KAFKA_TLS_CLIENT_KEY=/tmp/eventguard-kafka-19092/tls/client.key
# so `eval "$(test/kafka/kafka.sh up)"` sets them. Progress goes to stderr.
#
# Besides PLAINTEXT, the broker has two secured listeners, as production
# clusters do, both with TLS certificates from a private CA made once with
# openssl (KAFKA_TLS_CA; the broker's is for 127.0.0.1 and localhost):
# SASL_SSL on KAFKA_PORT+2, with SASL PLAIN for the user eventguard /
# eventguard-secret and SCRAM-SHA-256/512 for users created through the Admin
# API; and SSL on KAFKA_PORT+3 that requires a client certificate from the
# same CA (mutual TLS; KAFKA_TLS_CLIENT_CERT and _KEY are one). There is no
# authorizer: an authenticated client may do anything.
#
# Environment: KAFKA_PORT (19092; the controller listens on KAFKA_PORT+1,
# SASL_SSL on KAFKA_PORT+2, mutual TLS on KAFKA_PORT+3),
# KAFKA_DIR (${TMPDIR:-/tmp}/eventguard-kafka-$KAFKA_PORT), KAFKA_WAIT (seconds to
# wait for the broker, 90), JAVA (java binary; else $JAVA_HOME/bin/java; else
# java), KAFKA_HEAP_OPTS (-Xms256m -Xmx1g), KAFKA_JAVA_OPTS (more JVM options),
# KAFKA_VERSION (the pinned version below), XDG_CACHE_HOME (jar cache root).
set -euo pipefail

# Pinned: the newest 4.x release that resolves and starts on Java 17 (see pom.xml
# for the one dependency excluded). Keep in step with <kafka.version> in pom.xml.
KAFKA_VERSION="${KAFKA_VERSION:-4.4.0}"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
root="$(cd "$here/../.." && pwd -P)"

port="${KAFKA_PORT:-19092}"
wait_s="${KAFKA_WAIT:-90}"
if ! [[ $port =~ ^[0-9]{1,5}$ ]] || ((port < 1 || port > 65532)); then
	echo "kafka.sh: KAFKA_PORT must be a port number below 65533, got '$port'" >&2
	exit 2
fi
if ! [[ $wait_s =~ ^[0-9]{1,6}$ ]] || ((wait_s < 1)); then
	echo "kafka.sh: KAFKA_WAIT must be a positive number of seconds, got '$wait_s'" >&2
	exit 2
fi
cport=$((port + 1))
sport=$((port + 2))
mport=$((port + 3))
brokers="127.0.0.1:$port"

dir="${KAFKA_DIR:-${TMPDIR:-/tmp}/eventguard-kafka-$port}"
[[ $dir == /* ]] || dir="$PWD/$dir"
dir="${dir%/}"
log="$dir/broker.log"
pidfile="$dir/broker.pid"
marker="$dir/.eventguard-kafka" # only a dir with this file is ever deleted

cache="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/eventguard"
kdir="$cache/kafka-$KAFKA_VERSION"
lib="$kdir/lib"

if [[ -n ${JAVA:-} ]]; then
	java_bin="$JAVA"
elif [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]]; then
	java_bin="$JAVA_HOME/bin/java"
else
	java_bin=java
fi

say() { echo "kafka.sh: $*" >&2; }
usage() {
	sed -n '2,/^set -euo/p' "$here/kafka.sh" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}
die() {
	say "$*"
	exit 1
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

# lock FD FILE: hold an exclusive lock on FILE through FD (no-op without flock).
lock() {
	eval "exec $1>\"\$2\""
	if command -v flock >/dev/null; then
		flock -w 600 "$1" || die "could not lock $2 within 600 s"
	fi
}

# ---- jars --------------------------------------------------------------------

ensure_jars() {
	local want stamp tmp
	want="$KAFKA_VERSION $(sha256sum "$here/pom.xml" | cut -c1-16)"
	stamp="$lib/.complete"
	[[ -f $stamp && "$(cat "$stamp")" == "$want" ]] && return 0
	mkdir -p "$kdir"
	lock 8 "$kdir/.lock"
	if [[ -f $stamp && "$(cat "$stamp")" == "$want" ]]; then
		exec 8>&-
		return 0
	fi
	command -v mvn >/dev/null || die "Maven (mvn) is needed once to fetch the Kafka $KAFKA_VERSION jars (apt-get install maven)"
	say "fetching Kafka $KAFKA_VERSION jars with Maven into $lib (once)"
	local t0
	t0="$(now)"
	tmp="$kdir/lib.tmp.$$"
	rm -rf "$tmp"
	if ! mvn -B -q -f "$here/pom.xml" \
		-Dkafka.version="$KAFKA_VERSION" -DincludeScope=runtime -DoutputDirectory="$tmp" \
		dependency:copy-dependencies >"$kdir/maven.log" 2>&1; then
		tail -n 40 "$kdir/maven.log" >&2
		rm -rf "$tmp"
		die "Maven could not resolve the Kafka $KAFKA_VERSION jars (full output: $kdir/maven.log)"
	fi
	[[ -f $tmp/kafka_2.13-$KAFKA_VERSION.jar ]] || die "Maven ran but $tmp has no kafka_2.13-$KAFKA_VERSION.jar"
	echo "$want" >"$tmp/.complete"
	rm -rf "$lib"
	mv "$tmp" "$lib"
	exec 8>&-
	say "jars ready in $(since "$t0") ($(find "$lib" -name '*.jar' | wc -l) jars)"
}

# ---- readiness probe ---------------------------------------------------------

kwait=""
ensure_kwait() {
	[[ -n $kwait ]] && return 0
	command -v go >/dev/null || die "go is needed to build the readiness probe test/kafka/kwait"
	local key bin out
	key="$(cat "$here/kwait/main.go" "$root/go.mod" "$root/go.sum" <(go version) | sha256sum | cut -c1-16)"
	bin="$cache/bin/kwait-$key"
	if [[ ! -x $bin ]]; then
		mkdir -p "$cache/bin"
		say "building the readiness probe (test/kafka/kwait)"
		if ! out="$(cd "$root" && go build -o "$bin.tmp.$$" ./test/kafka/kwait 2>&1)"; then
			rm -f "$bin.tmp.$$"
			echo "$out" >&2
			die "could not build test/kafka/kwait"
		fi
		mv -f "$bin.tmp.$$" "$bin"
	fi
	kwait="$bin"
}

# answering SECONDS [PID]: wait up to SECONDS for a Metadata answer (stop early if
# PID dies).
answering() {
	ensure_kwait
	"$kwait" -brokers "$brokers" -timeout "${1}s" ${2:+-pid "$2"} ${3:+-quiet}
}

# ---- process -----------------------------------------------------------------

# The pid in the pid file, if that process is alive, not a zombie, and a broker.
running_pid() {
	local pid
	[[ -f $pidfile ]] || return 1
	pid="$(cat "$pidfile" 2>/dev/null || true)"
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	if [[ -r /proc/$pid/stat ]]; then
		local stat
		stat="$(cat "/proc/$pid/stat" 2>/dev/null || true)"
		stat="${stat##*) }"
		[[ ${stat:0:1} != Z ]] || return 1
		tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "kafka.Kafka $dir/server.properties" || return 1
	fi
	echo "$pid"
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

print_env() {
	echo "KAFKA_BROKERS=$brokers"
	echo "KAFKA_LOG=$log"
	echo "KAFKA_DIR=$dir"
	echo "KAFKA_SASL_SSL_BROKERS=127.0.0.1:$sport"
	echo "KAFKA_MTLS_BROKERS=127.0.0.1:$mport"
	echo "KAFKA_TLS_CA=$dir/tls/ca.pem"
	echo "KAFKA_TLS_CLIENT_CERT=$dir/tls/client.pem"
	echo "KAFKA_TLS_CLIENT_KEY=$dir/tls/client.key"
}

# write_tls makes, once, a private CA and two certificates it signs, all PEM:
# the broker's (broker.pem with its key, for 127.0.0.1 and localhost) and a
# client's (client.pem, client.key), for mutual TLS.
write_tls() {
	local t="$dir/tls"
	[[ -f $t/ca.pem && -f $t/broker.pem && -f $t/client.pem && -f $t/client.key ]] && return 0
	command -v openssl >/dev/null || die "openssl is needed for the broker's TLS certificates (Debian: apt-get install openssl)"
	mkdir -p "$t"
	rm -f "$t"/*
	if ! (
		set -e
		cd "$t"
		openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 3650 \
			-subj "/O=eventguard test/CN=eventguard test CA" \
			-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
		sign() { # name subject extensions
			openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2"
			printf '%s\n' "$3" >"$1.ext"
			openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
				-extfile "$1.ext" -out "$1.crt"
		}
		sign broker "/O=eventguard test/CN=127.0.0.1" "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth"
		sign client "/O=eventguard test/CN=eventguard-client" "extendedKeyUsage=clientAuth"
		# Kafka's PEM key store: the key (PKCS#8) and the certificate chain.
		cat broker.key broker.crt ca.pem >broker.pem
		cp client.crt client.pem
		rm -f ./*.csr ./*.ext ./*.srl
	) >>"$log" 2>&1; then
		tail -n 20 "$log" >&2
		die "making the TLS certificates with openssl failed (log: $log)"
	fi
}

formatted() { [[ -f $dir/data/meta.properties && -f $dir/server.properties ]]; }

write_config() {
	mkdir -p "$dir/data"
	touch "$marker"
	cat >"$dir/server.properties" <<-EOF
		# Written by test/kafka/kafka.sh: single-node KRaft, broker and controller in one process.
		process.roles=broker,controller
		node.id=1
		controller.quorum.bootstrap.servers=127.0.0.1:$cport
		listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport,SASL_SSL://127.0.0.1:$sport,SSL://127.0.0.1:$mport
		advertised.listeners=PLAINTEXT://127.0.0.1:$port,SASL_SSL://127.0.0.1:$sport,SSL://127.0.0.1:$mport
		listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL
		inter.broker.listener.name=PLAINTEXT
		controller.listener.names=CONTROLLER
		log.dirs=$dir/data

		# The secured listeners: TLS from the private CA; then SASL PLAIN or
		# SCRAM on SASL_SSL, a client certificate on SSL (mutual TLS).
		ssl.keystore.type=PEM
		ssl.keystore.location=$dir/tls/broker.pem
		ssl.truststore.type=PEM
		ssl.truststore.location=$dir/tls/ca.pem
		listener.name.ssl.ssl.client.auth=required
		sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
		listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_eventguard="eventguard-secret";
		listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
		listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;

		# One broker: every internal topic has one replica.
		offsets.topic.replication.factor=1
		offsets.topic.num.partitions=1
		transaction.state.log.replication.factor=1
		transaction.state.log.min.isr=1
		transaction.state.log.num.partitions=1
		share.coordinator.state.topic.replication.factor=1
		share.coordinator.state.topic.min.isr=1
		default.replication.factor=1
		min.insync.replicas=1

		# Tests create topics on first use and join groups at once.
		auto.create.topics.enable=true
		num.partitions=1
		group.initial.rebalance.delay.ms=0
	EOF
	write_log4j
}

write_log4j() {
	cat >"$dir/log4j2.properties" <<-'EOF'
		# Written by test/kafka/kafka.sh: everything to stdout, which goes to broker.log.
		status = warn
		appender.out.type = Console
		appender.out.name = STDOUT
		appender.out.target = SYSTEM_OUT
		appender.out.layout.type = PatternLayout
		appender.out.layout.pattern = [%d] %p %m (%c)%n
		rootLogger.level = info
		rootLogger.appenderRef.out.ref = STDOUT
		logger.request.name = kafka.request.logger
		logger.request.level = warn
		logger.statechange.name = state.change.logger
		logger.statechange.level = warn
	EOF
}

# A cluster id as Kafka's Uuid prints it: 16 random bytes, URL-safe base64, no
# padding, never starting with '-' (it would read as a command-line flag).
cluster_id() {
	local id
	while :; do
		id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
		[[ $id != -* ]] && break
	done
	echo "$id"
}

format_storage() {
	write_config
	say "formatting $dir/data (KRaft, standalone controller quorum)"
	echo "=== kafka.sh format $(date -u +%FT%TZ) ===" >>"$log"
	if ! "$java_bin" -Xmx256m -Dlog4j2.configurationFile="$dir/log4j2.properties" -cp "$lib/*" \
		kafka.tools.StorageTool format --standalone -t "$(cluster_id)" -c "$dir/server.properties" \
		</dev/null >>"$log" 2>&1; then
		tail -n 80 "$log" >&2
		die "formatting the storage failed (log: $log)"
	fi
}

launch() {
	local p
	for p in "$port" "$cport" "$sport" "$mport"; do
		if port_busy "$p"; then
			die "127.0.0.1:$p is already in use by another process (not the broker of $dir); stop it or set KAFKA_PORT"
		fi
	done
	# The configuration is written again at every start, so data made by an
	# older kafka.sh gets the current listeners.
	write_tls
	write_config
	echo "=== kafka.sh start $(date -u +%FT%TZ) (Kafka $KAFKA_VERSION) ===" >>"$log"
	local heap opts=()
	heap="${KAFKA_HEAP_OPTS:--Xms256m -Xmx1g}"
	read -r -a opts <<<"$heap -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true -Dlog4j2.shutdownHookEnabled=false ${KAFKA_JAVA_OPTS:-}"
	local setsid=()
	command -v setsid >/dev/null && setsid=(setsid)
	(
		# The broker must not keep the caller's descriptors: a pipe held open
		# would hang "$(kafka.sh up)", a held lock would block the next kafka.sh.
		if [[ -d /proc/$BASHPID/fd ]]; then
			for fd in /proc/"$BASHPID"/fd/*; do
				fd="${fd##*/}"
				if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
			done
		else
			exec 8>&- 9>&-
		fi
		cd "$dir"
		# Not a process group leader here, so setsid execs in place: $! is java.
		exec "${setsid[@]}" "$java_bin" "${opts[@]}" \
			-Dlog4j2.configurationFile="$dir/log4j2.properties" \
			-cp "$lib/*" kafka.Kafka "$dir/server.properties" \
			</dev/null >>"$log" 2>&1
	) &
	echo $! >"$pidfile"
}

# wait_up PID T0: wait for the broker, print the variables, or fail with the log.
wait_up() {
	local pid="$1" t0="$2"
	local rc=0
	answering "$wait_s" "$pid" || rc=$?
	if ((rc == 0)); then
		say "broker $brokers (Kafka $KAFKA_VERSION, pid $pid) ready in $(since "$t0")"
		print_env
		return 0
	fi
	if ((rc == 3)); then
		say "the broker process exited while starting; last 80 lines of $log:"
	else
		say "the broker did not answer within ${wait_s}s (KAFKA_WAIT); last 80 lines of $log:"
	fi
	tail -n 80 "$log" >&2 || true
	if running_pid >/dev/null; then
		say "stopping the unresponsive broker (data kept in $dir)"
		stop_broker >/dev/null 2>&1 || true
	fi
	exit 1
}

stop_broker() {
	local pid t0 i
	if ! pid="$(running_pid)"; then
		rm -f "$pidfile"
		say "no broker running for $dir"
		return 0
	fi
	t0="$(now)"
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 300; i++)); do # 30 s
		running_pid >/dev/null || break
		sleep 0.1
	done
	if running_pid >/dev/null; then
		say "broker pid $pid still running after 30 s; sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		for ((i = 0; i < 100; i++)); do
			running_pid >/dev/null || break
			sleep 0.1
		done
	fi
	running_pid >/dev/null && die "broker pid $pid would not stop"
	rm -f "$pidfile"
	say "broker pid $pid stopped in $(since "$t0") (data kept in $dir)"
}

# ---- commands ----------------------------------------------------------------

cmd_up() {
	local t0 pid
	t0="$(now)"
	mkdir -p "$dir"
	lock 9 "$dir/.lock"
	if pid="$(running_pid)"; then
		wait_up "$pid" "$t0"
		return
	fi
	ensure_jars
	ensure_kwait
	formatted || format_storage
	launch
	wait_up "$(cat "$pidfile")" "$t0"
}

cmd_start() {
	local t0 pid
	t0="$(now)"
	[[ -d $dir ]] || die "no broker data in $dir: use 'up'"
	lock 9 "$dir/.lock"
	if pid="$(running_pid)"; then
		wait_up "$pid" "$t0"
		return
	fi
	formatted || die "no formatted broker data in $dir: use 'up'"
	ensure_jars
	ensure_kwait
	launch
	wait_up "$(cat "$pidfile")" "$t0"
}

cmd_stop() {
	[[ -d $dir ]] || {
		say "no broker data in $dir"
		return 0
	}
	lock 9 "$dir/.lock"
	stop_broker
}

cmd_down() {
	[[ -d $dir ]] || return 0
	lock 9 "$dir/.lock"
	stop_broker
	if [[ -f $marker ]]; then
		rm -rf "$dir"
		say "removed $dir"
	else
		die "$dir was not made by kafka.sh (no $(basename "$marker")); not deleting it"
	fi
}

cmd_status() {
	local pid=""
	pid="$(running_pid)" || pid=""
	if answering 3 "" quiet; then
		echo "answering on $brokers${pid:+ (pid $pid)}, data in $dir"
		return 0
	fi
	echo "not answering on $brokers${pid:+ (pid $pid is running)}"
	return 1
}

case "${1:-}" in
up) cmd_up ;;
start) cmd_start ;;
stop) cmd_stop ;;
down) cmd_down ;;
status) cmd_status ;;
log) echo "$log" ;;
env) print_env ;;
fetch)
	ensure_jars
	ensure_kwait
	;;
cluster)
	# shellcheck source=cluster.sh
	source "$here/cluster.sh"
	shift
	cluster_main "$@"
	;;
*)
	usage
	;;
esac
