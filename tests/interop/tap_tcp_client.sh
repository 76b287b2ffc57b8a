#!/usr/bin/env bash
# TCP between the stack (on net_tap) as client and a kernel echo server on
# the tap's other end: 256 MiB each way byte-exact with half-close, a
# refused port, and a server killed mid-transfer seen as a reset.
# (The stack as server: tap_tcp_server.sh.)
. "$(dirname "$0")/../lib/net.sh"
need_root
need_cmd python3
. "$(dirname "$0")/lib.sh"

MiB=$((1 << 20))
ns=$(net_ns_new dtc)
ex() { ip netns exec "$ns" "$@"; }

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
	# a run that ends fast (a refused connect) takes its tap with it, maybe
	# before the attach is done: then its result decides, not the tap
	if ! net_tap_attach "$ns" "$tap" 198.18.6.1/24 && kill -0 $pid 2>/dev/null; then
		cat "$out"
		fail "tap $tap never appeared"
	fi
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
echo "tap TCP, stack as client: all checks passed"
