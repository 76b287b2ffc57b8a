#!/usr/bin/env bash
# wrk -t2 (unmodified; a thread and an epoll set per thread) under libdemi as
# a client: its stack on a tap device, [bypass] connect naming the tap's
# prefix, against nginx on the kernel at the tap's kernel end. A Lua script
# compares every response body with the page; the run must show requests,
# no socket errors, no non-2xx answers and no differing body.
. "$(dirname "$0")/../lib/apps.sh"
need_root
need_cmd wrk nginx
need_lib

ns=$(net_ns_new dwk)
tap=$(net_tag dwt)
T=$APPS_TMP
mkdir -p "$T/www" "$T/logs"
head -c 3000 /dev/urandom | base64 -w 76 >"$T/www/index.html"
chmod 0755 "$T/www" "$T/logs"; chmod 0644 "$T/www/index.html"
apps_nginx_conf "$T" "$T/www" 8080 "keepalive_requests 100000"
ip netns exec "$ns" nginx -p "$T" -c "$T/nginx.conf" >"$T/logs/stdout" 2>&1 &
net_kill_at_exit $!
net_cleanup_add "pkill -9 -f 'nginx.*$T'"
net_wait_tcp "$ns" 127.0.0.1 8080 20 || { apps_logs "$T/logs/"*; fail "nginx (kernel) did not start"; }

apps_wrk_lua "$T/www/index.html" "$T/check.lua"
demi_conf "$T/cli.conf" device="tap:$tap" address=198.18.8.2/24 connect=198.18.8.0/24 level=info
apps_client_tap "$ns" "$tap" 198.18.8.1/24 "$T/cli.conf" "$T/wrk.txt" \
	wrk -t2 -c16 -d4s --timeout 5s -s "$T/check.lua" http://198.18.8.1:8080/index.html ||
	{ apps_logs "$T/wrk.txt" "$T/logs/error.log"; fail "wrk under the shim"; }
grep -v "^libdemi\|^demi:" "$T/wrk.txt"
grep -q "on the stack (bypassed: \[bypass\] connect" "$T/wrk.txt" || fail "wrk's sockets were not bypassed"
grep -q "Socket errors" "$T/wrk.txt" && fail "wrk saw socket errors"
grep -q "Non-2xx" "$T/wrk.txt" && fail "wrk saw non-2xx responses"
reqs=$(awk '/requests in/ {print $1}' "$T/wrk.txt")
# wrk's main thread sleeps for the run's length: a device signal reaching
# it would end the run early (as seen: 0.1 s of a 4 s run)
dur=$(awk '/requests in/ {print $4}' "$T/wrk.txt")
[[ "$dur" =~ ^[0-9.]+s,$ ]] && awk -v d="${dur%s,}" 'BEGIN { exit !(d >= 4) }' || fail "wrk ran ${dur%,} of 4s: its sleep was cut short"
[ "${reqs:-0}" -gt 0 ] || fail "wrk made no requests"
apps_wrk_bodies "$T/wrk.txt" || fail "wrong bodies"
echo "wrk through the stack: $reqs requests, $APPS_GOOD bodies checked, 0 errors"
