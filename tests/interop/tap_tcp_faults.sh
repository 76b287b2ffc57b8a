#!/usr/bin/env bash
# TCP between the stack (on net_tap) and Linux across a faulty wire, both
# directions: the tap's kernel end is bridged by build/impair (this kernel
# has no netem) to a veth into the peer's namespace, with 5% loss, 25%
# reordering, 1% duplication, 0.1% corruption and 1 ms delay each way.
# For each congestion control (both ends use it): the stack as client sends
# 8 MiB and checks the echo; a kernel client does the same against the
# stack as server; and, for the bar, a kernel client in a third namespace
# does the same through the same relay and wire against the kernel server.
# Every byte must match. Times and their ratio to Linux's are printed, not
# asserted (FAULTS_MIB changes the size, FAULTS_CC the controls tried).
. "$(dirname "$0")/../lib/net.sh"
need_root
need_cmd python3 ethtool
. "$DEMI_TOP/tests/interop/lib.sh"
[ -x "$DEMI_TOP/build/impair" ] || fail "build/impair not built"

MiB=$((1 << 20))
bytes=$((${FAULTS_MIB:-8} * MiB))
ccs=${FAULTS_CC:-cubic newreno}
nss=$(net_ns_new dfs) # the stack and the relay
nsp=$(net_ns_new dfp) # the kernel peer
nsk=$(net_ns_new dfk) # the kernel in the stack's place, for the comparison
tmp=$(mktemp -d /tmp/demi-faults.XXXXXX)
net_cleanup_add "rm -rf $tmp"
IMPAIR_LOG=$tmp/impair.log
ip link add fr0 netns "$nss" type veth peer name fp0 netns "$nsp" || fail "veth"
net_no_offload "$nsp" fp0
ip -n "$nsp" addr add 198.18.6.1/24 dev fp0
ip -n "$nsp" link set fp0 up
ip link add kr0 netns "$nss" type veth peer name kl0 netns "$nsk" || fail "veth"
net_no_offload "$nsk" kl0
ip -n "$nsk" link set kl0 up

impair() { # bridge interface $1 of the relay's namespace to the peer
	ip -n "$nsp" neigh flush dev fp0 # a new end has a new MAC
	net_impair_start "$nss" "$1" fr0 -l 5 -r 25 -d 1 -c 0.1 -D 1000 -s $RANDOM
}
impair_stop() {
	kill -TERM "$IMPAIR_PID"; wait "$IMPAIR_PID" 2>/dev/null
}
run_ok() { # WHAT CMD...: run, show the RESULT line, keep the output in $res
	local what=$1; shift
	res=$("$@" 2>&1)
	echo "$what: $(grep RESULT <<<"$res")"
	grep -q "RESULT.* ok=1" <<<"$res" || { echo "$res"; cat "$IMPAIR_LOG"; fail "$what"; }
}
secs_of() { sed -n 's/.*RESULT.* secs=\([0-9.]*\) .*/\1/p' <<<"$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

for cc in $ccs; do
	# the kernel's end uses the same control (NewReno is Linux's "reno")
	export KPEER_CC=$cc
	[ "$cc" = newreno ] && KPEER_CC=reno
	klog=$tmp/kpeer.log
	ip netns exec "$nsp" $KPEER echo-server 0.0.0.0 7 >"$klog" 2>&1 &
	kpid=$!
	net_kill_at_exit $kpid
	for ((i = 0; i < 100; i++)); do grep -q listening "$klog" && break; sleep 0.05; done
	# -------------------------------------------------------- stack as client
	tap=$(net_tag dft)
	stack_start "$nss" "tap:$tap" 198.18.6.2/24 -C "$cc" client tcp 198.18.6.1:7 -n $bytes
	net_wait_if "$nss" "$tap" 20 || { cat "$stack_log"; fail "tap $tap never appeared"; }
	impair "$tap"
	wait $stack_pid
	grep -q "RESULT.* ok=1" "$stack_log" || { cat "$stack_log" "$IMPAIR_LOG"; fail "stack client across faults ($cc)"; }
	client=$(grep RESULT "$stack_log")
	echo "stack client across faults ($cc): $client"
	impair_stop
	# -------------------------------------------------------- stack as server
	tap=$(net_tag dft)
	stack_start "$nss" "tap:$tap" 198.18.6.2/24 -C "$cc" server tcp 7
	net_wait_if "$nss" "$tap" 20 || { cat "$stack_log"; fail "tap $tap never appeared"; }
	impair "$tap"
	stack_wait_listening
	run_ok "kernel client, stack server across faults ($cc)" \
		ip netns exec "$nsp" $KPEER client 198.18.6.2 7 $bytes
	server=$res
	impair_stop
	stack_stop
	# -------------------------------------------------------- Linux both ends
	ip -n "$nsk" addr add 198.18.6.2/24 dev kl0
	impair kr0
	run_ok "kernel client, kernel server across faults ($cc)" \
		ip netns exec "$nsk" $KPEER client 198.18.6.1 7 $bytes
	linux=$res
	impair_stop
	ip -n "$nsk" addr flush dev kl0
	kill "$kpid"; wait "$kpid" 2>/dev/null
	tc=$(secs_of "$client") ts=$(secs_of "$server") tl=$(secs_of "$linux")
	echo "faults $cc: $((bytes / MiB)) MiB each way: stack client ${tc} s, stack server ${ts} s," \
		"Linux ${tl} s; ratio to Linux: client $(ratio "$tc" "$tl"), server $(ratio "$ts" "$tl")"
done
cat "$IMPAIR_LOG"
for what in lost reordered duplicated corrupted; do
	n=$(awk -v w="$what" '/->/ { for (i = 1; i < NF; i++) if ($i == w) s += $(i + 1) } END { print s + 0 }' "$IMPAIR_LOG")
	[ "$n" -gt 0 ] || fail "the relay applied no '$what' fault"
done
echo "tap TCP across loss, reordering, duplication and corruption: $((bytes / MiB)) MiB each way, both roles, $ccs, byte-exact"
