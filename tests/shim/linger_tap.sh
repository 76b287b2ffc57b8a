#!/usr/bin/env bash
# close() with SO_LINGER set to a timeout (tests/shim/linger.c), on the
# kernel over loopback and under the shim against a kernel peer on a tap;
# the observations must be identical:
#   acked:   256 KiB to a peer that reads slowly; when close() returns the
#            peer's kernel holds the whole stream and the FIN (CLOSE_WAIT)
#   timeout: a peer that never reads; close() blocks for the linger time
#            (1 s) and returns 0, and so do dup2() over such a socket and
#            close_range() of it
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
cat >"$T/l.conf" <<CONF
[dpdk]
device = tap:$tap
[net]
address = 198.18.24.2/24
[bypass]
connect = 198.18.24.0/24
[log]
level = info
CONF

cat >"$T/peer.py" <<'PY'
import fcntl, socket, struct, sys, termios, threading, time
mode, port = sys.argv[1], int(sys.argv[2])
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window
ls.bind(("0.0.0.0", port))
ls.listen(1)
cs = socket.socket()
cs.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
cs.bind(("0.0.0.0", port + 1))
cs.listen(1)
print("listening", flush=True)
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
	ip netns exec "$ns" timeout 60 python3 "$T/peer.py" "$1" "$2" >"$3" 2>&1 &
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
		ip netns exec "$ns" env LD_PRELOAD="$DEMI_LIB" DEMI_CONFIG="$T/l.conf" \
			"$PROG" 198.18.24.1 "$port" "$mode" >"$out" 2>"$out.err" &
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

for mode in acked timeout; do
	run $mode 7200 kernel "$T/$mode.kernel"
	run $mode 7202 shim "$T/$mode.shim"
	echo "--- $mode"
	cat "$T/$mode.kernel"
	diff -u "$T/$mode.kernel" "$T/$mode.shim" || fail "$mode: the shim differs from the kernel"
done
grep -q "holds 262144 bytes, fin yes" "$T/acked.kernel" || fail "acked: the kernel run did not see the stream whole"
for call in close dup2 close_range; do
	grep -q "$call blocked 0.9 s or more = yes" "$T/timeout.kernel" || fail "timeout: $call did not block on the kernel"
done
echo "SO_LINGER: close() waits for the FIN's ACK, or the linger time, as on the kernel"
