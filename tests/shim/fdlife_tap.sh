#!/usr/bin/env bash
# fd lifetime across threads (tests/shim/fdlife.c) with the sockets really
# bypassed: the stack runs on a tap device in a namespace whose kernel end is
# the peer (tests/shim/peer.py echo-multi). The same program runs on the
# kernel over loopback first; every observation must be identical:
#   close or dup2 over an fd while another thread is blocked on it in recv,
#   accept, poll, select or epoll_wait (not woken, the call keeps its
#   socket), shutdown (woken: recv 0, accept EINVAL), the number reused at
#   once by a new connection that sees only its own data, an epoll member
#   leaving the set with its last close, the epoll fd itself closed while a
#   wait blocks in it (the wait goes on and reports the set's member);
# then a stress run of close/dup2/shutdown racing blocked calls and the
# reuse of the number, which must end, without a crash, on both. Both run
# once more with the whole library built with ASan+UBSan
# (build/asan/libdemi.so): no memory error, the same output.
#   ROUNDS=N stress rounds (50), WHAT="cases" or "stress" for one part,
#   KEEP=DIR keeps the outputs there.
. "$(dirname "$0")/../lib/shim.sh"
need_root
need_cmd python3
need_lib

PEER=$DEMI_TOP/tests/shim/peer.py
PROG=$DEMI_TOP/build/tests/shim/fdlife
[ -x "$PROG" ] || fail "fdlife not built"
ns=$(net_ns_new dfl)
ex() { ip netns exec "$ns" "$@"; }
T=$SHIM_TMP
[ -n "${KEEP:-}" ] && T=$KEEP
ROUNDS=${ROUNDS:-50}

# run MODE OUT ADDR ARGS [CONF [VAR=VALUE...]]: the peer on PORT, then
# fdlife ARGS, under the preload with CONF if given (the library
# $DEMI_PRELOAD, see demi_pre); in shim mode the tap ($TAP, kernel end
# $KEND) appears when the stack starts
run() {
	local mode=$1 out=$2 addr=$3 args=$4 pre=(ip netns exec "$ns" env)
	if [ $# -ge 5 ]; then
		demi_pre -n "$ns" "$5"
		pre=("${DEMI_PRE[@]}")
		shift
	fi
	shift 4
	ex timeout 300 python3 "$PEER" echo-multi 0.0.0.0 $PORT >"$out.peer" 2>&1 &
	local ppid=$!
	net_kill_at_exit $ppid
	for ((i = 0; i < 100; i++)); do grep -q listening "$out.peer" 2>/dev/null && break; sleep 0.05; done
	# shellcheck disable=SC2086
	"${pre[@]}" "$@" timeout 240 "$PROG" ${args/ADDR/$addr} >"$out" 2>"$out.err" &
	local pid=$!
	net_kill_at_exit $pid
	if [ "$mode" != kernel ]; then
		net_tap_attach "$ns" "$TAP" "$KEND" || { cat "$out" "$out.err"; fail "tap $TAP never appeared"; }
	fi
	wait $pid || { local prc=$?; tail -n 5 "$out" "$out.err"; fail "fdlife $args ($mode): exit $prc"; }
	wait $ppid || { cat "$out.peer"; fail "the peer of fdlife $args ($mode)"; }
}

conf() { # FILE TAP ADDRESS
	demi_conf "$1" device="tap:$2" address="$3" listen=9612 connect="${3%.*}.0/24" level=info
}

ASAN_LIB=$DEMI_TOP/build/asan/libdemi.so
ASAN_RT=$(${CC:-gcc} -print-file-name=libasan.so)
modes="shim"
[ -f "$ASAN_LIB" ] && [ -f "$ASAN_RT" ] && modes="shim asan"

rc=0
for what in ${WHAT:-cases stress}; do
	case $what in
	cases) PORT=9611 args="cases ADDR $PORT 9612" ;;
	stress) PORT=9613 args="stress ADDR $PORT $ROUNDS" ;;
	esac
	run kernel "$T/$what.kernel" 127.0.0.1 "$args"
	for mode in $modes; do
		TAP=$(net_tag dflt) KEND=198.18.14.1/24
		conf "$T/$what.$mode.conf" "$TAP" 198.18.14.2/24
		lib=$DEMI_LIB env=()
		[ $mode = asan ] && lib=$ASAN_RT:$ASAN_LIB env=(ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
			UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1)
		DEMI_PRELOAD=$lib run $mode "$T/$what.$mode" 198.18.14.1 "$args" "$T/$what.$mode.conf" "${env[@]}"
		if diff -u "$T/$what.kernel" "$T/$what.$mode"; then
			echo "$what ($mode): $(wc -l <"$T/$what.kernel") observations identical on the kernel and bypassed"
		else
			rc=1
		fi
		echo "$what ($mode), stderr:"; sed 's/^/  /' "$T/$what.$mode.err" | grep -v "on the stack" | head -20
		grep -q "fd [0-9]*: on the stack (bypassed: \[bypass\] connect" "$T/$what.$mode.err" ||
			fail "$what ($mode): the connections were not bypassed"
		grep -q "runtime error\|ERROR: AddressSanitizer" "$T/$what.$mode.err" && fail "$what ($mode): sanitizer report"
	done
done
[ -z "${WHAT:-}" ] && { grep -q "fd [0-9]*: on the stack (bypassed: \[bypass\] listen" "$T/cases.shim.err" ||
	fail "the listener was not bypassed"; }
[ $rc -eq 0 ] || fail "bypassed runs differ from the kernel"
