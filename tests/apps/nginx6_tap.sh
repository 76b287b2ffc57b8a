#!/usr/bin/env bash
# nginx (unmodified) with `listen [::]:8086 ipv6only=off` under libdemi on a
# tap, [net] address6 set: curl -6 from the kernel end of the tap gets a
# 4 MiB file byte-exact (sha256) from the stack's IPv6 address, and curl -4
# the same file from its IPv4 address on the same listener (as
# ::ffff:a.b.c.d). The worker's counters show an IPv6 connection accepted
# and the bytes sent; demistat --fds names its listener bypassed, as inet6.
. "$(dirname "$0")/../lib/apps.sh"
need_root
need_cmd nginx curl sha256sum python3
need_lib

PFX=2001:db8:6e
ip -6 route replace blackhole $PFX::/48 2>/dev/null || true
ns=$(net_ns_new dn6)
tap=$(net_tag dn6t)
T=$APPS_TMP
mkdir -p "$T/www" "$T/logs"
head -c $((4 << 20)) /dev/urandom >"$T/www/big.bin"
chmod 0755 "$T" "$T/www"; chmod 0644 "$T/www/"* # the worker runs unprivileged

demi_conf "$T/demi.conf" device="tap:$tap" address=198.18.86.2/24 net.address6=$PFX::2/64 listen=8086 level=info
apps_nginx_conf "$T" "$T/www" "[::]:8086 ipv6only=off" "sendfile on"
demi_pre -n "$ns" "$T/demi.conf"
"${DEMI_PRE[@]}" nginx -p "$T" -c "$T/nginx.conf" >"$T/logs/stdout" 2>&1 &
pid=$!
net_kill_at_exit $pid
net_cleanup_add "pkill -9 -f 'nginx.*$T'"

net_tap_attach "$ns" "$tap" 198.18.86.1/24 || { apps_logs "$T/logs/"*; fail "tap $tap never appeared"; }
ip netns exec "$ns" sysctl -qw net.ipv6.conf."$tap".disable_ipv6=0
ip -n "$ns" addr add $PFX::1/64 dev "$tap" nodad || fail "ip addr add $PFX::1/64"

ex() { ip netns exec "$ns" "$@"; }
# the stack answers on its IPv6 address once its DAD passed (a second)
for ((i = 0; i < 25; i++)); do
	ex curl -6 -sS --max-time 1 -o /dev/null "http://[$PFX::2]:8086/" 2>/dev/null && break
	sleep 0.2
done
[ $i -lt 25 ] || { apps_logs "$T/"*.log "$T/logs/"*; fail "[$PFX::2]:8086 never answered curl -6"; }
ex curl -6 -sS --max-time 30 -o "$T/got6.bin" "http://[$PFX::2]:8086/big.bin" ||
	{ apps_logs "$T/logs/"*; fail "curl -6 big.bin"; }
[ "$(apps_sha "$T/www/big.bin")" = "$(apps_sha "$T/got6.bin")" ] ||
	fail "curl -6: big.bin differs ($(stat -c %s "$T/got6.bin") bytes)"
ex curl -4 -sS --max-time 30 -o "$T/got4.bin" "http://198.18.86.2:8086/big.bin" ||
	{ apps_logs "$T/logs/"*; fail "curl -4 big.bin on the dual-stack listener"; }
[ "$(apps_sha "$T/www/big.bin")" = "$(apps_sha "$T/got4.bin")" ] ||
	fail "curl -4: big.bin differs ($(stat -c %s "$T/got4.bin") bytes)"

# the worker (nginx's child) has the stack: its counters file
ctr=
for ((i = 0; i < 50; i++)); do
	for c in $(pgrep -P $pid); do
		[ -f /dev/shm/demi.$c.0 ] && ctr=/dev/shm/demi.$c.0 && wpid=$c
	done
	[ -n "$ctr" ] && break
	sleep 0.1
done
[ -n "$ctr" ] || fail "no counters file of nginx's worker"
c() { python3 "$DEMI_TOP/tests/interop/demishm.py" "$ctr" "$1" | cut -d= -f2; }
# published a few times a second
for ((i = 0; i < 50; i++)); do
	[ "$(c TCP_TX_BYTES)" -ge $((8 << 20)) ] && [ "$(c IPV6_TX_PACKETS)" -ge 2000 ] && break
	sleep 0.1
done
echo "worker stack: TCP_PASSIVE_OPENS=$(c TCP_PASSIVE_OPENS) TCP_TX_BYTES=$(c TCP_TX_BYTES)" \
	"IPV6_RX_PACKETS=$(c IPV6_RX_PACKETS) IPV6_TX_PACKETS=$(c IPV6_TX_PACKETS)"
[ "$(c TCP_TX_BYTES)" -ge $((8 << 20)) ] || fail "the stack sent $(c TCP_TX_BYTES) TCP bytes, want both files"
# 4 MiB in segments of at most 1440 bytes: about 2900 IPv6 packets
[ "$(c IPV6_TX_PACKETS)" -ge 2000 ] || fail "the stack sent $(c IPV6_TX_PACKETS) IPv6 packets: the IPv6 file did not go through it"
[ "$(c TCP_PASSIVE_OPENS)" -ge 2 ] || fail "TCP_PASSIVE_OPENS=$(c TCP_PASSIVE_OPENS)"
"$DEMI_TOP/build/demistat" --fds "$wpid" >"$T/fds" 2>&1
grep -E " stack +inet6 .*listen names the port" "$T/fds" >/dev/null || { cat "$T/fds"; fail "the [::]:8086 listener is not on the stack"; }
echo "nginx [::]:8086 on the stack: 4 MiB byte-exact to curl -6 and to curl -4"
