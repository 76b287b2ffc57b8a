#!/usr/bin/env bash
# The progress thread retransmits for a program blocked outside the shim's
# calls (tests/shim/blockloss.c): 40 bursts of 8 KiB (within the initial
# window: all of it leaves at the write), each followed by a 300 ms sleep,
# through build/impair losing 20% of the frames from the stack to the kernel
# peer. A lost segment can only be repaired while the program sleeps: by a
# pass of the progress thread, due 10 ms after the last one (README). The
# peer checks the bytes and times each burst from its write to its last
# byte: most bursts lose a segment, so the median must stay far below what
# a slower thread would give (150 ms; with a 400 ms period it is over
# 400 ms), and three bursts in four must arrive before the program wakes
# (300 ms; a lost tail segment waits for TCP's 200 ms RTO floor, and a lost
# retransmission for more: those are TCP's, not the thread's).
. "$(dirname "$0")/../lib/shim.sh"
need_root
need_cmd python3
need_lib
PROG=$DEMI_TOP/build/tests/shim/blockloss
[ -x "$PROG" ] || fail "$PROG not built"
[ -x "$DEMI_TOP/build/impair" ] || fail "build/impair not built"
T=$SHIM_TMP
ns=$(net_ns_new dbl)  # the program, its tap and the relay
pns=$(net_ns_new dbp) # the kernel peer
tap=$(net_tag dbt)
ip link add rbl0 netns "$ns" type veth peer name pbl0 netns "$pns" || fail "veth"
net_no_offload "$pns" pbl0
ip -n "$pns" addr add 198.18.26.1/24 dev pbl0
ip -n "$pns" link set pbl0 up
demi_conf "$T/b.conf" device=tap:$tap address=198.18.26.2/24 connect=198.18.26.0/24 level=info
BURSTS=40 BYTES=8192 SLEEP_MS=300

cat >"$T/peer.py" <<'PY'
import socket, struct, sys, time
port, bursts, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("0.0.0.0", port))
ls.listen(1)
print("listening", flush=True)
ls.settimeout(60)
c, _ = ls.accept()
c.settimeout(30)
want = bytes(i % 251 for i in range(size))[8:]
late = []
for b in range(bursts):
    buf = b""
    while len(buf) < size:
        k = c.recv(size - len(buf))
        if not k:
            sys.exit("end of stream in burst %d" % b)
        buf += k
    late.append(time.time() - struct.unpack("d", buf[:8])[0])
    if buf[8:] != want:
        sys.exit("burst %d: bytes differ" % b)
if c.recv(1):
    sys.exit("more than %d bursts" % bursts)
late.sort()
print("ms " + " ".join("%.0f" % (x * 1000) for x in late))
print("median %.0f over %.0f %d" % (late[len(late) // 2] * 1000, 280, sum(x > 0.28 for x in late)), flush=True)
PY

ip netns exec "$pns" timeout 120 python3 "$T/peer.py" 7400 $BURSTS $BYTES >"$T/peer.out" 2>&1 &
PEER_PID=$!
net_kill_at_exit $PEER_PID
for ((i = 0; i < 100; i++)); do grep -q listening "$T/peer.out" 2>/dev/null && break; sleep 0.05; done
demi_pre -n "$ns" "$T/b.conf"
"${DEMI_PRE[@]}" "$PROG" 198.18.26.1 7400 $BURSTS $BYTES $SLEEP_MS >"$T/prog.out" 2>"$T/prog.err" &
PID=$!
net_kill_at_exit $PID
net_wait_if "$ns" "$tap" 20 || { cat "$T/prog.err"; fail "tap $tap never appeared"; }
IMPAIR_LOG=$T/impair.log
net_impair_start "$ns" "$tap" rbl0 -l "${LOSS:-20}" -o a2b -s 5
wait $PID || { cat "$T/prog.out" "$T/prog.err" "$T/peer.out"; fail "blockloss: exit status"; }
wait $PEER_PID || { cat "$T/peer.out"; fail "the peer failed"; }
kill -TERM "$IMPAIR_PID"; wait "$IMPAIR_PID" 2>/dev/null
cat "$IMPAIR_LOG" "$T/peer.out"
grep -q "on the stack" "$T/prog.err" || { cat "$T/prog.err"; fail "the socket was not bypassed"; }
lost=$(awk '/->/ { for (i = 1; i < NF; i++) if ($i == "lost") s += $(i + 1) } END { print s + 0 }' "$IMPAIR_LOG")
[ "$lost" -ge 20 ] || fail "the relay lost only $lost frames"
read -r _ median _ _ over < <(grep ^median "$T/peer.out")
[ "$median" -lt 150 ] || fail "half the bursts took ${median} ms or more to be delivered while the program slept"
[ "$over" -le $((BURSTS / 4)) ] || fail "$over of $BURSTS bursts were not delivered before the program woke"
max=$(awk '/^ms/ { print $NF }' "$T/peer.out")
[ "$max" -lt 2000 ] || fail "a burst took $max ms"
echo "a program asleep after each write: lost segments repaired meanwhile, median burst ${median} ms"
