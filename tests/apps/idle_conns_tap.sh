#!/usr/bin/env bash
# Many idle connections: nginx under libdemi on a tap holds IDLE_CONNS
# (default 10,000; `make soak`: 100,000) connections that never send a
# request, opened by tools/bench/conn_hold from the tap's namespace across 4
# source addresses (more 4-tuples than one address has ports), off the
# tap's subnet: the stack reaches them through its gateway, the tap's
# kernel end, so each stack resolves one neighbour only (an ARP reply on a
# tap shared by several processes reaches one of them). Meanwhile a
# normal request is served byte-exact on a new connection. A process has
# at most its hard fd limit (`ulimit -Hn`, which root without
# CAP_SYS_RESOURCE cannot raise): beyond it the connections are spread over
# several clients and nginx workers (each worker its stack on its own queue
# of the tap; the kernel's queue choice places the flows).
# Reported: the memory each connection takes, as the worker's resident
# memory grew and as the stack counts it (its TCP control blocks); the time
# to open them all. Checks: every connection established and accepted, the
# page served, and once the client is gone the stack's control blocks and
# packet buffers back to their level before (with several workers, the
# connections whose FIN reached another worker's queue stay open: said with
# SKIP-PART, not checked).
. "$(dirname "$0")/../lib/apps.sh"
need_root
need_cmd nginx curl
need_lib
hold=$DEMI_TOP/build/bench/conn_hold
[ -x "$hold" ] || skip "build/bench/conn_hold not built"

n=${IDLE_CONNS:-10000}
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] && hard=1048576
per=$((hard * 3 / 5)) # connections per process: room for an uneven spread
workers=$(((n + per - 1) / per))
clients=$(((n + per - 1) / per))
nofile=$((n + 2048 < hard ? n + 2048 : hard))
ns=$(net_ns_new dic)
tap=$(net_tag dict)
tmp=$(mktemp -d /tmp/demi-idle.XXXXXX)
net_cleanup_add "rm -rf $tmp"
mkdir -p "$tmp/www" "$tmp/logs"
head -c 1024 /dev/urandom | base64 -w 64 | head -c 1024 >"$tmp/www/index.html"
chmod 0755 "$tmp" "$tmp/www"; chmod 0644 "$tmp/www/"*
demi_conf "$tmp/demi.conf" device="tap:$tap" address=198.18.7.2/24 gateway=198.18.7.1 listen=8080 level=info
# idle connections are kept (no request: client_header_timeout); a backlog
# above the connections opened at once, so none waits for nginx to accept
apps_nginx_conf "$tmp" "$tmp/www" "8080 backlog=65535" "client_header_timeout 3600s"
sed -i -e "s/worker_connections 1024;/worker_connections $nofile;/" \
	-e "s/^worker_processes 1;/worker_processes $workers;/" \
	-e "/^worker_processes /a worker_rlimit_nofile $nofile;" "$tmp/nginx.conf"
demi_pre -n "$ns" "$tmp/demi.conf"
"${DEMI_PRE[@]}" nginx -p "$tmp" -c "$tmp/nginx.conf" >"$tmp/logs/stdout" 2>&1 &
pid=$!
net_cleanup_add "kill -9 $pid; pkill -9 -f 'nginx.*$tmp'"
net_tap_attach "$ns" "$tap" 198.18.7.1/24 || { cat "$tmp/logs/"*; fail "tap $tap never appeared"; }
for i in 1 2 3 4; do ip -n "$ns" addr add 198.18.9.$i/32 dev "$tap"; done
ip netns exec "$ns" sysctl -qw net.ipv4.ip_local_port_range="1024 65535"
net_wait_tcp "$ns" 198.18.7.2 8080 20 || { cat "$tmp/logs/"*; fail "nginx on 198.18.7.2:8080 unreachable"; }

ex() { ip netns exec "$ns" "$@"; }
# every worker up with its stack (each attached its queue)
for ((i = 0; i < 200; i++)); do
	wpids=$(pgrep -P "$pid" nginx | tr '\n' ' ')
	up=0
	for w in $wpids; do [ -e "/dev/shm/demi.$w.0" ] && up=$((up + 1)); done
	[ "$up" -ge "$workers" ] && break
	sleep 0.1
done
[ "$up" -ge "$workers" ] || { cat "$tmp/logs/"*; fail "$workers workers with a stack expected, $up up"; }
# the sums over the workers
wstat() { # every worker's demistat; one that could not be read is read again
	local w i out
	for w in $wpids; do
		for ((i = 0; i < 20; i++)); do
			out=$("$DEMI_TOP/build/demistat" "$w" 2>/dev/null) && grep -q 'RT_TCP_TCBS' <<<"$out" && break
			sleep 0.05
		done
		echo "$out"
	done
}
cnt() { wstat | awk -v k="$1" '$1 == k { s += $2 } END { print s + 0 }'; }
pool() { wstat | awk '/packet buffers:/ { s += $3 } END { print s + 0 }'; }
rss() { local w; for w in $wpids; do awk '/^VmRSS:/ { print $2 }' "/proc/$w/status"; done | awk '{ s += $1 } END { print s }'; }
fds() { local w; for w in $wpids; do ls "/proc/$w/fd"; done | wc -l; }
get() { ex curl -sS --max-time 10 -o "$tmp/got" http://198.18.7.2:8080/index.html && cmp -s "$tmp/got" "$tmp/www/index.html"; }

get || fail "curl before the connections"
sleep 0.5
rss0=$(rss) pool0=$(pool) tcb0=$(cnt RT_TCP_TCBS) fds0=$(fds)
t0=$SECONDS
hpids=()
for ((c = 0; c < clients; c++)); do
	k=$(((n + c) / clients)) # n split evenly
	ip netns exec "$ns" "$hold" client 198.18.7.2 8080 -n "$k" -t 36000 -s 198.18.9.1 -k 4 >"$tmp/hold.$c" 2>&1 &
	hpids+=($!)
	net_kill_at_exit $!
done
for ((c = 0; c < clients; c++)); do
	until grep -qs '^connected' "$tmp/hold.$c"; do
		kill -0 "${hpids[$c]}" 2>/dev/null || { cat "$tmp/hold.$c"; wstat; fail "conn_hold client"; }
		sleep 0.2
	done
done
t1=$SECONDS
# nginx has accepted them all (one fd each)
for ((i = 0; i < 300; i++)); do [ "$(fds)" -ge $((fds0 + n)) ] && break; sleep 0.2; done
[ "$(fds)" -ge $((fds0 + n)) ] || { wstat; ex ss -s; fail "nginx holds $(($(fds) - fds0)) of $n connections"; }
sleep 1
rss1=$(rss) tcb1=$(cnt RT_TCP_TCBS)
tcbsize=$(wstat | awk '$1 == "RT_TCP_TCBS" { n += $2 } $1 == "RT_TCP_TCB_BYTES" { b += $2 } END { print int(b / n) }')
get || fail "curl with $n idle connections open"
ex curl -sS --max-time 10 -o /dev/null http://198.18.7.2:8080/index.html || fail "a second request"
[ $((tcb1 - tcb0)) -ge "$n" ] || fail "the stack counts $((tcb1 - tcb0)) new control blocks for $n connections"
wstat | grep -E 'packet buffers|connections:'
echo "$n idle connections ($workers workers, $clients clients) opened in $((t1 - t0)) s; per connection: worker RSS" \
	"$(awk -v a="$rss0" -v b="$rss1" -v n="$n" 'BEGIN { printf "%.2f", (b - a) / n }') KiB" \
	"($rss0 -> $rss1 kB), stack's control blocks $tcbsize bytes"
# the client goes: its connections close, and the stack is back to its level
kill -TERM "${hpids[@]}"; wait "${hpids[@]}" 2>/dev/null
for ((i = 0; i < 150; i++)); do
	[ "$(cnt RT_TCP_TCBS)" -le "$tcb0" ] && [ "$(pool)" -le "$pool0" ] && [ "$(fds)" -le "$fds0" ] && break
	sleep 0.2
done
left=$(($(cnt RT_TCP_TCBS) - tcb0))
# several workers: the kernel's queue choice can send a flow's FIN to
# another worker's queue of the tap (DROP_TCP_NOT_OURS there), and the
# connection stays open in its own; said, not checked
if [ "$workers" -gt 1 ] && [ "$left" -gt 0 ]; then
	echo "SKIP-PART: $left of $n connections still open across $workers workers (their FIN reached another worker's queue)"
	still=" (but $left still open)"
	left=0
fi
[ "$left" -le 0 ] || { wstat; fail "control blocks $(cnt RT_TCP_TCBS) after the client left, $tcb0 before"; }
[ "$(pool)" -le "$pool0" ] || fail "packet buffers in use $(pool) after, $pool0 before"
[ "$(fds)" -le "$fds0" ] || fail "nginx has $(fds) fds after, $fds0 before"
get || fail "curl after the connections closed"
echo "idle connections over tap: $n held while serving, control blocks, buffers and fds back to $tcb0, $pool0, $fds0${still:-}"
