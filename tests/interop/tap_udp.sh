#!/usr/bin/env bash
# UDP between the stack (on net_tap) and the kernel end of the tap: 2000
# datagrams of 0..1399 bytes from a kernel client echoed by the stack, then
# 500 from the stack's client echoed by a kernel server, every byte checked.
# Then datagrams above the MTU, as IPv4 fragments both ways: 90 of 1473 to
# 65507 bytes from a kernel client, reassembled and echoed (fragmented) by
# the stack; 100 of 8000 bytes from the stack's client to a kernel server.
. "$(dirname "$0")/../lib/net.sh"
need_root
need_cmd python3
. "$(dirname "$0")/lib.sh"

ns=$(net_ns_new dtu)
ex() { ip netns exec "$ns" "$@"; }

tap=$(net_tag dtu)
stack_start "$ns" "tap:$tap" 198.18.4.2/24 server udp 7
stack_tap_up "$ns" "$tap" 198.18.4.1/24
stack_wait_listening
expect_ok "kernel client, 2000 datagrams" ex $KPEER udp-client 198.18.4.2 7 2000
expect_ok "kernel client, 90 datagrams in fragments" ex $KPEER udp-client-big 198.18.4.2 7 90
stack_stop

klog=$(mktemp /tmp/demi-kpeer.XXXXXX)
net_cleanup_add "rm -f $klog"
ip netns exec "$ns" $KPEER udp-echo-server 0.0.0.0 7 >"$klog" 2>&1 &
net_kill_at_exit $!
for ((i = 0; i < 100; i++)); do grep -q listening "$klog" && break; sleep 0.05; done
tap=$(net_tag dtv)
stack_start "$ns" "tap:$tap" 198.18.6.2/24 client udp 198.18.6.1:7 -n 500 -s 1000
stack_tap_up "$ns" "$tap" 198.18.6.1/24
wait $stack_pid
grep RESULT "$stack_log"
grep -q "RESULT.* ok=1" "$stack_log" || { cat "$stack_log"; fail "stack UDP client"; }

tap=$(net_tag dtw)
stack_start "$ns" "tap:$tap" 198.18.8.2/24 client udp 198.18.8.1:7 -n 100 -s 8000
stack_tap_up "$ns" "$tap" 198.18.8.1/24
wait $stack_pid
grep RESULT "$stack_log"
grep -q "RESULT.* lost=0 bad=0" "$stack_log" || { cat "$stack_log"; fail "stack UDP client, 8000-byte datagrams"; }
echo "tap UDP: both directions, every datagram byte-exact"
