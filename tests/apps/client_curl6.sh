#!/usr/bin/env bash
# curl (unmodified) under libdemi as an IPv6 client: its stack on a tap with
# [net] address6 and gateway6 (the kernel end), [bypass] connect naming an
# IPv6 prefix beyond the gateway; the server, python3 -m http.server --bind
# :: on the kernel, has an address on the stack's link and one in that
# prefix. A 4 MiB file is downloaded byte-exact (sha256) from both: the
# first connection taken by the on-link rule, the second by the IPv6
# prefix through the gateway. curl's log shows both sockets bypassed and its
# stack's counters IPv6 packets and TCP bytes received.
. "$(dirname "$0")/../lib/apps.sh"
need_root
need_cmd curl
[ -x "$PY" ] || skip "$PY missing"
need_lib

PFX=2001:db8:6f
ip -6 route replace blackhole $PFX::/48 2>/dev/null || true
ns=$(net_ns_new dc6)
tap=$(net_tag dc6t)
T=$APPS_TMP
mkdir -p "$T/www"
head -c $((4 << 20)) /dev/urandom >"$T/www/big.bin"
# the tap the stack makes gets IPv6 in the namespace
ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=0
ip netns exec "$ns" $PY -m http.server 8087 --bind :: --directory "$T/www" >"$T/http.log" 2>&1 &
net_kill_at_exit $!
demi_conf "$T/cli.conf" device="tap:$tap" address=198.18.87.2/24 net.address6=$PFX::2/64 \
	net.gateway6=$PFX::1 connect=$PFX:1::/64 level=info
apps_ctr_watch "$ns" "$T/ctr"
demi_pre -n "$ns" "$T/cli.conf"
"${DEMI_PRE[@]}" curl -sS --max-time 40 --retry 0 \
	-o "$T/got1.bin" "http://[$PFX::1]:8087/big.bin" \
	-o "$T/got2.bin" "http://[$PFX:1::1]:8087/big.bin" >"$T/curl.log" 2>&1 &
cpid=$!
net_kill_at_exit $cpid
net_tap_attach "$ns" "$tap" 198.18.87.1/24 || { apps_logs "$T/curl.log"; fail "tap $tap never appeared"; }
ip -n "$ns" addr add $PFX::1/64 dev "$tap" nodad || fail "ip addr add $PFX::1/64"
ip -n "$ns" addr add $PFX:1::1/64 dev "$tap" nodad || fail "ip addr add $PFX:1::1/64"
wait $cpid || { apps_logs "$T/curl.log" "$T/http.log"; fail "curl -6 under the shim"; }
apps_ctr_stop
want=$(apps_sha "$T/www/big.bin")
[ "$want" = "$(apps_sha "$T/got1.bin")" ] || fail "on-link: big.bin differs ($(stat -c %s "$T/got1.bin") bytes)"
[ "$want" = "$(apps_sha "$T/got2.bin")" ] || fail "via gateway6: big.bin differs ($(stat -c %s "$T/got2.bin") bytes)"
n=$(grep -c "on the stack (bypassed: \[bypass\] connect" "$T/curl.log")
[ "$n" -ge 2 ] || { apps_logs "$T/curl.log"; fail "$n of curl's 2 connections bypassed"; }
ctr=$(ls "$T/ctr/$cpid".* 2>/dev/null | head -1)
[ -n "$ctr" ] || fail "no counters file of curl's stack"
c() { python3 "$DEMI_TOP/tests/interop/demishm.py" "$ctr" "$1" | cut -d= -f2; }
echo "curl's stack: TCP_ACTIVE_OPENS=$(c TCP_ACTIVE_OPENS) TCP_RX_BYTES=$(c TCP_RX_BYTES) IPV6_RX_PACKETS=$(c IPV6_RX_PACKETS)"
# the stack publishes its counters a few times a second and the last copy
# may be from before the end: some of it, over IPv6, is what it shows
[ "$(c TCP_ACTIVE_OPENS)" -ge 1 ] || fail "TCP_ACTIVE_OPENS=$(c TCP_ACTIVE_OPENS)"
[ "$(c TCP_RX_BYTES)" -gt 0 ] || fail "the stack received no TCP bytes"
[ "$(c IPV6_RX_PACKETS)" -gt 0 ] || fail "the stack received no IPv6 packets"
echo "curl -6 through the stack: 2 x 4 MiB byte-exact (on-link, and via gateway6 by a [bypass] connect IPv6 prefix)"
