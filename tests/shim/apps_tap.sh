#!/usr/bin/env bash
# Unmodified servers under the shim on a tap device, clients on the kernel
# end: redis-server (one thread, epoll, read/write) and memcached -t 2 (a
# connection accepted on one thread and served by another, libevent's
# epoll, read/sendmsg). Each: values set and read back through the stack,
# the same data seen through 127.0.0.1 (the kernel side of the bypassed
# listener), then a short benchmark with no errors.
. "$(dirname "$0")/../lib/shim.sh"
need_root
need_cmd redis-server redis-cli redis-benchmark memcached memcaslap python3
need_lib

ns=$(net_ns_new dap)
ex() { ip netns exec "$ns" "$@"; }
pids=()

# On failure: the stacks' non-zero counters, to tell the shim's faults from
# the stack's (TCP_CONN_RESET: the stack reset a connection itself).
counters() {
	local p f
	for p in "${pids[@]}"; do
		for f in /dev/shm/demi.$p.[0-9]*; do
			[ -e "$f" ] && echo "counters of $p: $(python3 "$DEMI_TOP/tests/interop/demishm.py" "$f" | grep -v '=0$' | tr '\n' ' ')"
		done
	done
}
trap 'counters; net_cleanup_run' EXIT

start() { # name tap addr port cmd...
	local name=$1 tap=$2 addr=$3 port=$4; shift 4
	demi_conf "$SHIM_TMP/$name.conf" device="tap:$tap" address="$addr.2/24" listen="$port" level=info
	demi_pre -n "$ns" "$SHIM_TMP/$name.conf"
	"${DEMI_PRE[@]}" "$@" >"$SHIM_TMP/$name.log" 2>&1 &
	net_kill_at_exit $!
	pids+=($!)
	net_tap_attach "$ns" "$tap" "$addr.1/24" || { cat "$SHIM_TMP/$name.log"; fail "$name: tap $tap never appeared"; }
	net_wait_tcp "$ns" "$addr.2" "$port" 20 || { cat "$SHIM_TMP/$name.log"; fail "$name unreachable through the stack"; }
	grep -q "on the stack (bypassed: \[bypass\] listen" "$SHIM_TMP/$name.log" || { cat "$SHIM_TMP/$name.log"; fail "$name: listener not bypassed"; }
}

# memcached, two worker threads
mtap=$(net_tag dapm)
start memcached "$mtap" 198.18.14 11211 memcached -u root -t 2 -p 11211 -U 0 -l 0.0.0.0
out=$(ex python3 -c '
import socket
for addr in ("198.18.14.2", "198.18.14.2", "127.0.0.1"):
    s = socket.create_connection((addr, 11211), timeout=10)
    s.sendall(b"set k%d 0 0 5\r\nhello\r\nget k%d\r\n" % (len(addr), len(addr)))
    buf = b""
    while not buf.endswith(b"END\r\n"):
        b = s.recv(4096)
        if not b:
            break
        buf += b
    print(buf.decode().replace("\r\n", " ").strip())
')
want="STORED VALUE k11 0 5 hello END
STORED VALUE k11 0 5 hello END
STORED VALUE k9 0 5 hello END"
[ "$out" = "$want" ] || fail "memcached: '$out'"
# --verify: memcaslap checks the value of a tenth of its gets; it exits 0
# whatever happened, so its counts are the check
ex timeout 30 memcaslap -s 198.18.14.2:11211 -T 1 -c 4 -t 3s --verify=0.1 >"$SHIM_TMP/mc.txt" 2>&1 || { cat "$SHIM_TMP/mc.txt"; fail "memcaslap"; }
grep -qE "^Run time: .* Ops: [1-9][0-9]* TPS: [1-9]" "$SHIM_TMP/mc.txt" || { cat "$SHIM_TMP/mc.txt"; fail "memcaslap: no operations"; }
for k in get_misses verify_misses verify_failed; do
	grep -qx "$k: 0" "$SHIM_TMP/mc.txt" || { cat "$SHIM_TMP/mc.txt"; fail "memcaslap: $k is not 0"; }
done
grep -iE "error|fail" "$SHIM_TMP/mc.txt" | grep -qvx "verify_failed: 0" &&
	{ cat "$SHIM_TMP/mc.txt"; fail "memcaslap reported errors"; }
echo "memcached -t 2: set/get through the stack and the kernel side; $(grep 'TPS' "$SHIM_TMP/mc.txt")"

# redis
rtap=$(net_tag dapr)
start redis "$rtap" 198.18.13 6379 redis-server --port 6379 --save "" --appendonly no --protected-mode no
[ "$(ex redis-cli -h 198.18.13.2 set k v)" = OK ] || fail "redis set"
[ "$(ex redis-cli -h 198.18.13.2 get k)" = v ] || fail "redis get through the stack"
[ "$(ex redis-cli -h 127.0.0.1 get k)" = v ] || fail "redis get through the kernel side"
# 200 KB of random printable bytes, compared in full on the way back
head -c 150000 /dev/urandom | base64 -w 0 | head -c 200000 >"$SHIM_TMP/big"
ex redis-cli -h 198.18.13.2 -x set big <"$SHIM_TMP/big" >/dev/null || fail "redis set 200 KB"
[ "$(ex redis-cli -h 198.18.13.2 strlen big)" = 200000 ] || fail "redis strlen"
ex redis-cli -h 198.18.13.2 --raw get big | head -c 200000 >"$SHIM_TMP/big.got"
cmp "$SHIM_TMP/big" "$SHIM_TMP/big.got" || fail "redis get 200 KB: the value differs"
ex timeout 60 redis-benchmark -h 198.18.13.2 -q -n 20000 -c 4 -t set,get,lpush,lrange_100 >"$SHIM_TMP/rb.txt" 2>&1 || { cat "$SHIM_TMP/rb.txt"; fail "redis-benchmark"; }
grep -qi "error" "$SHIM_TMP/rb.txt" && { cat "$SHIM_TMP/rb.txt"; fail "redis-benchmark saw errors"; }
echo "redis: set/get through the stack and the kernel side, 200 KB value; $(tr '\r' '\n' <"$SHIM_TMP/rb.txt" | grep 'requests per second' | tr '\n' ' ')"

