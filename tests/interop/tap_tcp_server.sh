#!/usr/bin/env bash
# TCP between the stack (on net_tap) as server and the kernel as client:
# 256 MiB each way byte-exact with half-close, a reset connection and a
# killed client leave it serving, a closed port refuses; then 16 MiB each
# way under netem on both directions (where the kernel has netem; else a
# skipped part, "SKIP-PART:", that run-all.sh counts).
. "$(dirname "$0")/../lib/net.sh"
need_root
need_cmd python3
. "$DEMI_TOP/tests/interop/lib.sh"

MiB=$((1 << 20))
ns=$(net_ns_new dts)
ex() { ip netns exec "$ns" "$@"; }

# ------------------------------------------------------------ stack serves
tap=$(net_tag dtc)
stack_start "$ns" "tap:$tap" 198.18.4.2/24 server tcp 7
stack_tap_up "$ns" "$tap" 198.18.4.1/24
stack_wait_listening

expect_ok "kernel client, 256 MiB each way" ex $KPEER client 198.18.4.2 7 $((256 * MiB))

ex $KPEER reset 198.18.4.2 7 >/dev/null || fail "reset client"
expect_ok "after a reset, a new connection" ex $KPEER client 198.18.4.2 7 $MiB

ip netns exec "$ns" $KPEER client 198.18.4.2 7 $((1024 * MiB)) >/dev/null 2>&1 &
victim=$!
net_kill_at_exit $victim
sleep 0.5
kill -9 $victim 2>/dev/null
wait $victim 2>/dev/null
expect_ok "after a killed client, a new connection" ex $KPEER client 198.18.4.2 7 $MiB

out=$(ex python3 -c "
import socket
try:
    socket.create_connection(('198.18.4.2', 9), timeout=5)
    print('connected')
except ConnectionRefusedError:
    print('refused')
except OSError as e:
    print('error', e)" 2>&1)
echo "closed port: $out"
[ "$out" = refused ] || fail "connecting to a closed port: $out, want refused"

if tc -n "$ns" qdisc add dev lo root netem loss 1% 2>/dev/null; then
	tc -n "$ns" qdisc del dev lo root
	netem_both "$ns" "$tap" "$(net_tag dif)" delay 1ms reorder 25% 50% loss 5% duplicate 1% corrupt 0.1%
	expect_ok "under netem, 16 MiB each way" ex $KPEER client 198.18.4.2 7 $((16 * MiB))
else
	echo "SKIP-PART: no netem in this kernel: the faulty-link part is not run"
fi
stack_stop
echo "tap TCP, stack as server: all checks passed"

