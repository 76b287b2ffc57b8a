#!/usr/bin/env bash
# An idle server uses almost no CPU (README): redis-server under libdemi on
# a tap, after serving a client that stays connected, then idle for 3 s
# while the stack sleeps on the device. Its CPU time over those 3 s (user +
# system, all threads, /proc/PID/stat) must stay under 3 % of one core, where
# a busy-polling stack would use about 100 %. The same server on the kernel
# is shown for comparison.
. "$(dirname "$0")/../lib/apps.sh"
need_root
need_cmd redis-server redis-cli
need_lib

ns=$(net_ns_new dic)
tap=$(net_tag dict)
T=$APPS_TMP
demi_conf "$T/s.conf" device="tap:$tap" address=198.18.23.2/24 listen=6379 level=info
demi_pre -n "$ns" "$T/s.conf"
"${DEMI_PRE[@]}" redis-server --port 6379 --save "" --appendonly no --protected-mode no >"$T/redis.log" 2>&1 &
srv=$!
net_kill_at_exit $srv
net_tap_attach "$ns" "$tap" 198.18.23.1/24 || { apps_logs "$T/redis.log"; fail "tap $tap never appeared"; }
net_wait_tcp "$ns" 198.18.23.2 6379 20 || { apps_logs "$T/redis.log"; fail "redis unreachable through the stack"; }
apps_bypassed "$T/redis.log" || { apps_logs "$T/redis.log"; fail "redis's listener is not on the stack"; }

# CPU ticks (user + system) of a process, all its threads
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
# a client that sets a key through the stack, then holds its connection idle
ip netns exec "$ns" python3 -c '
import socket, time
s = socket.create_connection(("198.18.23.2", 6379), timeout=10)
s.sendall(b"SET k v\r\n"); assert s.recv(16) == b"+OK\r\n"
print("ok", flush=True); time.sleep(30)' >"$T/cli.log" 2>&1 &
net_kill_at_exit $!
for ((i = 0; i < 100; i++)); do grep -q ok "$T/cli.log" && break; sleep 0.1; done
grep -q ok "$T/cli.log" || { cat "$T/cli.log"; fail "the client got no reply"; }
sleep 1 # the stack has had its last work and gone to sleep
t0=$(ticks $srv); sleep 3; t1=$(ticks $srv)
used=$(( (t1 - t0) * 1000 / hz )) # ms of CPU over 3000 ms
echo "idle redis-server under libdemi: ${used} ms of CPU in 3 s"
[ "$used" -le 90 ] || { "$DEMI_TOP/build/demistat" $srv | grep -E "RT_(PASSES|SLEEPS|WAKE)"; fail "an idle server used ${used} ms of CPU in 3 s (more than 3 %)"; }

# the kernel, for comparison
redis-server --port 6390 --bind 127.0.0.1 --save "" --appendonly no >"$T/kredis.log" 2>&1 &
k=$!
net_kill_at_exit $k
sleep 1.5
t0=$(ticks $k); sleep 3; t1=$(ticks $k)
echo "idle redis-server on the kernel: $(( (t1 - t0) * 1000 / hz )) ms of CPU in 3 s"
