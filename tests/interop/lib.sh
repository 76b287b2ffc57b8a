# Helpers of the interop tests: the stack (build/demi-echo) on a DPDK device
# with the kernel as the peer. Source after tests/lib/net.sh.
#   stack_start NS DEVICE ADDR/LEN ARGS...   starts demi-echo in NS; sets $stack_pid, $stack_log
#   stack_tap_up NS TAP KERNEL_ADDR/LEN      the kernel end of a tap made by the stack
#   stack_stop                               SIGTERM, expects a clean exit

DEMI_ECHO=$DEMI_TOP/build/demi-echo
KPEER="python3 $DEMI_TOP/tests/interop/kpeer.py"
[ -x "$DEMI_ECHO" ] || skip "build/demi-echo not built"

stack_start() {
	local ns=$1 dev=$2 addr=$3; shift 3
	stack_log=$(mktemp /tmp/demi-stack.XXXXXX)
	net_cleanup_add "rm -f $stack_log"
	ip netns exec "$ns" "$DEMI_ECHO" -d "$dev" -a "$addr" -t 300 "$@" >"$stack_log" 2>&1 &
	stack_pid=$!
	net_kill_at_exit $stack_pid
}

stack_tap_up() {
	local ns=$1 tap=$2 addr=$3
	net_tap_attach "$ns" "$tap" "$addr" || { cat "$stack_log"; fail "tap $tap never appeared"; }
}

# Wait until the stack's log says it listens (or it died).
stack_wait_listening() {
	local i
	for ((i = 0; i < 200; i++)); do
		grep -q '^listening' "$stack_log" && return 0
		kill -0 "$stack_pid" 2>/dev/null || break
		sleep 0.05
	done
	cat "$stack_log"
	if grep -q "Protocol not supported" "$stack_log"; then
		fail "the stack has no such protocol yet (EPROTONOSUPPORT)"
	fi
	fail "the stack did not start listening"
}

stack_stop() {
	local rc
	kill -TERM "$stack_pid" 2>/dev/null
	wait "$stack_pid"
	rc=$?
	[ $rc -eq 0 ] || { cat "$stack_log"; fail "demi-echo exited $rc after SIGTERM"; }
}

# Run a command, show its output; fail with a message unless its RESULT line has ok=1.
expect_ok() {
	local what=$1 out; shift
	out=$("$@" 2>&1)
	echo "$what: $(echo "$out" | grep RESULT)"
	echo "$out" | grep -q "RESULT.* ok=1" || { echo "$out"; [ -n "${stack_log:-}" ] && cat "$stack_log"; fail "$what"; }
}

# netem on both directions of a kernel interface in NS: egress directly,
# ingress through an ifb device.
netem_both() {
	local ns=$1 dev=$2 ifb=$3; shift 3
	ip -n "$ns" link add "$ifb" type ifb || fail "no ifb device"
	ip -n "$ns" link set "$ifb" up
	tc -n "$ns" qdisc add dev "$dev" root netem "$@" || fail "tc netem on $dev"
	tc -n "$ns" qdisc add dev "$dev" handle ffff: ingress
	tc -n "$ns" filter add dev "$dev" parent ffff: matchall action mirred egress redirect dev "$ifb" ||
		fail "tc mirred to $ifb"
	tc -n "$ns" qdisc add dev "$ifb" root netem "$@" || fail "tc netem on $ifb"
}
