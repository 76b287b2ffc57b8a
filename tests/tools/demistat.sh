#!/usr/bin/env bash
# demistat against a live stack: an unmodified python3 echo server under the
# shim serves TCP on a tap device while a kernel client in the namespace
# holds a connection open. The process
# must be listed, its connection shown ESTABLISHED with the client's address,
# and its counters must move when traffic flows; usage errors and unknown
# processes get clear messages.
. "$(dirname "$0")/../lib/net.sh"
need_root
need_cmd python3
top=$DEMI_TOP/build
[ -x "$top/demistat" ] || fail "build/demistat not built"
need_lib
PY=$(python3 -c 'import sys; print(sys.executable)')

"$top/demistat" -x >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad option must exit 2"
"$top/demistat" notapid >/dev/null 2>&1; [ $? -eq 2 ] || fail "a non-numeric pid must exit 2"
"$top/demistat" 999999 >/dev/null 2>&1; [ $? -eq 1 ] || fail "an unknown pid must exit 1"

ns=$(net_ns_new dst)
tap=$(net_tag dsp)
tmp=$(mktemp -d /tmp/demi-stat.XXXXXX)
net_cleanup_add "rm -rf $tmp"
demi_conf "$tmp/demi.conf" device="tap:$tap" address=198.18.11.2/24 listen=7000
demi_pre -n "$ns" "$tmp/demi.conf" # not demi_run: $! must be the program itself
"${DEMI_PRE[@]}" "$PY" -c '
import signal, socket, sys
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0)) # exit cleanly: the stack removes its file
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 7000)); s.listen(8)
while True:
    c, _ = s.accept()
    while True:
        b = c.recv(65536)
        if not b:
            break
        c.sendall(b)
    c.close()
' >"$tmp/echo.log" 2>&1 &
pid=$!
net_kill_at_exit "$pid"
net_tap_attach "$ns" "$tap" 198.18.11.1/24 || { cat "$tmp/echo.log"; fail "tap never appeared"; }

# a client that connects, echoes one line, then waits for a word on its stdin
mkfifo "$tmp/ctl"
ip netns exec "$ns" python3 -c '
import socket, sys
s = socket.create_connection(("198.18.11.2", 7000), timeout=10)
s.sendall(b"hello\n"); assert s.recv(6) == b"hello\n"
print("connected", flush=True)
open(sys.argv[1]).read()
s.sendall(b"x" * 100000); got = 0
while got < 100000: got += len(s.recv(65536))
print("echoed", flush=True)
' "$tmp/ctl" >"$tmp/client.log" 2>&1 &
cpid=$!
net_kill_at_exit "$cpid"
for i in $(seq 100); do grep -q connected "$tmp/client.log" && break; sleep 0.1; done
grep -q connected "$tmp/client.log" || { cat "$tmp/client.log" "$tmp/echo.log"; fail "client did not connect"; }
sleep 0.3 # the connection table is published every 100 ms

"$top/demistat" >"$tmp/list" || fail "demistat (list) failed"
cat "$tmp/list"
grep -qE "^$pid +python3[.0-9]* +0 +tap:$tap +198.18.11.2/24" "$tmp/list" || fail "process not listed"

"$top/demistat" -c "$pid" >"$tmp/before" || fail "demistat -c $pid failed"
cat "$tmp/before"
grep -qE "198\.18\.11\.2:7000 +198\.18\.11\.1:[0-9]+ +ESTABLISHED" "$tmp/before" || fail "connection not shown ESTABLISHED"
grep -qE "LISTEN" "$tmp/before" || fail "listener not shown"
grep -qE "packet buffers: [0-9]+ in use of [1-9][0-9]*" "$tmp/before" || fail "buffer pool use not shown"
rx0=$(awk '/^  rx/ { print $2 }' "$tmp/before")

# -w refreshes until interrupted
timeout 2.6 "$top/demistat" -w 1 "$pid" >"$tmp/watch"
[ "$(grep -c "^pid $pid " "$tmp/watch")" -ge 2 ] || fail "-w 1 did not refresh"

echo go >"$tmp/ctl"
for i in $(seq 100); do grep -q echoed "$tmp/client.log" && break; sleep 0.1; done
grep -q echoed "$tmp/client.log" || fail "echo of 100000 bytes failed"
sleep 0.1
"$top/demistat" "$pid" >"$tmp/after" || fail "demistat $pid failed"
rx1=$(awk '/^  rx/ { print $2 }' "$tmp/after")
[ "${rx1:-0}" -gt "${rx0:-0}" ] || fail "rx counter did not move ($rx0 -> $rx1)"

kill -TERM "$pid"; wait "$pid" 2>/dev/null
"$top/demistat" "$pid" >/dev/null 2>&1 && fail "a stopped process must not be shown"
ls /dev/shm/demi."$pid".[0-9]* >/dev/null 2>&1 && fail "counters file left behind"
echo "demistat: listed, connection ESTABLISHED, rx $rx0 -> $rx1 packets"
