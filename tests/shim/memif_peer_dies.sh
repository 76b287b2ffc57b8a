#!/usr/bin/env bash
# A memif peer killed mid-transfer: the survivor's calls end with an error the
# kernel would give, never hang. Two programs under the shim joined by memif;
# the server is SIGKILLed while the client streams to it on one connection
# (TCP_USER_TIMEOUT 1.5 s: a blocking send must fail with ETIMEDOUT) and
# waits in recv() on another (keepalive after 1 s, 1 s apart, 2 probes: the
# recv must fail with ETIMEDOUT). The kernel gives the same answers to a peer
# that vanished from the wire. Each call must end within its bound.
. "$(dirname "$0")/../lib/net.sh"
need_root
need_lib
PY=$(command -v python3) || skip "python3 missing"

tmp=$(mktemp -d /tmp/demi-memifdie.XXXXXX)
net_cleanup_add "rm -rf $tmp"
sock=$tmp/memif.sock
demi_conf "$tmp/server.conf" device="memif:$sock,role=server" address=198.18.12.1/24 listen=7000 on_error=fail
demi_conf "$tmp/client.conf" device="memif:$sock,role=client" address=198.18.12.2/24 connect=198.18.12.0/24 on_error=fail

cat >"$tmp/server.py" <<'PY'
import socket, sys, time
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("0.0.0.0", 7000)); l.listen(8)
print("listening", flush=True)
conns = [l.accept()[0] for _ in range(2)]
print("accepted", flush=True)
conns[0].settimeout(0.2)
while True:  # read the stream slowly; the idle one is never written to
    try:
        conns[0].recv(65536)
    except socket.timeout:
        pass
    time.sleep(0.01)
PY
cat >"$tmp/client.py" <<'PY'
import errno, socket, sys, threading, time
def conn():
    c = socket.create_connection(("198.18.12.1", 7000), 10)
    c.settimeout(None)
    return c
s, r = conn(), conn()
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, 1500)
r.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
r.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
r.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
r.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 2)
print("connected", flush=True)
res = {}
def reader():
    t = time.time()
    try:
        b = r.recv(100)
        res["recv"] = "data %r" % b
    except OSError as e:
        res["recv"] = errno.errorcode.get(e.errno, str(e.errno))
    res["recv_s"] = time.time() - t
th = threading.Thread(target=reader, daemon=True); th.start()
buf = b"x" * 65536
sent = 0
died_at = None
try:
    while True:
        sent += s.send(buf)
        if sent > (4 << 20) and died_at is None:
            print("streaming", flush=True)
            died_at = 0
except OSError as e:
    res["send"] = errno.errorcode.get(e.errno, str(e.errno))
th.join(30)
print("send", res.get("send"), "recv", res.get("recv"), "recv_s %.1f" % res.get("recv_s", -1), flush=True)
PY

demi_pre "$tmp/server.conf"
"${DEMI_PRE[@]}" "$PY" "$tmp/server.py" >"$tmp/server.log" 2>&1 &
spid=$!
net_kill_at_exit $spid
for ((i = 0; i < 200; i++)); do grep -q listening "$tmp/server.log" && [ -S "$sock" ] && break; sleep 0.05; done
[ -S "$sock" ] || { cat "$tmp/server.log"; fail "the server made no memif socket"; }

demi_pre "$tmp/client.conf"
"${DEMI_PRE[@]}" timeout -s KILL 60 "$PY" "$tmp/client.py" >"$tmp/client.log" 2>&1 &
cpid=$!
net_kill_at_exit $cpid
for ((i = 0; i < 400; i++)); do grep -q streaming "$tmp/client.log" && break; sleep 0.05; done
grep -q streaming "$tmp/client.log" || { cat "$tmp/client.log" "$tmp/server.log"; fail "the client never streamed"; }
kill -KILL $spid
t0=$(date +%s.%N)
wait $cpid
rc=$?
t1=$(date +%s.%N)
cat "$tmp/client.log"
[ $rc -eq 0 ] || fail "the client did not finish (exit $rc): a call hung"
line=$(grep '^send ' "$tmp/client.log")
case $line in
"send ETIMEDOUT recv ETIMEDOUT"*) ;;
*) fail "expected ETIMEDOUT from both calls, got: $line" ;;
esac
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
awk -v s="$secs" 'BEGIN { exit !(s < 20) }' || fail "the calls took ${secs}s to fail (bound 20 s)"
echo "memif peer killed: send ETIMEDOUT (user timeout), recv ETIMEDOUT (keepalive), client done ${secs}s after"
