#!/usr/bin/env bash
# sockperf ping-pong (unmodified) under libdemi as a client: its stack on a
# tap device, [bypass] connect naming the tap's prefix, against a sockperf
# server on the kernel at the tap's kernel end. sockperf takes its socket
# calls through dlsym, so the client also gets --load-vma=libdemi.so (see
# SURFACE.md). --data-integrity makes sockperf check every reply's bytes;
# runs with 14 B and 1400 B messages must report latencies, send as many
# messages as they receive back (but the one in flight at the end), and
# see no integrity error.
. "$(dirname "$0")/../lib/apps.sh"
need_root
need_cmd sockperf
need_lib

ns=$(net_ns_new dcs)
tap=$(net_tag dcst)
T=$APPS_TMP
ip netns exec "$ns" sockperf server --tcp -i 0.0.0.0 -p 11111 >"$T/srv.log" 2>&1 &
net_kill_at_exit $!
net_wait_tcp "$ns" 127.0.0.1 11111 20 || { apps_logs "$T/srv.log"; fail "sockperf server (kernel) did not start"; }
demi_conf "$T/cli.conf" device="tap:$tap" address=198.18.8.2/24 connect=198.18.8.0/24 level=info
for size in 14 1400; do
	log=$T/pp.$size.log
	apps_client_tap "$ns" "$tap" 198.18.8.1/24 "$T/cli.conf" "$log" \
		sockperf ping-pong --tcp -i 198.18.8.1 -p 11111 -t 2 -m $size --data-integrity \
		--load-vma="$DEMI_LIB" || { apps_logs "$log" "$T/srv.log"; fail "sockperf ping-pong -m $size"; }
	grep -q "on the stack (bypassed: \[bypass\] connect" "$log" || { apps_logs "$log"; fail "sockperf's socket was not bypassed"; }
	grep -q "percentile 50.000" "$log" || { apps_logs "$log"; fail "-m $size: no latency report"; }
	grep -qiE "integrity.*(fail|error)|error" "$log" && { apps_logs "$log"; fail "-m $size: sockperf reported an error"; }
	sent=$(grep -o 'SentMessages=[0-9]*' "$log" | head -1 | cut -d= -f2)
	recv=$(grep -o 'ReceivedMessages=[0-9]*' "$log" | head -1 | cut -d= -f2)
	# the last message may be in flight when the run's time ends (so on the kernel too)
	[ "${sent:-0}" -gt 0 ] && [ "${recv:-0}" -ge $((sent - 1)) ] && [ "$recv" -le "$sent" ] || { apps_logs "$log"; fail "-m $size: sent ${sent:-?} received ${recv:-?}"; }
	sleep 0.5 # the tap of the last run goes with its process
	echo "sockperf -m $size through the stack: $sent messages each way, data checked, $(grep 'percentile 50.000' "$log" | sed 's/.*=//')"
done
