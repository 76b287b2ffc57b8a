#!/usr/bin/env bash
# A broken config names file:line, and the program still serves through the
# kernel (on_error = kernel); with on_error = fail the failing call fails and
# says why. Cases: an unknown key, an unknown section, a bad address, a bad
# port, a bad value of every other key, no [dpdk] device, a device that
# cannot start.
. "$(dirname "$0")/../lib/shim.sh"
need_lib
PY=/usr/bin/python3
[ -x $PY ] || skip "/usr/bin/python3 missing"
export P=$((10000 + $$ % 20000)) # the listening port, in the configs too; below the ephemeral range

# serve CONF: a loopback TCP echo through python3 under the preload; prints
# the echo and leaves the program's stderr in $SHIM_TMP/err
serve() {
	demi_run "$1" $PY -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(__import__("os").environ["P"]))); s.listen(4)
c = socket.create_connection(("127.0.0.1", int(__import__("os").environ["P"]))); a, _ = s.accept()
c.sendall(b"through the kernel"); print(a.recv(64).decode())
' 2>"$SHIM_TMP/err"
}

# case NAME EXPECTED-STDERR-REGEX CONFIG-BODY
check() {
	local name=$1 want=$2 conf="$SHIM_TMP/$(echo "$1" | tr ' ' _).conf" out
	printf '%s\n' "$3" >"$conf"
	out=$(serve "$conf")
	grep -qE "$want" "$SHIM_TMP/err" || { cat "$SHIM_TMP/err"; fail "$name: stderr lacks /$want/"; }
	[ "$out" = "through the kernel" ] || { cat "$SHIM_TMP/err"; fail "$name: the program did not serve ('$out')"; }
	echo "$name: $(grep -E "$want" "$SHIM_TMP/err" | head -1)"
}

# each case the good config with one thing changed (line numbers as demi_conf writes them)
good() { demi_conf - device=af_packet:dnodev0 address=198.18.203.2/24 listen=$P "$@"; }
f() { echo "$SHIM_TMP/$(echo "$1" | tr ' ' _).conf"; }
check "unknown key" "$(f 'unknown key'):4: unknown key 'adress' in \[net\]" \
	"$(demi_conf - device=af_packet:dnodev0 net.adress=198.18.203.2/24 listen=$P)"
check "unknown section" "$(f 'unknown section'):7: unknown section \[bypas\]" "$(good bypas.udp=yes)"
check "bad address" "$(f 'bad address'):4: \[net\] address: bad value '198.18.203.300/24'" \
	"$(demi_conf - device=af_packet:dnodev0 address=198.18.203.300/24 listen=$P)"
check "bad port" "$(f 'bad port'):6: \[bypass\] listen: bad port '70000'" \
	"$(demi_conf - device=af_packet:dnodev0 address=198.18.203.2/24 listen="80 70000")"
check "bad device" "$(f 'bad device'):2: \[dpdk\] device: bad value 'eth0'" \
	"$(demi_conf - device=eth0 address=198.18.203.2/24 listen=$P)"
# every key's own bad-value message, each naming file:line
while IFS='|' read -r kv want; do
	check "bad ${kv%%=*}" "$(f "bad ${kv%%=*}"):[0-9]+: $want" "$(good "$kv")"
done <<'CASES'
gateway=198.18.203|\[net\] gateway: bad value '198.18.203' \(a.b.c.d\)
mtu=100|\[net\] mtu: bad value '100' \(576-9000\)
udp=maybe|\[bypass\] udp: bad value 'maybe' \(yes or no\)
connect=198.18.0.0/33|\[bypass\] connect: bad prefix '198.18.0.0/33'
on_error=panic|\[fallback\] on_error: bad value 'panic' \(kernel or fail\)
tcp.congestion=bbr|\[tcp\] congestion: bad value 'bbr' \(cubic or newreno\)
level=loud|\[log\] level: bad value 'loud' \(error, warn, info or debug\)
log.file=relative.log|\[log\] file: 'relative.log' is not an absolute path
dpdk.mbufs=12|\[dpdk\] mbufs: bad value '12' \(1024-16777216\)
dpdk.spin_us=-1|\[dpdk\] spin_us: bad value '-1' \(microseconds\)
CASES
check "missing device" "$(f 'missing device'): \[dpdk\] device is required" \
	"$(demi_conf - address=198.18.203.2/24 listen=$P)"
check "device that cannot start" "stack unavailable: .*dnodev0.*every socket stays with the kernel" \
	"$(good on_error=kernel)"

# on_error = fail: the call that needed the stack fails, with the reason
conf="$SHIM_TMP/fail.conf"
good on_error=fail >"$conf"
out=$(demi_run "$conf" $PY -c '
import socket
s = socket.socket(); s.bind(("0.0.0.0", int(__import__("os").environ["P"]))); s.listen(4)
try:
    s.accept(); print("accepted")
except OSError as e:
    print(e.strerror)
' 2>"$SHIM_TMP/err")
[ "$out" = "Network is down" ] || { cat "$SHIM_TMP/err"; fail "on_error = fail: accept said '$out'"; }
grep -q "stack unavailable: .*dnodev0.*(on_error = fail)" "$SHIM_TMP/err" || { cat "$SHIM_TMP/err"; fail "on_error = fail: no reason logged"; }
echo "on_error = fail: accept fails with ENETDOWN, reason logged"

# a broken config with on_error = fail: AF_INET sockets fail
demi_conf "$conf" net.adress=x on_error=fail
out=$(demi_run "$conf" $PY -c '
import socket
try:
    socket.socket(); print("created")
except OSError as e:
    print(e.strerror)
' 2>"$SHIM_TMP/err")
[ "$out" = "Invalid argument" ] || { cat "$SHIM_TMP/err"; fail "broken config, on_error = fail: socket() said '$out'"; }
grep -q "fail.conf:2: unknown key 'adress'" "$SHIM_TMP/err" || { cat "$SHIM_TMP/err"; fail "no file:line"; }
echo "broken config, on_error = fail: socket(AF_INET) fails with EINVAL"
