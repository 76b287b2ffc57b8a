#!/usr/bin/env bash
# A dual-stack listener (AF_INET6, [::]:port, IPV6_V6ONLY off) under the
# shim serves its IPv4 clients through the stack, as Linux shows them:
# accept and getpeername give ::ffff:a.b.c.d, getsockname ::ffff: of the
# stack's address, SO_DOMAIN AF_INET6; demistat --fds names it bypassed.
# Then unmodified iperf3 -s (which listens exactly so) against a kernel
# iperf3 -c through the tap. A V6ONLY listener on a listed port is on the
# stack too, and refuses IPv4 clients as Linux does.
. "$(dirname "$0")/../lib/shim.sh"
need_root
need_cmd python3 iperf3
need_lib
PY=$(python3 -c 'import sys; print(sys.executable)')
ns=$(net_ns_new dds)
tap=$(net_tag ddt)
demi_conf "$SHIM_TMP/d.conf" device="tap:$tap" address=198.18.19.2/24 listen="7000 7001 5201"
demi_pre -n "$ns" "$SHIM_TMP/d.conf"
"${DEMI_PRE[@]}" "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", 7000)); s.listen(4)
o = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
o.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
o.bind(("::", 7001)); o.listen(4)
print("fds", s.fileno(), o.fileno(), flush=True)
c, peer = s.accept()
print("peer", peer[0], flush=True)
print("name", c.getsockname()[0], c.getpeername()[0], flush=True)
print("domain", c.getsockopt(socket.SOL_SOCKET, socket.SO_DOMAIN) == socket.AF_INET6, flush=True)
data = b""
while True:
    b = c.recv(65536)
    if not b: break
    data += b
c.sendall(data); c.close()
s.accept() # wait in a call that drives the stack until the test ends us
' >"$SHIM_TMP/srv.out" 2>"$SHIM_TMP/srv.err" &
srv=$!
net_kill_at_exit $srv
net_tap_attach "$ns" "$tap" 198.18.19.1/24 || { cat "$SHIM_TMP/srv.err"; fail "tap never appeared"; }
refused=$(ip netns exec "$ns" python3 -c '
import socket
try:
    socket.create_connection(("198.18.19.2", 7001), timeout=10); print("connected")
except ConnectionRefusedError:
    print("refused")') || fail "IPv4 client of the V6ONLY listener"
[ "$refused" = refused ] || fail "an IPv4 client of the V6ONLY listener: $refused, want refused"
got=$(ip netns exec "$ns" python3 -c '
import socket
c = socket.create_connection(("198.18.19.2", 7000), timeout=10)
c.sendall(bytes(range(256)) * 400); c.shutdown(socket.SHUT_WR)
d = b""
while True:
    b = c.recv(65536)
    if not b: break
    d += b
print("ok" if d == bytes(range(256)) * 400 else "bad %d" % len(d))') || { cat "$SHIM_TMP/srv.err" "$SHIM_TMP/srv.out"; fail "client"; }
[ "$got" = ok ] || { cat "$SHIM_TMP/srv.err"; fail "echo through the dual-stack listener: $got"; }
cat "$SHIM_TMP/srv.out"
grep -qx "peer ::ffff:198.18.19.1" "$SHIM_TMP/srv.out" || fail "accept: peer not v4-mapped"
grep -qx "name ::ffff:198.18.19.2 ::ffff:198.18.19.1" "$SHIM_TMP/srv.out" || fail "getsockname/getpeername"
grep -qx "domain True" "$SHIM_TMP/srv.out" || fail "SO_DOMAIN is not AF_INET6"
read -r _ lfd ofd < <(grep '^fds' "$SHIM_TMP/srv.out")
"$DEMI_TOP/build/demistat" --fds $srv >"$SHIM_TMP/fds"
cat "$SHIM_TMP/fds"
grep -E "^$lfd +stack +inet6 " "$SHIM_TMP/fds" | grep -q "listen names the port" || fail "dual-stack listener not bypassed"
grep -E "^$ofd +stack +inet6 " "$SHIM_TMP/fds" | grep -q "listen names the port" || fail "V6ONLY listener not bypassed"
kill $srv; wait $srv 2>/dev/null

# iperf3 -s, unmodified: its control and data connections come through the
# stack (a new stack, so a new tap: the first one went with its process)
"${DEMI_PRE[@]}" iperf3 -s >"$SHIM_TMP/iperf-s.log" 2>&1 &
isrv=$!
net_kill_at_exit $isrv
for i in $(seq 100); do ip -n "$ns" link show "$tap" >/dev/null 2>&1 || break; sleep 0.05; done
net_wait_if "$ns" "$tap" 20 || { cat "$SHIM_TMP/iperf-s.log"; fail "iperf3's tap never appeared"; }
# not net_tap_attach: the address may be there already, if the old tap lingered
ip -n "$ns" addr add 198.18.19.1/24 dev "$tap" 2>/dev/null
ip -n "$ns" link set "$tap" up
ip netns exec "$ns" iperf3 -c 198.18.19.2 -t 2 -J >"$SHIM_TMP/iperf-c.json" 2>&1 || { cat "$SHIM_TMP/iperf-c.json" "$SHIM_TMP/iperf-s.log"; fail "iperf3 -c"; }
# both ends' byte counts (the client's, and the server's as it reported
# them back) agree, and the server's stack counted what it received; its
# counters file is read while it still runs
ctr=/dev/shm/demi.$isrv.0
[ -f "$ctr" ] || fail "no counters file of iperf3 -s's stack ($ctr)"
cp "$ctr" "$SHIM_TMP/iperf-s.ctr"
python3 - "$SHIM_TMP/iperf-c.json" "$SHIM_TMP/iperf-s.ctr" "$DEMI_TOP/tests/interop/demishm.py" <<'PY' || { cat "$SHIM_TMP/iperf-c.json"; fail "iperf3 report"; }
import json, subprocess, sys
j = json.load(open(sys.argv[1]))
if "error" in j:
    raise SystemExit("iperf3 error: " + j["error"])
sent, got = j["end"]["sum_sent"]["bytes"], j["end"]["sum_received"]["bytes"]
if not got or got > sent or got < sent * 0.99:
    raise SystemExit(f"the client sent {sent} bytes, the server received {got}")
out = subprocess.run([sys.executable, sys.argv[3], sys.argv[2], "TCP_RX_BYTES"], capture_output=True, text=True,
                     check=True).stdout
rx = int(out.split("=")[1])
# published a few times a second: at least 90 % of what iperf3 received
if rx < got * 0.9:
    raise SystemExit(f"the server's stack counted TCP_RX_BYTES={rx}, iperf3 received {got}")
print(f"dual-stack listener through the stack: iperf3 -s received {got} of {sent} bytes sent, its stack "
      f"TCP_RX_BYTES={rx}, {j['end']['sum_received']['bits_per_second'] / 1e6:.0f} Mbit/s")
PY
