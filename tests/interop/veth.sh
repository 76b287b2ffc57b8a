# The stack on one end of a veth pair (namespace $sns, no kernel address on
# that end), the kernel on the other ($kns, 198.18.8.1/24): ping, UDP and TCP
# through DEVICE_KIND (af_packet or af_xdp). Sourced by veth_*.sh.
. "$(dirname "$0")/../lib/net.sh"
need_root
need_cmd ping python3 ethtool
. "$(dirname "$0")/lib.sh"

veth_run() {
	local kind=$1 sdev kdev
	net_veth_pair dv 198.18.8.1/24
	sns=$NET_SNS kns=$NET_KNS sdev=$NET_SDEV kdev=$NET_KDEV
	kx() { ip netns exec "$kns" "$@"; }

	stack_start "$sns" "$kind:$sdev" 198.18.8.2/24 server tcp 7
	stack_wait_listening
	kx ping -c 5 -i 0.2 -W 2 198.18.8.2 >"$stack_log.ping" 2>&1
	net_cleanup_add "rm -f $stack_log.ping"
	grep -q " 5 received" "$stack_log.ping" || { cat "$stack_log.ping" "$stack_log"; fail "$kind: not every ping answered"; }
	echo "$kind: 5/5 pings answered"
	expect_ok "$kind: kernel TCP client, 256 MiB each way" kx $KPEER client 198.18.8.2 7 $((256 << 20))
	if [ "$kind" = af_xdp ]; then
		ip -n "$sns" link show "$sdev" | grep -q xdp || fail "af_xdp: no XDP program on $sdev while running"
	fi
	stack_stop
	if [ "$kind" = af_xdp ]; then
		! ip -n "$sns" link show "$sdev" | grep -q xdp || fail "af_xdp: XDP program left on $sdev after exit"
		# a process killed with -9 leaves its program attached: the next start reclaims it
		stack_start "$sns" "$kind:$sdev" 198.18.8.2/24 server udp 7
		stack_wait_listening
		kill -9 "$stack_pid"; wait "$stack_pid" 2>/dev/null
		ip -n "$sns" link show "$sdev" | grep -q xdp || fail "af_xdp: kill -9 left no program (nothing to reclaim)"
		rm -f "/dev/shm/demi.$stack_pid.0"
	fi
	stack_start "$sns" "$kind:$sdev" 198.18.8.2/24 server udp 7
	stack_wait_listening
	[ "$kind" = af_xdp ] && echo "af_xdp: the program a killed process left was reclaimed"
	expect_ok "$kind: kernel UDP client, 500 datagrams" kx $KPEER udp-client 198.18.8.2 7 500
	stack_stop
	echo "$kind over veth: ping, TCP and UDP checked"
}
