#!/usr/bin/env bash
# TCP between the stack (on net_tap) and the kernel over a faulty link:
# netem on both directions of the tap's kernel end (5% loss, 25% reorder,
# 1% duplicate, 0.1% corrupt, 1 ms delay); the stack as client sends 16 MiB
# and checks the echo byte for byte (the stack as server under netem:
# tap_tcp_server.sh).
. "$(dirname "$0")/../lib/net.sh"
need_root
need_cmd python3 tc
. "$(dirname "$0")/lib.sh"

MiB=$((1 << 20))
ns=$(net_ns_new dtn)
ex() { ip netns exec "$ns" "$@"; }
tc -n "$ns" qdisc add dev lo root netem loss 1% 2>/dev/null ||
	skip "this kernel has no netem qdisc (CONFIG_NET_SCH_NETEM)"
tc -n "$ns" qdisc del dev lo root
FAULTS="delay 1ms reorder 25% 50% loss 5% duplicate 1% corrupt 0.1%"

klog=$(mktemp /tmp/demi-kpeer.XXXXXX)
net_cleanup_add "rm -f $klog"
ip netns exec "$ns" $KPEER echo-server 0.0.0.0 7 >"$klog" 2>&1 &
net_kill_at_exit $!
for ((i = 0; i < 100; i++)); do grep -q listening "$klog" && break; sleep 0.05; done
tap=$(net_tag dtm)
stack_start "$ns" "tap:$tap" 198.18.6.2/24 client tcp 198.18.6.1:7 -n $((16 * MiB))
stack_tap_up "$ns" "$tap" 198.18.6.1/24
netem_both "$ns" "$tap" "$(net_tag dig)" $FAULTS
wait $stack_pid
grep RESULT "$stack_log"
grep -q "RESULT.* ok=1" "$stack_log" || { cat "$stack_log"; fail "stack client under netem"; }
echo "tap TCP under netem: 16 MiB each way, byte-exact"
