#!/usr/bin/env bash
# A program under the shim that stops calling into its sockets keeps its
# connection moving (the runtime's progress thread), against a kernel peer
# on a tap in a namespace (tests/shim/progress.c):
#   send: it writes 1 MiB and blocks in read() on a pipe; the peer, whose
#         receive window is small, still gets every byte (most of the send
#         buffer goes out while the program is blocked), byte for byte
#   recv: it sleeps while the peer sends 192 KiB (more than the peer's
#         first flight); the peer sees all of it ACKed (SIOCOUTQ reaches 0)
#         before the program wakes, which then reads it all back intact
# Both times the program is still blocked when checked, and its
# RT_PROGRESS_PASSES counter has moved. Timeouts only catch a hang.
. "$(dirname "$0")/../lib/shim.sh"
need_root
need_cmd python3
need_lib
PROG=$DEMI_TOP/build/tests/shim/progress
[ -x "$PROG" ] || fail "$PROG not built"
ns=$(net_ns_new dpg)
tap=$(net_tag dpt)
T=$SHIM_TMP
# (demi_pre, not demi_run, in the background: $! is then the program
# itself, whose counters demistat reads)
demi_conf "$T/p.conf" device="tap:$tap" address=198.18.23.2/24 connect=198.18.23.0/24 level=info
demi_pre -n "$ns" "$T/p.conf"

cat >"$T/peer.py" <<'PY'
import fcntl, socket, struct, sys, termios, time
mode, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
pat = bytes(i * 7 % 251 for i in range(251))
def pattern(off, k):
    reps = (off % 251 + k) // 251 + 1
    return (pat * reps)[off % 251: off % 251 + k]
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if mode == "sink":  # a small window: the sender needs many window updates
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
ls.bind(("0.0.0.0", port))
ls.listen(1)
print("listening", flush=True)
c, _ = ls.accept()
c.settimeout(60)
if mode == "sink":
    got = 0
    while got < n:
        b = c.recv(min(4096, n - got))
        if not b:
            sys.exit("sink: end of stream after %d of %d" % (got, n))
        if b != pattern(got, len(b)):
            sys.exit("sink: bytes differ in [%d, %d)" % (got, got + len(b)))
        got += len(b)
    print("got %d" % got, flush=True)
else:
    c.sendall(pattern(0, n))
    end = time.monotonic() + 60
    while True:  # unacknowledged bytes in the send queue
        q = struct.unpack("i", fcntl.ioctl(c, termios.TIOCOUTQ, b"\0\0\0\0"))[0]
        if q == 0:
            break
        if time.monotonic() > end:
            sys.exit("source: %d of %d bytes never ACKed" % (q, n))
        time.sleep(0.01)
    print("acked %d" % n, flush=True)
    c.shutdown(socket.SHUT_WR)
    c.close()
PY

# peer_start MODE PORT N OUT: the kernel peer, once it listens
peer_start() {
	ip netns exec "$ns" timeout 120 python3 "$T/peer.py" "$1" "$2" "$3" >"$4" 2>&1 &
	PEER_PID=$!
	net_kill_at_exit $PEER_PID
	for ((i = 0; i < 100; i++)); do grep -q listening "$4" 2>/dev/null && return 0; sleep 0.05; done
	cat "$4"; fail "the peer never listened"
}

# tap_attach: the program's stack made the tap: give its kernel end the address
tap_attach() {
	net_tap_attach "$ns" "$tap" 198.18.23.1/24 || { cat "$T"/*.err; fail "tap $tap never appeared"; }
}

# progress_passes PID: the program's RT_PROGRESS_PASSES
progress_passes() {
	"$DEMI_TOP/build/demistat" "$1" | awk '$1 == "RT_PROGRESS_PASSES" { print $2 }'
}

# --- send, then block in read() on a pipe
N=$((1 << 20))
peer_start sink 7100 $N "$T/sink.out"
mkfifo "$T/hold"
"${DEMI_PRE[@]}" "$PROG" send 198.18.23.1 7100 $N \
	<"$T/hold" >"$T/send.out" 2>"$T/send.err" &
SEND_PID=$!
net_kill_at_exit $SEND_PID
exec 3>"$T/hold"
tap_attach
wait $PEER_PID || { cat "$T/sink.out" "$T/send.out" "$T/send.err"; fail "the peer did not get all $N bytes"; }
cat "$T/sink.out"
grep -q "^written $N$" "$T/send.out" || { cat "$T/send.out" "$T/send.err"; fail "the program did not write $N bytes"; }
grep -q released "$T/send.out" && fail "the program was not blocked while its data went out"
passes=$(progress_passes $SEND_PID)
echo "send: RT_PROGRESS_PASSES ${passes:-none} while blocked in read()"
[ "${passes:-0}" -gt 0 ] || { "$DEMI_TOP/build/demistat" $SEND_PID; fail "RT_PROGRESS_PASSES did not move"; }
echo go >&3
exec 3>&-
wait $SEND_PID || { cat "$T/send.err"; fail "progress send: exit status"; }
grep -q "on the stack" "$T/send.err" || { cat "$T/send.err"; fail "the program's socket was not bypassed"; }

# the next program makes its own tap under the same name: the first must go
for ((i = 0; i < 100; i++)); do ip -n "$ns" link show "$tap" >/dev/null 2>&1 || break; sleep 0.05; done

# --- sleep while the peer sends
M=$((192 * 1024))
peer_start source 7101 $M "$T/source.out"
"${DEMI_PRE[@]}" "$PROG" recv 198.18.23.1 7101 $M "$T/release" \
	>"$T/recv.out" 2>"$T/recv.err" &
RECV_PID=$!
net_kill_at_exit $RECV_PID
tap_attach
wait $PEER_PID || { cat "$T/source.out" "$T/recv.out" "$T/recv.err"; fail "the peer's data was not ACKed"; }
cat "$T/source.out"
grep -q connected "$T/recv.out" || fail "the program never connected"
grep -q released "$T/recv.out" && fail "the program was not asleep while the data was ACKed"
passes=$(progress_passes $RECV_PID)
echo "recv: RT_PROGRESS_PASSES ${passes:-none} while asleep"
[ "${passes:-0}" -gt 0 ] || { "$DEMI_TOP/build/demistat" $RECV_PID; fail "RT_PROGRESS_PASSES did not move"; }
touch "$T/release"
wait $RECV_PID || { cat "$T/recv.out" "$T/recv.err"; fail "progress recv: exit status"; }
grep -q "^received $M$" "$T/recv.out" || { cat "$T/recv.out"; fail "the program did not read back $M bytes"; }
echo "a blocked program's connections moved: $N bytes out during read(), $M bytes ACKed during sleep"
