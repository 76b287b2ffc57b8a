#!/usr/bin/env bash
# nginx with 2 workers on a shared NIC (device xdp:IF, no queue named): a
# veth with 2 queues. Each worker's stack takes a queue of its own under
# the one XDP program; the peer's kernel picks a connection's queue (veth:
# the sender's tx queue, chosen per socket by its hash), and on each queue
# the program sends port 8080 to the worker of that queue, which listens.
# wrk with 128 connections from the peer's namespace: no socket error, no
# non-2xx, both workers served connections through their stacks, no worker
# sent a RST. A third process on the interface finds every queue taken and
# stays with the kernel, saying why at the default level (warn). After
# nginx quits (its workers run as nobody) no XDP program is left.
. "$(dirname "$0")/../lib/apps.sh"
need_root
need_cmd nginx wrk ethtool
need_lib

sns=$(net_ns_new dxws) kns=$(net_ns_new dxwk)
sdev=$(net_tag dxws) kdev=$(net_tag dxwk)
net_cleanup_add "rm -f /run/libdemi/xdp.*.$sdev.*" # the queues' lock files (xdp/share.c)
ip -n "$sns" link add "$sdev" numtxqueues 2 numrxqueues 2 type veth peer name "$kdev" numtxqueues 2 \
	numrxqueues 2 netns "$kns" || fail "veth with 2 queues"
ip -n "$sns" addr add 198.18.23.2/24 dev "$sdev"
ip -n "$sns" link set "$sdev" up
ip -n "$kns" addr add 198.18.23.1/24 dev "$kdev"
ip -n "$kns" link set "$kdev" up
ip netns exec "$kns" ethtool -K "$kdev" tx off >/dev/null || fail "ethtool -K $kdev tx off"
T=$APPS_TMP
mkdir -p "$T/www" "$T/logs"
head -c 1024 /dev/urandom | base64 -w 64 | head -c 1024 >"$T/www/index.html"
chmod 0755 "$T" "$T/www"; chmod 0644 "$T/www/"*
prog_id() { ip -n "$sns" -d link show "$sdev" | sed -n 's/.*prog\/xdp id \([0-9]*\).*/\1/p' | head -1; }

demi_conf "$T/demi.conf" device="xdp:$sdev" listen=8080 level=info
apps_nginx_conf "$T" "$T/www" 8080 "keepalive_requests 100000"
sed -i "s/^worker_processes 1;/worker_processes 2;/" "$T/nginx.conf"
demi_pre -n "$sns" "$T/demi.conf"
"${DEMI_PRE[@]}" nginx -p "$T" -c "$T/nginx.conf" >"$T/logs/stdout" 2>&1 &
pid=$!
net_cleanup_add "kill -9 $pid; pkill -9 -f 'nginx.*$T'"
net_wait_tcp "$kns" 198.18.23.2 8080 20 || { apps_logs "$T/logs/"*; fail "nginx on 198.18.23.2:8080 unreachable"; }

# both workers up, each on its own queue of the one program
for _ in $(seq 100); do
	workers=$(pgrep -P $pid | tr '\n' ' ')
	"$DEMI_TOP/build/demistat" $workers >"$T/stat.txt" 2>&1
	n=$(grep -cE "^    queue [01]: pid ($(echo $workers | tr ' ' '|'))," "$T/stat.txt")
	[ "$n" -ge 2 ] && break
	sleep 0.1
done
w=($workers)
"$DEMI_TOP/build/demistat" "${w[0]}" >"$T/stat.txt" 2>&1
sed -n '/^  xdp:/,$p' "$T/stat.txt"
q0=$(sed -n "s/^    queue \([01]\): pid ${w[0]},.*/\1/p" "$T/stat.txt")
q1=$(sed -n "s/^    queue \([01]\): pid ${w[1]},.*/\1/p" "$T/stat.txt")
[ -n "$q0" ] && [ -n "$q1" ] && [ "$q0" != "$q1" ] || { apps_logs "$T/logs/"*; fail "not one queue per worker ($workers: '$q0' '$q1')"; }
grep -q "listen ports (port/queue):.* 8080/0" "$T/stat.txt" && grep -q "listen ports (port/queue):.* 8080/1" "$T/stat.txt" ||
	fail "port 8080 not steered on both queues"

ip netns exec "$kns" wrk -t2 -c128 -d4s http://198.18.23.2:8080/index.html >"$T/wrk.txt" 2>&1 || fail "wrk: $(cat "$T/wrk.txt")"
cat "$T/wrk.txt"
bad=""
grep -q "Socket errors" "$T/wrk.txt" && bad+=" socket errors;"
grep -q "Non-2xx" "$T/wrk.txt" && bad+=" non-2xx responses;"
reqs=$(awk '/requests in/ {print $1}' "$T/wrk.txt")
[ "${reqs:-0}" -gt 0 ] || bad+=" no request;"
cnt() { "$DEMI_TOP/build/demistat" "$1" | awk -v k="$2" '$1 == k { s += $2 } END { print s + 0 }'; }
for p in "${w[@]}"; do
	opens=$(cnt $p TCP_PASSIVE_OPENS) rst=$(cnt $p TCP_RST_SENT)
	echo "worker $p: accepted $opens through its stack, RST sent $rst"
	[ "$opens" -gt 0 ] || bad+=" worker $p served no connection;"
	[ "$rst" -eq 0 ] || bad+=" worker $p sent $rst RSTs;"
done
[ -z "$bad" ] || { grep -h "warn\|error" "$T/logs/"* | tail -20; fail "$bad"; }
echo "nginx with 2 workers on one shared veth: wrk $reqs requests, 0 errors, both workers served"

# a third process: no queue left, it stays with the kernel and says why
demi_conf "$T/third.conf" device="xdp:$sdev" listen=8090
demi_run -n "$sns" "$T/third.conf" $PY -c '
import socket
s = socket.socket(); s.bind(("0.0.0.0", 8090)); s.listen(); s.settimeout(0.3)
try:
    s.accept()  # the first wait starts the stack
except socket.timeout:
    print("waited")
' >"$T/third.log" 2>&1 || { cat "$T/third.log"; fail "the third process failed"; }
grep -q "^waited" "$T/third.log" || { cat "$T/third.log"; fail "the third process did not run"; }
grep -q "warn: stack unavailable: .*$sdev has 2 queues, all taken by other processes.*stays with the kernel" \
	"$T/third.log" || { cat "$T/third.log"; fail "no warning that every queue is taken"; }
echo "a third process: every queue taken, it stays with the kernel and says why"

id=$(prog_id)
kill -QUIT $pid
for ((i = 0; i < 100; i++)); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
kill -0 $pid 2>/dev/null && fail "nginx did not exit"
for ((i = 0; i < 50; i++)); do [ -z "$(prog_id)" ] && break; sleep 0.1; done
[ -z "$(prog_id)" ] || fail "XDP program $(prog_id) left on $sdev after nginx (was $id)"
grep -h "libdemi.*error" "$T/logs/"* && fail "libdemi logged errors (above)"
echo "after nginx: no XDP program on $sdev"
