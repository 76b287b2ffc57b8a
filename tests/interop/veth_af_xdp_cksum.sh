#!/usr/bin/env bash
# The checksum-offload trap on af_xdp: a veth peer that leaves TCP
# checksums to the device (tx offload on, the default) sends segments
# whose checksums are never filled; the stack drops each (DROP_TCP_CKSUM)
# and says once, at the default log level, what is wrong and the command
# that fixes it. (The same for xdp: is in tests/apps/nginx_xdp.sh.)
. "$(dirname "$0")/../lib/net.sh"
need_root
need_cmd ethtool
. "$(dirname "$0")/lib.sh"

net_veth_pair dvc 198.18.9.1/24
sns=$NET_SNS kns=$NET_KNS sdev=$NET_SDEV kdev=$NET_KDEV
ip netns exec "$kns" ethtool -K "$kdev" tx on >/dev/null || fail "ethtool -K $kdev tx on"
stack_start "$sns" "af_xdp:$sdev" 198.18.9.2/24 server tcp 7
stack_wait_listening
cs=()
for i in 1 2 3; do
	ip netns exec "$kns" timeout 3 bash -c "exec 3<>/dev/tcp/198.18.9.2/7" 2>/dev/null &
	cs+=($!)
done
for c in "${cs[@]}"; do wait "$c"; done
grep -q "bad checksums.*ethtool -K PEER tx off" "$stack_log" ||
	{ cat "$stack_log"; fail "af_xdp: no warning about the peer's checksum offload"; }
[ "$(grep -c "bad checksums" "$stack_log")" = 1 ] || { cat "$stack_log"; fail "af_xdp: the warning came more than once"; }
# once fixed, the same peer connects
ip netns exec "$kns" ethtool -K "$kdev" tx off >/dev/null || fail "ethtool -K $kdev tx off"
ip netns exec "$kns" timeout 5 bash -c "exec 3<>/dev/tcp/198.18.9.2/7" || fail "af_xdp: no connection after tx off"
stack_stop
echo "af_xdp: the peer's checksum offload reported once with its fix"
