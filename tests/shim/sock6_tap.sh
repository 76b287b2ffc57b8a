#!/usr/bin/env bash
# AF_INET6 TCP sockets (tests/shim/sock6.c) on the kernel and under the
# shim with them bypassed: the same output call by call. On the kernel, in
# a namespace holding the four addresses on lo; under the shim, the stack on
# a tap ([net] address6, [bypass] listen 7061 7062) and the tap's kernel end
# as the peer. The listeners, accepted sockets and the connecting socket
# must be on the stack by the shim's own word (its debug log).
. "$(dirname "$0")/../lib/net.sh"
need_root
need_cmd ping
need_lib
prog=$DEMI_TOP/build/tests/shim/sock6
[ -x "$prog" ] || fail "$prog not built"

PFX=2001:db8:71
L4=198.18.31.2 P4=198.18.31.1 L6=$PFX::2 P6=$PFX::1
ip -6 route replace blackhole $PFX::/48 2>/dev/null || true
T=$(mktemp -d /tmp/demi-sock6.XXXXXX)
net_cleanup_add "rm -rf $T"

kns=$(net_ns_new ds6K)
ip netns exec "$kns" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.lo.disable_ipv6=0
ip -n "$kns" link set lo up
for a in $L4/32 $P4/32; do ip -n "$kns" addr add $a dev lo; done
for a in $L6/128 $P6/128; do ip -n "$kns" addr add $a dev lo nodad; done
T_LOCAL=$L4 T_PEER=$P4 T_LOCAL6=$L6 T_PEER6=$P6 ip netns exec "$kns" timeout 60 "$prog" >"$T/kernel" 2>"$T/kernel.err" ||
	fail "sock6 on the kernel: exit $? ($(cat "$T/kernel.err"))"

sns=$(net_ns_new ds6S)
tap=$(net_tag ds6t)
ip netns exec "$sns" sysctl -qw net.ipv6.conf.default.disable_ipv6=0
demi_conf "$T/c.conf" device="tap:$tap" address=$L4/24 net.address6=$L6/64 listen="7061 7062" \
	on_error=fail level=debug
demi_pre -n "$sns" "$T/c.conf"
"${DEMI_PRE[@]}" T_LOCAL=$L4 T_PEER=$P4 T_LOCAL6=$L6 T_PEER6=$P6 T_READY="$T/ready" timeout 60 "$prog" \
	>"$T/shim" 2>"$T/shim.err" &
pid=$!
net_kill_at_exit $pid
net_tap_attach "$sns" "$tap" $P4/24 || { tail "$T/shim.err"; fail "tap $tap never appeared"; }
ip -n "$sns" addr add $P6/64 dev "$tap" nodad || fail "ip addr add $P6/64"
# the stack's address6 is in use once its DAD passed
for ((i = 0; i < 40; i++)); do
	ip netns exec "$sns" ping -6 -c1 -W1 $L6 >/dev/null 2>&1 && break
	sleep 0.25
done
[ $i -lt 40 ] || fail "the stack's $L6 never answered"
touch "$T/ready"
wait $pid || { rc=$?; tail -n 30 "$T/shim.err"; fail "sock6 under the shim: exit $rc"; }
if ! diff -u "$T/kernel" "$T/shim"; then
	grep -E "error|warn" "$T/shim.err" | head -20
	fail "sock6: kernel and shim differ"
fi
# each subject fd: the shim's last word on that fd before the subject line
awk '
	/^libdemi.*: fd [0-9]+: (bypassed|kernel)/ {
		match($0, /fd [0-9]+:/); fd = substr($0, RSTART + 3, RLENGTH - 4)
		side[fd] = ($0 ~ /: bypassed/) ? "bypassed" : "kernel"
	}
	/^subject / { n++; fd = $NF; sub(/^subject /, ""); sub(/ fd [0-9]+$/, "")
		if (side[fd] != "bypassed") { bad++; print "  NOT bypassed: " $0 " (fd " fd ")" } }
	END { exit bad ? 1 : (n ? 0 : 2) }' "$T/shim.err" || fail "sock6: a socket expected on the stack was not bypassed"
echo "sock6 (AF_INET6 on the stack): $(wc -l <"$T/kernel") observations identical to the kernel," \
	"$(grep -c '^subject' "$T/shim.err") sockets on the stack"
