#!/usr/bin/env bash
# redis-server (unmodified) under libdemi on a tap device, the kernel end of
# the tap as the client: redis-benchmark -q -n 20000, then redis-cli writes
# 10,000 keys with random values and reads every one back, compared byte for
# byte, and DBSIZE says 10,000 (plus the benchmark's own keys); then redis's
# fds, buffers and control blocks are back (apps_leak_check).
. "$(dirname "$0")/../lib/apps.sh"
need_root
need_cmd redis-server redis-cli redis-benchmark
need_lib

ns=$(net_ns_new drd)
tap=$(net_tag drt)
T=$APPS_TMP
demi_conf "$T/demi.conf" device="tap:$tap" address=198.18.7.2/24 listen=6379 level=info
demi_pre -n "$ns" "$T/demi.conf"
"${DEMI_PRE[@]}" redis-server --port 6379 --bind 0.0.0.0 --protected-mode no \
	--save '' --appendonly no --daemonize no --dir "$T" >"$T/redis.log" 2>&1 &
rpid=$!
net_kill_at_exit $rpid
net_tap_attach "$ns" "$tap" 198.18.7.1/24 || { apps_logs "$T/redis.log"; fail "tap $tap never appeared"; }
net_wait_tcp "$ns" 198.18.7.2 6379 20 || { apps_logs "$T/redis.log"; fail "redis on 198.18.7.2:6379 unreachable"; }
apps_bypassed "$T/redis.log" || { apps_logs "$T/redis.log"; fail "redis's listener is not on the stack"; }

ex() { ip netns exec "$ns" "$@"; }
# one command first: what redis and the runtime open on first use is not a leak
[ "$(ex redis-cli -h 198.18.7.2 -p 6379 ping)" = PONG ] || fail "redis-cli ping"
sleep 0.5
apps_leak_mark $rpid
ex redis-benchmark -h 198.18.7.2 -p 6379 -q -n 20000 -t set,get,incr,lpush,lrange_100 \
	>"$T/bench.txt" 2>&1 || { apps_logs "$T/bench.txt" "$T/redis.log"; fail "redis-benchmark failed"; }
tr '\r' '\n' <"$T/bench.txt" | grep -E "requests per second" >"$T/bench.sum"
cat "$T/bench.sum"
for t in SET GET INCR LPUSH LRANGE_100; do
	grep -q "^$t[ :].*requests per second" "$T/bench.sum" || { apps_logs "$T/bench.txt"; fail "redis-benchmark did not finish $t"; }
done
grep -qiE "error|refused|reset" "$T/bench.txt" && { apps_logs "$T/bench.txt"; fail "redis-benchmark reported errors"; }

# 10,000 keys with values of 1..600 random bytes (hex), written by one
# redis-cli in pipe mode and read back by another one command at a time.
$PY - "$T" <<'PY'
import os, sys, random
t = sys.argv[1]
r = random.Random(7)
with open(f"{t}/set.txt", "w") as s, open(f"{t}/get.txt", "w") as g, open(f"{t}/want.txt", "w") as w:
    for i in range(10000):
        v = os.urandom(r.randint(1, 300)).hex()
        s.write(f"SET demi:{i} {v}\r\n")
        g.write(f"GET demi:{i}\n")
        w.write(v + "\n")
PY
ex redis-cli -h 198.18.7.2 -p 6379 --pipe <"$T/set.txt" >"$T/pipe.txt" 2>&1 || { cat "$T/pipe.txt"; fail "redis-cli --pipe"; }
grep -q "errors: 0, replies: 10000" "$T/pipe.txt" || { cat "$T/pipe.txt"; fail "redis-cli --pipe did not store 10000 keys"; }
ex redis-cli -h 198.18.7.2 -p 6379 <"$T/get.txt" >"$T/got.txt" 2>"$T/get.err" || { cat "$T/get.err"; fail "redis-cli GETs"; }
cmp "$T/want.txt" "$T/got.txt" || fail "values read back differ from those written ($(wc -l <"$T/got.txt") lines)"
n=$(ex redis-cli -h 198.18.7.2 -p 6379 --scan --pattern 'demi:*' | wc -l)
[ "$n" -eq 10000 ] || fail "SCAN found $n demi:* keys, not 10000"
apps_leak_check $rpid
echo "redis over tap: benchmark 5/5 tests, 10000 keys written and read back byte-exact"
