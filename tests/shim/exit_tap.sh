#!/usr/bin/env bash
# Delivery at every kind of exit (tests/shim/exitways.c): a client writes
# 8 MiB to a kernel peer and leaves without closing, by exit(), return from
# main, _exit(), _Exit(), a forked child's _exit(), _exit() after a vfork
# child's, and SIGTERM, SIGINT or SIGHUP with the default action. On the
# kernel (loopback in a namespace) and under the shim (a tap with the kernel
# peer): the peer must get the 8 MiB byte-exact (sha256) and then the FIN,
# within the drain bound (3 s) of the program leaving; the exit status, or
# the death by the signal, must be the kernel run's.
# EXIT_LOSS=PCT: the same with build/impair relaying between the tap and the
# peer with PCT% loss each way (exit_lossy_tap.sh).
. "$(dirname "$0")/../lib/shim.sh"
need_root
need_cmd python3
need_lib
PROG=$DEMI_TOP/build/tests/shim/exitways
[ -x "$PROG" ] || fail "$PROG not built"
LOSS=${EXIT_LOSS:-}
T=$SHIM_TMP
ns=$(net_ns_new dex)
tap=$(net_tag dxt)
ip -n "$ns" link set lo up
pns=$ns
if [ -n "$LOSS" ]; then
	[ -x "$DEMI_TOP/build/impair" ] || fail "build/impair not built"
	pns=$(net_ns_new dep) # the peer, behind the relay
	ip link add rex0 netns "$ns" type veth peer name pex0 netns "$pns" || fail "veth"
	ip -n "$pns" link set lo up
	net_no_offload "$pns" pex0
	ip -n "$pns" addr add 198.18.25.1/24 dev pex0
	ip -n "$pns" link set pex0 up
fi
demi_conf "$T/x.conf" device=tap:$tap address=198.18.25.2/24 connect=198.18.25.0/24 level=info

cat >"$T/peer.py" <<'PY'
import hashlib, socket, sys, time
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("0.0.0.0", int(sys.argv[1])))
ls.listen(4)
print("listening", flush=True)
ls.settimeout(60)
c, _ = ls.accept()
c.settimeout(30)
h, n = hashlib.sha256(), 0
try:
    while True:
        b = c.recv(1 << 16)
        if not b:
            print("fin at %.3f" % time.time())
            break
        h.update(b)
        n += len(b)
except Exception as e:
    print("no fin: %s" % e)
print("got %d bytes sha256 %s" % (n, h.hexdigest()), flush=True)
PY
want=$(python3 -c 'import hashlib; n = 8 << 20; print("got %d bytes sha256 %s" % (n, hashlib.sha256((bytes(range(251)) * (n // 251 + 1))[:n]).hexdigest()))')

peer_start() { # PORT OUT
	ip netns exec "$pns" timeout 90 python3 "$T/peer.py" "$1" >"$2" 2>&1 &
	PEER_PID=$!
	net_kill_at_exit $PEER_PID
	for ((i = 0; i < 100; i++)); do grep -q listening "$2" 2>/dev/null && return 0; sleep 0.05; done
	cat "$2"; fail "the peer never listened"
}

# run MODE kernel|shim PORT OUT: prints the exit status on OUT.status
run() {
	local mode=$1 side=$2 port=$3 out=$4 pid st sent addr=198.18.25.1
	peer_start "$port" "$out.peer"
	if [ "$side" = kernel ]; then
		DEMI_PRE=(ip netns exec "$pns")
		addr=127.0.0.1
	else
		demi_pre -n "$ns" "$T/x.conf"
	fi
	"${DEMI_PRE[@]}" "$PROG" "$addr" "$port" "$mode" >"$out" 2>"$out.err" &
	pid=$!
	net_kill_at_exit $pid
	if [ "$side" = shim ]; then
		if [ -n "$LOSS" ]; then
			net_wait_if "$ns" "$tap" 20 || { cat "$out.err"; fail "tap $tap never appeared"; }
			IMPAIR_LOG=$T/impair.$mode.log
			net_impair_start "$ns" "$tap" rex0 -l "$LOSS" -s 11
		else
			net_tap_attach "$ns" "$tap" 198.18.25.1/24 || { cat "$out.err"; fail "tap $tap never appeared"; }
		fi
	fi
	case $mode in SIG*)
		for ((i = 0; i < 600; i++)); do grep -q written "$out" && break; sleep 0.1; done
		grep -q written "$out" || { cat "$out" "$out.err"; fail "$mode/$side: never wrote"; }
		sent=$(date +%s.%N)
		kill -"$mode" $pid ;;
	esac
	wait $pid
	st=$?
	echo "$st" >"$out.status"
	wait $PEER_PID || { cat "$out.peer"; fail "$mode/$side: the peer failed"; }
	[ -n "$LOSS" ] && [ "$side" = shim ] && { kill -TERM "$IMPAIR_PID"; wait "$IMPAIR_PID" 2>/dev/null; }
	if [ "$side" = shim ]; then
		grep -q "on the stack" "$out.err" || { cat "$out.err"; fail "$mode: the socket was not bypassed"; }
		for ((i = 0; i < 100; i++)); do ip -n "$ns" link show "$tap" >/dev/null 2>&1 || break; sleep 0.05; done
	fi
	grep -qx "$want" "$out.peer" || { cat "$out" "$out.err" "$out.peer"; fail "$mode/$side: the peer did not get the 8 MiB whole: $(grep got "$out.peer")"; }
	grep -q "^fin at" "$out.peer" || { cat "$out.peer"; fail "$mode/$side: no FIN"; }
	local left fin
	left=${sent:-$(awk '/^leaving/ { print $2 }' "$out")}
	fin=$(awk '/^fin at/ { print $3 }' "$out.peer")
	awk -v l="$left" -v f="$fin" 'BEGIN { exit !(f - l < 3.5) }' ||
		fail "$mode/$side: the FIN came $(awk -v l="$left" -v f="$fin" 'BEGIN { print f - l }') s after the program left (bound 3 s)"
	echo "$mode/$side: 8 MiB and FIN, $(awk -v l="$left" -v f="$fin" 'BEGIN { printf "%.2f", f - l }') s after leaving, status $st"
}

port=7300
for mode in ${EXIT_MODES:-exit return _exit _Exit child vfork SIGTERM SIGINT SIGHUP}; do
	[ -n "$LOSS" ] || run "$mode" kernel $port "$T/$mode.kernel"
	run "$mode" shim $((port + 1)) "$T/$mode.shim"
	if [ -n "$LOSS" ]; then
		want_st=$(case $mode in exit) echo 3;; return) echo 4;; _exit) echo 5;; _Exit) echo 6;; child) echo 7;;
			vfork) echo 8;; SIGTERM) echo 143;; SIGINT) echo 130;; SIGHUP) echo 129;; esac)
		[ "$(cat "$T/$mode.shim.status")" = "$want_st" ] || fail "$mode: status $(cat "$T/$mode.shim.status"), not $want_st"
		cat "$IMPAIR_LOG"
		n=$(awk '/->/ { for (i = 1; i < NF; i++) if ($i == "lost") s += $(i + 1) } END { print s + 0 }' "$IMPAIR_LOG")
		[ "$n" -gt 0 ] || fail "$mode: the relay lost nothing"
	else
		diff "$T/$mode.kernel.status" "$T/$mode.shim.status" >/dev/null ||
			fail "$mode: exit status $(cat "$T/$mode.shim.status") under the shim, $(cat "$T/$mode.kernel.status") on the kernel"
	fi
	port=$((port + 2))
done
echo "every kind of exit delivers the data and the FIN${LOSS:+ through ${LOSS}% loss}, with the kernel's status"
