#!/usr/bin/env bash
# The lean preload: libdemi.so maps the stack library (build/libdemi-stack.so,
# with DPDK, libbpf, libxdp, libnuma, libbsd) only when a bypassed socket
# first needs the stack.
#   - the stack library exports one name, its table (demi_stack_api)
#   - no config, and a config whose rules bypass nothing the program opens:
#     /proc/self/maps holds libdemi.so and none of those
#   - a config with a bad device: the error is reported at start (the
#     device grammar is in libdemi.so), still without the stack library
#   - a listener on a tap device: once its stack runs, its maps hold the
#     stack library, and a kernel client is served through it
#   - libdemi.so without its stack library beside it: the bypassed listener
#     falls back to the kernel with one warning naming the missing file
#     (on_error = kernel), or accept fails (on_error = fail)
#   - build/asan/libdemi-nort.so, built without one, never loads the ASan
#     stack library beside it
. "$(dirname "$0")/../lib/shim.sh"
need_root
need_cmd python3
need_lib
[ -f "$DEMI_TOP/build/libdemi-stack.so" ] || fail "build/libdemi-stack.so not built"
T=$SHIM_TMP
HEAVY='libdemi-stack|librte|libbpf|libxdp|libnuma|libbsd'

# the stack library exports its table alone: nothing of the stack or DPDK
# can meet a name of the program's
for lib in "$DEMI_TOP/build/libdemi-stack.so" "$DEMI_TOP/build/asan/libdemi-stack.so"; do
	[ -f "$lib" ] || continue
	got=$(nm -D --defined-only "$lib" | awk '{print $3}')
	[ "$got" = demi_stack_api ] || fail "$lib exports more than demi_stack_api: $(echo $got | head -c 300)"
done

maps_lean() { # what maps-file
	grep -q 'libdemi\.so' "$2" || fail "$1: libdemi.so is not mapped (not preloaded?)"
	! grep -E "$HEAVY" "$2" || fail "$1: the stack library or DPDK's libraries are mapped"
}

# 1. no config
demi_run "" cat /proc/self/maps >"$T/maps.noconf" || fail "cat under the preload"
maps_lean "no config" "$T/maps.noconf"

# 2. rules that bypass every listener and a subnet, and a program whose
# sockets are all on loopback: decided for the kernel, nothing loaded
demi_conf "$T/all.conf" device=tap:dlnone0 address=198.18.32.2/24 listen="*" \
	connect=198.18.32.0/24 udp=yes on_error=kernel level=info
demi_run "$T/all.conf" python3 -c '
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(4)
c = socket.create_connection(s.getsockname()); a, _ = s.accept()
c.sendall(b"ping"); assert a.recv(4) == b"ping"
print(open("/proc/self/maps").read())' >"$T/maps.conf" 2>"$T/conf.err" || { cat "$T/conf.err"; fail "python3 with rules"; }
grep -q "bypass listen" "$T/conf.err" || { cat "$T/conf.err"; fail "the configuration was not read"; }
maps_lean "rules, loopback sockets only" "$T/maps.conf"

# 3. a bad device string: reported at start, nothing loaded
demi_conf "$T/bad.conf" device=tap: address=198.18.32.2/24 listen="*"
demi_run "$T/bad.conf" cat /proc/self/maps >"$T/maps.bad" 2>"$T/bad.err"
grep -q "tap:" "$T/bad.err" || { cat "$T/bad.err"; fail "the bad device was not reported"; }
maps_lean "bad device" "$T/maps.bad"
echo "no config, rules with loopback sockets, a bad device: no stack library, no DPDK mapped"

# 4. a bypassed listener on a tap: the stack library loads at its accept
ns=$(net_ns_new dln)
tap=$(net_tag dlt)
demi_conf "$T/srv.conf" device=tap:$tap address=198.18.32.2/24 listen=8080 level=info
demi_pre -n "$ns" "$T/srv.conf"
"${DEMI_PRE[@]}" python3 -c '
import socket
s = socket.socket(); s.bind(("0.0.0.0", 8080)); s.listen(4)
c, _ = s.accept(); c.sendall(c.recv(16).upper()); c.close()' >"$T/srv.out" 2>"$T/srv.err" &
pid=$!
net_kill_at_exit $pid
net_tap_attach "$ns" "$tap" 198.18.32.1/24 || { cat "$T/srv.err"; fail "tap $tap never appeared"; }
grep -q 'libdemi-stack\.so' /proc/$pid/maps || fail "stack running, but libdemi-stack.so is not mapped"
grep -q 'libbpf' /proc/$pid/maps || fail "stack running, but DPDK's libraries are not mapped"
got=$(ip netns exec "$ns" timeout 20 python3 -c '
import socket
c = socket.create_connection(("198.18.32.2", 8080), timeout=10); c.sendall(b"lean")
print(c.recv(16).decode())') || { cat "$T/srv.err"; fail "client of the bypassed listener"; }
[ "$got" = LEAN ] || { cat "$T/srv.err"; fail "client got '$got'"; }
wait $pid || { cat "$T/srv.err"; fail "server exit $?"; }
grep -q "on the stack" "$T/srv.err" || { cat "$T/srv.err"; fail "the listener was not on the stack"; }
echo "bypassed listener on tap: libdemi-stack.so loaded at its accept, client served through it"

# 5. no stack library beside libdemi.so
mkdir -p "$T/alone"
cp "$DEMI_LIB" "$T/alone/libdemi.so"
for mode in kernel fail; do
	port=$((20000 + ($$ + ${#mode}) % 20000))
	demi_conf "$T/alone.$mode.conf" device=tap:dlalone0 address=198.18.32.2/24 listen=$port on_error=$mode
	DEMI_PRELOAD=$T/alone/libdemi.so demi_run "$T/alone.$mode.conf" python3 -c '
import socket, sys
s = socket.socket(); s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(4)
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
try:
    a, _ = s.accept(); c.sendall(b"k"); print("accepted", a.recv(1).decode())
except OSError as e:
    print("accept failed")' $port >"$T/alone.$mode.out" 2>"$T/alone.$mode.err"
	want="accepted k"
	[ $mode = fail ] && want="accept failed"
	[ "$(cat "$T/alone.$mode.out")" = "$want" ] || { cat "$T/alone.$mode.out" "$T/alone.$mode.err"; fail "on_error=$mode: not '$want'"; }
	grep -q "cannot load the stack library.*$T/alone/libdemi-stack.so" "$T/alone.$mode.err" ||
		{ cat "$T/alone.$mode.err"; fail "on_error=$mode: no message naming the missing library"; }
	[ "$(grep -c "stack unavailable" "$T/alone.$mode.err")" = 1 ] || { cat "$T/alone.$mode.err"; fail "on_error=$mode: not one message"; }
done
echo "no stack library: one message naming it; on_error=kernel served by the kernel, on_error=fail: accept fails"

# 6. the ASan shim built without a stack library, beside the ASan one
asan=$(${CC:-gcc} -print-file-name=libasan.so)
nort=$DEMI_TOP/build/asan/libdemi-nort.so
if [ -f "$asan" ] && [ -f "$nort" ]; then
	port=$((20000 + ($$ + 7) % 20000))
	demi_conf "$T/nort.conf" device=tap:dlalone0 address=198.18.32.2/24 listen=$port
	DEMI_PRELOAD="$asan:$nort" demi_run "$T/nort.conf" ASAN_OPTIONS=detect_leaks=0 python3 -c '
import socket, sys
s = socket.socket(); s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(4); s.settimeout(0.2)
try: s.accept()
except OSError: pass
print(open("/proc/self/maps").read())' $port >"$T/maps.nort" 2>"$T/nort.err"
	grep -q "no runtime in this build of libdemi" "$T/nort.err" || { cat "$T/nort.err"; fail "libdemi-nort.so: no 'no runtime' message"; }
	! grep -E "$HEAVY" "$T/maps.nort" || fail "libdemi-nort.so loaded a stack library"
	echo "libdemi-nort.so: no runtime, no stack library loaded"
fi
