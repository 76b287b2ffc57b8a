#!/usr/bin/env bash
# nginx under libdemi on a tap, served to a legitimate client (wrk with 100
# connections, curl opening a new connection every second) from the tap's
# namespace while tools/synflood sends SYNs from random sources in
# 198.18.128.0/17 for 8 s at 40,000 a second (SYNFLOOD_PPS; 0: as fast as
# it can, which on a tap makes some of wrk's requests time out). The stack
# routes its SYN-ACKs to those sources through the gateway (the tap's kernel
# end, which does not forward them).
# Checks: no wrk socket error, every curl succeeds, SYN cookies were sent,
# the worker's RSS grows by less than 50 MB, and the stack's packet buffers
# in use return to their idle level. Requests/s are printed, not asserted.
. "$(dirname "$0")/../lib/apps.sh"
need_root
need_cmd nginx curl wrk
need_lib
[ -x "$DEMI_TOP/build/synflood" ] || skip "build/synflood not built"

ns=$(net_ns_new dsf)
tap=$(net_tag dsft)
tmp=$(mktemp -d /tmp/demi-synflood.XXXXXX)
net_cleanup_add "rm -rf $tmp"
mkdir -p "$tmp/www" "$tmp/logs"
head -c 1024 /dev/urandom | base64 -w 64 | head -c 1024 >"$tmp/www/index.html"
chmod 0755 "$tmp" "$tmp/www"; chmod 0644 "$tmp/www/"*
demi_conf "$tmp/demi.conf" device="tap:$tap" address=198.18.7.2/24 gateway=198.18.7.1 listen=8080 level=info
apps_nginx_conf "$tmp" "$tmp/www" 8080 "keepalive_requests 100000"
demi_pre -n "$ns" "$tmp/demi.conf"
"${DEMI_PRE[@]}" nginx -p "$tmp" -c "$tmp/nginx.conf" >"$tmp/logs/stdout" 2>&1 &
pid=$!
net_cleanup_add "kill -9 $pid; pkill -9 -f 'nginx.*$tmp'"
net_tap_attach "$ns" "$tap" 198.18.7.1/24 || { cat "$tmp/logs/"*; fail "tap $tap never appeared"; }
net_wait_tcp "$ns" 198.18.7.2 8080 20 || { cat "$tmp/logs/"*; fail "nginx on 198.18.7.2:8080 unreachable"; }

ex() { ip netns exec "$ns" "$@"; }
wpid=$(pgrep -P "$pid" nginx | head -1)
[ -n "$wpid" ] || fail "no nginx worker"
cnt() { "$DEMI_TOP/build/demistat" "$wpid" 2>/dev/null | awk -v k="$1" '$1 == k { s += $2 } END { print s + 0 }'; }
pool() { "$DEMI_TOP/build/demistat" "$wpid" 2>/dev/null | awk '/packet buffers:/ { print $3 }'; }
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$wpid/status"; }

# wrk_run NAME : wrk -c100 for 8 s; fails on socket errors; sets rps
wrk_run() {
	ex wrk -t2 -c100 -d8s --latency http://198.18.7.2:8080/index.html >"$tmp/wrk.$1" 2>&1 ||
		fail "wrk: $(cat "$tmp/wrk.$1")"
	grep -q "Socket errors" "$tmp/wrk.$1" && { cat "$tmp/wrk.$1"; "$DEMI_TOP/build/demistat" "$wpid"; fail "wrk saw socket errors ($1)"; }
	grep -q "Non-2xx" "$tmp/wrk.$1" && { cat "$tmp/wrk.$1"; fail "wrk saw non-2xx responses ($1)"; }
	rps=$(awk '/^Requests\/sec/ { print $2 }' "$tmp/wrk.$1")
}

ex curl -sS --max-time 5 -o /dev/null http://198.18.7.2:8080/index.html || fail "curl before the flood"
sleep 0.5
pool0=$(pool) rss0=$(rss) sent0=$(cnt TCP_COOKIES_SENT)
wrk_run calm; calm=$rps

# curl: a new connection every second, each must succeed
(
	for i in $(seq 9); do
		if ex curl -sS --max-time 5 -o /dev/null http://198.18.7.2:8080/index.html 2>>"$tmp/curl.err"; then
			echo ok; else echo bad; fi
		sleep 1
	done
) >"$tmp/curl.out" &
cpid=$!
net_kill_at_exit $cpid
ex "$DEMI_TOP/build/synflood" 198.18.7.2 8080 198.18.128.0/17 8 "${SYNFLOOD_PPS:-40000}" >"$tmp/flood.out" 2>&1 &
fpid=$!
net_kill_at_exit $fpid
wrk_run flood; flooded=$rps
wait $fpid || fail "synflood: $(cat "$tmp/flood.out")"
wait $cpid
rss1=$(rss) sent1=$(cnt TCP_COOKIES_SENT)
cat "$tmp/flood.out"
echo "requests/s: $calm unflooded, $flooded flooded; cookies sent $((sent1 - sent0)); RSS ${rss0} -> ${rss1} kB"
ok=$(grep -c '^ok' "$tmp/curl.out")
[ "$ok" -eq 9 ] || fail "only $ok of 9 new curl connections succeeded: $(cat "$tmp/curl.err")"
[ $((sent1 - sent0)) -gt 0 ] || { "$DEMI_TOP/build/demistat" "$wpid"; fail "no SYN cookie was sent under the flood"; }
[ $((rss1 - rss0)) -lt $((50 << 10)) ] || fail "the worker's RSS grew from $rss0 to $rss1 kB"
# the flood's SYN-ACKs and the client's buffers drain back to the idle level
for _ in $(seq 50); do [ "$(pool)" -le "$pool0" ] && break; sleep 0.1; done
[ "$(pool)" -le "$pool0" ] || { "$DEMI_TOP/build/demistat" "$wpid"; fail "packet buffers in use $(pool) after the flood, $pool0 before"; }
echo "synflood over tap: 9/9 new connections, no wrk error, cookies sent, RSS +$((rss1 - rss0)) kB, pool back to $pool0"
