#!/usr/bin/env bash
# The device removed under a running server: a python server under the
# shim, bypassed on a tap, holds a listener and two connections from a
# kernel client when the test deletes the tap (`ip link del`). Linux keeps
# TCP connections when their interface goes away and they time out; the
# stack does the same: the connection the server streams on
# (TCP_USER_TIMEOUT 1.5 s) fails its send with ETIMEDOUT, the idle one
# (keepalive 1 s, 1 s apart, 2 probes) fails its recv with ETIMEDOUT. No
# call hangs, the program does not crash, a warning (the default level)
# says the device is gone, and with on_error = kernel a listener opened
# afterwards on a bypassed port is the kernel's: a kernel client in the
# namespace reaches it and gets its bytes back.
. "$(dirname "$0")/../lib/shim.sh"
need_root
need_cmd python3
need_lib
ns=$(net_ns_new drm)
tap=$(net_tag drt)
T=$SHIM_TMP
demi_conf "$T/s.conf" device="tap:$tap" address=198.18.25.2/24 listen="*" connect=198.18.25.0/24 on_error=kernel
demi_pre -n "$ns" "$T/s.conf"

cat >"$T/server.py" <<'PY'
import errno, os, socket, sys, threading, time
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("0.0.0.0", 7300)); l.listen(8)
print("listening", flush=True)
s, r = l.accept()[0], l.accept()[0]
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, 1500)
r.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
r.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
r.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
r.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 2)
res = {}
def name(e): return errno.errorcode.get(e.errno, str(e.errno))
def reader():
    try:
        res["recv"] = "data %r" % r.recv(100)
    except OSError as e:
        res["recv"] = name(e)
th = threading.Thread(target=reader, daemon=True); th.start()
print("accepted", flush=True)
buf = b"x" * 16384
try:
    while True:
        s.send(buf)
        time.sleep(0.01)
except OSError as e:
    res["send"] = name(e)
th.join(30)
print("send", res.get("send"), "recv", res.get("recv"), flush=True)
# after the device went: a new listener on a bypassed port
l2 = socket.socket(); l2.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l2.bind(("0.0.0.0", 7301)); l2.listen(8)
print("relistening", flush=True)
l2.settimeout(20)
c = l2.accept()[0]
c.sendall(c.recv(100))
c.close()
print("served", flush=True)
PY
cat >"$T/client.py" <<'PY'
import socket, sys, time
a = socket.create_connection(("198.18.25.2", 7300), 10)
b = socket.create_connection(("198.18.25.2", 7300), 10)
print("connected", flush=True)
a.settimeout(0.2)
while True:  # read the stream until the test ends this process
    try:
        a.recv(65536)
    except socket.timeout:
        pass
    except OSError:
        time.sleep(0.2)
PY

"${DEMI_PRE[@]}" timeout -s KILL 60 python3 "$T/server.py" >"$T/server.out" 2>"$T/server.err" &
SRV=$!
net_kill_at_exit $SRV
net_tap_attach "$ns" "$tap" 198.18.25.1/24 || { cat "$T/server.err"; fail "tap $tap never appeared"; }
for ((i = 0; i < 200; i++)); do grep -q listening "$T/server.out" && break; sleep 0.05; done
ip netns exec "$ns" timeout 60 python3 "$T/client.py" >"$T/client.out" 2>&1 &
CLI=$!
net_kill_at_exit $CLI
for ((i = 0; i < 200; i++)); do grep -q accepted "$T/server.out" && break; sleep 0.05; done
grep -q accepted "$T/server.out" || { cat "$T/server.out" "$T/server.err" "$T/client.out"; fail "the server never accepted"; }
sleep 0.5
ip -n "$ns" link del "$tap"
t0=$(date +%s.%N)
echo "tap deleted"
for ((i = 0; i < 400; i++)); do grep -q relistening "$T/server.out" && break; sleep 0.05; done
t1=$(date +%s.%N)
grep -q relistening "$T/server.out" || { cat "$T/server.out" "$T/server.err"; fail "the server's calls did not fail within 20 s"; }
echo hello | ip netns exec "$ns" timeout 10 python3 -c '
import socket, sys
c = socket.create_connection(("127.0.0.1", 7301), 5)
c.sendall(b"hello\n"); print(c.recv(100).decode(), end="")' >"$T/new.out" 2>&1
wait $SRV
rc=$?
cat "$T/server.out" "$T/server.err"
[ $rc -eq 0 ] || fail "the server did not finish (exit $rc)"
grep -q '^send ETIMEDOUT recv ETIMEDOUT$' "$T/server.out" || fail "expected ETIMEDOUT from both calls"
grep -qx hello "$T/new.out" || { cat "$T/new.out"; fail "the new listener did not serve a kernel client"; }
grep -q "the device is gone" "$T/server.err" || fail "no log line says the device is gone"
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
echo "tap deleted: send ETIMEDOUT, recv ETIMEDOUT ${secs}s after; a new listener served by the kernel"
