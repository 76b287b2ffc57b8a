#!/usr/bin/env bash
# close() with SO_LINGER set to a timeout (tests/shim/linger.c), on the
# kernel over loopback and under the shim against a kernel peer on a tap;
# the observations must be identical:
#   acked:   256 KiB to a peer that reads slowly; when close() returns the
#            peer's kernel holds the whole stream and the FIN (CLOSE_WAIT)
#   timeout: a peer that never reads; close() blocks for the linger time
#            (1 s) and returns 0, and so do dup2() over such a socket and
#            close_range() of it
#   many:    20 connections with data queued behind a small window, each
#            with SO_LINGER {1, 20}, closed by one close_range(); the peer
#            reads the lowest-numbered readable one first; when the call
#            returns, every stream and its FIN have been delivered
. "$(dirname "$0")/../lib/shim.sh"
need_root
need_cmd python3
need_lib
PROG=$DEMI_TOP/build/tests/shim/linger
[ -x "$PROG" ] || fail "$PROG not built"
ns=$(net_ns_new dlg)
tap=$(net_tag dlt)
T=$SHIM_TMP
ip -n "$ns" link set lo up
demi_conf "$T/l.conf" device=tap:$tap address=198.18.24.2/24 connect=198.18.24.0/24 level=info

cat >"$T/peer.py" <<'PY'
import fcntl, select, socket, struct, sys, termios, threading, time
mode, port = sys.argv[1], int(sys.argv[2])
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window
ls.bind(("0.0.0.0", port))
ls.listen(64)
cs = socket.socket()
cs.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
cs.bind(("0.0.0.0", port + 1))
cs.listen(1)
print("listening", flush=True)
if mode == "many":  # N connections, read one after the other once told
    n = int(sys.argv[3])
    ls.settimeout(30)
    conns = [ls.accept()[0] for _ in range(n)]
    mu = threading.Lock()
    got, ended = [0] * n, [False] * n
    def reader():  # the first readable in their order, a little slowly
        live = list(range(n))
        while live:
            r, _, _ = select.select([conns[i] for i in live], [], [], 30)
            if not r:
                return
            i = min(conns.index(c) for c in r)
            with mu:
                b = conns[i].recv(4096)
                got[i] += len(b)
                ended[i] = not b
            if not b:
                live.remove(i)
            time.sleep(0.002)
    q, _ = cs.accept()
    q.recv(100)
    threading.Thread(target=reader, daemon=True).start()
    q.sendall(b"ok\n")
    q.close()
    q, _ = cs.accept()
    want = int(q.recv(100).decode().split()[1])
    with mu:
        held, fins = 0, 0
        for i, c in enumerate(conns):
            queued = struct.unpack("i", fcntl.ioctl(c, termios.FIONREAD, b"\0\0\0\0"))[0]
            state = struct.unpack("B", c.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[:1])[0]
            held += got[i] + queued
            fins += ended[i] or state == 8  # TCP_CLOSE_WAIT: the FIN came
    q.sendall(b"holds all bytes %s, fin on %d of %d\n" % (b"yes" if held == want else b"no", fins, n))
    q.close()
    sys.exit(0)
c, _ = ls.accept()
held = [c]
mu = threading.Lock()
got = [0, False]
def reader():  # slowly: about 2 ms per 4 KiB
    while True:
        with mu:
            b = c.recv(4096)
            if not b:
                got[1] = True
                return
            got[0] += len(b)
        time.sleep(0.002)
if mode == "acked":
    threading.Thread(target=reader, daemon=True).start()
if mode == "timeout":  # two more connections that are never read
    ls.settimeout(30)
    held += [ls.accept()[0] for _ in range(2)]
q, _ = cs.accept()
line = q.recv(100).decode()
if line.startswith("state"):
    with mu:
        queued = struct.unpack("i", fcntl.ioctl(c, termios.FIONREAD, b"\0\0\0\0"))[0]
        state = struct.unpack("B", c.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[:1])[0]
        fin = got[1] or state == 8  # TCP_CLOSE_WAIT: the FIN came
        q.sendall(b"holds %d bytes, fin %s\n" % (got[0] + queued, b"yes" if fin else b"no"))
else:
    q.sendall(b"ok\n")
q.close()
PY

# peer_start MODE PORT OUT: the kernel peer, once it listens
peer_start() {
	ip netns exec "$ns" timeout 60 python3 "$T/peer.py" "$1" "$2" "$NCONN" >"$3" 2>&1 &
	PEER_PID=$!
	net_kill_at_exit $PEER_PID
	for ((i = 0; i < 100; i++)); do grep -q listening "$3" 2>/dev/null && return 0; sleep 0.05; done
	cat "$3"; fail "the peer never listened"
}

# run MODE PORT kernel|shim OUT
run() {
	local mode=$1 port=$2 side=$3 out=$4
	peer_start "$mode" "$port" "$out.peer"
	if [ "$side" = kernel ]; then
		ip netns exec "$ns" "$PROG" 127.0.0.1 "$port" "$mode" >"$out" 2>"$out.err" ||
			{ cat "$out" "$out.err" "$out.peer"; fail "$mode on the kernel: exit status"; }
	else
		demi_pre -n "$ns" "$T/l.conf"
		"${DEMI_PRE[@]}" "$PROG" 198.18.24.1 "$port" "$mode" >"$out" 2>"$out.err" &
		local pid=$!
		net_kill_at_exit $pid
		net_tap_attach "$ns" "$tap" 198.18.24.1/24 || { cat "$out.err"; fail "tap $tap never appeared"; }
		wait $pid || { cat "$out" "$out.err" "$out.peer"; fail "$mode under the shim: exit status"; }
		grep -q "on the stack" "$out.err" || { cat "$out.err"; fail "$mode: the socket was not bypassed"; }
		# the next program makes its own tap under the same name
		for ((i = 0; i < 100; i++)); do ip -n "$ns" link show "$tap" >/dev/null 2>&1 || break; sleep 0.05; done
	fi
	wait $PEER_PID || { cat "$out.peer"; fail "$mode: the peer failed"; }
}

NCONN=20 # connections of the "many" mode: more than any fixed table of waits
for mode in acked timeout many; do
	run $mode 7200 kernel "$T/$mode.kernel"
	run $mode 7202 shim "$T/$mode.shim"
	echo "--- $mode"
	cat "$T/$mode.kernel"
	diff -u "$T/$mode.kernel" "$T/$mode.shim" || fail "$mode: the shim differs from the kernel"
done
grep -q "holds 262144 bytes, fin yes" "$T/acked.kernel" || fail "acked: the kernel run did not see the stream whole"
grep -q "holds all bytes yes, fin on $NCONN of $NCONN" "$T/many.kernel" ||
	fail "many: close_range returned on the kernel before every stream was delivered"
for call in close dup2 close_range; do
	grep -q "$call blocked 0.9 s or more = yes" "$T/timeout.kernel" || fail "timeout: $call did not block on the kernel"
done
echo "SO_LINGER: close() waits for the FIN's ACK, or the linger time, as on the kernel"
