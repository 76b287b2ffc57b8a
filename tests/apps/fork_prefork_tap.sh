#!/usr/bin/env bash
# Prefork: the parent listens and forks 4 children that each accept in a
# loop (Apache prefork, many Python servers). The parent never started its
# stack, so each child replays the listener into a stack of its own on its
# own queue of the tap; 32 concurrent kernel clients x 4 MiB echoed
# byte-exact, and every child's counters show connections it accepted.
. "$(dirname "$0")/../lib/apps.sh"
need_root
[ -x "$PY" ] || skip "$PY missing"
need_lib
MODE=${FORK_MODE:-prefork}
N=32 BYTES=$((4 << 20))
T=$APPS_TMP
ns=$(net_ns_new dpf)
tap=$(net_tag dpt)
demi_conf "$T/s.conf" device="tap:$tap" address=198.18.27.2/24 listen=7500 level=info dpdk.mbufs=65536
demi_run -n "$ns" "$T/s.conf" $PY "$DEMI_TOP/tests/apps/forkserver.py" $MODE 7500 4 >"$T/srv.log" 2>&1 &
net_kill_at_exit $!
if [ "$MODE" = prefork ]; then
	# the children's first accept starts their stacks: the tap appears then
	for ((i = 0; i < 200; i++)); do grep -q "^children" "$T/srv.log" && break; sleep 0.05; done
fi
net_tap_attach "$ns" "$tap" 198.18.27.1/24 || { apps_logs "$T/srv.log"; fail "tap $tap never appeared"; }
net_wait_tcp "$ns" 198.18.27.2 7500 20 || { apps_logs "$T/srv.log"; fail "the server is unreachable"; }
for ((i = 0; i < 200; i++)); do grep -q "^children" "$T/srv.log" && break; sleep 0.05; done
kids=$(awk '/^children/ { $1 = ""; print }' "$T/srv.log")
[ -n "$kids" ] || { apps_logs "$T/srv.log"; fail "no children"; }
ip netns exec "$ns" timeout 120 $PY "$DEMI_TOP/tests/apps/forkclient.py" 198.18.27.2 7500 $N $BYTES \
	>"$T/cli.log" 2>&1 || { apps_logs "$T/cli.log" "$T/srv.log"; fail "a connection failed: $(grep -c BAD "$T/cli.log") of $N"; }
bad=""
[ "$(grep -c '^ok ' "$T/cli.log")" -eq "$N" ] || bad+=" not $N echoes;"
grep '^ok ' "$T/cli.log" | awk '{ print $3 }' | grep -qv '^198\.18\.27\.2:7500$' && bad+=" a child saw another local address;"
cnt() { "$DEMI_TOP/build/demistat" "$1" | awk -v k="$2" '$1 == k { s += $2 } END { print s + 0 }'; }
for k in $kids; do
	served=$(grep -c "^ok $k " "$T/cli.log")
	if [ "$MODE" = prefork ]; then
		opens=$(cnt $k TCP_PASSIVE_OPENS)
		echo "child $k: served $served, its stack accepted $opens"
		[ "$opens" -gt 0 ] || bad+=" child $k's stack accepted nothing;"
	else
		echo "child $k: served $served"
	fi
	[ "$served" -gt 0 ] || bad+=" child $k served nothing;"
done
[ -z "$bad" ] || { apps_logs "$T/srv.log"; fail "$bad"; }
echo "$MODE: $N x $BYTES bytes echoed byte-exact, every child served"
