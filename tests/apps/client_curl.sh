#!/usr/bin/env bash
# curl (unmodified) under libdemi as a client: its stack on a tap device,
# [bypass] connect naming the tap's prefix; the server, python3 -m
# http.server on the kernel, listens on the tap's kernel end. A 16 MiB file
# and a 1 KiB one are downloaded byte-exact, the small one twice on one
# keep-alive connection.
. "$(dirname "$0")/../lib/apps.sh"
need_root
need_cmd curl
[ -x "$PY" ] || skip "$PY missing"
need_lib

ns=$(net_ns_new dcc)
tap=$(net_tag dct)
T=$APPS_TMP
mkdir -p "$T/www"
head -c $((16 << 20)) /dev/urandom >"$T/www/big.bin"
head -c 1024 /dev/urandom >"$T/www/small.bin"
ip netns exec "$ns" $PY -m http.server 8000 --bind 0.0.0.0 --directory "$T/www" >"$T/http.log" 2>&1 &
net_kill_at_exit $!
demi_conf "$T/cli.conf" device="tap:$tap" address=198.18.8.2/24 connect=198.18.8.0/24 level=info
apps_client_tap "$ns" "$tap" 198.18.8.1/24 "$T/cli.conf" "$T/curl.log" \
	curl -sS --max-time 40 --retry 0 -o "$T/got.big" http://198.18.8.1:8000/big.bin \
	-o "$T/got.s1" http://198.18.8.1:8000/small.bin -o "$T/got.s2" http://198.18.8.1:8000/small.bin ||
	{ apps_logs "$T/curl.log" "$T/http.log"; fail "curl under the shim"; }
grep -q "on the stack (bypassed: \[bypass\] connect" "$T/curl.log" || { apps_logs "$T/curl.log"; fail "curl's socket was not bypassed"; }
[ "$(apps_sha "$T/www/big.bin")" = "$(apps_sha "$T/got.big")" ] || fail "big.bin differs ($(stat -c %s "$T/got.big") bytes)"
cmp "$T/www/small.bin" "$T/got.s1" || fail "small.bin (1st) differs"
cmp "$T/www/small.bin" "$T/got.s2" || fail "small.bin (2nd) differs"
n=$(grep -c "on the stack" "$T/curl.log")
echo "curl through the stack: 16 MiB + 2 x 1 KiB byte-exact ($n connection(s) bypassed)"
