#!/usr/bin/env bash
# TCP between the stack (on net_tap) and Linux across a faulty wire, both
# directions: the tap's kernel end is bridged by build/impair (this kernel
# has no netem) to a veth into the peer's namespace, with 5% loss, 25%
# reordering, 1% duplication, 0.1% corruption and 1 ms delay each way.
# The stack as client sends 16 MiB and checks the echo; then a kernel
# client does the same against the stack as server. Every byte must match.
. "$(dirname "$0")/../lib/net.sh"
need_root
need_cmd python3 ethtool
. "$DEMI_TOP/tests/interop/lib.sh"
[ -x "$DEMI_TOP/build/impair" ] || fail "build/impair not built"

MiB=$((1 << 20))
nss=$(net_ns_new dfs) # the stack and the relay
nsp=$(net_ns_new dfp) # the kernel peer
tmp=$(mktemp -d /tmp/demi-faults.XXXXXX)
net_cleanup_add "rm -rf $tmp"
ip link add fr0 netns "$nss" type veth peer name fp0 netns "$nsp" || fail "veth"
net_no_offload "$nsp" fp0
ip -n "$nsp" addr add 198.18.6.1/24 dev fp0
ip -n "$nsp" link set fp0 up

run_faulty() { # start a stack with ARGS, bridge its tap to the peer through impair
	local tap; tap=$(net_tag dft)
	ip -n "$nsp" neigh flush dev fp0 # a new stack has a new MAC
	stack_start "$nss" "tap:$tap" 198.18.6.2/24 "$@"
	net_wait_if "$nss" "$tap" 20 || { cat "$stack_log"; fail "tap $tap never appeared"; }
	IMPAIR_LOG=$tmp/impair.log
	net_impair_start "$nss" "$tap" fr0 -l 5 -r 25 -d 1 -c 0.1 -D 1000 -s $RANDOM
}

# ------------------------------------------------------------ stack as client
klog=$tmp/kpeer.log
ip netns exec "$nsp" $KPEER echo-server 0.0.0.0 7 >"$klog" 2>&1 &
net_kill_at_exit $!
for ((i = 0; i < 100; i++)); do grep -q listening "$klog" && break; sleep 0.05; done
run_faulty client tcp 198.18.6.1:7 -n $((16 * MiB))
wait $stack_pid
grep RESULT "$stack_log"
grep -q "RESULT.* ok=1" "$stack_log" || { cat "$stack_log" "$IMPAIR_LOG"; fail "stack client across faults"; }
kill -TERM "$IMPAIR_PID"; wait "$IMPAIR_PID" 2>/dev/null

# ------------------------------------------------------------ stack as server
run_faulty server tcp 7
stack_wait_listening
expect_ok "kernel client across faults, 16 MiB each way" \
	ip netns exec "$nsp" $KPEER client 198.18.6.2 7 $((16 * MiB))
kill -TERM "$IMPAIR_PID"; wait "$IMPAIR_PID" 2>/dev/null
stack_stop
cat "$IMPAIR_LOG"
for what in lost reordered duplicated corrupted; do
	n=$(awk -v w="$what" '/->/ { for (i = 1; i < NF; i++) if ($i == w) s += $(i + 1) } END { print s + 0 }' "$IMPAIR_LOG")
	[ "$n" -gt 0 ] || fail "the relay applied no '$what' fault"
done
echo "tap TCP across loss, reordering, duplication and corruption: 16 MiB each way, both roles, byte-exact"
