#!/usr/bin/env bash
# nginx with two workers on one tap: each worker attaches its own queue of the
# tap and the tap's steering programs (stack/netif/tap/) place the flows: a
# SYN goes to one of the workers that listen on its port, by a hash of the
# 4-tuple, the rest of a flow to the worker that owns it. A third process
# holds a queue of the tap and serves nothing (as an old worker after a
# reload does): the kernel's own choice would hash a third of the new flows
# to it, and they would fail; the steering sends none there. wrk with 128
# connections from the namespace: no socket error, no non-2xx, both workers
# served connections, no worker sent a RST (a segment that reaches a worker
# that does not know its connection is dropped, not answered).
# Then a tap that cannot take another queue (made without multi_queue): the
# program stays with the kernel and says why at the default level (warn).
. "$(dirname "$0")/../lib/apps.sh"
need_root
need_cmd nginx wrk
need_lib

apps_nginx_workers dnw dtw 2
# both workers up: each has its stack, so each attached a queue
for _ in $(seq 100); do
	workers=$(pgrep -P $pid | tr '\n' ' ')
	n=0
	for w in $workers; do [ -e /dev/shm/demi.$w.0 ] && n=$((n + 1)); done
	[ $n -ge 2 ] && break
	sleep 0.1
done
[ "$n" -ge 2 ] || { cat "$tmp/logs/"*; fail "two workers with a stack expected, got $n ($workers)"; }

# a queue that nobody reads, as an old worker's after it closed its listener
ip netns exec "$ns" python3 -c '
import fcntl, os, struct, sys, time
fd = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(fd, 0x400454ca, struct.pack("16sH", sys.argv[1].encode(), 0x0002 | 0x0100))  # TUNSETIFF: tap, multi_queue
print("attached", flush=True)
time.sleep(120)
' "$tap" >"$tmp/idle.log" 2>&1 &
idle=$!
net_kill_at_exit $idle
for _ in $(seq 50); do grep -q attached "$tmp/idle.log" && break; sleep 0.1; done
grep -q attached "$tmp/idle.log" || fail "the idle queue: $(cat "$tmp/idle.log")"

cnt() { "$DEMI_TOP/build/demistat" "$1" | awk -v k="$2" '$1 == k { s += $2 } END { print s + 0 }'; }
# run_wrk NAME WORKERS... : 128 connections for 4 s; each worker must have
# served (more connections than before) and sent no RST.
run_wrk() {
	local name=$1 w opens rst rto nosock bad="" reqs; shift
	declare -A before
	for w in "$@"; do before[$w]=$(cnt $w TCP_PASSIVE_OPENS); done
	ip netns exec "$ns" wrk -t2 -c128 -d4s http://198.18.7.2:8080/index.html >"$tmp/wrk.txt" 2>&1 ||
		fail "wrk: $(cat "$tmp/wrk.txt")"
	cat "$tmp/wrk.txt"
	grep -q "Socket errors" "$tmp/wrk.txt" && bad+=" socket errors;"
	grep -q "Non-2xx" "$tmp/wrk.txt" && bad+=" non-2xx responses;"
	reqs=$(awk '/requests in/ {print $1}' "$tmp/wrk.txt")
	[ "${reqs:-0}" -gt 0 ] || bad+=" no request;"
	for w in "$@"; do
		opens=$(($(cnt $w TCP_PASSIVE_OPENS) - ${before[$w]})) rst=$(cnt $w TCP_RST_SENT) rto=$(cnt $w TCP_RTO_FIRED)
		nosock=$(cnt $w DROP_TCP_NO_SOCKET)
		echo "worker $w: accepted $opens, RST sent $rst, RTO $rto, no-socket drops $nosock"
		[ "$opens" -gt 0 ] || bad+=" worker $w served no connection;"
		[ "$rst" -eq 0 ] || bad+=" worker $w sent $rst RSTs;"
	done
	[ -z "$bad" ] || { grep -h "warn\|error" "$tmp/logs/"* | tail -20; fail "$name:$bad"; }
	echo "$name: wrk $reqs requests, 0 errors, every worker served, no RST"
}
run_wrk "2 workers and an idle queue" $workers

sq=$(net_tag dts)
ip -n "$ns" tuntap add dev "$sq" mode tap || fail "ip tuntap add"
demi_conf "$tmp/sq.conf" device="tap:$sq" address=198.18.8.2/24 listen=8081
demi_run -n "$ns" "$tmp/sq.conf" python3 -c '
import socket
s = socket.socket(); s.bind(("0.0.0.0", 8081)); s.listen(); s.settimeout(0.3)
try:
    s.accept()  # the first wait starts the stack
except socket.timeout:
    print("waited")
' >"$tmp/sq.log" 2>&1 || { cat "$tmp/sq.log"; fail "the program on the single-queue tap failed"; }
grep -q "^waited" "$tmp/sq.log" || { cat "$tmp/sq.log"; fail "the program did not run"; }
grep -q "warn: stack unavailable: .*tap $sq was made without multi_queue.*stays with the kernel" "$tmp/sq.log" ||
	{ cat "$tmp/sq.log"; fail "no warning naming the single-queue tap"; }
echo "a tap without multi_queue: the program stays with the kernel, and says why"
