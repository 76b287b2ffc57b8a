#!/usr/bin/env bash
# The tap taken down and up mid-transfer: a program under the shim, bypassed
# on a tap, streams 6 MiB to a kernel peer on one connection while the peer
# streams 6 MiB to it on another, both paced to last a few seconds. Mid-way
# the test sets the tap down, waits 2 s and sets it up again (re-adding the
# kernel end's address if it went). Both transfers must resume and complete
# byte-exact (sha256 of what was sent and what was received, both ways), and
# the program's retransmission counters must show that it recovered.
. "$(dirname "$0")/../lib/shim.sh"
need_root
need_cmd python3 sha256sum
need_lib
ns=$(net_ns_new dfl)
tap=$(net_tag dft)
T=$SHIM_TMP
N=$((6 << 20))
demi_conf "$T/p.conf" device="tap:$tap" address=198.18.24.2/24 connect=198.18.24.0/24 on_error=fail level=info
demi_pre -n "$ns" "$T/p.conf"

# both ends: side, host, N. Each connection's bytes come from a seeded PRNG,
# paced (64 KiB per 40 ms), and each end prints the sha256 of what it sent
# and what it received.
cat >"$T/flow.py" <<'PY'
import hashlib, random, socket, sys, threading, time
side, host, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
res = {}
def send(c, seed, tag):
    rnd, h, off = random.Random(seed), hashlib.sha256(), 0
    while off < n:
        b = rnd.randbytes(min(65536, n - off))
        c.sendall(b); h.update(b); off += len(b)
        time.sleep(0.04)
    c.shutdown(socket.SHUT_WR)
    res[tag] = h.hexdigest()
def recv(c, tag):
    h, got = hashlib.sha256(), 0
    while True:
        b = c.recv(65536)
        if not b:
            break
        h.update(b); got += len(b)
    res[tag] = "%s %d" % (h.hexdigest(), got)
if side == "peer":
    l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("0.0.0.0", 7200)); l.listen(2)
    print("listening", flush=True)
    up, down = l.accept()[0], l.accept()[0]
    # up: the program sends; down: the peer sends
    th = [threading.Thread(target=recv, args=(up, "up_recv")),
          threading.Thread(target=send, args=(down, 2, "down_sent"))]
else:
    up = socket.create_connection((host, 7200), 20)
    down = socket.create_connection((host, 7200), 20)
    up.settimeout(None); down.settimeout(None)
    print("streaming", flush=True)
    th = [threading.Thread(target=send, args=(up, 1, "up_sent")),
          threading.Thread(target=recv, args=(down, "down_recv"))]
for t in th: t.start()
for t in th: t.join()
for k in sorted(res): print(k, res[k], flush=True)
PY

ip netns exec "$ns" timeout 60 python3 "$T/flow.py" peer 0 $N >"$T/peer.out" 2>&1 &
PEER=$!
net_kill_at_exit $PEER
for ((i = 0; i < 100; i++)); do grep -q listening "$T/peer.out" && break; sleep 0.05; done
"${DEMI_PRE[@]}" timeout -s KILL 60 python3 "$T/flow.py" prog 198.18.24.1 $N >"$T/prog.out" 2>"$T/prog.err" &
PROG=$!
net_kill_at_exit $PROG
net_tap_attach "$ns" "$tap" 198.18.24.1/24 || { cat "$T/prog.err"; fail "tap $tap never appeared"; }
for ((i = 0; i < 200; i++)); do grep -q streaming "$T/prog.out" && break; sleep 0.05; done
grep -q streaming "$T/prog.out" || { cat "$T/prog.out" "$T/prog.err"; fail "the program never connected"; }
sleep 0.7
# the program's pid under timeout: the python process, for demistat
ppid=$(pgrep -P $PROG -f flow.py | head -1)
ip -n "$ns" link set "$tap" down
echo "tap down"
sleep 2
ip -n "$ns" link set "$tap" up
ip -n "$ns" addr show dev "$tap" | grep -q 198.18.24.1/24 ||
	ip -n "$ns" addr add 198.18.24.1/24 dev "$tap"
echo "tap up"
sleep 0.5
stats=$("$DEMI_TOP/build/demistat" "${ppid:-$PROG}" 2>/dev/null) || true
wait $PEER || { cat "$T/peer.out" "$T/prog.out" "$T/prog.err"; fail "the peer did not finish"; }
wait $PROG || { cat "$T/peer.out" "$T/prog.out" "$T/prog.err"; fail "the program did not finish"; }
cat "$T/peer.out" "$T/prog.out"
grep -q "on the stack" "$T/prog.err" || { cat "$T/prog.err"; fail "the program's sockets were not bypassed"; }
up_sent=$(awk '$1 == "up_sent" { print $2 }' "$T/prog.out")
up_recv=$(awk '$1 == "up_recv" { print $2, $3 }' "$T/peer.out")
down_sent=$(awk '$1 == "down_sent" { print $2 }' "$T/peer.out")
down_recv=$(awk '$1 == "down_recv" { print $2, $3 }' "$T/prog.out")
[ -n "$up_sent" ] && [ "$up_recv" = "$up_sent $N" ] || fail "program to peer: sent $up_sent, received $up_recv"
[ -n "$down_sent" ] && [ "$down_recv" = "$down_sent $N" ] || fail "peer to program: sent $down_sent, received $down_recv"
echo "$stats" | grep -E 'TCP_(RETRANS_SEGS|RTO_FIRED)|TX_' || true
rto=$(echo "$stats" | awk '$1 == "TCP_RTO_FIRED" { print $2 }')
[ "${rto:-0}" -gt 0 ] || { echo "$stats"; fail "no retransmission timeout while the tap was down"; }
echo "tap down 2 s and up mid-transfer: $N bytes each way byte-exact, $rto RTOs"
