#!/usr/bin/env bash
# iperf3 -c (unmodified; select, a control and a data connection) under
# libdemi as a client: its stack on a tap device, [bypass] connect naming
# the tap's prefix, against iperf3 -s on the kernel at the tap's kernel
# end. A 3 s run each way (-R: the server sends); both ends' JSON reports
# must show no error and agree: the receiver counted what the sender did
# (less, by what was in flight when the time ended: so on the kernel too),
# and the client's stack counters (copied while it ran) hold those bytes.
. "$(dirname "$0")/../lib/apps.sh"
need_root
need_cmd iperf3
[ -x "$PY" ] || skip "$PY missing"
need_lib

ns=$(net_ns_new dci)
tap=$(net_tag dcit)
T=$APPS_TMP
demi_conf "$T/cli.conf" device="tap:$tap" address=198.18.8.2/24 connect=198.18.8.0/24 level=info
for dir in "" -R; do
	out=$T/iperf$dir.json
	# a server per run (-1), which reports its own byte counts (-J)
	ip netns exec "$ns" iperf3 -s -1 -J -p 5201 >"$T/srv$dir.json" 2>"$T/srv$dir.log" &
	srv=$!
	net_kill_at_exit $srv
	# listening (not connecting to it: a one-off server takes a probe for its client)
	for ((i = 0; i < 400; i++)); do
		ip netns exec "$ns" ss -Hltn 'sport = :5201' | grep -q . && break
		sleep 0.05
	done
	[ $i -lt 400 ] || { apps_logs "$T/srv$dir.log"; fail "iperf3 server (kernel) did not start"; }
	apps_ctr_watch "$ns" "$T/ctr$dir"
	apps_client_tap "$ns" "$tap" 198.18.8.1/24 "$T/cli.conf" "$T/cli$dir.log" \
		sh -c "exec iperf3 -c 198.18.8.1 -p 5201 -t 3 -J $dir >$out" ||
		{ apps_logs "$T/cli$dir.log" "$out" "$T/srv$dir.log"; fail "iperf3 -c $dir under the shim"; }
	apps_ctr_stop
	wait $srv || { apps_logs "$T/srv$dir.json" "$T/srv$dir.log"; fail "iperf3 server $dir"; }
	grep -q "on the stack (bypassed: \[bypass\] connect" "$T/cli$dir.log" || { apps_logs "$T/cli$dir.log"; fail "iperf3's sockets were not bypassed"; }
	ctr=$(ls "$T/ctr$dir"/*.0 2>/dev/null | head -1)
	[ -n "$ctr" ] || fail "iperf3 $dir: no counters file of the client's stack was seen"
	$PY - "$out" "$T/srv$dir.json" "$ctr" "$dir" "$DEMI_TOP/tests/interop/demishm.py" <<'PY' || { apps_logs "$out" "$T/srv$dir.json"; fail "iperf3 $dir report"; }
import json, subprocess, sys
c, s = (json.load(open(f)) for f in sys.argv[1:3])
for who, r in (("client", c), ("server", s)):
    if "error" in r:
        raise SystemExit(f"iperf3 {who} error: {r['error']}")
rev = sys.argv[4] == "-R"
# the sending and the receiving end, each by its own count
sent = (s if rev else c)["end"]["sum_sent"]["bytes"]
got = (c if rev else s)["end"]["sum_received"]["bytes"]
if not got:
    raise SystemExit(f"sent {sent}, received nothing")
# the receiver reads what the sender wrote, up to what was in flight when the
# time ended (so on the kernel too)
if got > sent or got < sent * 0.99:
    raise SystemExit(f"the sender counted {sent} bytes, the receiver {got}")
ctr = dict(l.split("=") for l in subprocess.run([sys.executable, sys.argv[5], sys.argv[3]],
           capture_output=True, text=True, check=True).stdout.split())
ctr = {k: int(v) for k, v in ctr.items()}
# the client's stack carried it: its TCP payload counter holds the data
# (retransmissions and the control connection come on top), less what moved
# after the last copy of its counters (published a few times a second,
# copied every 50 ms, removed at exit): at least 90 %
key, want = ("TCP_RX_BYTES", got) if rev else ("TCP_TX_BYTES", sent)
if ctr[key] < want * 0.9:
    raise SystemExit(f"the client's stack counted {key}={ctr[key]}, iperf3 moved {want}")
print(f"iperf3 {sys.argv[4] or '(client sends)'}: sent {sent}, received {got} bytes; client stack {key}={ctr[key]}; "
      f"{(c if rev else s)['end']['sum_received']['bits_per_second'] / 1e6:.0f} Mbit/s")
PY
	sleep 0.5 # the tap of this run goes with its process
done
