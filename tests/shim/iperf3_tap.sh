#!/usr/bin/env bash
# iperf3 -c under the shim over a tap device, against a kernel iperf3 -s at
# the tap's kernel end: select() over the control and data sockets (the data
# socket always writable), TCP_INFO, non-blocking writes, in both directions
# (-R: the stack receives). Bytes must flow and the run must end cleanly.
. "$(dirname "$0")/../lib/shim.sh"
need_root
need_cmd iperf3
need_lib
ns=$(net_ns_new dip)
ip netns exec "$ns" iperf3 -s >"$SHIM_TMP/server.log" 2>&1 &
net_kill_at_exit $!
for dir in "" -R; do
	tap=$(net_tag dipt)
	demi_conf "$SHIM_TMP/c.conf" device="tap:$tap" address=198.18.18.2/24 connect=198.18.18.0/24 level=info
	demi_pre -n "$ns" "$SHIM_TMP/c.conf"
	"${DEMI_PRE[@]}" timeout 60 iperf3 -c 198.18.18.1 -t 2 $dir >"$SHIM_TMP/c.log" 2>&1 &
	cpid=$!
	net_kill_at_exit $cpid
	net_tap_attach "$ns" "$tap" 198.18.18.1/24 || { cat "$SHIM_TMP/c.log"; fail "tap $tap never appeared"; }
	wait $cpid || { cat "$SHIM_TMP/c.log"; fail "iperf3 -c $dir exit $?"; }
	grep -q "iperf Done" "$SHIM_TMP/c.log" || { cat "$SHIM_TMP/c.log"; fail "iperf3 -c $dir did not finish"; }
	grep -q "on the stack (bypassed: \[bypass\] connect" "$SHIM_TMP/c.log" || fail "iperf3's sockets were not bypassed"
	line=$(grep -E "sec .* receiver" "$SHIM_TMP/c.log" | tail -1)
	bytes=$(echo "$line" | awk '{print $5}')
	awk -v b="$bytes" 'BEGIN { exit !(b + 0 > 0) }' || { cat "$SHIM_TMP/c.log"; fail "iperf3 -c $dir moved no data"; }
	echo "iperf3 -c ${dir:-(send)} through the stack: $line"
	ip -n "$ns" link del "$tap" 2>/dev/null || true # gone with the process already
done
