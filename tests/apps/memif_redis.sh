#!/usr/bin/env bash
# Shim to shim over memif, no kernel on the path: redis-server and
# redis-benchmark, each unmodified under libdemi with its own stack (memif
# role=server / role=client). All five benchmark tests must finish without
# an error; then redis-cli (under the shim too, a new client on the same
# link) reads the INCR counter, which must equal the request count; its link
# must have come up during its start, not after the start gave up waiting.
. "$(dirname "$0")/../lib/apps.sh"
need_root
need_cmd redis-server redis-cli redis-benchmark
need_lib

ns=$(net_ns_new dmr)
T=$APPS_TMP
apps_memif_confs
demi_run -n "$ns" "$T/server.conf" redis-server --port 6379 --bind 0.0.0.0 --protected-mode no \
	--save '' --appendonly no --daemonize no --dir "$T" >"$T/redis.log" 2>&1 &
net_kill_at_exit $!
apps_wait_sock "$APPS_MEMIF" 20 || { apps_logs "$T/redis.log"; fail "redis's memif socket never appeared"; }
# -r 1: every INCR hits the same key, so the counter must end at exactly -n
demi_run -n "$ns" "$T/client.conf" redis-benchmark -h 198.18.10.1 -p 6379 -q -n 20000 -r 1 \
	-t set,get,incr,lpush,lrange_100 >"$T/bench.txt" 2>&1 ||
	{ apps_logs "$T/bench.txt" "$T/redis.log"; fail "redis-benchmark over memif"; }
tr '\r' '\n' <"$T/bench.txt" | grep -E "requests per second"
grep -q "on the stack (bypassed: \[bypass\] connect" "$T/bench.txt" || fail "redis-benchmark's sockets were not bypassed"
for t in SET GET INCR LPUSH LRANGE_100; do
	tr '\r' '\n' <"$T/bench.txt" | grep -q "^$t[ :].*requests per second" || { apps_logs "$T/bench.txt"; fail "redis-benchmark did not finish $t"; }
done
grep -qiE "error|refused|reset" "$T/bench.txt" && { apps_logs "$T/bench.txt"; fail "redis-benchmark reported errors"; }
n=$(DEMI_LOG=info demi_run -n "$ns" "$T/client.conf" redis-cli -h 198.18.10.1 -p 6379 get counter:000000000000 2>"$T/cli.log")
[ "$n" = 20000 ] || { apps_logs "$T/cli.log" "$T/redis.log"; fail "the INCR counter is '$n', not 20000"; }
# the link comes up while the stack starts: DPDK's interrupt thread, which
# runs memif's handshake, must not wait on the shim meanwhile
grep -q "link up after" "$T/cli.log" || { apps_logs "$T/cli.log"; fail "the memif client's link was not up when its stack started"; }
grep -q "on the stack" "$T/redis.log" || fail "redis's listener was not on the stack"
echo "redis <- redis-benchmark shim to shim over memif: 5 tests, no errors, INCR counter 20000"
