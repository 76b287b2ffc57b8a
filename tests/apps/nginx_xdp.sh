#!/usr/bin/env bash
# The shared NIC (device xdp:IF): a veth between two namespaces, its inner
# end keeps its kernel address 198.18.11.2/24, and the kernel runs its own
# HTTP server there on port 8081 while nginx under libdemi serves port 8080
# on the same address (no [net] address: the stack takes the interface's).
# Our XDP program (native XDP on the veth) sends only port 8080 to the stack.
# From the other namespace: ping the address (the kernel answers), fetch from
# the kernel's server, fetch 64 MiB from nginx byte-exact; the stack's
# counters show nginx's bytes went through it and the kernel server's did
# not; with the peer's tx checksum offload on, the stack warns once with
# the fix. A kernel TCP connection to port 2222 of the address (an ssh
# stand-in) exchanges lines from before nginx starts until after it exits.
# After nginx exits no XDP program is left on the interface and the kernel
# serves port 8080 again.
. "$(dirname "$0")/../lib/apps.sh"
need_root
need_cmd nginx curl ping ethtool sha256sum
[ -x "$PY" ] || skip "$PY missing"
need_lib

net_veth_pair dxn 198.18.11.1/24
sns=$NET_SNS kns=$NET_KNS sdev=$NET_SDEV
net_cleanup_add "rm -f /run/libdemi/xdp.*.$sdev.*" # the queues' lock files (xdp/share.c)
T=$APPS_TMP
ip -n "$sns" addr add 198.18.11.2/24 dev "$sdev" || fail "address on $sdev"
sx() { ip netns exec "$sns" "$@"; }
kx() { ip netns exec "$kns" "$@"; }

mkdir -p "$T/www" "$T/kwww" "$T/logs"
head -c $((64 << 20)) /dev/urandom >"$T/www/big.bin"
head -c $((8 << 20)) /dev/urandom >"$T/kwww/k.bin"
chmod 0755 "$T/www" "$T/kwww"; chmod 0644 "$T/www/"* "$T/kwww/"*

# the kernel's own server on the same address, not under the preload
sx $PY -m http.server 8081 --bind 198.18.11.2 --directory "$T/kwww" >"$T/kernel.log" 2>&1 &
net_kill_at_exit $!
net_wait_tcp "$kns" 198.18.11.2 8081 20 || fail "the kernel's server on 198.18.11.2:8081 unreachable"

# an ssh stand-in: a kernel echo server on port 2222 of the same address,
# and from the other namespace one connection that exchanges a line every
# 50 ms from before nginx starts until after it exits
cat >"$T/echo.py" <<'PYEOF'
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("198.18.11.2", 2222)); s.listen(1)
c, a = s.accept()
while True:
    b = c.recv(4096)
    if not b: break
    c.sendall(b)
PYEOF
cat >"$T/ssh.py" <<PYEOF
import os, socket, time
c = socket.create_connection(("198.18.11.2", 2222), 10); c.settimeout(10)
f = c.makefile("rb"); n = 0
print("connected", flush=True)
while not os.path.exists("$T/ssh.stop"):
    line = b"tick %d\\n" % n
    c.sendall(line)
    if f.readline() != line:
        print("broken at", n, flush=True); raise SystemExit(1)
    n += 1; time.sleep(0.05)
print("ticks", n, flush=True)
PYEOF
sx $PY "$T/echo.py" >"$T/echo.log" 2>&1 &
net_kill_at_exit $!
for ((i = 0; i < 100; i++)); do sx ss -ltn | grep -q ':2222 ' && break; sleep 0.05; done
kx $PY "$T/ssh.py" >"$T/ssh.log" 2>&1 &
sshpid=$!
net_kill_at_exit $sshpid
for ((i = 0; i < 100; i++)); do grep -q connected "$T/ssh.log" && break; sleep 0.05; done
grep -q connected "$T/ssh.log" || { cat "$T/ssh.log"; fail "the ssh stand-in did not connect"; }

demi_conf "$T/demi.conf" device="xdp:$sdev" listen=8080 level=info
apps_nginx_conf "$T" "$T/www" 8080 "sendfile on"
demi_pre -n "$sns" "$T/demi.conf"
"${DEMI_PRE[@]}" nginx -p "$T" -c "$T/nginx.conf" >"$T/logs/stdout" 2>&1 &
pid=$!
net_cleanup_add "kill -9 $pid; pkill -9 -f 'nginx.*$T'"

# the worker starts its stack (and attaches the program) lazily: until then
# its listener's kernel twin would answer
for ((i = 0; i < 200; i++)); do
	ip -n "$sns" link show "$sdev" | grep -q "xdp" && break
	sleep 0.1
done
ip -n "$sns" link show "$sdev" | grep -q "xdp" || { apps_logs "$T/logs/"*; fail "no XDP program on $sdev"; }
grep -q "address 198.18.11.2/24" "$T/logs/"* || { apps_logs "$T/logs/"*; fail "the stack did not take $sdev's address"; }

kx ping -c 3 -i 0.2 -W 2 198.18.11.2 >"$T/ping.txt" 2>&1 || { cat "$T/ping.txt"; fail "ping 198.18.11.2"; }
wpid=$(pgrep -f "nginx: worker" | while read -r p; do grep -qs "$T" "/proc/$p/cmdline" /proc/$p/environ && echo "$p"; done | head -1)
[ -n "$wpid" ] || wpid=$(pgrep -P $pid | head -1)
# a counter of the worker's stack (demistat leaves out those at 0)
ctr() { "$DEMI_TOP/build/demistat" "$wpid" 2>/dev/null | awk -v n="$1" '$1 == n {v = $2} END {print v + 0}'; }

# a peer that leaves checksums to the device (the veth default): its
# segments cannot be taken, and the stack says once what to run
kdev=$NET_KDEV
kx ethtool -K "$kdev" tx on >/dev/null || fail "ethtool -K $kdev tx on"
cs=()
for i in 1 2 3; do kx curl -s --max-time 2 -o /dev/null http://198.18.11.2:8080/ & cs+=($!); done
for c in "${cs[@]}"; do wait "$c"; done
kx ethtool -K "$kdev" tx off >/dev/null || fail "ethtool -K $kdev tx off"
grep -q "warn: .*bad checksums.*ethtool -K PEER tx off" "$T/logs/"* ||
	{ apps_logs "$T/logs/"*; fail "no warning about the peer's checksum offload (DROP_TCP_CKSUM $(ctr DROP_TCP_CKSUM))"; }
[ "$(cat "$T/logs/"* | grep -c "bad checksums")" = 1 ] || fail "the checksum warning came more than once"

kx curl -sS --max-time 60 -o "$T/got.bin" http://198.18.11.2:8080/big.bin || { apps_logs "$T/logs/"*; fail "curl from nginx"; }
[ "$(apps_sha "$T/got.bin")" = "$(apps_sha "$T/www/big.bin")" ] || fail "big.bin differs ($(stat -c %s "$T/got.bin") bytes)"
tx1=$(ctr TCP_TX_BYTES)
[ "$tx1" -ge $((64 << 20)) ] || { "$DEMI_TOP/build/demistat" "$wpid"; fail "the stack sent ${tx1:-0} bytes, fewer than nginx's file"; }

kx curl -sS --max-time 60 -o "$T/kgot.bin" http://198.18.11.2:8081/k.bin || fail "curl from the kernel's server"
[ "$(apps_sha "$T/kgot.bin")" = "$(apps_sha "$T/kwww/k.bin")" ] || fail "k.bin from the kernel's server differs"
tx2=$(ctr TCP_TX_BYTES)
[ $((tx2 - tx1)) -lt $((1 << 20)) ] || fail "the kernel server's bytes went through the stack ($tx1 -> $tx2)"
# the kernel owns ARP: the stack learnt its peer from the kernel's table
[ "$(ctr ARP_REQUESTS_SENT)" = 0 ] && [ "$(ctr ARP_REPLIES_SENT)" = 0 ] ||
	fail "the stack sent ARP ($(ctr ARP_REQUESTS_SENT) requests, $(ctr ARP_REPLIES_SENT) replies)"
echo "nginx 64 MiB through the stack ($tx1 TCP bytes), the kernel's 8 MiB beside it did not touch the stack"

kill -QUIT $pid
for ((i = 0; i < 100; i++)); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
kill -0 $pid 2>/dev/null && fail "nginx did not exit"
ip -n "$sns" link show "$sdev" | grep -q "xdp" && fail "an XDP program is left on $sdev: $(ip -n "$sns" link show "$sdev")"
sx $PY -m http.server 8080 --bind 198.18.11.2 --directory "$T/kwww" >"$T/kernel2.log" 2>&1 &
net_kill_at_exit $!
net_wait_tcp "$kns" 198.18.11.2 8080 20 || fail "the kernel does not serve port 8080 after nginx"
kx curl -sS --max-time 30 -o "$T/k2.bin" http://198.18.11.2:8080/k.bin || fail "curl port 8080 from the kernel"
cmp -s "$T/k2.bin" "$T/kwww/k.bin" || fail "port 8080 from the kernel differs"
grep -h "libdemi.*error" "$T/logs/"* && fail "libdemi logged errors (above)"
touch "$T/ssh.stop"
wait $sshpid || { cat "$T/ssh.log"; fail "the ssh stand-in's connection broke across nginx"; }
ticks=$(sed -n 's/^ticks //p' "$T/ssh.log")
[ "${ticks:-0}" -ge 20 ] || { cat "$T/ssh.log"; fail "the ssh stand-in exchanged only ${ticks:-0} lines"; }
echo "after nginx: no XDP program on $sdev, the kernel serves port 8080; the kernel connection on 2222 lived throughout ($ticks lines)"

# An active open through the shared interface: curl under the preload
# fetches from a server in the other namespace. The replies reach the stack
# by the connection's 4-tuple; the peer's MAC comes from the kernel, asked
# to resolve it (its table flushed first).
kx $PY -m http.server 8082 --bind 198.18.11.1 --directory "$T/kwww" >"$T/peer.log" 2>&1 &
net_kill_at_exit $!
net_wait_tcp "$kns" 198.18.11.1 8082 20 || fail "the peer's server on 198.18.11.1:8082 unreachable"
ip -n "$sns" neigh flush dev "$sdev"
demi_conf "$T/client.conf" device="xdp:$sdev" connect=198.18.11.1/32 level=info
# slowed to about 4 s so its stack's counters can be read while it runs
demi_pre -n "$sns" "$T/client.conf"
"${DEMI_PRE[@]}" curl -sS --max-time 30 --limit-rate 2M -o "$T/c.bin" http://198.18.11.1:8082/k.bin \
	>"$T/curl.log" 2>&1 &
cpid=$!
net_kill_at_exit $cpid
cctr() { "$DEMI_TOP/build/demistat" "$cpid" 2>/dev/null | awk -v n="$1" '$1 == n {v = $2} END {print v + 0}'; }
crx=0
for ((i = 0; i < 200 && crx == 0; i++)); do
	kill -0 $cpid 2>/dev/null || break
	crx=$(cctr TCP_RX_BYTES)
	[ "$crx" -gt 0 ] || sleep 0.05
done
creq=$(cctr ARP_REQUESTS_SENT)
wait $cpid || { cat "$T/curl.log"; fail "curl under the preload through $sdev"; }
[ "$crx" -gt 0 ] || fail "curl's stack was never seen receiving (counters not read?)"
[ "$creq" = 0 ] || fail "curl's stack sent $creq ARP requests: the kernel owns ARP on $sdev"
cmp -s "$T/c.bin" "$T/kwww/k.bin" || fail "curl's download through the stack differs"
grep -q "on the stack" "$T/curl.log" || { cat "$T/curl.log"; fail "curl's socket was not on the stack"; }
grep "libdemi.*error" "$T/curl.log" && fail "libdemi logged errors (above)"
ip -n "$sns" link show "$sdev" | grep -q "xdp" && fail "an XDP program is left on $sdev after curl"
echo "curl under libdemi: 8 MiB by an active open through $sdev, byte-exact"
