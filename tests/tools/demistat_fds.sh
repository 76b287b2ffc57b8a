#!/usr/bin/env bash
# demistat --fds: a program under the shim holds a bypassed listener, one on
# an unlisted port, one on loopback, a socketpair and an undecided socket;
# each row must name the side and the reason. A program without a
# configuration has no record and every socket is said to be the kernel's.
. "$(dirname "$0")/../lib/net.sh"
need_cmd python3
need_lib
stat=$DEMI_TOP/build/demistat
[ -x "$stat" ] || fail "build/demistat not built"
tmp=$(mktemp -d /tmp/demi-fds.XXXXXX)
net_cleanup_add "rm -rf $tmp"
p1=$((10000 + $$ % 20000)); p2=$((p1 + 1)); p3=$((p1 + 2))
demi_conf "$tmp/demi.conf" device=tap:dfds$$ address=198.18.12.2/24 listen=$p1
prog='
import os, socket, sys
p1, p2, p3 = (int(x) for x in sys.argv[1:4])
socks = []
for addr, port in (("0.0.0.0", p1), ("0.0.0.0", p2), ("127.0.0.1", p3)):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port)); s.listen(8); socks.append(s)
socks += list(socket.socketpair())
socks.append(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
print(" ".join(str(s.fileno()) for s in socks), flush=True)
sys.stdin.read()
'
mkfifo "$tmp/in"
demi_pre "$tmp/demi.conf" # not demi_run: $! must be the program itself
"${DEMI_PRE[@]}" python3 -c "$prog" $p1 $p2 $p3 <"$tmp/in" >"$tmp/out" 2>"$tmp/err" &
pid=$!
net_kill_at_exit $pid
exec 3>"$tmp/in"
for i in $(seq 100); do [ -s "$tmp/out" ] && break; sleep 0.05; done
read -r fl fu flo fa fb fd <"$tmp/out" || { cat "$tmp/err"; fail "program did not start"; }
"$stat" --fds $pid >"$tmp/fds" || fail "demistat --fds failed"
cat "$tmp/fds"
row() { grep -E "^$1 +$2 " "$tmp/fds" | grep -q "$3" || fail "fd $1: want $2 ($3)"; }
row "$fl" stack "listen names the port"
grep -E "^$fl " "$tmp/fds" | grep -q "0.0.0.0:$p1 L" || fail "fd $fl: local address and listening not shown"
row "$fu" kernel "not in \[bypass\] listen"
row "$flo" kernel "loopback"
row "$fa" kernel "not AF_INET"
row "$fb" kernel "not AF_INET"
row "$fd" pending "not decided"
exec 3>&-
wait $pid 2>/dev/null
[ -e "/dev/shm/demi.$pid.fds" ] && fail "record left after exit"

# no configuration: no record, sockets reported as the kernel's
python3 -c 'import socket, sys; s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1); print(s.fileno(), flush=True); sys.stdin.read()' <"$tmp/in" >"$tmp/out2" &
pid=$!
net_kill_at_exit $pid
exec 3>"$tmp/in"
for i in $(seq 100); do [ -s "$tmp/out2" ] && break; sleep 0.05; done
"$stat" --fds $pid >"$tmp/fds2" || fail "demistat --fds (no config) failed"
cat "$tmp/fds2"
grep -q "no libdemi record" "$tmp/fds2" || fail "no-config process: missing explanation"
grep -qE "^$(cat "$tmp/out2") +kernel " "$tmp/fds2" || fail "no-config socket not shown as kernel"
exec 3>&-
"$stat" --fds 999999 >/dev/null 2>&1 && fail "--fds of a missing process must fail"
echo "demistat --fds: stack, kernel and pending sockets with their reasons"
