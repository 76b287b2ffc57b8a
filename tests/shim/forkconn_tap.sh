#!/usr/bin/env bash
# A connection used by forked children (tests/shim/forkconn.c): the parent
# closes its copy at once, the child waits with poll and select timeouts,
# reads nonblocking, echoes 1 MiB; four children at once; a child that
# _exits with data unread; exec after fork (inetd). On the kernel (loopback
# in a namespace) and under the shim (a tap with the kernel peer, the
# connections bypassed: they stay in the parent's stack and the children
# reach them through its relay): the observations must be identical, the
# peer must get the 4444 bytes the _exiting child wrote, then the end, and
# exec says at the default level that the connection followed it. Then the
# parent exits while its child still holds a connection, and the child's
# accept on a listener of the parent's started stack fails and says why.
. "$(dirname "$0")/../lib/shim.sh"
need_root
need_cmd python3
need_lib
PROG=$DEMI_TOP/build/tests/shim/forkconn
[ -x "$PROG" ] || fail "$PROG not built"
T=$SHIM_TMP
ns=$(net_ns_new dfc)
tap=$(net_tag dfc)
ip netns exec "$ns" timeout 120 python3 "$DEMI_TOP/tests/shim/forkpeer.py" 7600 >"$T/peer.log" 2>&1 &
net_kill_at_exit $!
for ((i = 0; i < 100; i++)); do grep -q listening "$T/peer.log" && break; sleep 0.05; done

ip netns exec "$ns" timeout 60 "$PROG" 127.0.0.1 7600 >"$T/kernel.out" 2>"$T/kernel.err" ||
	{ cat "$T/kernel.out" "$T/kernel.err"; fail "the kernel run failed"; }
for ((i = 0; i < 50; i++)); do grep -q "^U got" "$T/peer.log" && break; sleep 0.1; done
grep -q "^U got 4444 bytes" "$T/peer.log" || { cat "$T/peer.log"; fail "kernel run: the peer did not get the 4444 bytes"; }
: >"$T/peer.log"

demi_conf "$T/c.conf" device="tap:$tap" address=198.18.28.2/24 connect=198.18.28.0/24 listen=7601 level=info
demi_pre -n "$ns" "$T/c.conf"
"${DEMI_PRE[@]}" timeout 60 "$PROG" 198.18.28.1 7600 >"$T/shim.out" 2>"$T/shim.err" &
pid=$!
net_kill_at_exit $pid
net_tap_attach "$ns" "$tap" 198.18.28.1/24 || { cat "$T/shim.err"; fail "tap $tap never appeared"; }
wait $pid || { cat "$T/shim.out" "$T/shim.err"; fail "the shim run failed"; }
grep -q "on the stack" "$T/shim.err" || { cat "$T/shim.err"; fail "the connections were not bypassed"; }
diff -u "$T/kernel.out" "$T/shim.out" || { cat "$T/shim.err"; fail "the shim run differs from the kernel's"; }
for ((i = 0; i < 50; i++)); do grep -q "^U got" "$T/peer.log" && break; sleep 0.1; done
grep -q "^U got 4444 bytes" "$T/peer.log" || { cat "$T/peer.log" "$T/shim.err"; fail "the peer did not get what the _exiting child wrote"; }
grep -q "warn: fd [0-9]*: a connection relayed through the stack of the process that forked this one follows exec" "$T/shim.err" ||
	{ cat "$T/shim.err"; fail "no warning that the connection followed exec"; }
grep -q "warn: exiting with" "$T/shim.err" && { cat "$T/shim.err"; fail "a relay outlived its child"; }
cat "$T/shim.out"

# the parent exits while its child holds the connection: a warning says the
# connection closes, the exit takes no longer than its drain bound, and the
# child finds the end (EPIPE, then EOF); its accept on the parent's
# listener fails with EOPNOTSUPP and a warning
"${DEMI_PRE[@]}" timeout 30 "$PROG" 198.18.28.1 7600 orphan >"$T/orphan.out" 2>"$T/orphan.err" &
pid=$!
net_kill_at_exit $pid
net_tap_attach "$ns" "$tap" 198.18.28.1/24 || { cat "$T/orphan.err"; fail "tap $tap never appeared"; }
for ((i = 0; i < 300; i++)); do grep -q "orphan parent: exits" "$T/orphan.out" && break; sleep 0.05; done
s=$(date +%s.%N)
wait $pid || { cat "$T/orphan.out" "$T/orphan.err"; fail "the orphan run failed"; }
e=$(date +%s.%N)
awk -v s="$s" -v e="$e" 'BEGIN { exit !(e - s < 4) }' || fail "the parent took $(awk -v s="$s" -v e="$e" 'BEGIN { print e - s }') s to exit"
grep -q "warn: exiting with 1 connection(s) still used by forked children" "$T/orphan.err" ||
	{ cat "$T/orphan.err"; fail "no warning when the parent exits before its child"; }
for ((i = 0; i < 50; i++)); do grep -q "orphan child: done" "$T/orphan.out" && break; sleep 0.1; done
grep -q "orphan child: send = -1 EPIPE" "$T/orphan.out" && grep -q "orphan child: read = 0" "$T/orphan.out" ||
	{ cat "$T/orphan.out" "$T/orphan.err"; fail "the orphaned child did not find the end"; }
grep -q "orphan child: accept on the parent's listener = -1 EOPNOTSUPP" "$T/orphan.out" &&
	grep -q "warn: fd [0-9]*: a listener of the parent's started stack: this process cannot accept on it" "$T/orphan.err" ||
	{ cat "$T/orphan.out" "$T/orphan.err"; fail "accept on a listener of the parent's started stack: no clear error"; }
echo "the parent exits first: warned, and the child finds the end"
echo "connections used by forked children: the kernel's observations, the data of an _exiting child delivered"
