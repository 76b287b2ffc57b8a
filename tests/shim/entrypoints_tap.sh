#!/usr/bin/env bash
# Every interposed entry point a program reaches without naming it, called
# by name on a bypassed connection (tests/shim/entrypoints.c): __read_chk,
# __recv_chk, __recvfrom_chk, __poll_chk, __ppoll_chk, sendfile64, fcntl64,
# closefrom, and execl, execlp, execle, execvpe of a helper that must find
# the preload kept though the caller dropped it. On the kernel over
# loopback in a namespace, then under the shim with the stack on a tap
# whose kernel end is the echo peer (tests/shim/peer.py echo-multi): every
# observation must be identical. (exports.sh only checks the names exist.)
. "$(dirname "$0")/../lib/shim.sh"
need_root
need_cmd python3
need_lib
PEER=$DEMI_TOP/tests/shim/peer.py
PROG=$DEMI_TOP/build/tests/shim/entrypoints
[ -x "$PROG" ] || fail "$PROG not built"
T=$SHIM_TMP
ns=$(net_ns_new den)
tap=$(net_tag dent)
ip -n "$ns" link set lo up
demi_conf "$T/e.conf" device=tap:$tap address=198.18.27.2/24 connect=198.18.27.0/24 level=info

run() { # kernel|shim OUT ADDR PORT
	local side=$1 out=$2 addr=$3 port=$4 pid ppid
	ip netns exec "$ns" timeout 60 python3 "$PEER" echo-multi 0.0.0.0 "$port" >"$out.peer" 2>&1 &
	ppid=$!
	net_kill_at_exit $ppid
	for ((i = 0; i < 100; i++)); do grep -q listening "$out.peer" 2>/dev/null && break; sleep 0.05; done
	if [ "$side" = kernel ]; then DEMI_PRE=(ip netns exec "$ns"); else demi_pre -n "$ns" "$T/e.conf"; fi
	"${DEMI_PRE[@]}" timeout 60 "$PROG" "$addr" "$port" >"$out" 2>"$out.err" &
	pid=$!
	net_kill_at_exit $pid
	[ "$side" = shim ] && { net_tap_attach "$ns" "$tap" 198.18.27.1/24 || { cat "$out.err"; fail "tap $tap never appeared"; }; }
	wait $pid || { cat "$out" "$out.err"; fail "entrypoints ($side): exit status"; }
	wait $ppid || { cat "$out.peer"; fail "the peer ($side)"; }
}

run kernel "$T/kernel" 127.0.0.1 7500
run shim "$T/shim" 198.18.27.1 7502
cat "$T/kernel"
diff -u "$T/kernel" "$T/shim" || fail "the entry points differ under the shim from the kernel"
n=$(grep -c "fd [0-9]*: on the stack (bypassed" "$T/shim.err")
[ "$n" -ge 3 ] || { cat "$T/shim.err"; fail "only $n connections were bypassed"; }
[ "$(grep -c "^helper: LD_PRELOAD=$DEMI_LIB\$" "$T/shim.err")" -eq 4 ] ||
	{ cat "$T/shim.err"; fail "a helper ran without the preload"; }
echo "entry points: $(wc -l <"$T/kernel") observations identical on the kernel and bypassed"
