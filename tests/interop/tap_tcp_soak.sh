#!/usr/bin/env bash
# A long transfer between the stack (build/demi-echo on net_tap) and Linux
# (tests/interop/kpeer.py) through build/impair with 10% loss, 10%
# reordering, 1% duplication and 0.1% corruption each way, both roles: the
# stack as client sends SOAK_MIB (default 4; `make soak`: 1024) to the
# kernel's echo server and checks the echo byte for byte, then a kernel
# client does the same against the stack as server (SOAK_ROLES: "client
# server", or one of them). SOAK_LINUX=1 adds the bar: a kernel client and
# the kernel's server through the same relay and faults.
# Checks, for each role: the sha256 of what the receiving end of each
# direction got equals the sha256 of what was sent; the relay corrupted
# frames; where it corrupted frames toward an end, that end counted drops
# by checksum or header check (the stack's counters; the kernel's
# TcpInCsumErrors, IpInHdrErrors). Times are printed, not asserted
# (SOAK_CC: the congestion control, default cubic).
. "$(dirname "$0")/../lib/net.sh"
need_root
need_cmd python3 ethtool nstat
. "$DEMI_TOP/tests/interop/lib.sh"
[ -x "$DEMI_TOP/build/impair" ] || fail "build/impair not built"

MiB=$((1 << 20))
bytes=$((${SOAK_MIB:-4} * MiB))
cc=${SOAK_CC:-cubic}
export KPEER_CC=$cc
[ "$cc" = newreno ] && KPEER_CC=reno
nss=$(net_ns_new dss) # the stack and the relay
nsp=$(net_ns_new dsp) # the kernel peer
tmp=$(mktemp -d /tmp/demi-soak.XXXXXX)
net_cleanup_add "rm -rf $tmp"
ip link add sr0 netns "$nss" type veth peer name sp0 netns "$nsp" || fail "veth"
net_no_offload "$nsp" sp0
ip -n "$nsp" addr add 198.18.6.1/24 dev sp0
ip -n "$nsp" link set sp0 up
want=$($KPEER pattern-sha $bytes)

# copy the stack's counters file every 0.2 s: a client's goes with it
ctr_watch() { # PID
	(
		while kill -0 "$1" 2>/dev/null; do
			for f in /dev/shm/demi."$1".[0-9]*; do
				[ -e "$f" ] && cp "$f" "$tmp/ctr.tmp" 2>/dev/null && mv "$tmp/ctr.tmp" "$tmp/ctr"
			done
			sleep 0.2
		done
	) &
	net_kill_at_exit $!
	watch_pid=$!
}
ctr() { python3 "$DEMI_TOP/tests/interop/demishm.py" "$tmp/ctr" "$@" | awk -F= '{ s += $2 } END { print s + 0 }'; }
# the kernel peer's checksum drops so far (absolute, no nstat history)
kdrops() { ip netns exec "$nsp" nstat -asz TcpInCsumErrors IpInHdrErrors | awk '/Errors/ { s += $2 } END { print s + 0 }'; }
secs_of() { sed -n 's/.*RESULT.* secs=\([0-9.]*\) .*/\1/p' "$@"; }
impair() { # relay interface $1 of the stack's namespace to the peer's, with the faults
	ip -n "$nsp" neigh flush dev sp0 # a new end has a new MAC
	net_impair_start "$nss" "$1" sr0 -l 10 -r 10 -d 1 -c 0.1 -s $RANDOM
}
impair_stop() { kill -TERM "$IMPAIR_PID"; wait "$IMPAIR_PID" 2>/dev/null; }
# corrupted frames from interface $1 to $2 (the relay's report of this role)
corrupted() { awk -v k="$1->$2" '$2 == k { for (i = 1; i < NF; i++) if ($i == "corrupted") print $(i + 1) }' "$IMPAIR_LOG"; }
corrupt_total=0
check_role() { # ROLE: each end dropped what was corrupted toward it
	local role=$1 tos tok sd kd
	tos=$(corrupted sr0 "$tap") tok=$(corrupted "$tap" sr0)
	# a flipped bit fails the IPv4 or TCP checksum, or a header check before it
	sd=$(ctr DROP_IPV4_CKSUM DROP_TCP_CKSUM DROP_IPV4_VERSION DROP_IPV4_IHL DROP_IPV4_LEN DROP_TCP_OFF)
	kd=$(($(kdrops) - kd0))
	echo "$role: corrupted toward the stack $tos, dropped by its checks $sd;" \
		"toward Linux $tok, dropped by its checks $kd"
	[ "${tos:-0}" -eq 0 ] || [ "$sd" -gt 0 ] || fail "$role: the stack counted no checksum drop"
	[ "${tok:-0}" -eq 0 ] || [ "$kd" -gt 0 ] || fail "$role: Linux counted no checksum drop"
	corrupt_total=$((corrupt_total + ${tos:-0} + ${tok:-0}))
}

kecho() { # the kernel's echo server for one connection: $kpid, $klog
	klog=$tmp/kpeer.log
	ip netns exec "$nsp" $KPEER echo-server 0.0.0.0 7 --once >"$klog" 2>&1 &
	kpid=$!
	net_kill_at_exit $kpid
	for ((i = 0; i < 100; i++)); do grep -qs listening "$klog" && break; sleep 0.05; done
}

roles=${SOAK_ROLES:-client server}
export KPEER_STALL=300 # the relay's faults can stall a connection for a while (RTO backoff)
times=""
# ---------------------------------------------------------- stack as client
if [[ " $roles " == *" client "* ]]; then
kecho
kd0=$(kdrops)
tap=$(net_tag dst)
IMPAIR_LOG=$tmp/impair.client
stack_start "$nss" "tap:$tap" 198.18.6.2/24 -t 0 -C "$cc" client tcp 198.18.6.1:7 -n $bytes
ctr_watch $stack_pid
net_wait_if "$nss" "$tap" 20 || { cat "$stack_log"; fail "tap $tap never appeared"; }
impair "$tap"
wait $stack_pid
grep -q "RESULT.* ok=1" "$stack_log" || { cat "$stack_log" "$klog"; impair_stop; cat "$IMPAIR_LOG"; fail "stack client"; }
wait $kpid
wait $watch_pid
impair_stop
cat "$IMPAIR_LOG"
grep RESULT "$stack_log" >"$tmp/client.res"
echo "stack client: $(cat "$tmp/client.res")"
echo "kernel echo server: $(grep echoed "$klog")"
grep -q "^echoed $bytes sha256=$want\$" "$klog" || fail "the kernel server got other bytes than the stack sent"
check_role "stack client"
times+="stack client $(secs_of "$tmp/client.res") s"
fi

# ---------------------------------------------------------- stack as server
if [[ " $roles " == *" server "* ]]; then
kd0=$(kdrops)
tap=$(net_tag dst)
IMPAIR_LOG=$tmp/impair.server
stack_start "$nss" "tap:$tap" 198.18.6.2/24 -t 0 -C "$cc" server tcp 7
ctr_watch $stack_pid
net_wait_if "$nss" "$tap" 20 || { cat "$stack_log"; fail "tap $tap never appeared"; }
impair "$tap"
stack_wait_listening
res=$(ip netns exec "$nsp" $KPEER client 198.18.6.2 7 $bytes 2>&1)
sleep 0.5 # a last copy of the counters
stack_stop
impair_stop
cat "$IMPAIR_LOG"
echo "kernel client: $(grep RESULT <<<"$res")"
grep -q "RESULT.* sha_sent=$want sha_echoed=$want ok=1" <<<"$res" || { echo "$res"; cat "$stack_log"; fail "kernel client"; }
check_role "stack server"
times+="${times:+, }stack server $(secs_of <<<"$res") s"
fi
# -------------------------------------- Linux at both ends, for the bar
if [ "${SOAK_LINUX:-0}" = 1 ]; then
	nsk=$(net_ns_new dsk)
	ip link add kr0 netns "$nss" type veth peer name kl0 netns "$nsk" || fail "veth"
	net_no_offload "$nsk" kl0
	ip -n "$nsk" addr add 198.18.6.2/24 dev kl0
	ip -n "$nsk" link set kl0 up
	kecho
	IMPAIR_LOG=$tmp/impair.linux
	impair kr0
	resl=$(ip netns exec "$nsk" $KPEER client 198.18.6.1 7 $bytes 2>&1)
	impair_stop
	echo "Linux client, Linux server: $(grep RESULT <<<"$resl")"
	grep -q "RESULT.* sha_sent=$want sha_echoed=$want ok=1" <<<"$resl" || { echo "$resl"; fail "Linux at both ends"; }
	times+="${times:+, }Linux at both ends $(secs_of <<<"$resl") s"
fi
echo "times for $((bytes / MiB)) MiB each way: $times"
[ "$roles" = none ] || [ "$corrupt_total" -gt 0 ] || fail "the relay corrupted no frame"
echo "soak: $((bytes / MiB)) MiB each way through 10% loss, 10% reordering, 1% duplication, 0.1% corruption," \
	"stack as $roles ($cc), sha256 equal both ways, corrupted frames dropped by checksum"
