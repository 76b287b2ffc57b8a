#!/usr/bin/env bash
# nginx (master + 1 worker, unmodified) under libdemi on a tap device, with the
# kernel end of the tap as the client: a 1 KiB page and a 64 MiB file sent with
# sendfile, checked byte for byte with curl, then wrk for 5 s with no errors;
# then the worker's fds, buffers and control blocks are back (apps_leak_check).
# The client reaches 198.18.7.2 only through the tap, so every byte crossed our stack.
. "$(dirname "$0")/../lib/apps.sh"
need_root
need_cmd nginx curl wrk sha256sum
need_lib

ns=$(net_ns_new dng)
tap=$(net_tag dtp)
tmp=$(mktemp -d /tmp/demi-nginx.XXXXXX)
net_cleanup_add "rm -rf $tmp"
mkdir -p "$tmp/www" "$tmp/logs"
head -c 1024 /dev/urandom | base64 -w 64 | head -c 1024 >"$tmp/www/index.html"
head -c $((64 << 20)) /dev/urandom >"$tmp/www/big.bin"
chmod 0755 "$tmp" "$tmp/www"; chmod 0644 "$tmp/www/"* # the worker runs unprivileged

demi_conf "$tmp/demi.conf" device="tap:$tap" address=198.18.7.2/24 listen=8080 level=info
apps_nginx_conf "$tmp" "$tmp/www" 8080 "sendfile on" "tcp_nopush on" "keepalive_requests 100000"

demi_pre -n "$ns" "$tmp/demi.conf"
"${DEMI_PRE[@]}" nginx -p "$tmp" -c "$tmp/nginx.conf" >"$tmp/logs/stdout" 2>&1 &
pid=$!
net_cleanup_add "kill -9 $pid; pkill -9 -f 'nginx.*$tmp'"

# The worker starts its stack (and so the tap) lazily, when it first waits.
net_tap_attach "$ns" "$tap" 198.18.7.1/24 || { cat "$tmp/logs/"*; fail "tap $tap never appeared"; }
net_wait_tcp "$ns" 198.18.7.2 8080 20 || { cat "$tmp/logs/"*; fail "nginx on 198.18.7.2:8080 unreachable"; }

ex() { ip netns exec "$ns" "$@"; }
wpid=$(pgrep -P "$pid" nginx | head -1)
[ -n "$wpid" ] || fail "no nginx worker"
ex curl -sS --max-time 20 -o "$tmp/got.html" http://198.18.7.2:8080/index.html || fail "curl index.html"
cmp "$tmp/www/index.html" "$tmp/got.html" || fail "index.html differs"
# marked after one request: what nginx and the runtime open on first use is not a leak
sleep 0.5
apps_leak_mark "$wpid"
ex curl -sS --max-time 120 -o "$tmp/got.bin" http://198.18.7.2:8080/big.bin || fail "curl big.bin"
want=$(sha256sum <"$tmp/www/big.bin"); got=$(sha256sum <"$tmp/got.bin")
[ "$want" = "$got" ] || fail "big.bin differs ($(stat -c %s "$tmp/got.bin") bytes)"
ex wrk -t1 -c16 -d5s http://198.18.7.2:8080/index.html >"$tmp/wrk.txt" 2>&1 || fail "wrk: $(cat "$tmp/wrk.txt")"
cat "$tmp/wrk.txt"
grep -q "Socket errors" "$tmp/wrk.txt" && fail "wrk saw socket errors"
grep -q "Non-2xx" "$tmp/wrk.txt" && fail "wrk saw non-2xx responses"
reqs=$(awk '/requests in/ {print $1}' "$tmp/wrk.txt")
[ "${reqs:-0}" -gt 0 ] || fail "wrk made no requests"
apps_leak_check "$wpid"
echo "nginx over tap: 1 KiB page and 64 MiB file byte-exact, wrk $reqs requests, 0 errors"
