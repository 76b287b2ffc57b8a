#!/usr/bin/env bash
# IPv6 on a tap through the shim: a program under the preload with one
# bypassed IPv4 listener (so its stack is up) and [net] address6; from the
# kernel end, in a namespace of its own: ping -6 of the stack's address at
# 56, 1400 and 4000 bytes (in fragments both ways; ping checks each
# reply's payload), of its link-local
# address (EUI-64 of its MAC), the counters file shows the echoes; then the
# kernel end changes its MAC, twice: announced (an unsolicited NA with
# override, ndisc_notify) and not (the kernel's next solicitation carries
# the new address), and the stack follows both times.
. "$(dirname "$0")/../lib/net.sh"
need_root
need_cmd ping python3
need_lib

PFX=2001:db8:6b
ip -6 route replace blackhole $PFX::/48 2>/dev/null || true
ns=$(net_ns_new dp6)
tap=$(net_tag d6tap)
P=$((10000 + $$ % 20000))
T=$(mktemp -d /tmp/demi-ping6.XXXXXX)
net_cleanup_add "rm -rf $T"

demi_conf "$T/c.conf" device=tap:$tap address=198.18.6.2/24 listen=$P net.address6=$PFX::2/64
demi_pre -n "$ns" "$T/c.conf"
"${DEMI_PRE[@]}" python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(4)
s.accept()' $P >"$T/log" 2>&1 &
pid=$!
net_kill_at_exit $pid
net_tap_attach "$ns" "$tap" 198.18.6.1/24 || { cat "$T/log"; fail "tap $tap never appeared"; }
ip netns exec "$ns" sysctl -qw net.ipv6.conf."$tap".disable_ipv6=0
ip -n "$ns" addr add $PFX::1/64 dev "$tap" nodad || fail "ip addr add $PFX::1/64"

# ping6 COUNT SIZE DST: every reply received, none with wrong data
ping6() {
	ip netns exec "$ns" ping -6 -n -c "$1" -i 0.2 -W 2 -s "$2" "$3" >"$T/ping" 2>&1
	grep -q "wrong data\|DUP" "$T/ping" && { cat "$T/ping"; fail "ping -s $2 $3: bad replies"; }
	grep -q " $1 received" "$T/ping"
}
# the stack's DAD takes a second once it is up
for ((i = 0; i < 40; i++)); do
	ping6 1 56 $PFX::2 && break
	sleep 0.25
done
[ $i -lt 40 ] || { cat "$T/ping" "$T/log"; fail "the stack's IPv6 address never answered"; }
for size in 56 1400 4000; do
	ping6 3 $size $PFX::2 || { cat "$T/ping" "$T/log"; fail "ping -6 -s $size: not every echo answered"; }
	grep -E "bytes from" "$T/ping" | head -1
done

# its link-local address, from its MAC as the kernel learned it
smac=$(ip -n "$ns" -6 neigh show $PFX::2 dev "$tap" | sed -n 's/.*lladdr \([0-9a-f:]*\).*/\1/p')
[ -n "$smac" ] || fail "the kernel has no neighbour entry for $PFX::2"
IFS=: read -r m0 m1 m2 m3 m4 m5 <<<"$smac"
ll=$(printf 'fe80::%x:%x:%x:%x' $(((0x$m0 ^ 2) << 8 | 0x$m1)) $((0x${m2}ff)) $((0xfe$m3)) $((0x$m4$m5)))
ping6 3 56 "$ll%$tap" || { cat "$T/ping"; fail "ping -6 $ll%$tap (the stack's link-local) unanswered"; }
echo "link-local $ll answered"

shm=/dev/shm/demi.$pid.0
ctr() { python3 "$DEMI_TOP/tests/interop/demishm.py" "$shm" "$1" | cut -d= -f2; }
[ -f "$shm" ] || fail "no counters file $shm"
replies=$(ctr ICMP6_ECHO_REPLIES)
[ "${replies:-0}" -ge 12 ] || fail "counters file shows $replies ICMPv6 echo replies, want >= 12"
[ "$(ctr IPV6_REASSEMBLED)" -ge 3 ] && [ "$(ctr IPV6_FRAGS_TX)" -ge 6 ] ||
	fail "4000-byte pings: $(ctr IPV6_REASSEMBLED) reassembled, $(ctr IPV6_FRAGS_TX) fragments sent"

# the kernel end moves to another MAC and says so (unsolicited NA, override)
ip netns exec "$ns" sysctl -qw net.ipv6.conf."$tap".ndisc_notify=1
ip -n "$ns" link set "$tap" address 02:00:00:6b:00:01 || fail "ip link set address"
for ((i = 0; i < 20; i++)); do
	[ "$(ctr ND_LLADDR_CHANGED)" -ge 1 ] && break
	sleep 0.1
done
[ "$(ctr ND_LLADDR_CHANGED)" -ge 1 ] || fail "the stack did not take the unsolicited NA"
ping6 3 56 $PFX::2 || { cat "$T/ping"; fail "after the MAC change (announced): pings unanswered"; }
echo "MAC change announced: followed"

# and without a word: the kernel's solicitation (its cache flushed) carries the new one
ip netns exec "$ns" sysctl -qw net.ipv6.conf."$tap".ndisc_notify=0
ip -n "$ns" link set "$tap" address 02:00:00:6b:00:02 || fail "ip link set address"
ip -n "$ns" -6 neigh flush dev "$tap"
ping6 3 56 $PFX::2 || { cat "$T/ping"; fail "after the MAC change (silent): pings unanswered"; }
[ "$(ctr ND_LLADDR_CHANGED)" -ge 2 ] || fail "the stack did not learn the new MAC from the solicitation"
echo "MAC change silent: followed"

echo "tap ping6: 56/1400/4000 bytes and the link-local answered byte-exact, $(ctr ICMP6_ECHO_REPLIES) replies counted," \
	"$(ctr ND_NA_SENT) NAs sent, two MAC changes followed"
