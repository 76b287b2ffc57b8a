#!/usr/bin/env bash
# closefrom(3), close_range(3, ~0U, 0) and a close() of every fd from 3 to
# 1023, and a dup2 of the socket onto every number from 4 to 1023 then
# closefrom(3) (tests/shim/closefrom.c) in a program whose connection is bypassed on
# a tap: the program's socket is closed, as on Linux, but the runtime's own
# fds (the tap's queues, eventfds, epoll...) are not the program's and stay:
# a close() of one gets EBADF, as for a number the program never opened, and a
# dup2 onto one EBUSY (the kernel's answer for a number held elsewhere). A
# new bypassed connection then echoes 256 KiB byte-exact through the kernel
# peer (tests/shim/peer.py echo-multi). The same program on the kernel first;
# the outputs must be identical.
. "$(dirname "$0")/../lib/shim.sh"
need_root
need_cmd python3
need_lib

PEER=$DEMI_TOP/tests/shim/peer.py
PROG=$DEMI_TOP/build/tests/shim/closefrom
[ -x "$PROG" ] || fail "closefrom not built"
ns=$(net_ns_new dcf)
T=$SHIM_TMP

# run MODE WHAT ADDR [CONF]: the peer, then the program (on the kernel, or
# under the preload with CONF on a fresh tap $TAP)
run() {
	local mode=$1 what=$2 addr=$3 out=$T/$2.$1 pre=(ip netns exec "$ns" env)
	[ $# -ge 4 ] && { demi_pre -n "$ns" "$4"; pre=("${DEMI_PRE[@]}"); }
	ip netns exec "$ns" timeout 60 python3 "$PEER" echo-multi 0.0.0.0 9700 >"$out.peer" 2>&1 &
	local ppid=$!
	net_kill_at_exit $ppid
	for ((i = 0; i < 100; i++)); do grep -q listening "$out.peer" 2>/dev/null && break; sleep 0.05; done
	"${pre[@]}" timeout 40 "$PROG" "$what" "$addr" 9700 >"$out" 2>"$out.err" &
	local pid=$!
	net_kill_at_exit $pid
	if [ "$mode" = shim ]; then
		net_tap_attach "$ns" "$TAP" 198.18.27.1/24 || { cat "$out" "$out.err"; fail "tap $TAP never appeared"; }
	fi
	wait $pid || { local prc=$?; cat "$out" "$out.err"; fail "closefrom $what ($mode): exit $prc"; }
	wait $ppid || { cat "$out.peer"; fail "the peer of closefrom $what ($mode)"; }
}

rc=0
for what in closefrom range loop dup2; do
	run kernel $what 127.0.0.1
	TAP=$(net_tag dcft)
	demi_conf "$T/$what.conf" device="tap:$TAP" address=198.18.27.2/24 connect=198.18.27.0/24 \
		on_error=fail level=info
	run shim $what 198.18.27.1 "$T/$what.conf"
	if diff -u "$T/$what.kernel" "$T/$what.shim"; then
		echo "$what: $(wc -l <"$T/$what.kernel") observations identical on the kernel and bypassed"
	else
		rc=1
	fi
	# every connection, the ones after the close included, went through the stack
	n=$(grep -c "fd [0-9]*: on the stack (bypassed: \[bypass\] connect" "$T/$what.shim.err")
	[ "$n" -eq 3 ] || { cat "$T/$what.shim.err"; fail "$what: $n of 3 connections bypassed"; }
	grep "error:" "$T/$what.shim.err" && fail "$what: the runtime reported an error"
	grep -q "second echoed 262144 bytes, identical 1" "$T/$what.shim" || fail "$what: no byte-exact echo"
	if [ $what = dup2 ]; then
		grep -q "^dup2 refused 0 (EBUSY), failed 0$" "$T/$what.kernel.err" || fail "dup2 on the kernel: $(cat "$T/$what.kernel.err")"
		grep -Eq "^dup2 refused [1-9][0-9]* \(EBUSY\), failed 0$" "$T/$what.shim.err" ||
			fail "dup2 under the shim refused no number of the runtime's: $(grep dup2 "$T/$what.shim.err")"
		echo "dup2 under the shim: $(grep "^dup2 refused" "$T/$what.shim.err") (the runtime's fds)"
	fi
	ip -n "$ns" link del "$TAP" 2>/dev/null || true
done
[ $rc -eq 0 ] || fail "closing the program's fds differs from the kernel"
