#!/usr/bin/env bash
# The stack under the runtime on net_tap: the kernel end of the tap, in a
# namespace of its own, pings the stack and every echo is answered, also
# pings above the MTU (4000 and 30000 bytes: fragments each way). Also:
# the two ends have distinct MACs, the counters file shows the replies, and
# SIGTERM stops the program cleanly (exit 0, counters file removed).
. "$(dirname "$0")/../lib/net.sh"
need_root
need_cmd ping python3
echo_bin=$DEMI_TOP/build/demi-echo
[ -x "$echo_bin" ] || skip "build/demi-echo not built"

ns=$(net_ns_new dtp)
tap=$(net_tag dtap)
log=$(mktemp /tmp/demi-tap.XXXXXX)
net_cleanup_add "rm -f $log"

ip netns exec "$ns" "$echo_bin" -d "tap:$tap" -a 198.18.3.2/24 -t 60 serve >"$log" 2>&1 &
pid=$!
net_kill_at_exit $pid
net_tap_attach "$ns" "$tap" 198.18.3.1/24 || { cat "$log"; fail "tap $tap never appeared"; }

ip netns exec "$ns" ping -c 5 -i 0.2 -W 2 198.18.3.2 >"$log.ping" 2>&1
net_cleanup_add "rm -f $log.ping"
cat "$log.ping"
grep -q " 5 received" "$log.ping" || { cat "$log"; fail "not every ping was answered"; }
for size in 4000 30000; do
	ip netns exec "$ns" ping -c 3 -i 0.2 -W 2 -s $size 198.18.3.2 >"$log.ping" 2>&1
	grep -E "received|bytes from" "$log.ping" | head -2
	grep -q " 3 received" "$log.ping" || { cat "$log.ping" "$log"; fail "pings of $size bytes were not answered"; }
done

kmac=$(ip -n "$ns" -o link show "$tap" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
smac=$(ip -n "$ns" neigh show 198.18.3.2 dev "$tap" | awk '{print $3}')
echo "kernel end $kmac, stack $smac"
[ -n "$smac" ] && [ "$kmac" != "$smac" ] || fail "the stack and the kernel end share MAC $kmac"

shm=/dev/shm/demi.$pid.0
[ -f "$shm" ] || fail "no counters file $shm"
[ "$(stat -c %a "$shm")" = 600 ] || fail "counters file mode $(stat -c %a "$shm"), want 600"
replies=$(python3 "$DEMI_TOP/tests/interop/demishm.py" "$shm" ICMP_ECHO_REPLIES | cut -d= -f2)
[ "${replies:-0}" -ge 5 ] || fail "counters file shows $replies echo replies, want >= 5"

kill -TERM $pid
wait $pid
rc=$?
[ $rc -eq 0 ] || { cat "$log"; fail "demi-echo exited $rc after SIGTERM"; }
[ ! -e "$shm" ] || fail "counters file left behind after exit"
echo "tap: 5/5 pings answered, 3+3 of 4000 and 30000 bytes in fragments, distinct MACs, $replies replies counted, clean exit"
