#!/usr/bin/env bash
# Shim to shim over memif, no kernel on the path: a sockperf server and a
# sockperf ping-pong client, each unmodified under libdemi with its own
# stack (memif role=server / role=client). The client also gets
# --load-vma=libdemi.so (sockperf's data path goes through dlsym) and
# --data-integrity (sockperf checks every reply's bytes).
. "$(dirname "$0")/../lib/apps.sh"
need_root
need_cmd sockperf
need_lib

ns=$(net_ns_new dms)
T=$APPS_TMP
apps_memif_confs
demi_run -n "$ns" "$T/server.conf" sockperf server --tcp -i 0.0.0.0 -p 11111 >"$T/srv.log" 2>&1 &
net_kill_at_exit $!
# sockperf's server blocks in accept at once: its stack (and the memif
# socket) starts there
apps_wait_sock "$APPS_MEMIF" 20 || { apps_logs "$T/srv.log"; fail "the server's memif socket never appeared"; }
for size in 14 1400; do
	log=$T/pp.$size.log
	demi_run -n "$ns" "$T/client.conf" sockperf ping-pong --tcp -i 198.18.10.1 -p 11111 -t 2 -m $size \
		--data-integrity --load-vma="$DEMI_LIB" >"$log" 2>&1 ||
		{ apps_logs "$log" "$T/srv.log"; fail "sockperf ping-pong -m $size over memif"; }
	grep -q "on the stack (bypassed: \[bypass\] connect" "$log" || { apps_logs "$log"; fail "the client's socket was not bypassed"; }
	grep -q "percentile 50.000" "$log" || { apps_logs "$log"; fail "-m $size: no latency report"; }
	grep -qiE "error" "$log" && { apps_logs "$log"; fail "-m $size: sockperf reported an error"; }
	sent=$(grep -o 'SentMessages=[0-9]*' "$log" | head -1 | cut -d= -f2)
	recv=$(grep -o 'ReceivedMessages=[0-9]*' "$log" | head -1 | cut -d= -f2)
	# the last message may be in flight when the run's time ends (so on the kernel too)
	[ "${sent:-0}" -gt 0 ] && [ "${recv:-0}" -ge $((sent - 1)) ] && [ "$recv" -le "$sent" ] ||
		{ apps_logs "$log"; fail "-m $size: sent ${sent:-?} received ${recv:-?}"; }
	echo "sockperf -m $size shim to shim over memif: $sent messages each way, data checked, p50$(grep 'percentile 50.000' "$log" | sed 's/.*=//') us"
done
grep -q "on the stack" "$T/srv.log" || { apps_logs "$T/srv.log"; fail "the server's socket was not on the stack"; }
