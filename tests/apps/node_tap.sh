#!/usr/bin/env bash
# A node.js HTTP server (node -e, http.createServer, unmodified node) under
# libdemi on a tap device, serving a known 256 KiB body and a small one;
# curl on the tap's kernel end fetches both, over fresh and keep-alive
# connections and 16 in parallel, and every byte is compared.
. "$(dirname "$0")/../lib/apps.sh"
need_root
need_cmd node curl
need_lib

ns=$(net_ns_new dnd)
tap=$(net_tag dnt)
T=$APPS_TMP
head -c $((256 << 10)) /dev/urandom >"$T/body.bin"
echo "hello from node $$" >"$T/small.txt"
demi_conf "$T/demi.conf" device="tap:$tap" address=198.18.7.2/24 listen=8080 level=info
demi_run -n "$ns" "$T/demi.conf" node -e '
const fs = require("fs"), http = require("http");
const big = fs.readFileSync(process.argv[1]), small = fs.readFileSync(process.argv[2]);
http.createServer((q, s) => {
	const b = q.url === "/big" ? big : small;
	s.writeHead(200, {"Content-Type": "application/octet-stream", "Content-Length": b.length});
	s.end(b);
}).listen(8080, "0.0.0.0");
' "$T/body.bin" "$T/small.txt" >"$T/node.log" 2>&1 &
net_kill_at_exit $!
net_tap_attach "$ns" "$tap" 198.18.7.1/24 || { apps_logs "$T/node.log"; fail "tap $tap never appeared"; }
net_wait_tcp "$ns" 198.18.7.2 8080 20 || { apps_logs "$T/node.log"; fail "node on 198.18.7.2:8080 unreachable"; }
apps_bypassed "$T/node.log" || { apps_logs "$T/node.log"; fail "node's listener is not on the stack"; }

ex() { ip netns exec "$ns" "$@"; }
ex curl -sS --max-time 20 -o "$T/got.small" http://198.18.7.2:8080/small || fail "curl /small"
cmp "$T/small.txt" "$T/got.small" || fail "/small differs"
ex curl -sS --max-time 20 -o "$T/got.big" http://198.18.7.2:8080/big || fail "curl /big"
cmp "$T/body.bin" "$T/got.big" || fail "/big differs ($(stat -c %s "$T/got.big") bytes)"
# 20 requests on one keep-alive connection
urls=(); for i in $(seq 20); do urls+=(-o "$T/ka.$i" http://198.18.7.2:8080/big); done
ex curl -sS --max-time 30 "${urls[@]}" || fail "curl keep-alive"
for i in $(seq 20); do cmp -s "$T/body.bin" "$T/ka.$i" || fail "keep-alive response $i differs"; done
# 16 connections at once
pids=()
for i in $(seq 16); do
	ex curl -sS --max-time 30 -o "$T/par.$i" http://198.18.7.2:8080/big &
	pids+=($!)
done
wait_ok=0
for j in "${pids[@]}"; do wait "$j" || wait_ok=1; done
[ $wait_ok -eq 0 ] || fail "a parallel curl failed"
for i in $(seq 16); do cmp -s "$T/body.bin" "$T/par.$i" || fail "parallel response $i differs"; done
echo "node http over tap: 38 responses of 256 KiB and one small, byte-exact"
