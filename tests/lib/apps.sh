# Helpers for the application tests (tests/apps): real, unmodified programs
# under the preload, on a tap device or over memif, checked on the bytes.
#   . tests/lib/apps.sh; ns=$(net_ns_new x); tap=$(net_tag t)
#   demi_conf "$APPS_TMP/s.conf" device="tap:$tap" address=198.18.7.2/24 listen=6379 level=info
#   demi_run -n "$ns" "$APPS_TMP/s.conf" redis-server ... &   (then net_tap_attach)
# (demi_conf, demi_run and net_tap_attach are in net.sh.)
. "$(dirname "${BASH_SOURCE[0]}")/net.sh"

APPS_TMP=$(mktemp -d /tmp/demi-apps.XXXXXX)
chmod 0755 "$APPS_TMP" # servers that drop privileges still read their files
net_cleanup_add "rm -rf $APPS_TMP"
PY=/usr/bin/python3 # not a pyenv wrapper: one process, not a tree of shells

# apps_logs FILE... : print logs for a failure report (last lines of each).
apps_logs() {
	local f
	for f in "$@"; do
		[ -f "$f" ] || continue
		echo "---- $f"; tail -n 30 "$f"
	done
}

# apps_bypassed LOG : the program's log shows a socket put on the stack
# (so the test is not passing through the kernel by accident).
apps_bypassed() { grep -q "on the stack" "$1"; }

# apps_client_tap NS TAP KADDR CONF LOG CMD... : a client under the preload
# whose stack makes TAP on start; the kernel end gets KADDR once the tap
# exists (the client's SYN is retried until then). Returns CMD's status.
apps_client_tap() {
	local ns=$1 tap=$2 kaddr=$3 conf=$4 log=$5; shift 5
	demi_run -n "$ns" "$conf" "$@" >"$log" 2>&1 &
	local pid=$!
	net_kill_at_exit $pid
	if ! net_tap_attach "$ns" "$tap" "$kaddr"; then
		kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
		echo "tap $tap never appeared" >>"$log"
		return 1
	fi
	wait $pid
}

# apps_no_tap NS TAP SECS : wait until TAP is gone (its owner released it).
apps_no_tap() {
	local ns=$1 tap=$2 secs=${3:-10} i
	for ((i = 0; i < secs * 20; i++)); do
		ip -n "$ns" link show "$tap" >/dev/null 2>&1 || return 0
		sleep 0.05
	done
	return 1
}

# apps_sha FILE : the sha256 of a file, alone.
apps_sha() { sha256sum <"$1" | cut -d' ' -f1; }

# apps_memif_confs : $APPS_TMP/server.conf and client.conf for two programs
# under the preload joined by memif (as tools/bench/bench.py demi_configs):
# the server side 198.18.10.1, the client side 198.18.10.2, socket
# $APPS_MEMIF. The server must start first.
apps_memif_confs() {
	APPS_MEMIF=$APPS_TMP/memif.sock
	demi_conf "$APPS_TMP/server.conf" device="memif:$APPS_MEMIF,role=server" address=198.18.10.1/24 listen="*" connect=198.18.10.0/24 level=info
	demi_conf "$APPS_TMP/client.conf" device="memif:$APPS_MEMIF,role=client" address=198.18.10.2/24 listen="*" connect=198.18.10.0/24 level=info
}

# apps_wait_sock PATH SECS : wait until the memif server's socket exists.
apps_wait_sock() {
	local i
	for ((i = 0; i < ${2:-20} * 20; i++)); do
		[ -S "$1" ] && return 0
		sleep 0.05
	done
	return 1
}

# apps_wrk_lua WANT OUT : a wrk script (OUT) that compares every response
# body with the file WANT and prints "bodies: GOOD good BAD bad" at the end.
apps_wrk_lua() {
	cat >"$2" <<LUA
local f = io.open("$1", "rb"); local want = f:read("*a"); f:close()
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init() bad = 0; good = 0 end
function response(status, headers, body)
	if status == 200 and body == want then good = good + 1 else bad = bad + 1 end
end
function done(summary, latency, requests)
	local g, b = 0, 0
	for _, t in ipairs(threads) do g = g + t:get("good"); b = b + t:get("bad") end
	io.write(string.format("bodies: %d good %d bad\n", g, b))
end
LUA
}

# apps_wrk_bodies OUT : fails unless wrk's output OUT shows some bodies
# checked and none bad; sets APPS_GOOD to the count.
apps_wrk_bodies() {
	local good bad
	read -r good bad < <(awk '/^bodies:/ {print $2, $4}' "$1")
	[ "${good:-0}" -gt 0 ] && [ "${bad:-1}" -eq 0 ] || { echo "bodies: ${good:-?} good, ${bad:-?} bad" >&2; return 1; }
	APPS_GOOD=$good
}

# apps_nginx_conf DIR ROOT LISTEN [DIRECTIVE...] : DIR/nginx.conf for one
# master and one worker in the foreground, pid and error log (level info)
# under DIR, serving ROOT on LISTEN; each DIRECTIVE ("sendfile on") goes into
# the http block.
apps_nginx_conf() {
	local d=$1 root=$2 listen=$3; shift 3
	{
		printf 'daemon off;\nmaster_process on;\nworker_processes 1;\n'
		printf 'pid %s/nginx.pid;\nerror_log %s/logs/error.log info;\n' "$d" "$d"
		printf 'events { worker_connections 1024; }\nhttp {\n\taccess_log off;\n'
		[ $# -eq 0 ] || printf '\t%s;\n' "$@"
		printf '\tserver { listen %s; root %s; }\n}\n' "$listen" "$root"
	} >"$d/nginx.conf"
}

# apps_ctr_watch NS DIR : copy the counters files (/dev/shm/demi.PID.N) of
# the processes in NS to DIR/PID.N every 50 ms, so a short-lived client's
# counters can be read after it exits (its stack removes its file then);
# the last copy lags its end by at most that. apps_ctr_stop ends the copying.
apps_ctr_watch() {
	local ns=$1 dir=$2
	mkdir -p "$dir"
	(
		while :; do
			for p in $(ip netns pids "$ns" 2>/dev/null); do
				for f in /dev/shm/demi."$p".[0-9]*; do
					[ -e "$f" ] && cp "$f" "$dir/${f#/dev/shm/demi.}.tmp" 2>/dev/null &&
						mv "$dir/${f#/dev/shm/demi.}.tmp" "$dir/${f#/dev/shm/demi.}"
				done
			done
			sleep 0.05
		done
	) &
	APPS_WATCH_PID=$!
	net_kill_at_exit $APPS_WATCH_PID
}
apps_ctr_stop() { kill "$APPS_WATCH_PID" 2>/dev/null; wait "$APPS_WATCH_PID" 2>/dev/null; return 0; }

# apps_nginx_workers NSTAG TAPTAG WORKERS [NGINX.CONF LINE...] : nginx with
# WORKERS worker processes under the preload on a fresh tap (listen 8080 on
# 198.18.7.2, the kernel end 198.18.7.1 in a fresh namespace), serving 1 KiB
# of random text as index.html; returns once 8080 answers. Sets ns, tap,
# tmp (nginx's prefix: www/, logs/, nginx.conf, demi.conf) and pid (the master).
apps_nginx_workers() {
	local nstag=$1 taptag=$2 workers=$3; shift 3
	ns=$(net_ns_new "$nstag")
	tap=$(net_tag "$taptag")
	tmp=$(mktemp -d /tmp/demi-nginx.XXXXXX)
	net_cleanup_add "rm -rf $tmp"
	mkdir -p "$tmp/www" "$tmp/logs"
	head -c 1024 /dev/urandom | base64 -w 64 | head -c 1024 >"$tmp/www/index.html"
	chmod 0755 "$tmp" "$tmp/www"; chmod 0644 "$tmp/www/"*
	demi_conf "$tmp/demi.conf" device="tap:$tap" address=198.18.7.2/24 listen=8080 level=info
	apps_nginx_conf "$tmp" "$tmp/www" 8080 "keepalive_requests 100000"
	sed -i "s/^worker_processes 1;/worker_processes $workers;/" "$tmp/nginx.conf"
	local line
	for line in "$@"; do sed -i "/^worker_processes /a $line" "$tmp/nginx.conf"; done
	demi_pre -n "$ns" "$tmp/demi.conf"
	"${DEMI_PRE[@]}" nginx -p "$tmp" -c "$tmp/nginx.conf" >"$tmp/logs/stdout" 2>&1 &
	pid=$!
	net_cleanup_add "kill -9 $pid; pkill -9 -f 'nginx.*$tmp'"
	net_tap_attach "$ns" "$tap" 198.18.7.1/24 || { cat "$tmp/logs/"*; fail "tap $tap never appeared"; }
	net_wait_tcp "$ns" 198.18.7.2 8080 20 || { cat "$tmp/logs/"*; fail "nginx on 198.18.7.2:8080 unreachable"; }
}

# Leak checks around a test's work on a server under the preload:
# apps_leak_mark PID notes the process's open fds, its stack's packet
# buffers in use and TCP control blocks (demistat) and its counters files
# (/dev/shm/demi.PID.*); apps_leak_check PID fails unless all are back at
# (or below) those levels within 10 s (the last closing handshakes end).
apps_leak_levels() { # PID: "FDS BUFFERS TCBS"
	local st
	st=$("$DEMI_TOP/build/demistat" "$1" 2>/dev/null)
	echo "$(ls "/proc/$1/fd" | wc -l)" \
		"$(awk '/packet buffers:/ { s += $3 } END { print s + 0 }' <<<"$st")" \
		"$(awk '$1 == "RT_TCP_TCBS" { s += $2 } END { print s + 0 }' <<<"$st")"
}
apps_leak_shm() { ls /dev/shm | grep -E "^demi\.$1\." | tr '\n' ' '; }
apps_leak_mark() {
	APPS_LEAK_LEVELS=$(apps_leak_levels "$1")
	APPS_LEAK_SHM=$(apps_leak_shm "$1")
}
apps_leak_check() {
	local pid=$1 i f0 b0 t0 f b t
	read -r f0 b0 t0 <<<"$APPS_LEAK_LEVELS"
	for ((i = 0; i < 100; i++)); do
		read -r f b t <<<"$(apps_leak_levels "$pid")"
		[ "$f" -le "$f0" ] && [ "$b" -le "$b0" ] && [ "$t" -le "$t0" ] && break
		sleep 0.1
	done
	echo "leaks of $pid: fds $f0 -> $f, packet buffers in use $b0 -> $b, TCP control blocks $t0 -> $t"
	[ "$f" -le "$f0" ] || fail "process $pid has $f fds, $f0 before"
	[ "$b" -le "$b0" ] || { "$DEMI_TOP/build/demistat" "$pid"; fail "process $pid holds $b packet buffers, $b0 before"; }
	[ "$t" -le "$t0" ] || { "$DEMI_TOP/build/demistat" -c "$pid"; fail "process $pid has $t TCP control blocks, $t0 before"; }
	[ "$(apps_leak_shm "$pid")" = "$APPS_LEAK_SHM" ] ||
		fail "counters files of $pid: '$(apps_leak_shm "$pid")', '$APPS_LEAK_SHM' before"
}
