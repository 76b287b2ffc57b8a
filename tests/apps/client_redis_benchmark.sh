#!/usr/bin/env bash
# redis-benchmark (unmodified, 50 connections on one epoll set) under libdemi
# as a client: its stack on a tap device, [bypass] connect naming the tap's
# prefix, against redis-server on the kernel at the tap's kernel end. All
# five tests must finish without an error, and the server must then hold
# what the benchmark wrote (the counter INCR raised 20,000 times in all).
. "$(dirname "$0")/../lib/apps.sh"
need_root
need_cmd redis-server redis-cli redis-benchmark
need_lib

ns=$(net_ns_new dcr)
tap=$(net_tag dcrt)
T=$APPS_TMP
ip netns exec "$ns" redis-server --port 6379 --bind 0.0.0.0 --protected-mode no --save '' \
	--appendonly no --daemonize no --dir "$T" >"$T/redis.log" 2>&1 &
net_kill_at_exit $!
net_wait_tcp "$ns" 127.0.0.1 6379 20 || { apps_logs "$T/redis.log"; fail "redis (kernel) did not start"; }
demi_conf "$T/cli.conf" device="tap:$tap" address=198.18.8.2/24 connect=198.18.8.0/24 level=info
# -r 1: every INCR hits the same key, so the counter must end at exactly -n
apps_client_tap "$ns" "$tap" 198.18.8.1/24 "$T/cli.conf" "$T/bench.txt" \
	redis-benchmark -h 198.18.8.1 -p 6379 -q -n 20000 -r 1 -t set,get,incr,lpush,lrange_100 ||
	{ apps_logs "$T/bench.txt" "$T/redis.log"; fail "redis-benchmark under the shim"; }
tr '\r' '\n' <"$T/bench.txt" | grep -E "requests per second"
grep -q "on the stack (bypassed: \[bypass\] connect" "$T/bench.txt" || fail "redis-benchmark's sockets were not bypassed"
for t in SET GET INCR LPUSH LRANGE_100; do
	tr '\r' '\n' <"$T/bench.txt" | grep -q "^$t[ :].*requests per second" || { apps_logs "$T/bench.txt"; fail "redis-benchmark did not finish $t"; }
done
grep -qiE "error|refused|reset" "$T/bench.txt" && { apps_logs "$T/bench.txt"; fail "redis-benchmark reported errors"; }
n=$(ip netns exec "$ns" redis-cli -p 6379 get counter:000000000000)
[ "$n" = 20000 ] || fail "the INCR counter is '$n', not 20000"
echo "redis-benchmark through the stack: 5 tests, no errors, INCR counter 20000"
