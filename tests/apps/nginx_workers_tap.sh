#!/usr/bin/env bash
# nginx with two workers on one tap: each worker attaches its own queue of the
# tap, and the kernel's tun queue choice places the flows (no steering program
# yet: a flow goes back to the queue that last sent it). wrk with
# 128 connections from the namespace for 4 s: no socket error, no non-2xx,
# both workers served connections, and no worker sent a RST (a segment
# steered to a worker that does not know its connection is dropped, not
# answered with a RST that would kill the connection in the other worker).
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

ip netns exec "$ns" wrk -t2 -c128 -d4s http://198.18.7.2:8080/index.html >"$tmp/wrk.txt" 2>&1 || fail "wrk: $(cat "$tmp/wrk.txt")"
cat "$tmp/wrk.txt"
bad=""
grep -q "Socket errors" "$tmp/wrk.txt" && bad+=" socket errors;"
grep -q "Non-2xx" "$tmp/wrk.txt" && bad+=" non-2xx responses;"
reqs=$(awk '/requests in/ {print $1}' "$tmp/wrk.txt")
[ "${reqs:-0}" -gt 0 ] || bad+=" no request;"
cnt() { "$DEMI_TOP/build/demistat" "$1" | awk -v k="$2" '$1 == k { s += $2 } END { print s + 0 }'; }
for w in $workers; do
	opens=$(cnt $w TCP_PASSIVE_OPENS) rst=$(cnt $w TCP_RST_SENT) rto=$(cnt $w TCP_RTO_FIRED)
	nosock=$(cnt $w DROP_TCP_NO_SOCKET)
	echo "worker $w: accepted $opens, RST sent $rst, RTO $rto, no-socket drops $nosock"
	[ "$opens" -gt 0 ] || bad+=" worker $w served no connection;"
	[ "$rst" -eq 0 ] || bad+=" worker $w sent $rst RSTs;"
done
[ -z "$bad" ] || { grep -h "warn\|error" "$tmp/logs/"* | tail -20; fail "$bad"; }
echo "nginx with 2 workers over one tap: wrk $reqs requests, 0 errors, both workers served, no RST"

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
