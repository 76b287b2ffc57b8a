#!/usr/bin/env bash
# The shared NIC (device xdp:IF) reserves on the kernel the port of every
# connection the stack opens: a client under the preload connects through
# the veth to a server in the other namespace; while its connection lives
# the kernel cannot bind that port on the shared address (also after the
# client closed, while the stack's connection is in TIME_WAIT), and the
# kernel's own connections (its ephemeral range narrowed to two ports, one
# of them the stack's) never pick it. Once the client exits, the kernel has
# the port again. demistat shows the program, its map entries and
# per-queue counts meanwhile.
. "$(dirname "$0")/../lib/apps.sh"
need_root
[ -x "$PY" ] || skip "$PY missing"
need_lib

net_veth_pair dxp 198.18.17.1/24
sns=$NET_SNS kns=$NET_KNS sdev=$NET_SDEV
net_cleanup_add "rm -f /run/libdemi/xdp.*.$sdev.*" # the queues' lock files (xdp/share.c)
T=$APPS_TMP
ip -n "$sns" addr add 198.18.17.2/24 dev "$sdev" || fail "address on $sdev"
ip netns exec "$sns" sysctl -qw net.ipv4.ip_local_port_range="40000 40001" || fail "port range"

cat >"$T/srv.py" <<'PYEOF'
import socket, threading
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("198.18.17.1", 9000)); s.listen(16)
def echo(c):
    while True:
        b = c.recv(4096)
        if not b: break
        c.sendall(b)
    c.close()
while True:
    c, a = s.accept(); threading.Thread(target=echo, args=(c,), daemon=True).start()
PYEOF
ip netns exec "$kns" $PY "$T/srv.py" >"$T/srv.log" 2>&1 &
net_kill_at_exit $!
net_wait_tcp "$kns" 198.18.17.1 9000 20 || fail "the peer's server is not up"

# the client: connects, says its port, echoes once, holds the connection
# until $T/go exists, echoes again (the connection still works) and closes
cat >"$T/cli.py" <<PYEOF
import os, socket, time
c = socket.create_connection(("198.18.17.1", 9000), 20)
c.sendall(b"one\n"); assert c.recv(16) == b"one\n"
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("0.0.0.0", 7000)); l.listen(4); l.settimeout(0.01)
try: l.accept()
except OSError: pass
print("port", c.getsockname()[1], flush=True)
while not os.path.exists("$T/go"): time.sleep(0.05)
c.sendall(b"two\n"); assert c.recv(16) == b"two\n"
c.close(); print("done", flush=True)
while not os.path.exists("$T/exit"): time.sleep(0.05)
PYEOF
demi_conf "$T/demi.conf" device="xdp:$sdev" connect=198.18.17.1/32 listen=7000 level=info
demi_pre -n "$sns" "$T/demi.conf"
"${DEMI_PRE[@]}" $PY "$T/cli.py" >"$T/cli.log" 2>&1 &
cpid=$!
net_kill_at_exit $cpid
for ((i = 0; i < 300; i++)); do grep -q '^port' "$T/cli.log" && break; kill -0 $cpid 2>/dev/null || break; sleep 0.05; done
port=$(sed -n 's/^port //p' "$T/cli.log")
[ -n "$port" ] || { cat "$T/cli.log"; fail "the client did not connect"; }
grep -q "on the stack" "$T/cli.log" || { cat "$T/cli.log"; fail "the client's socket is not on the stack"; }
echo "the stack's connection uses port $port"

# the kernel, while the connection lives: no bind of the port, and its own
# connections take the other port of the range (the second finds none)
cat >"$T/kern.py" <<PYEOF
import errno, socket, sys
port = int(sys.argv[1])
b = socket.socket()
try:
    b.bind(("198.18.17.2", port)); print("bind ok")
except OSError as e:
    print("bind", errno.errorcode[e.errno])
got = []
for i in range(2):
    k = socket.socket()
    try:
        k.connect(("198.18.17.1", 9000)); got.append(k); print("connect from", k.getsockname()[1])
    except OSError as e:
        print("connect", errno.errorcode[e.errno])
PYEOF
ip netns exec "$sns" $PY "$T/kern.py" "$port" >"$T/kern.log" 2>&1
cat "$T/kern.log"
grep -q "^bind EADDRINUSE" "$T/kern.log" || fail "the kernel could bind port $port of the stack's connection"
grep -q "^connect from $port\$" "$T/kern.log" && fail "a kernel connection took port $port of the stack's"
grep -q "^connect from" "$T/kern.log" || fail "the kernel made no connection at all"

# demistat shows the device's program (the id the kernel gives), its map
# entries (the listener's port, the connection's 4-tuple) and per-queue
# counts of what it redirected and passed
"$DEMI_TOP/build/demistat" $cpid >"$T/stat.txt" 2>&1 || { cat "$T/stat.txt"; fail "demistat $cpid"; }
sed -n '/^  xdp:/,$p' "$T/stat.txt"
id=$(ip -n "$sns" -d link show "$sdev" | sed -n 's/.*prog\/xdp id \([0-9]*\).*/\1/p' | head -1)
grep -q "xdp: program demi_steer id $id on $sdev (native)" "$T/stat.txt" || fail "demistat: not the program $id"
grep -q "listen ports (port/queue): 7000/0\$" "$T/stat.txt" || fail "demistat: not the listen port 7000 on queue 0"
grep -q "198.18.17.2:$port <- 198.18.17.1:9000 queue 0" "$T/stat.txt" || fail "demistat: not the connection's 4-tuple"
grep -Eq "queue 0: pid $cpid, redirected [1-9][0-9]*, passed [1-9]" "$T/stat.txt" || fail "demistat: no per-queue counts"

touch "$T/go"
for ((i = 0; i < 200; i++)); do grep -q '^done' "$T/cli.log" && break; kill -0 $cpid 2>/dev/null || break; sleep 0.05; done
grep -q '^done' "$T/cli.log" || { cat "$T/cli.log"; fail "the client's connection broke"; }
# closed by the client, so in TIME_WAIT in the stack: still the stack's
ip netns exec "$sns" $PY -c "import socket; socket.socket().bind(('198.18.17.2', $port))" 2>/dev/null &&
	fail "port $port free on the kernel while the stack's connection is in TIME_WAIT"
touch "$T/exit"
wait $cpid || { cat "$T/cli.log"; fail "the client failed"; }
ip netns exec "$sns" $PY -c "import socket; socket.socket().bind(('198.18.17.2', $port))" ||
	fail "port $port still held after the connection closed"
echo "xdp: the stack's port $port was the kernel's to keep while its connection lived, free afterwards"
