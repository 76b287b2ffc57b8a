#!/usr/bin/env bash
# nginx (master + worker) under libdemi on a tap device, downloading 64 MiB
# byte-exact across a faulty wire: build/impair relays between the tap's
# kernel end and a veth into the client's namespace with 5% loss and 25%
# reordering each way (this kernel has no netem). Neither relay interface
# has an address: every frame crosses the relay. The relay's own counts
# must show both faults applied.
#
# It was too slow under these faults (~1 MB/s, RTO-bound) until the TCP
# fixes of the loss-recovery path (recovery point, RACK-style loss marking at
# the probe timeout, segments that fit the MTU with SACK blocks): now about
# 15-20 s here, against ~3 s for Linux through the same relay.
. "$(dirname "$0")/../lib/apps.sh"
need_root
need_cmd nginx curl sha256sum ethtool
[ -x "$DEMI_TOP/build/impair" ] || fail "build/impair not built"
need_lib

nss=$(net_ns_new dis) # nginx, its tap and the relay
nsc=$(net_ns_new dic) # the client
tap=$(net_tag dit)
T=$APPS_TMP
mkdir -p "$T/www" "$T/logs"
head -c $((64 << 20)) /dev/urandom >"$T/www/big.bin"
chmod 0755 "$T/www" "$T/logs"; chmod 0644 "$T/www/big.bin"
ip link add ric0 netns "$nss" type veth peer name cli0 netns "$nsc" || fail "veth"
net_no_offload "$nsc" cli0
ip -n "$nsc" addr add 198.18.7.1/24 dev cli0
ip -n "$nsc" link set cli0 up

demi_conf "$T/demi.conf" device="tap:$tap" address=198.18.7.2/24 listen=8080 level=info
apps_nginx_conf "$T" "$T/www" 8080 "sendfile on" "tcp_nopush on"
demi_run -n "$nss" "$T/demi.conf" nginx -p "$T" -c "$T/nginx.conf" >"$T/logs/stdout" 2>&1 &
net_kill_at_exit $!
net_cleanup_add "pkill -9 -f 'nginx.*$T'"
net_wait_if "$nss" "$tap" 20 || { apps_logs "$T/logs/"*; fail "tap $tap never appeared"; }
IMPAIR_LOG=$T/impair.log
net_impair_start "$nss" "$tap" ric0 -l 5 -r 25 -s 7
net_wait_tcp "$nsc" 198.18.7.2 8080 30 || { apps_logs "$T/logs/"* "$IMPAIR_LOG"; fail "nginx unreachable through the relay"; }

ip netns exec "$nsc" curl -sS --max-time 50 -o "$T/got.bin" http://198.18.7.2:8080/big.bin ||
	{ apps_logs "$T/logs/"*; fail "curl big.bin through the relay ($(stat -c %s "$T/got.bin" 2>/dev/null) bytes)"; }
[ "$(apps_sha "$T/www/big.bin")" = "$(apps_sha "$T/got.bin")" ] || fail "big.bin differs ($(stat -c %s "$T/got.bin") bytes)"
kill -TERM "$IMPAIR_PID"; wait "$IMPAIR_PID" 2>/dev/null
cat "$IMPAIR_LOG"
for what in lost reordered; do
	n=$(awk -v w="$what" '/->/ { for (i = 1; i < NF; i++) if ($i == w) s += $(i + 1) } END { print s + 0 }' "$IMPAIR_LOG")
	[ "$n" -gt 0 ] || fail "the relay applied no '$what' fault"
done
echo "nginx over a faulty wire (5% loss, 25% reordering): 64 MiB byte-exact"
