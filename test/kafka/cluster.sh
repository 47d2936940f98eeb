# shellcheck shell=bash
# The three-broker cluster of `kafka.sh cluster ...`, sourced by kafka.sh
# (it uses kafka.sh's ensure_jars, ensure_kwait, cluster_id, lock, say, die,
# now and since). See `kafka.sh` without arguments, or test/kafka/README.md.
#
# Layout: one KRaft controller (node 0, a quorum of one voter) and three
# brokers (nodes 1, 2, 3), four JVMs. A separate controller, not three
# combined nodes, so that stopping two brokers leaves the cluster able to
# elect leaders and shrink ISRs: the state where produce meets
# NOT_ENOUGH_REPLICAS. The faults of the chaos tests hit brokers only.

cbase="${KAFKA_CLUSTER_PORT:-19192}"
if ! [[ $cbase =~ ^[0-9]{1,5}$ ]] || ((cbase < 1 || cbase > 65530)); then
	echo "kafka.sh: KAFKA_CLUSTER_PORT must be a port number below 65531, got '$cbase'" >&2
	exit 2
fi
ccport=$((cbase + 3)) # the controller
cdir="${KAFKA_CLUSTER_DIR:-${TMPDIR:-/tmp}/eventguard-kafka-cluster-$cbase}"
[[ $cdir == /* ]] || cdir="$PWD/$cdir"
cdir="${cdir%/}"
cmarker="$cdir/.eventguard-kafka-cluster" # only a dir with this file is ever deleted
# Heaps: three brokers, a controller, eventguard, the tests and the Go
# toolchain share a 2-core, 24 GB machine; 512 MiB per broker holds the
# tests' traffic (a few MB/s) with room to spare.
cheap="${KAFKA_CLUSTER_HEAP_OPTS:--Xms128m -Xmx512m}"
cheap_ctl="${KAFKA_CLUSTER_CONTROLLER_HEAP_OPTS:--Xms64m -Xmx256m}"

cbrokers="127.0.0.1:$cbase,127.0.0.1:$((cbase + 1)),127.0.0.1:$((cbase + 2))"

node_port() { if (($1 == 0)); then echo "$ccport"; else echo $((cbase + $1 - 1)); fi; }
node_dir() { echo "$cdir/node$1"; }
node_name() { if (($1 == 0)); then echo "controller"; else echo "broker $1"; fi; }

# node_pid N: the pid of node N if it is alive (paused counts), not a zombie,
# and that node's java process.
node_pid() {
	local d pid stat
	d="$(node_dir "$1")"
	[[ -f $d/node.pid ]] || return 1
	pid="$(cat "$d/node.pid" 2>/dev/null || true)"
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	if [[ -r /proc/$pid/stat ]]; then
		stat="$(cat "/proc/$pid/stat" 2>/dev/null || true)"
		stat="${stat##*) }"
		[[ ${stat:0:1} != Z ]] || return 1
		tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "kafka.Kafka $d/server.properties" || return 1
	fi
	echo "$pid"
}

# node_state N: running, paused (SIGSTOP) or stopped.
node_state() {
	local pid stat
	pid="$(node_pid "$1")" || {
		echo stopped
		return
	}
	stat="$(cat "/proc/$pid/stat" 2>/dev/null || true)"
	stat="${stat##*) }"
	if [[ ${stat:0:1} == T ]]; then echo paused; else echo running; fi
}

cluster_env() {
	echo "KAFKA_CLUSTER_BROKERS=$cbrokers"
	echo "KAFKA_CLUSTER_CONTROLLER=127.0.0.1:$ccport"
	echo "KAFKA_CLUSTER_DIR=$cdir"
	echo "KAFKA_CLUSTER_LOGS=$cdir/node1/server.log,$cdir/node2/server.log,$cdir/node3/server.log,$cdir/node0/server.log"
}

# write_node_config N: server.properties of node N (written at every start).
write_node_config() {
	local n="$1" d p
	d="$(node_dir "$n")"
	p="$(node_port "$n")"
	mkdir -p "$d/data"
	{
		echo "# Written by test/kafka/kafka.sh cluster: $(node_name "$n") of a three-broker KRaft cluster."
		echo "node.id=$n"
		echo "controller.quorum.voters=0@127.0.0.1:$ccport"
		echo "controller.listener.names=CONTROLLER"
		echo "log.dirs=$d/data"
		if ((n == 0)); then
			echo "process.roles=controller"
			echo "listeners=CONTROLLER://127.0.0.1:$ccport"
		else
			echo "process.roles=broker"
			echo "listeners=PLAINTEXT://127.0.0.1:$p"
			echo "advertised.listeners=PLAINTEXT://127.0.0.1:$p"
			echo "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
			echo "inter.broker.listener.name=PLAINTEXT"
		fi
		cat <<-'EOF'

			# Three replicas of everything, two of them needed to acknowledge
			# a write (acks=all): one broker down is tolerated, two are not.
			default.replication.factor=3
			min.insync.replicas=2
			offsets.topic.replication.factor=3
			offsets.topic.num.partitions=3
			transaction.state.log.replication.factor=3
			transaction.state.log.min.isr=2
			transaction.state.log.num.partitions=1
			share.coordinator.state.topic.replication.factor=3
			share.coordinator.state.topic.min.isr=2
			unclean.leader.election.enable=false

			# Faults are noticed in seconds, not the defaults' tens of seconds:
			# a broker that stops heartbeating is fenced after 3 s (its
			# partitions get new leaders), a follower that stops fetching
			# leaves the ISR after 5 s.
			broker.heartbeat.interval.ms=500
			broker.session.timeout.ms=3000
			replica.lag.time.max.ms=5000

			# Small thread pools: four JVMs share two cores.
			num.network.threads=2
			num.io.threads=2
			background.threads=2
			num.replica.fetchers=1
			log.cleaner.threads=1
			num.recovery.threads.per.data.dir=1

			# Tests create topics on first use and join groups at once.
			auto.create.topics.enable=true
			num.partitions=3
			group.initial.rebalance.delay.ms=0
		EOF
	} >"$d/server.properties"
	cat >"$d/log4j2.properties" <<-'EOF'
		# Written by test/kafka/kafka.sh cluster: everything to stdout, which goes to server.log.
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

cluster_formatted() {
	local n
	for n in 0 1 2 3; do
		[[ -f $(node_dir "$n")/data/meta.properties ]] || return 1
	done
}

cluster_format() {
	local id n d pids=() failed=""
	mkdir -p "$cdir"
	touch "$cmarker"
	id="$(cluster_id)"
	say "formatting $cdir (KRaft cluster $id: controller 0, brokers 1-3)"
	# The four formats run at once: each is a JVM start, and they share
	# nothing but the cluster id.
	for n in 0 1 2 3; do
		d="$(node_dir "$n")"
		rm -rf "$d/data"
		write_node_config "$n"
		echo "=== kafka.sh cluster format $(date -u +%FT%TZ) ===" >>"$d/server.log"
		"$java_bin" -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Dlog4j2.configurationFile="$d/log4j2.properties" -cp "$lib/*" \
			kafka.tools.StorageTool format -t "$id" -c "$d/server.properties" \
			</dev/null >>"$d/server.log" 2>&1 &
		pids+=($!)
	done
	for n in 0 1 2 3; do
		wait "${pids[$n]}" || failed+=" $n"
	done
	for n in $failed; do
		d="$(node_dir "$n")"
		tail -n 60 "$d/server.log" >&2
		die "formatting $(node_name "$n") failed (log: $d/server.log)"
	done
}

# launch_node N: start node N in the background (its own session, so that
# signals to the caller's process group never reach it).
launch_node() {
	local n="$1" d p heap opts=() setsid=()
	d="$(node_dir "$n")"
	p="$(node_port "$n")"
	if port_busy "$p"; then
		die "127.0.0.1:$p is already in use by another process (not $(node_name "$n") of $cdir); stop it or set KAFKA_CLUSTER_PORT"
	fi
	write_node_config "$n"
	echo "=== kafka.sh cluster start $(date -u +%FT%TZ) (Kafka $KAFKA_VERSION) ===" >>"$d/server.log"
	heap="$cheap"
	((n == 0)) && heap="$cheap_ctl"
	# Four JVMs on two cores: the serial collector (no GC threads running
	# beside the broker) and the C1 compiler only (a fraction of the JIT's
	# CPU at start, which is what a restart under load waits on; the
	# tests' traffic never needs C2's code).
	read -r -a opts <<<"$heap -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true -Dlog4j2.shutdownHookEnabled=false ${KAFKA_JAVA_OPTS:-}"
	command -v setsid >/dev/null && setsid=(setsid)
	(
		if [[ -d /proc/$BASHPID/fd ]]; then
			for fd in /proc/"$BASHPID"/fd/*; do
				fd="${fd##*/}"
				if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
			done
		else
			exec 8>&- 9>&-
		fi
		cd "$d"
		exec "${setsid[@]}" "$java_bin" "${opts[@]}" \
			-Dlog4j2.configurationFile="$d/log4j2.properties" \
			-cp "$lib/*" kafka.Kafka "$d/server.properties" \
			</dev/null >>"$d/server.log" 2>&1
	) &
	echo $! >"$d/node.pid"
}

# wait_brokers SECONDS IDS...: wait until each broker in IDS answers a
# Metadata request itself and lists itself in the answer (a broker is listed
# once it is registered and unfenced; asking the cluster instead could get
# an answer that still lists a broker killed a moment ago).
wait_brokers() {
	local secs="$1" id t0 left
	shift
	t0="$(date +%s)"
	for id in "$@"; do
		left=$((secs - ($(date +%s) - t0)))
		((left > 0)) || return 1
		"$kwait" -brokers "127.0.0.1:$(node_port "$id")" -timeout "${left}s" -nodes "$id" -quiet || return 1
	done
}

# stop_node N SIGNAL: send SIGNAL (TERM or KILL) to node N and wait for it
# to exit; a TERM not obeyed in 30 s becomes a KILL.
stop_node() {
	local n="$1" sig="$2" pid t0 i d
	d="$(node_dir "$n")"
	if ! pid="$(node_pid "$n")"; then
		rm -f "$d/node.pid"
		say "$(node_name "$n") is not running"
		return 0
	fi
	t0="$(now)"
	kill -CONT "$pid" 2>/dev/null || true # a paused JVM cannot shut down
	kill "-$sig" "$pid" 2>/dev/null || true
	for ((i = 0; i < 300; i++)); do
		node_pid "$n" >/dev/null || break
		sleep 0.1
	done
	if node_pid "$n" >/dev/null; then
		say "$(node_name "$n") (pid $pid) still running after 30 s; sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		for ((i = 0; i < 100; i++)); do
			node_pid "$n" >/dev/null || break
			sleep 0.1
		done
	fi
	node_pid "$n" >/dev/null && die "$(node_name "$n") (pid $pid) would not stop"
	# A killed JVM's main thread is a zombie while its other threads still
	# exit, holding the listener: wait until the port is free too.
	for ((i = 0; i < 100; i++)); do
		port_busy "$(node_port "$n")" || break
		sleep 0.1
	done
	rm -f "$d/node.pid"
	say "$(node_name "$n") (pid $pid) ended by SIG$sig in $(since "$t0")"
}

# node_arg N: check that N names a broker (1, 2 or 3).
node_arg() {
	[[ ${1:-} =~ ^[123]$ ]] || die "cluster: name a broker: 1, 2 or 3 (got '${1:-}')"
}

cluster_up() {
	local t0 n
	t0="$(now)"
	mkdir -p "$cdir"
	lock 9 "$cdir/.lock"
	ensure_jars
	ensure_kwait
	cluster_formatted || cluster_format
	for n in 0 1 2 3; do
		node_pid "$n" >/dev/null || launch_node "$n"
	done
	if ! wait_brokers "$wait_s" 1 2 3; then
		for n in 0 1 2 3; do
			say "$(node_name "$n") is $(node_state "$n"); last 30 lines of $(node_dir "$n")/server.log:"
			tail -n 30 "$(node_dir "$n")/server.log" >&2 || true
		done
		say "the cluster did not come up within ${wait_s}s (KAFKA_WAIT); stopping it (data kept in $cdir)"
		for n in 3 2 1 0; do stop_node "$n" KILL >/dev/null 2>&1 || true; done
		exit 1
	fi
	say "cluster $cbrokers (Kafka $KAFKA_VERSION, controller 127.0.0.1:$ccport) ready in $(since "$t0")"
	cluster_env
}

cluster_down() {
	local n
	[[ -d $cdir ]] || return 0
	lock 9 "$cdir/.lock"
	for n in 3 2 1 0; do stop_node "$n" TERM; done
	if [[ -f $cmarker ]]; then
		rm -rf "$cdir"
		say "removed $cdir"
	else
		die "$cdir was not made by kafka.sh cluster (no $(basename "$cmarker")); not deleting it"
	fi
}

cluster_status() {
	local n rc=0
	ensure_kwait
	for n in 0 1 2 3; do
		printf '%-10s 127.0.0.1:%s %s%s\n' "$(node_name "$n")" "$(node_port "$n")" "$(node_state "$n")" \
			"$(node_pid "$n" >/dev/null && echo " (pid $(node_pid "$n"))")"
	done
	if wait_brokers 3 1 2 3; then
		echo "all three brokers registered and unfenced"
	else
		echo "not every broker is registered and unfenced"
		rc=1
	fi
	return "$rc"
}

cluster_main() {
	local cmd="${1:-}" n t0
	case "$cmd" in
	up) cluster_up ;;
	down) cluster_down ;;
	status) cluster_status ;;
	env) cluster_env ;;
	stop-node | kill-node | start-node | pause-node | resume-node)
		node_arg "${2:-}"
		n="$2"
		[[ -f $cmarker ]] || die "no cluster in $cdir: use 'cluster up'"
		case "$cmd" in
		stop-node) stop_node "$n" TERM ;;
		kill-node) stop_node "$n" KILL ;;
		start-node)
			t0="$(now)"
			ensure_jars
			ensure_kwait
			node_pid "$n" >/dev/null || launch_node "$n"
			if ! wait_brokers "$wait_s" "$n"; then
				tail -n 40 "$(node_dir "$n")/server.log" >&2 || true
				die "broker $n did not register within ${wait_s}s (log: $(node_dir "$n")/server.log)"
			fi
			say "broker $n (pid $(node_pid "$n")) registered in $(since "$t0")"
			;;
		pause-node)
			node_pid "$n" >/dev/null || die "broker $n is not running"
			kill -STOP "$(node_pid "$n")"
			say "broker $n paused (SIGSTOP)"
			;;
		resume-node)
			node_pid "$n" >/dev/null || die "broker $n is not running"
			kill -CONT "$(node_pid "$n")"
			say "broker $n resumed (SIGCONT)"
			;;
		esac
		;;
	log)
		[[ ${2:-} =~ ^[0123]$ ]] || die "cluster log: name a node: 0 (controller), 1, 2 or 3"
		echo "$(node_dir "$2")/server.log"
		;;
	*) usage ;;
	esac
}
