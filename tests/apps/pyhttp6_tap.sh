#!/usr/bin/env bash
# python3 -m http.server --bind :: (unmodified CPython: a dual-stack listener,
# IPV6_V6ONLY off, a thread per request) under libdemi on a tap with
# [net] address6: curl -6 on the tap's kernel end downloads a 4 MiB file
# byte-exact from the stack's IPv6 address, curl -4 from its IPv4 one; the
# server's log names the clients as getpeername gave them to it
# (2001:db8:70::1 and ::ffff:198.18.88.1); its stack's counters show the
# IPv6 packets; then wrk over IPv6 for 2 s, every response a 200.
. "$(dirname "$0")/../lib/apps.sh"
need_root
need_cmd curl wrk
[ -x "$PY" ] || skip "$PY missing"
need_lib

PFX=2001:db8:70
ip -6 route replace blackhole $PFX::/48 2>/dev/null || true
ns=$(net_ns_new dp6h)
tap=$(net_tag dp6h)
T=$APPS_TMP
mkdir -p "$T/www"
head -c $((4 << 20)) /dev/urandom >"$T/www/big.bin"
printf x >"$T/www/one.txt"
demi_conf "$T/demi.conf" device="tap:$tap" address=198.18.88.2/24 net.address6=$PFX::2/64 listen=8088 level=info
demi_pre -n "$ns" "$T/demi.conf"
"${DEMI_PRE[@]}" $PY -m http.server 8088 --bind :: --directory "$T/www" >"$T/http.log" 2>&1 &
pid=$!
net_kill_at_exit $pid
net_tap_attach "$ns" "$tap" 198.18.88.1/24 || { apps_logs "$T/http.log"; fail "tap $tap never appeared"; }
ip netns exec "$ns" sysctl -qw net.ipv6.conf."$tap".disable_ipv6=0
ip -n "$ns" addr add $PFX::1/64 dev "$tap" nodad || fail "ip addr add $PFX::1/64"

ex() { ip netns exec "$ns" "$@"; }
# the stack answers on its IPv6 address once its DAD passed (a second)
for ((i = 0; i < 25; i++)); do
	ex curl -6 -sS --max-time 1 -o /dev/null "http://[$PFX::2]:8088/one.txt" 2>/dev/null && break
	sleep 0.2
done
[ $i -lt 25 ] || { apps_logs "$T/"*.log "$T/logs/"*; fail "[$PFX::2]:8088 never answered curl -6"; }
apps_bypassed "$T/http.log" || { apps_logs "$T/http.log"; fail "http.server's listener is not on the stack"; }
ex curl -6 -sS --max-time 30 -o "$T/got6.bin" "http://[$PFX::2]:8088/big.bin" || { apps_logs "$T/http.log"; fail "curl -6 big.bin"; }
[ "$(apps_sha "$T/www/big.bin")" = "$(apps_sha "$T/got6.bin")" ] || fail "curl -6: big.bin differs ($(stat -c %s "$T/got6.bin") bytes)"
ex curl -4 -sS --max-time 30 -o "$T/got4.bin" "http://198.18.88.2:8088/big.bin" || { apps_logs "$T/http.log"; fail "curl -4 big.bin"; }
[ "$(apps_sha "$T/www/big.bin")" = "$(apps_sha "$T/got4.bin")" ] || fail "curl -4: big.bin differs ($(stat -c %s "$T/got4.bin") bytes)"
grep -q "^$PFX::1 - - .*GET /big.bin" "$T/http.log" || { apps_logs "$T/http.log"; fail "the server did not see $PFX::1"; }
grep -q "^::ffff:198.18.88.1 - - .*GET /big.bin" "$T/http.log" || { apps_logs "$T/http.log"; fail "the server did not see ::ffff:198.18.88.1"; }

ctr=/dev/shm/demi.$pid.0
[ -f "$ctr" ] || fail "no counters file of the server's stack ($ctr)"
c() { python3 "$DEMI_TOP/tests/interop/demishm.py" "$ctr" "$1" | cut -d= -f2; }
for ((i = 0; i < 50; i++)); do
	[ "$(c IPV6_TX_PACKETS)" -ge 2000 ] && break
	sleep 0.1
done
[ "$(c IPV6_TX_PACKETS)" -ge 2000 ] || fail "the stack sent $(c IPV6_TX_PACKETS) IPv6 packets: the IPv6 file did not go through it"

ex wrk -t1 -c4 -d2s "http://[$PFX::2]:8088/one.txt" >"$T/wrk.txt" 2>&1 || fail "wrk: $(cat "$T/wrk.txt")"
cat "$T/wrk.txt"
grep -q "Socket errors" "$T/wrk.txt" && fail "wrk saw socket errors"
grep -q "Non-2xx" "$T/wrk.txt" && fail "wrk saw non-2xx responses"
reqs=$(awk '/requests in/ {print $1}' "$T/wrk.txt")
[ "${reqs:-0}" -gt 0 ] || fail "wrk made no requests"
echo "python3 http.server --bind :: on the stack: 4 MiB byte-exact to curl -6 and curl -4," \
	"IPV6_TX_PACKETS=$(c IPV6_TX_PACKETS), wrk -6 $reqs requests"
