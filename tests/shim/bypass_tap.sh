#!/usr/bin/env bash
# tests/shim/tcpflow.c with its sockets really bypassed: the stack runs on a
# tap device in a namespace and the kernel end of the tap is the peer
# (tests/shim/peer.py). The same program and peer run on the kernel over
# loopback first; every observation must be identical.
#   server: bind/listen in the parent, fork, the child's stack starts lazily
#           and serves 2 requests (epoll ET/LT/ONESHOT, poll, select, writev,
#           sendfile, TCP_CORK, upload until EOF) plus a 127.0.0.1 client on
#           the kernel side of the same listener
#   client: non-blocking connect, poll/select mixing a socketpair and the
#           socket, 400 KB echoed, MSG_WAITALL, SO_RCVTIMEO, half-close, refusal
. "$(dirname "$0")/../lib/shim.sh"
need_root
need_cmd python3
need_lib

FLOW=$DEMI_TOP/build/tests/shim/tcpflow
PEER=$DEMI_TOP/tests/shim/peer.py
[ -x "$FLOW" ] || fail "$FLOW not built"
ns=$(net_ns_new dsb)
ex() { ip netns exec "$ns" "$@"; }
T=$SHIM_TMP
[ -n "${KEEP:-}" ] && T=$KEEP

wait_file() { # file secs
	local i
	for ((i = 0; i < $2 * 20; i++)); do [ -e "$1" ] && return 0; sleep 0.05; done
	return 1
}

# server_run MODE OUT PEER_ADDR [env...]
server_run() {
	local mode=$1 out=$2 addr=$3; shift 3
	rm -f "$T/ready"
	ex env READY_FILE="$T/ready" "$@" "$FLOW" server 8080 >"$out" 2>"$out.err" &
	local pid=$!
	net_kill_at_exit $pid
	if [ "$mode" = shim ]; then
		net_wait_if "$ns" "$SRV_TAP" 20 || { cat "$out" "$out.err"; fail "tap $SRV_TAP never appeared"; }
		ip -n "$ns" addr add 198.18.8.1/24 dev "$SRV_TAP"
		ip -n "$ns" link set "$SRV_TAP" up
	fi
	wait_file "$T/ready" 20 || { cat "$out" "$out.err"; fail "server ($mode) never got ready"; }
	ex timeout 120 python3 "$PEER" http-client "$addr" 8080 2 || { cat "$out" "$out.err"; fail "peer of the server ($mode)"; }
	wait $pid || { cat "$out.err"; fail "server ($mode) exit $?"; }
}

# client_run MODE OUT ADDR [env...]
client_run() {
	local mode=$1 out=$2 addr=$3; shift 3
	ex timeout 120 python3 "$PEER" echo-server 0.0.0.0 9090 >"$out.peer" 2>&1 &
	local ppid=$!
	net_kill_at_exit $ppid
	for ((i = 0; i < 100; i++)); do grep -q listening "$out.peer" 2>/dev/null && break; sleep 0.05; done
	ex env "$@" "$FLOW" client "$addr" 9090 >"$out" 2>"$out.err" &
	local pid=$!
	net_kill_at_exit $pid
	if [ "$mode" = shim ]; then
		net_wait_if "$ns" "$CLI_TAP" 20 || { cat "$out" "$out.err"; fail "tap $CLI_TAP never appeared"; }
		ip -n "$ns" addr add 198.18.9.1/24 dev "$CLI_TAP"
		ip -n "$ns" link set "$CLI_TAP" up
	fi
	wait $pid || { cat "$out" "$out.err"; fail "client ($mode) exit $?"; }
	wait $ppid || { cat "$out.peer"; fail "peer of the client ($mode)"; }
}

SRV_TAP=$(net_tag dsbs)
CLI_TAP=$(net_tag dsbc)
cat >"$T/srv.conf" <<CONF
[dpdk]
device = tap:$SRV_TAP
[net]
address = 198.18.8.2/24
[bypass]
listen = 8080
[log]
level = info
CONF
cat >"$T/cli.conf" <<CONF
[dpdk]
device = tap:$CLI_TAP
[net]
address = 198.18.9.2/24
[bypass]
connect = 198.18.9.0/24
[log]
level = info
CONF

server_run kernel "$T/server.kernel" 127.0.0.1
server_run shim "$T/server.shim" 198.18.8.2 LD_PRELOAD="$DEMI_LIB" DEMI_CONFIG="$T/srv.conf"
client_run kernel "$T/client.kernel" 127.0.0.1
client_run shim "$T/client.shim" 198.18.9.1 LD_PRELOAD="$DEMI_LIB" DEMI_CONFIG="$T/cli.conf"

rc=0
for role in server client; do
	if diff -u "$T/$role.kernel" "$T/$role.shim"; then
		echo "$role: $(wc -l <"$T/$role.kernel") observations identical on the kernel and bypassed"
	else
		rc=1
	fi
	echo "$role under the shim, stderr:"; sed 's/^/  /' "$T/$role.shim.err"
done
# the sockets really were on the stack, not silently on the kernel
grep -q "fd [0-9]*: on the stack (bypassed: \[bypass\] listen" "$T/server.shim.err" || fail "the server's listener was not bypassed"
grep -q "fd [0-9]*: on the stack (bypassed: \[bypass\] connect" "$T/client.shim.err" || fail "the client's socket was not bypassed"
[ $rc -eq 0 ] || fail "bypassed runs differ from the kernel"
