#!/usr/bin/env bash
# python3 -m http.server (unmodified CPython; a thread per request, so the
# accepted socket is used from a thread other than the accepting one) under
# libdemi on a tap device: curl on the tap's kernel end downloads a 16 MiB
# file, a 1 B file and a directory listing, then 8 parallel downloads of the
# big file; every byte is compared.
. "$(dirname "$0")/../lib/apps.sh"
need_root
need_cmd curl
[ -x "$PY" ] || skip "$PY missing"
need_lib

ns=$(net_ns_new dph)
tap=$(net_tag dpt)
T=$APPS_TMP
mkdir -p "$T/www"
head -c $((16 << 20)) /dev/urandom >"$T/www/big.bin"
printf x >"$T/www/one.txt"
demi_conf "$T/demi.conf" device="tap:$tap" address=198.18.7.2/24 listen=8000 level=info
demi_run -n "$ns" "$T/demi.conf" $PY -m http.server 8000 --bind 0.0.0.0 --directory "$T/www" \
	>"$T/http.log" 2>&1 &
net_kill_at_exit $!
net_tap_attach "$ns" "$tap" 198.18.7.1/24 || { apps_logs "$T/http.log"; fail "tap $tap never appeared"; }
net_wait_tcp "$ns" 198.18.7.2 8000 20 || { apps_logs "$T/http.log"; fail "http.server on 198.18.7.2:8000 unreachable"; }
apps_bypassed "$T/http.log" || { apps_logs "$T/http.log"; fail "http.server's listener is not on the stack"; }

ex() { ip netns exec "$ns" "$@"; }
ex curl -sS --max-time 30 -o "$T/got.big" http://198.18.7.2:8000/big.bin || { apps_logs "$T/http.log"; fail "curl big.bin"; }
[ "$(apps_sha "$T/www/big.bin")" = "$(apps_sha "$T/got.big")" ] || fail "big.bin differs ($(stat -c %s "$T/got.big") bytes)"
ex curl -sS --max-time 10 -o "$T/got.one" http://198.18.7.2:8000/one.txt || fail "curl one.txt"
cmp "$T/www/one.txt" "$T/got.one" || fail "one.txt differs"
ex curl -sS --max-time 10 http://198.18.7.2:8000/ >"$T/got.dir" || fail "curl /"
grep -q 'href="big.bin"' "$T/got.dir" && grep -q 'href="one.txt"' "$T/got.dir" || fail "directory listing: $(cat "$T/got.dir")"
pids=()
for i in $(seq 8); do
	ex curl -sS --max-time 60 -o "$T/par.$i" http://198.18.7.2:8000/big.bin &
	pids+=($!)
done
bad=0
for p in "${pids[@]}"; do wait "$p" || bad=1; done
[ $bad -eq 0 ] || { apps_logs "$T/http.log"; fail "a parallel download failed"; }
for i in $(seq 8); do
	[ "$(apps_sha "$T/www/big.bin")" = "$(apps_sha "$T/par.$i")" ] || fail "parallel download $i differs"
done
echo "python3 http.server over tap: 9 x 16 MiB, 1 B and a listing, byte-exact"
