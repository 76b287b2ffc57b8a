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
#           socket, 400 KB echoed, MSG_WAITALL, SO_RCVTIMEO, EINTR and
#           SA_RESTART, half-close, refusal
#   udp server and client (tests/shim/udpflow.c): recvfrom, MSG_TRUNC,
#           recvmmsg, sendto, connect, sendmmsg, timeouts
. "$(dirname "$0")/../lib/shim.sh"
need_root
need_cmd python3
need_lib

PEER=$DEMI_TOP/tests/shim/peer.py
for p in tcpflow udpflow; do [ -x "$DEMI_TOP/build/tests/shim/$p" ] || fail "$p not built"; done
ns=$(net_ns_new dsb)
ex() { ip netns exec "$ns" "$@"; }
T=$SHIM_TMP
[ -n "${KEEP:-}" ] && T=$KEEP

wait_file() { # file secs
	local i
	for ((i = 0; i < $2 * 20; i++)); do [ -e "$1" ] && return 0; sleep 0.05; done
	return 1
}

# run_env MODE [CONF]: RUN_ENV, the words that run a program on the kernel,
# or in shim mode under the preload with CONF
run_env() {
	RUN_ENV=(ip netns exec "$ns" env)
	[ "$1" = shim ] || return 0
	demi_pre -n "$ns" "$2"
	RUN_ENV=("${DEMI_PRE[@]}")
}

# server_run MODE OUT PEER_ADDR [CONF]: $PROG server $PORT, then the peer
# ($PEER_ARGS) against PEER_ADDR; in shim mode the tap ($TAP, kernel end
# $KEND) appears when the program's stack starts
server_run() {
	local mode=$1 out=$2 addr=$3
	run_env "$mode" "${4:-}"
	rm -f "$T/ready"
	"${RUN_ENV[@]}" READY_FILE="$T/ready" "$DEMI_TOP/build/tests/shim/$PROG" server $PORT >"$out" 2>"$out.err" &
	local pid=$!
	net_kill_at_exit $pid
	if [ "$mode" = shim ]; then
		net_tap_attach "$ns" "$TAP" "$KEND" || { cat "$out" "$out.err"; fail "tap $TAP never appeared"; }
	fi
	wait_file "$T/ready" 20 || { cat "$out" "$out.err"; fail "$PROG server ($mode) never got ready"; }
	ex timeout 120 python3 "$PEER" $PEER_ROLE "$addr" $PORT $PEER_N || { cat "$out" "$out.err"; fail "peer of the $PROG server ($mode)"; }
	wait $pid || { cat "$out.err"; fail "$PROG server ($mode) exit $?"; }
}

# client_run MODE OUT ADDR [CONF]: the peer ($PEER_ROLE on $PORT), then
# $PROG client ADDR $PORT
client_run() {
	local mode=$1 out=$2 addr=$3
	run_env "$mode" "${4:-}"
	ex timeout 120 python3 "$PEER" $PEER_ROLE 0.0.0.0 $PORT >"$out.peer" 2>&1 &
	local ppid=$!
	net_kill_at_exit $ppid
	for ((i = 0; i < 100; i++)); do grep -q listening "$out.peer" 2>/dev/null && break; sleep 0.05; done
	"${RUN_ENV[@]}" "$DEMI_TOP/build/tests/shim/$PROG" client "$addr" $PORT >"$out" 2>"$out.err" &
	local pid=$!
	net_kill_at_exit $pid
	if [ "$mode" = shim ]; then
		net_tap_attach "$ns" "$TAP" "$KEND" || { cat "$out" "$out.err"; fail "tap $TAP never appeared"; }
	fi
	wait $pid || { cat "$out" "$out.err"; fail "$PROG client ($mode) exit $?"; }
	wait $ppid || { cat "$out.peer"; fail "peer of the $PROG client ($mode)"; }
}

# conf FILE TAP ADDRESS RULE: a config on a fresh tap (RULE: listen=... or connect=...)
conf() { demi_conf "$1" device="tap:$2" address="$3" "$4" level=info; }

PROG=tcpflow PORT=8080 PEER_ROLE=http-client PEER_N=2
server_run kernel "$T/server.kernel" 127.0.0.1
TAP=$(net_tag dsbs) KEND=198.18.8.1/24
conf "$T/srv.conf" $TAP 198.18.8.2/24 listen=8080
server_run shim "$T/server.shim" 198.18.8.2 "$T/srv.conf"

PROG=tcpflow PORT=9090 PEER_ROLE=echo-server PEER_N=
client_run kernel "$T/client.kernel" 127.0.0.1
TAP=$(net_tag dsbc) KEND=198.18.9.1/24
conf "$T/cli.conf" $TAP 198.18.9.2/24 connect=198.18.9.0/24
client_run shim "$T/client.shim" 198.18.9.1 "$T/cli.conf"

PROG=udpflow PORT=5353 PEER_ROLE=udp-client PEER_N=
server_run kernel "$T/udpserver.kernel" 127.0.0.1
TAP=$(net_tag dsbu) KEND=198.18.11.1/24
conf "$T/usrv.conf" $TAP 198.18.11.2/24 listen=5353
server_run shim "$T/udpserver.shim" 198.18.11.2 "$T/usrv.conf"

PROG=udpflow PORT=5454 PEER_ROLE=udp-echo PEER_N=
client_run kernel "$T/udpclient.kernel" 127.0.0.1
TAP=$(net_tag dsbv) KEND=198.18.12.1/24
conf "$T/ucli.conf" $TAP 198.18.12.2/24 connect=198.18.12.0/24
client_run shim "$T/udpclient.shim" 198.18.12.1 "$T/ucli.conf"

rc=0
for role in server client udpserver udpclient; do
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
grep -q "fd [0-9]*: on the stack (bypassed: \[bypass\] listen" "$T/udpserver.shim.err" || fail "the UDP server's socket was not bypassed"
grep -q "fd [0-9]*: on the stack (bypassed: \[bypass\] connect" "$T/udpclient.shim.err" || fail "the UDP client's socket was not bypassed"
[ $rc -eq 0 ] || fail "bypassed runs differ from the kernel"
