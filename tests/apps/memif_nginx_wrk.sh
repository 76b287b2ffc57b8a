#!/usr/bin/env bash
# Shim to shim over memif, no kernel on the path: nginx (master + worker)
# and wrk -t2, each unmodified under libdemi with its own stack (memif
# role=server for nginx's worker, role=client for wrk). A Lua script checks
# every response body; the run must show requests, no socket errors, no
# non-2xx answers and no differing body. curl (under the shim too) then
# fetches a 4 MiB file byte-exact over the same link.
. "$(dirname "$0")/../lib/apps.sh"
need_root
need_cmd nginx wrk curl
need_lib

ns=$(net_ns_new dmn)
T=$APPS_TMP
apps_memif_confs
mkdir -p "$T/www" "$T/logs"
head -c 3000 /dev/urandom | base64 -w 76 >"$T/www/index.html"
head -c $((4 << 20)) /dev/urandom >"$T/www/big.bin"
chmod 0755 "$T/www" "$T/logs"; chmod 0644 "$T/www/"*
apps_nginx_conf "$T" "$T/www" 8080 "sendfile on" "keepalive_requests 100000"
demi_run -n "$ns" "$T/server.conf" nginx -p "$T" -c "$T/nginx.conf" >"$T/logs/stdout" 2>&1 &
net_kill_at_exit $!
net_cleanup_add "pkill -9 -f 'nginx.*$T'"
# the worker starts its stack (and the memif socket) when it first waits
apps_wait_sock "$APPS_MEMIF" 20 || { apps_logs "$T/logs/"*; fail "nginx's memif socket never appeared"; }

apps_wrk_lua "$T/www/index.html" "$T/check.lua"
demi_run -n "$ns" "$T/client.conf" wrk -t2 -c16 -d4s --timeout 5s -s "$T/check.lua" \
	http://198.18.10.1:8080/index.html >"$T/wrk.txt" 2>&1 || { apps_logs "$T/wrk.txt" "$T/logs/"*; fail "wrk over memif"; }
grep -v "^libdemi\|^demi:" "$T/wrk.txt"
grep -q "on the stack (bypassed: \[bypass\] connect" "$T/wrk.txt" || fail "wrk's sockets were not bypassed"
grep -q "Socket errors" "$T/wrk.txt" && fail "wrk saw socket errors"
grep -q "Non-2xx" "$T/wrk.txt" && fail "wrk saw non-2xx responses"
reqs=$(awk '/requests in/ {print $1}' "$T/wrk.txt")
[ "${reqs:-0}" -gt 0 ] || fail "wrk made no requests"
apps_wrk_bodies "$T/wrk.txt" || fail "wrong bodies"
demi_run -n "$ns" "$T/client.conf" curl -sS --max-time 30 -o "$T/got.bin" http://198.18.10.1:8080/big.bin \
	>"$T/curl.log" 2>&1 || { apps_logs "$T/curl.log" "$T/logs/"*; fail "curl over memif"; }
[ "$(apps_sha "$T/www/big.bin")" = "$(apps_sha "$T/got.bin")" ] || fail "big.bin differs ($(stat -c %s "$T/got.bin") bytes)"
echo "nginx <- wrk shim to shim over memif: $reqs requests, $APPS_GOOD bodies checked, 0 errors; 4 MiB byte-exact"
