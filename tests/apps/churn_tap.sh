#!/usr/bin/env bash
# Connection churn: CHURN_CONNS (default 50,000; `make soak`: 1,000,000)
# short connections to nginx under libdemi on a tap, 64 at a time, from
# tools/bench/conn_hold in the tap's namespace across 8 source addresses:
# each sends one request, reads its response (checked: 200 and the whole
# body) and closes. After a warm-up of 2,000 the worker's resident memory,
# its fds, the stack's packet buffers in use and TCP control blocks, and its
# counters files are taken; after the churn they must be back there (the
# memory within 4 MiB: the allocator keeps some). Rate and levels printed;
# CHURN_LINUX=1 adds the same churn against the kernel's nginx over a veth.
. "$(dirname "$0")/../lib/apps.sh"
need_root
need_cmd nginx curl
need_lib
hold=$DEMI_TOP/build/bench/conn_hold
[ -x "$hold" ] || skip "build/bench/conn_hold not built"

n=${CHURN_CONNS:-50000}
ns=$(net_ns_new dch)
tap=$(net_tag dcht)
tmp=$(mktemp -d /tmp/demi-churn.XXXXXX)
net_cleanup_add "rm -rf $tmp"
mkdir -p "$tmp/www" "$tmp/logs"
head -c 1024 /dev/urandom | base64 -w 64 | head -c 1024 >"$tmp/www/index.html"
chmod 0755 "$tmp" "$tmp/www"; chmod 0644 "$tmp/www/"*
demi_conf "$tmp/demi.conf" device="tap:$tap" address=198.18.7.2/24 listen=8080 level=info
apps_nginx_conf "$tmp" "$tmp/www" "8080 backlog=4096" "keepalive_requests 100000"
demi_pre -n "$ns" "$tmp/demi.conf"
"${DEMI_PRE[@]}" nginx -p "$tmp" -c "$tmp/nginx.conf" >"$tmp/logs/stdout" 2>&1 &
pid=$!
net_cleanup_add "kill -9 $pid; pkill -9 -f 'nginx.*$tmp'"
net_tap_attach "$ns" "$tap" 198.18.7.1/24 || { cat "$tmp/logs/"*; fail "tap $tap never appeared"; }
for i in $(seq 11 18); do ip -n "$ns" addr add 198.18.7.$i/24 dev "$tap"; done
# the client closes first: its ports wait in TIME-WAIT, reused when needed
ip netns exec "$ns" sysctl -qw net.ipv4.ip_local_port_range="1024 65535" net.ipv4.tcp_tw_reuse=1
net_wait_tcp "$ns" 198.18.7.2 8080 20 || { cat "$tmp/logs/"*; fail "nginx on 198.18.7.2:8080 unreachable"; }

wpid=$(pgrep -P "$pid" nginx | head -1)
[ -n "$wpid" ] || fail "no nginx worker"
cnt() { "$DEMI_TOP/build/demistat" "$wpid" 2>/dev/null | awk -v k="$1" '$1 == k { s += $2 } END { print s + 0 }'; }
pool() { "$DEMI_TOP/build/demistat" "$wpid" 2>/dev/null | awk '/packet buffers:/ { print $3 }'; }
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$wpid/status"; }
fds() { ls "/proc/$wpid/fd" | wc -l; }
shm() { ls /dev/shm/ | grep -E "^demi\.($pid|$wpid)\." | tr '\n' ' '; }
churn() { # N
	ip netns exec "$ns" "$hold" churn 198.18.7.2 8080 -n "$1" -w 64 -t 36000 -s 198.18.7.11 -k 8 >"$tmp/churn.out" 2>&1 ||
		{ cat "$tmp/churn.out"; "$DEMI_TOP/build/demistat" "$wpid"; fail "churn of $1 connections"; }
	cat "$tmp/churn.out"
}
# back to level: the last connections' FINs acknowledged and freed
settle() {
	for ((i = 0; i < 100; i++)); do
		[ "$(cnt RT_TCP_TCBS)" -le 1 ] && [ "$(pool)" -le "${pool0:-0}" ] && break
		sleep 0.1
	done
}

churn 2000
settle
rss0=$(rss) fds0=$(fds) pool0=$(pool) tcb0=$(cnt RT_TCP_TCBS) shm0=$(shm)
open0=$(cnt TCP_PASSIVE_OPENS)
churn "$n"
settle
rss1=$(rss) fds1=$(fds) pool1=$(pool) tcb1=$(cnt RT_TCP_TCBS) shm1=$(shm)
opened=$(($(cnt TCP_PASSIVE_OPENS) - open0))
"$DEMI_TOP/build/demistat" "$wpid" | sed -n '3,4p'
echo "after $n connections ($opened accepted by the stack): worker RSS $rss0 -> $rss1 kB, fds $fds0 -> $fds1," \
	"packet buffers in use $pool0 -> $pool1, TCP control blocks $tcb0 -> $tcb1, counters files '$shm0' -> '$shm1'"
[ "$opened" -ge "$n" ] || fail "the stack accepted $opened of $n connections"
[ "$fds1" -le "$fds0" ] || fail "the worker has $fds1 fds, $fds0 before"
[ "$pool1" -le "$pool0" ] || fail "$pool1 packet buffers in use, $pool0 before"
[ "$tcb1" -le "$tcb0" ] || fail "$tcb1 TCP control blocks, $tcb0 before"
[ "$shm1" = "$shm0" ] || fail "counters files '$shm1', '$shm0' before"
[ $((rss1 - rss0)) -lt 4096 ] || fail "the worker's RSS grew from $rss0 to $rss1 kB"
ip netns exec "$ns" curl -sS --max-time 10 -o "$tmp/got" http://198.18.7.2:8080/index.html &&
	cmp -s "$tmp/got" "$tmp/www/index.html" || fail "curl after the churn"
echo "churn over tap: $n connections, RSS, fds, buffers, control blocks and counters files back to level"
# the bar: the same client against the kernel's nginx over a veth
if [ "${CHURN_LINUX:-0}" = 1 ]; then
	nsk=$(net_ns_new dchk)
	ip link add "$(net_tag dchv)" netns "$ns" type veth peer name kv0 netns "$nsk" || fail "veth"
	kdev=$(ip -n "$ns" -o link show type veth | awk -F': ' '{ print $2 }' | cut -d@ -f1)
	ip -n "$ns" addr add 198.18.8.1/24 dev "$kdev"
	for i in $(seq 11 18); do ip -n "$ns" addr add 198.18.8.$i/24 dev "$kdev"; done
	ip -n "$ns" link set "$kdev" up
	ip -n "$nsk" addr add 198.18.8.2/24 dev kv0
	ip -n "$nsk" link set kv0 up
	mkdir -p "$tmp/k/logs"
	apps_nginx_conf "$tmp/k" "$tmp/www" "8080 backlog=4096" "keepalive_requests 100000"
	ip netns exec "$nsk" nginx -p "$tmp/k" -c "$tmp/k/nginx.conf" >"$tmp/k/logs/stdout" 2>&1 &
	net_cleanup_add "kill -9 $!; pkill -9 -f 'nginx.*$tmp/k'"
	net_wait_tcp "$ns" 198.18.8.2 8080 20 || fail "the kernel's nginx unreachable"
	ip netns exec "$ns" "$hold" churn 198.18.8.2 8080 -n "$n" -w 64 -t 36000 -s 198.18.8.11 -k 8 >"$tmp/churn.k" 2>&1 ||
		{ cat "$tmp/churn.k"; fail "churn against the kernel's nginx"; }
	echo "Linux (nginx on the kernel, over a veth): $(cat "$tmp/churn.k")"
fi
