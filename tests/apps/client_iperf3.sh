#!/usr/bin/env bash
# iperf3 -c (unmodified; select, a control and a data connection) under
# libdemi as a client: its stack on a tap device, [bypass] connect naming
# the tap's prefix, against iperf3 -s on the kernel at the tap's kernel
# end. A 3 s run each way (-R: the server sends); the JSON report must show
# no error, bytes > 0 sent and received, and no more received than sent
# (less, by what was in flight when the time ended: so on the kernel too).
. "$(dirname "$0")/../lib/apps.sh"
need_root
need_cmd iperf3
[ -x "$PY" ] || skip "$PY missing"
need_lib

ns=$(net_ns_new dci)
tap=$(net_tag dcit)
T=$APPS_TMP
ip netns exec "$ns" iperf3 -s -p 5201 >"$T/srv.log" 2>&1 &
net_kill_at_exit $!
net_wait_tcp "$ns" 127.0.0.1 5201 20 || { apps_logs "$T/srv.log"; fail "iperf3 server (kernel) did not start"; }
demi_conf "$T/cli.conf" device="tap:$tap" address=198.18.8.2/24 connect=198.18.8.0/24 level=info
for dir in "" -R; do
	out=$T/iperf$dir.json
	apps_client_tap "$ns" "$tap" 198.18.8.1/24 "$T/cli.conf" "$T/cli$dir.log" \
		sh -c "exec iperf3 -c 198.18.8.1 -p 5201 -t 3 -J $dir >$out" ||
		{ apps_logs "$T/cli$dir.log" "$out" "$T/srv.log"; fail "iperf3 -c $dir under the shim"; }
	grep -q "on the stack (bypassed: \[bypass\] connect" "$T/cli$dir.log" || { apps_logs "$T/cli$dir.log"; fail "iperf3's sockets were not bypassed"; }
	$PY - "$out" "$dir" <<'PY' || { apps_logs "$out"; fail "iperf3 $dir report"; }
import json, sys
r = json.load(open(sys.argv[1]))
if "error" in r:
    raise SystemExit(f"iperf3 error: {r['error']}")
s, v = r["end"]["sum_sent"], r["end"]["sum_received"]
if not (s["bytes"] > 0 and v["bytes"] > 0):
    raise SystemExit(f"sent {s['bytes']} received {v['bytes']}")
if v["bytes"] > s["bytes"]:
    raise SystemExit(f"sent {s['bytes']} bytes but {v['bytes']} received")
print(f"iperf3 {sys.argv[2] or '(client sends)'}: {s['bytes']} bytes, {v['bits_per_second'] / 1e6:.0f} Mbit/s")
PY
	sleep 0.5 # the tap of this run goes with its process
done
