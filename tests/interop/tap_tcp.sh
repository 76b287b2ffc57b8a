#!/usr/bin/env bash
# TCP between the stack (on net_tap) and the kernel end of the tap:
#  stack as server: 256 MiB each way byte-exact with half-close, a reset
#    connection and a killed client leave it serving, a closed port refuses
#    (the same under a faulty link: tap_tcp_netem.sh);
#  stack as client: 256 MiB each way to a kernel echo server, a refused
#    port, and a server that disappears mid-transfer (reset seen).
# Fails (not skips) if the stack has no TCP.
. "$(dirname "$0")/../lib/net.sh"
need_root
need_cmd python3
. "$(dirname "$0")/lib.sh"

MiB=$((1 << 20))
ns=$(net_ns_new dtc)

# ------------------------------------------------------------ stack serves
tap=$(net_tag dtc)
stack_start "$ns" "tap:$tap" 198.18.4.2/24 server tcp 7
stack_tap_up "$ns" "$tap" 198.18.4.1/24
stack_wait_listening
ex() { ip netns exec "$ns" "$@"; }

expect_ok "kernel client, 256 MiB each way" ex $KPEER client 198.18.4.2 7 $((256 * MiB))

ex $KPEER reset 198.18.4.2 7 >/dev/null || fail "reset client"
expect_ok "after a reset, a new connection" ex $KPEER client 198.18.4.2 7 $MiB

ip netns exec "$ns" $KPEER client 198.18.4.2 7 $((1024 * MiB)) >/dev/null 2>&1 &
victim=$!
net_kill_at_exit $victim
sleep 0.5
kill -9 $victim 2>/dev/null
wait $victim 2>/dev/null
expect_ok "after a killed client, a new connection" ex $KPEER client 198.18.4.2 7 $MiB

out=$(ex python3 -c "
import socket
try:
    socket.create_connection(('198.18.4.2', 9), timeout=5)
    print('connected')
except ConnectionRefusedError:
    print('refused')
except OSError as e:
    print('error', e)" 2>&1)
echo "closed port: $out"
[ "$out" = refused ] || fail "connecting to a closed port: $out, want refused"

stack_stop

# ------------------------------------------------------------ stack connects
# A kernel echo server on every address of the namespace; each stack client
# runs as its own process on a fresh tap whose kernel end is 198.18.6.1.
klog=$(mktemp /tmp/demi-kpeer.XXXXXX)
net_cleanup_add "rm -f $klog"
ip netns exec "$ns" $KPEER echo-server 0.0.0.0 7 >"$klog" 2>&1 &
kserver=$!
net_kill_at_exit $kserver
for ((i = 0; i < 100; i++)); do grep -q listening "$klog" && break; sleep 0.05; done
grep -q listening "$klog" || { cat "$klog"; fail "kernel echo server did not start"; }

client_run() { # expected-result-regex demi-echo args...
	local want=$1 tap rc out; shift
	tap=$(net_tag dtk)
	out=$(mktemp /tmp/demi-cli.XXXXXX)
	net_cleanup_add "rm -f $out"
	ip netns exec "$ns" "$DEMI_ECHO" -d "tap:$tap" -a 198.18.6.2/24 -t 120 "$@" >"$out" 2>&1 &
	local pid=$!
	net_kill_at_exit $pid
	net_wait_if "$ns" "$tap" 20 || { cat "$out"; fail "tap $tap never appeared"; }
	ip -n "$ns" addr add 198.18.6.1/24 dev "$tap"
	ip -n "$ns" link set "$tap" up
	if [ -n "${KILL_SERVER_AFTER:-}" ]; then
		sleep "$KILL_SERVER_AFTER"
		kill -9 $kserver
	fi
	wait $pid
	rc=$?
	echo "stack client $*: $(grep RESULT "$out")"
	grep -qE "RESULT.*$want" "$out" || { cat "$out"; fail "stack client $*: want /$want/ (exit $rc)"; }
}
client_run "ok=1" client tcp 198.18.6.1:7 -n $((256 * MiB))
client_run "result=refused" connect tcp 198.18.6.1:9
KILL_SERVER_AFTER=1 client_run "error=(recv|send):Connection reset" client tcp 198.18.6.1:7 -n $((1024 * MiB))
echo "tap TCP: all checks passed"
