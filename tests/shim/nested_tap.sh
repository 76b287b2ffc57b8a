#!/usr/bin/env bash
# tests/shim/nestflow.c: an epoll set holding a bypassed TCP connection,
# nested in other epoll sets (LT, ET, EPOLLONESHOT on both levels, two
# levels deep), in poll() and select(), with maxevents 1 and at the peer's
# close. The stack runs on a tap device in a namespace and the kernel end of
# the tap is the peer (tests/shim/nestpeer.py); the same program and peer run
# on the kernel over loopback first. Every observation must be identical.
. "$(dirname "$0")/../lib/shim.sh"
need_root
need_cmd python3
need_lib

PEER=$DEMI_TOP/tests/shim/nestpeer.py
PROG=$DEMI_TOP/build/tests/shim/nestflow
[ -x "$PROG" ] || fail "nestflow not built"
ns=$(net_ns_new dnest)
ex() { ip netns exec "$ns" "$@"; }
T=$SHIM_TMP
[ -n "${KEEP:-}" ] && T=$KEEP
PORT=9191

# run MODE OUT ADDR [CONF [VAR=VALUE...]]: the peer on $PORT, then the
# program against ADDR, under the preload with CONF if given (the library
# $DEMI_PRELOAD, see demi_pre); in shim mode the tap ($TAP, kernel end
# $KEND) appears when the program's stack starts
run() {
	local mode=$1 out=$2 addr=$3 i pre=(ip netns exec "$ns" env)
	if [ $# -ge 4 ]; then
		demi_pre -n "$ns" "$4"
		pre=("${DEMI_PRE[@]}")
		shift
	fi
	shift 3
	ex timeout 120 python3 "$PEER" 0.0.0.0 $PORT >"$out.peer" 2>&1 &
	local ppid=$!
	net_kill_at_exit $ppid
	for ((i = 0; i < 100; i++)); do grep -q listening "$out.peer" 2>/dev/null && break; sleep 0.05; done
	"${pre[@]}" "$@" timeout 120 "$PROG" "$addr" $PORT >"$out" 2>"$out.err" &
	local pid=$!
	net_kill_at_exit $pid
	if [ "$mode" = shim ]; then
		net_tap_attach "$ns" "$TAP" "$KEND" || { cat "$out" "$out.err"; fail "tap $TAP never appeared"; }
	fi
	wait $pid || { cat "$out" "$out.err"; fail "nestflow ($mode) exit $?"; }
	wait $ppid || { cat "$out.peer"; fail "peer of nestflow ($mode)"; }
}

run kernel "$T/nest.kernel" 127.0.0.1

# the same over loopback under the ASan+UBSan shim (no runtime: the sets
# hold kernel fds alone, but have their eventfds, nested lists and filters)
lib=$DEMI_TOP/build/asan/libdemi-nort.so
asan=$(${CC:-gcc} -print-file-name=libasan.so)
if [ -f "$lib" ] && [ -f "$asan" ]; then
	shim_write_configs
	DEMI_PRELOAD="$asan:$lib" run asan "$T/nest.asan" 127.0.0.1 "$SHIM_TMP/fallback.conf" \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
	grep -q "runtime error\|ERROR: AddressSanitizer\|LeakSanitizer" "$T/nest.asan.err" &&
		{ cat "$T/nest.asan.err"; fail "nestflow: sanitizer report"; }
	diff -u "$T/nest.kernel" "$T/nest.asan" || fail "nestflow differs under the ASan shim (kernel fds)"
	echo "nestflow: clean under the ASan+UBSan shim over loopback, same as the kernel"
fi
TAP=$(net_tag dnst) KEND=198.18.31.1/24
demi_conf "$T/nest.conf" device="tap:$TAP" address=198.18.31.2/24 connect=198.18.31.0/24 level=info
run shim "$T/nest.shim" 198.18.31.1 "$T/nest.conf"

echo "under the shim, stderr:"; sed 's/^/  /' "$T/nest.shim.err"
grep -q "fd [0-9]*: on the stack (bypassed: \[bypass\] connect" "$T/nest.shim.err" || fail "the connection was not bypassed"
diff -u "$T/nest.kernel" "$T/nest.shim" || fail "nested epoll sets differ on the kernel and bypassed"
echo "nestflow: $(wc -l <"$T/nest.kernel") observations identical on the kernel and bypassed"
