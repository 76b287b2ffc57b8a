#!/usr/bin/env bash
# nginx's process life under libdemi on a tap device: the worker (which
# owns the stack and so the tap) killed with SIGKILL is respawned by the
# master and serves again on a fresh stack; `nginx -s quit` and
# `nginx -s stop` each end master and worker with status 0, release the
# device (the tap is gone) and remove the worker's counters file. Every
# page is compared byte for byte.
. "$(dirname "$0")/../lib/apps.sh"
need_root
need_cmd nginx curl
need_lib

ns=$(net_ns_new dnl)
tap=$(net_tag dnlt)
T=$APPS_TMP
mkdir -p "$T/www" "$T/logs"
head -c 200000 /dev/urandom >"$T/www/page.bin"
chmod 0755 "$T/www" "$T/logs"; chmod 0644 "$T/www/page.bin"
demi_conf "$T/demi.conf" device="tap:$tap" address=198.18.7.2/24 listen=8080 level=info
apps_nginx_conf "$T" "$T/www" 8080 "sendfile on"
net_cleanup_add "pkill -9 -f 'nginx.*$T'"
ex() { ip netns exec "$ns" "$@"; }

start_master() {
	demi_run -n "$ns" "$T/demi.conf" nginx -p "$T" -c "$T/nginx.conf" >>"$T/logs/stdout" 2>&1 &
	launcher=$! # ip netns exec: its status is nginx's
	net_kill_at_exit $launcher
	master=
	for ((i = 0; i < 200; i++)); do
		[ -s "$T/nginx.pid" ] && master=$(cat "$T/nginx.pid") && kill -0 "$master" 2>/dev/null && break
		sleep 0.05
	done
	[ -n "$master" ] || { apps_logs "$T/logs/"*; fail "nginx wrote no pid file"; }
}
worker_pid() { pgrep -P "$master" -f "nginx: worker process" | head -1; }
# serve WHAT: the tap (re)made by a new worker gets its kernel end, then the
# page must come back byte-exact
serve() {
	net_tap_attach "$ns" "$tap" 198.18.7.1/24 || { apps_logs "$T/logs/"*; fail "$1: tap $tap never appeared"; }
	net_wait_tcp "$ns" 198.18.7.2 8080 20 || { apps_logs "$T/logs/"*; fail "$1: nginx unreachable"; }
	ex curl -sS --max-time 20 -o "$T/got" http://198.18.7.2:8080/page.bin || fail "$1: curl"
	cmp "$T/www/page.bin" "$T/got" || fail "$1: page differs"
	rm -f "$T/got"
}
# ended HOW: master exited 0, the worker is gone, its tap and counters too
ended() {
	local w=$1 how=$2 i rc
	for ((i = 0; i < 200; i++)); do kill -0 "$master" 2>/dev/null || break; sleep 0.05; done
	kill -0 "$master" 2>/dev/null && fail "$how: the master still runs after 10 s"
	wait "$launcher"; rc=$?
	[ $rc -eq 0 ] || { apps_logs "$T/logs/"*; fail "$how: the master exited with status $rc"; }
	kill -0 "$w" 2>/dev/null && fail "$how: worker $w still runs"
	apps_no_tap "$ns" "$tap" 10 || fail "$how: tap $tap still there: the device was not released"
	ls /dev/shm/demi."$w".* >/dev/null 2>&1 && fail "$how: the worker's counters file /dev/shm/demi.$w.* is left"
	grep -E "\[(alert|emerg|crit)\]" "$T/logs/error.log" | grep -v "worker process $killed exited on signal 9" &&
		fail "$how: nginx logged an alert"
	echo "$how: master and worker ended with status 0, tap released, counters removed"
}

killed=none
start_master
serve "first worker"
w1=$(worker_pid)
[ -n "$w1" ] || fail "no worker process under master $master"
ls /dev/shm/demi."$w1".* >/dev/null 2>&1 || fail "worker $w1 serves, but has no counters file: is it on the stack?"
kill -9 "$w1"; killed=$w1
apps_no_tap "$ns" "$tap" 10 || fail "the killed worker's tap stays"
for ((i = 0; i < 200; i++)); do w2=$(worker_pid); [ -n "$w2" ] && [ "$w2" != "$w1" ] && break; sleep 0.05; done
[ -n "$w2" ] && [ "$w2" != "$w1" ] || fail "the master did not respawn the worker"
serve "respawned worker"
grep -q "worker process $w1 exited on signal 9" "$T/logs/error.log" || fail "the master did not see worker $w1 die"
echo "SIGKILL: worker $w1 respawned as $w2, which serves byte-exact"

nginx -p "$T" -c "$T/nginx.conf" -s quit || fail "nginx -s quit"
ended "$w2" "nginx -s quit"

killed=none
: >"$T/logs/error.log"; rm -f "$T/nginx.pid"
start_master
serve "after restart"
w3=$(worker_pid)
nginx -p "$T" -c "$T/nginx.conf" -s stop || fail "nginx -s stop"
ended "$w3" "nginx -s stop"
