#!/usr/bin/env bash
# Path MTU discovery end to end: python3's http.server under libdemi on a
# tap (MTU 1500) behind a Linux router whose link onward has MTU 1200, to a
# kernel curl whose own interface has 1500 (so it offers MSS 1460 and only
# the router knows better). The stack's full-sized segments (DF set) make
# the router answer fragmentation-needed; the stack lowers its MSS and
# resends, and the 4 MiB download completes byte-exact. A second download
# starts with the learned size (no new ICMP needed).
. "$(dirname "$0")/../lib/apps.sh"
need_root
need_cmd curl
[ -x "$PY" ] || skip "$PY missing"
need_lib

rns=$(net_ns_new dpr) # the router, with the tap's kernel end
cns=$(net_ns_new dpc) # the client
tap=$(net_tag dpt)
rdev=$(net_tag dpr)
cdev=$(net_tag dpc)
T=$APPS_TMP
mkdir -p "$T/www"
head -c $((4 << 20)) /dev/urandom >"$T/www/big.bin"

ip -n "$rns" link add "$rdev" type veth peer name "$cdev" netns "$cns" || fail "veth"
ip -n "$rns" link set "$rdev" mtu 1200
ip -n "$rns" addr add 198.18.23.1/24 dev "$rdev"
ip -n "$rns" link set "$rdev" up
ip -n "$cns" addr add 198.18.23.2/24 dev "$cdev"
ip -n "$cns" link set "$cdev" up
ip -n "$cns" route add default via 198.18.23.1
ip netns exec "$rns" sysctl -qw net.ipv4.ip_forward=1

demi_conf "$T/srv.conf" device="tap:$tap" address=198.18.22.2/24 gateway=198.18.22.1 listen=8000 level=info
demi_pre -n "$rns" "$T/srv.conf"
"${DEMI_PRE[@]}" $PY -c 'import http.server as h, functools as f, sys
h.HTTPServer(("", 8000), f.partial(h.SimpleHTTPRequestHandler, directory=sys.argv[1])).serve_forever()' \
	"$T/www" >"$T/srv.log" 2>&1 &
srv=$!
net_kill_at_exit $srv
net_tap_attach "$rns" "$tap" 198.18.22.1/24 || { apps_logs "$T/srv.log"; fail "tap $tap never appeared"; }
net_wait_tcp "$cns" 198.18.22.2 8000 20 || { apps_logs "$T/srv.log"; fail "http.server unreachable through the router"; }

ctr() { "$DEMI_TOP/build/demistat" $srv | awk -v k="$1" '$1 == k {print $2}'; }
for i in 1 2; do
	ip netns exec "$cns" curl -sS --max-time 30 -o "$T/got$i" http://198.18.22.2:8000/big.bin ||
		{ apps_logs "$T/srv.log"; "$DEMI_TOP/build/demistat" $srv; fail "download $i through the router"; }
	[ "$(apps_sha "$T/www/big.bin")" = "$(apps_sha "$T/got$i")" ] || fail "download $i differs"
	# the counters as they stand after each download (published a few times a second)
	sleep 0.5
	learned[i]=$(ctr ICMP_PMTU_LEARNED) reduced[i]=$(ctr TCP_PMTU_REDUCED)
done
[ "${learned[1]:-0}" -ge 1 ] && [ "${reduced[1]:-0}" -ge 1 ] ||
	{ "$DEMI_TOP/build/demistat" $srv; fail "the first download did not learn the path MTU"; }
[ "${learned[2]}" = "${learned[1]}" ] && [ "${reduced[2]}" = "${reduced[1]}" ] ||
	{ "$DEMI_TOP/build/demistat" $srv; fail "the second download learned again (ICMP_PMTU_LEARNED ${learned[1]} -> ${learned[2]}, TCP_PMTU_REDUCED ${reduced[1]} -> ${reduced[2]})"; }
echo "through a 1200-byte hop: 2 x 4 MiB byte-exact; path MTU learned ${learned[1]} time(s) in the first download, none in the second"
