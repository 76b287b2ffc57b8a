#!/usr/bin/env bash
# Fork per connection: Python's socketserver.ForkingTCPServer echo server
# under libdemi on a tap. The parent accepts on the stack and forks a child
# per connection; the connection stays in the parent's stack and the child
# reaches it through the parent's relay (shim/relay.c). 32 concurrent kernel
# clients from the peer namespace each send 4 MiB of random data and check
# the echo byte-exact (sha256). Each connection's first line comes from the
# child that serves it: its pid (not the parent's, one child per connection)
# and getsockname's answer there (the stack's address). The parent's
# counters show the 32 connections accepted by its stack.
# FORK_LOSS=PCT: the same through build/impair with PCT% loss each way
# (fork_echo_lossy_tap.sh; FORK_CLIENTS and FORK_BYTES then smaller).
. "$(dirname "$0")/../lib/apps.sh"
need_root
[ -x "$PY" ] || skip "$PY missing"
need_lib
LOSS=${FORK_LOSS:-}
N=${FORK_CLIENTS:-32}
BYTES=${FORK_BYTES:-$((4 << 20))}
MODE=${FORK_MODE:-forking}
T=$APPS_TMP
ns=$(net_ns_new dfk)
tap=$(net_tag dft)
pns=$ns
if [ -n "$LOSS" ]; then
	[ -x "$DEMI_TOP/build/impair" ] || fail "build/impair not built"
	pns=$(net_ns_new dfp) # the clients, behind the relay
	rex=$(net_tag dfr) pex=$(net_tag dfq)
	ip link add "$rex" netns "$ns" type veth peer name "$pex" netns "$pns" || fail "veth"
	net_no_offload "$pns" "$pex"
	ip -n "$pns" addr add 198.18.26.1/24 dev "$pex"
	ip -n "$pns" link set "$pex" up
fi
# 32 connections with 4 MiB in flight each way: the default pool (8192
# mbufs) runs dry and the stack can send no ACK (TX_DROP_NOBUF), so a bigger one
demi_conf "$T/s.conf" device="tap:$tap" address=198.18.26.2/24 listen=7400 level=info dpdk.mbufs=65536
demi_run -n "$ns" "$T/s.conf" $PY "$DEMI_TOP/tests/apps/forkserver.py" $MODE 7400 ${FORK_CHILDREN:-} \
	>"$T/srv.log" 2>&1 &
net_kill_at_exit $!
if [ -n "$LOSS" ]; then
	net_wait_if "$ns" "$tap" 20 || { apps_logs "$T/srv.log"; fail "tap $tap never appeared"; }
	IMPAIR_LOG=$T/impair.log
	net_impair_start "$ns" "$tap" "$rex" -l "$LOSS" -s 7
else
	net_tap_attach "$ns" "$tap" 198.18.26.1/24 || { apps_logs "$T/srv.log"; fail "tap $tap never appeared"; }
fi
net_wait_tcp "$pns" 198.18.26.2 7400 20 || { apps_logs "$T/srv.log"; fail "the server is unreachable"; }
ip netns exec "$pns" timeout 120 $PY "$DEMI_TOP/tests/apps/forkclient.py" 198.18.26.2 7400 "$N" "$BYTES" \
	>"$T/cli.log" 2>&1 || { apps_logs "$T/cli.log" "$T/srv.log"; fail "a connection failed: $(grep -c BAD "$T/cli.log") of $N"; }
spid=$(awk '/^listening/ { print $2; exit }' "$T/srv.log")
apps_bypassed "$T/srv.log" || { apps_logs "$T/srv.log"; fail "the listener is not on the stack"; }
bad=""
[ "$(grep -c '^ok ' "$T/cli.log")" -eq "$N" ] || bad+=" not $N echoes;"
grep '^ok ' "$T/cli.log" | awk '{ print $3 }' | grep -qv '^198\.18\.26\.2:7400$' && bad+=" a child saw another local address;"
pids=$(grep '^ok ' "$T/cli.log" | awk '{ print $2 }' | sort -u)
grep -qx "$spid" <<<"$pids" && bad+=" the parent served a connection itself;"
cnt() { "$DEMI_TOP/build/demistat" "$1" | awk -v k="$2" '$1 == k { s += $2 } END { print s + 0 }'; }
echo "$(wc -l <<<"$pids") serving processes"
if [ "$MODE" = forking ]; then
	[ "$(wc -l <<<"$pids")" -eq "$N" ] || bad+=" $(wc -l <<<"$pids") children for $N connections;"
	opens=$(cnt $spid TCP_PASSIVE_OPENS)
	echo "the parent's stack accepted $opens connections"
	[ "$opens" -ge "$N" ] || bad+=" the parent's stack accepted $opens;"
fi
if [ -n "$LOSS" ]; then
	kill -TERM "$IMPAIR_PID"; wait "$IMPAIR_PID" 2>/dev/null
	cat "$IMPAIR_LOG"
	n=$(awk '/->/ { for (i = 1; i < NF; i++) if ($i == "lost") s += $(i + 1) } END { print s + 0 }' "$IMPAIR_LOG")
	[ "$n" -gt 0 ] || bad+=" the relay lost nothing;"
fi
[ -z "$bad" ] || { apps_logs "$T/srv.log"; fail "$bad"; }
echo "$MODE echo server: $N x $BYTES bytes echoed byte-exact by the children${LOSS:+ through ${LOSS}% loss}"
