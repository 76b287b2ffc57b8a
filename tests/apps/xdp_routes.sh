#!/usr/bin/env bash
# The shared NIC (device xdp:IF) follows the kernel's neighbours and routes
# as they change (rtnetlink events), not only as they were at start. A
# client under the preload streams through the veth to its on-link peer
# while the peer's MAC changes (announced by the peer, so the kernel's
# table changes): the stream ends byte-exact. The namespace had no default
# route at start; one via 198.18.18.4 is added and the client connects to
# 198.18.21.1, beyond it; the route is changed to via 198.18.18.5 and a
# new connection succeeds again. The stack's log names each gateway.
. "$(dirname "$0")/../lib/apps.sh"
need_root
[ -x "$PY" ] || skip "$PY missing"
need_lib

net_veth_pair dxg 198.18.18.1/24
sns=$NET_SNS kns=$NET_KNS sdev=$NET_SDEV kdev=$NET_KDEV
net_cleanup_add "rm -f /run/libdemi/xdp.*.$sdev.*" # the queues' lock files (xdp/share.c)
T=$APPS_TMP
ip -n "$sns" addr add 198.18.18.2/24 dev "$sdev" || fail "address on $sdev"
ip -n "$kns" addr add 198.18.18.4/24 dev "$kdev"
ip -n "$kns" addr add 198.18.18.5/24 dev "$kdev"
ip -n "$kns" addr add 198.18.21.1/32 dev lo
ip netns exec "$kns" sysctl -qw "net.ipv4.conf.$kdev.arp_notify=1" || fail "arp_notify"

cat >"$T/srv.py" <<'PYEOF'
import socket, threading
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 9000)); s.listen(16)
def echo(c):
    while True:
        b = c.recv(65536)
        if not b: break
        c.sendall(b)
    c.close()
while True:
    c, a = s.accept(); threading.Thread(target=echo, args=(c,), daemon=True).start()
PYEOF
ip netns exec "$kns" $PY "$T/srv.py" >"$T/srv.log" 2>&1 &
net_kill_at_exit $!
net_wait_tcp "$kns" 198.18.18.1 9000 20 || fail "the peer's server is not up"

cat >"$T/cli.py" <<PYEOF
import hashlib, os, socket, threading, time
def wait_for(name):
    while not os.path.exists("$T/" + name): time.sleep(0.02)
# a paced echo stream of 6 MiB over about 3 s, checked byte by byte
c = socket.create_connection(("198.18.18.1", 9000), 20)
data = os.urandom(6 << 20)
def send():
    for i in range(0, len(data), 65536):
        c.sendall(data[i:i + 65536]); time.sleep(0.03)
t = threading.Thread(target=send); t.start()
print("streaming", flush=True)
got = hashlib.sha256(); n = 0
c.settimeout(30)
while n < len(data):
    b = c.recv(65536)
    if not b: break
    got.update(b); n += len(b)
t.join(); c.close()
print("stream", "ok" if got.digest() == hashlib.sha256(data).digest() else "differs", n, flush=True)
# new connections beyond the gateway, each tried for up to 2 s
for step in ("route1", "route2"):
    wait_for(step)
    until, err = time.time() + 2, None
    while time.time() < until:
        try:
            k = socket.create_connection(("198.18.21.1", 9000), 5)
            k.sendall(b"hi\n"); ok = k.recv(16) == b"hi\n"; k.close()
            print(step, "ok" if ok else "bad echo", flush=True); break
        except OSError as e:
            err = e; time.sleep(0.05)
    else:
        print(step, "failed", err, flush=True)
PYEOF
demi_conf "$T/demi.conf" device="xdp:$sdev" connect=198.18.0.0/15 level=info
demi_pre -n "$sns" "$T/demi.conf"
"${DEMI_PRE[@]}" $PY "$T/cli.py" >"$T/cli.log" 2>&1 &
cpid=$!
net_kill_at_exit $cpid
waitline() { # PATTERN SECS
	local i
	for ((i = 0; i < $2 * 20; i++)); do
		grep -q "$1" "$T/cli.log" && return 0
		kill -0 $cpid 2>/dev/null || break
		sleep 0.05
	done
	cat "$T/cli.log"; fail "the client never said '$1'"
}
waitline '^streaming' 20
grep -q "on the stack" "$T/cli.log" || { cat "$T/cli.log"; fail "the client's socket is not on the stack"; }
sleep 0.7
old=$(ip -n "$kns" link show "$kdev" | awk '/link\/ether/ {print $2}')
ip -n "$kns" link set dev "$kdev" address 02:00:c6:12:12:01 || fail "new MAC on $kdev"
echo "the peer's MAC: $old -> 02:00:c6:12:12:01 mid-stream"
waitline '^stream ' 40
grep -q '^stream ok' "$T/cli.log" || { cat "$T/cli.log"; fail "the stream across the MAC change"; }
ip -n "$sns" neigh show dev "$sdev" | grep -q "02:00:c6:12:12:01" || fail "the kernel did not learn the new MAC"

ip -n "$sns" route add default via 198.18.18.4 dev "$sdev" || fail "default route"
touch "$T/route1"
waitline '^route1 ' 10
grep -q '^route1 ok' "$T/cli.log" || { cat "$T/cli.log"; fail "no connection via the new gateway 198.18.18.4"; }
ip -n "$sns" route replace default via 198.18.18.5 dev "$sdev" || fail "default route changed"
touch "$T/route2"
waitline '^route2 ' 10
grep -q '^route2 ok' "$T/cli.log" || { cat "$T/cli.log"; fail "no connection via the changed gateway 198.18.18.5"; }
wait $cpid
grep -q "gateway 198.18.18.4, was none" "$T/cli.log" || { cat "$T/cli.log"; fail "the stack did not log the added gateway"; }
grep -q "gateway 198.18.18.5, was 198.18.18.4" "$T/cli.log" || { cat "$T/cli.log"; fail "the stack did not log the changed gateway"; }
grep "libdemi.*error" "$T/cli.log" && fail "libdemi logged errors (above)"
echo "xdp: a stream across the peer's MAC change byte-exact, connections via an added and a changed gateway"
