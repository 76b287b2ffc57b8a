#!/usr/bin/env bash
# sockperf takes its socket functions from the library named by --load-vma
# (dlopen + dlsym), so its data path reaches the shim only that way: the
# exported names must be the libc-compatible wrappers. Checked on loopback
# with no config, then with the client bypassed over a tap device against a
# kernel sockperf server at the tap's kernel end (both directions of
# ping-pong through the stack).
. "$(dirname "$0")/../lib/shim.sh"
need_root
need_cmd sockperf
need_lib

port=$((10000 + $$ % 20000)) # below the ephemeral range
sockperf server --tcp -i 127.0.0.1 -p $port >"$SHIM_TMP/srv.log" 2>&1 &
srv=$!
net_kill_at_exit $srv
net_wait_tcp "" 127.0.0.1 $port 10 || fail "sockperf server"
demi_run "" sockperf ping-pong --tcp -i 127.0.0.1 -p $port -t 1 --load-vma="$DEMI_LIB" \
	>"$SHIM_TMP/lo.log" 2>&1 || { cat "$SHIM_TMP/lo.log"; fail "sockperf --load-vma on loopback"; }
grep -q "percentile 50.000" "$SHIM_TMP/lo.log" || { cat "$SHIM_TMP/lo.log"; fail "no latency report on loopback"; }
kill $srv
echo "loopback, no config: $(grep 'percentile 50.000' "$SHIM_TMP/lo.log")"

ns=$(net_ns_new dsp)
tap=$(net_tag dspt)
ip netns exec "$ns" sockperf server --tcp -i 0.0.0.0 -p 11111 >"$SHIM_TMP/nsrv.log" 2>&1 &
net_kill_at_exit $!
demi_conf "$SHIM_TMP/sp.conf" device="tap:$tap" address=198.18.10.2/24 connect=198.18.10.0/24 level=info
demi_pre -n "$ns" "$SHIM_TMP/sp.conf"
"${DEMI_PRE[@]}" sockperf ping-pong --tcp -i 198.18.10.1 -p 11111 -t 2 --load-vma="$DEMI_LIB" >"$SHIM_TMP/tap.log" 2>&1 &
cli=$!
net_kill_at_exit $cli
net_tap_attach "$ns" "$tap" 198.18.10.1/24 || { cat "$SHIM_TMP/tap.log"; fail "tap $tap never appeared"; }
wait $cli || { cat "$SHIM_TMP/tap.log"; fail "sockperf client over the tap"; }
grep -q "on the stack (bypassed: \[bypass\] connect" "$SHIM_TMP/tap.log" || { cat "$SHIM_TMP/tap.log"; fail "the client's socket was not bypassed"; }
grep -q "percentile 50.000" "$SHIM_TMP/tap.log" || { cat "$SHIM_TMP/tap.log"; fail "no latency report over the tap"; }
obs=$(grep -o 'SentMessages=[0-9]*' "$SHIM_TMP/tap.log" | head -1)
echo "bypassed over tap: $(grep 'percentile 50.000' "$SHIM_TMP/tap.log") $obs"
