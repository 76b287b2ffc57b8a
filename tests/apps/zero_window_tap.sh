#!/usr/bin/env bash
# A reader that stops reading: nginx under libdemi on a tap sends 32 MiB to
# a kernel client (tests/apps/zerowin.py, 64 KiB receive buffer) that reads
# the first 1 MiB, then nothing for ZW_SECS (default 30; `make soak`: 600),
# then the rest. The worker's packet buffers in use and resident memory are
# sampled every ZW_SECS/10 once the window has closed (after 3 s).
# Checks: the connection survives on zero-window probes (counted, more
# than one), the buffers in use never exceed their first sample and the
# memory grows by less than 1 MiB over the pause, and the body arrives
# byte-exact once reading resumes.
. "$(dirname "$0")/../lib/apps.sh"
need_root
need_cmd nginx
need_lib

secs=${ZW_SECS:-30}
ns=$(net_ns_new dzw)
tap=$(net_tag dzwt)
tmp=$(mktemp -d /tmp/demi-zw.XXXXXX)
net_cleanup_add "rm -rf $tmp"
mkdir -p "$tmp/www" "$tmp/logs"
head -c $((32 << 20)) /dev/urandom >"$tmp/www/big"
chmod 0755 "$tmp" "$tmp/www"; chmod 0644 "$tmp/www/"*
demi_conf "$tmp/demi.conf" device="tap:$tap" address=198.18.7.2/24 listen=8080 level=info
# nginx's own timeout would end a connection that makes no progress
apps_nginx_conf "$tmp" "$tmp/www" 8080 "send_timeout 3600s"
demi_pre -n "$ns" "$tmp/demi.conf"
"${DEMI_PRE[@]}" nginx -p "$tmp" -c "$tmp/nginx.conf" >"$tmp/logs/stdout" 2>&1 &
pid=$!
net_cleanup_add "kill -9 $pid; pkill -9 -f 'nginx.*$tmp'"
net_tap_attach "$ns" "$tap" 198.18.7.1/24 || { cat "$tmp/logs/"*; fail "tap $tap never appeared"; }
net_wait_tcp "$ns" 198.18.7.2 8080 20 || { cat "$tmp/logs/"*; fail "nginx on 198.18.7.2:8080 unreachable"; }
wpid=$(pgrep -P "$pid" nginx | head -1)
[ -n "$wpid" ] || fail "no nginx worker"
cnt() { "$DEMI_TOP/build/demistat" "$wpid" 2>/dev/null | awk -v k="$1" '$1 == k { s += $2 } END { print s + 0 }'; }
pool() { "$DEMI_TOP/build/demistat" "$wpid" 2>/dev/null | awk '/packet buffers:/ { print $3 }'; }
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$wpid/status"; }

ip netns exec "$ns" "$PY" "$DEMI_TOP/tests/apps/zerowin.py" 198.18.7.2 8080 /big "$secs" >"$tmp/client.out" 2>&1 &
cpid=$!
net_kill_at_exit $cpid
for ((i = 0; i < 300; i++)); do grep -q paused "$tmp/client.out" && break; sleep 0.1; done
grep -q paused "$tmp/client.out" || { cat "$tmp/client.out"; fail "the client never got its first MiB"; }
sleep 3 # the window closes: the client's buffer and the sender's fill
probes0=$(cnt TCP_PERSIST_PROBES) pool0=$(pool) rss0=$(rss) poolmax=0 rssmax=0
for ((i = 0; i < 10; i++)); do
	grep -q reading "$tmp/client.out" && break
	p=$(pool) r=$(rss)
	[ "$p" -gt "$poolmax" ] && poolmax=$p
	[ "$r" -gt "$rssmax" ] && rssmax=$r
	sleep "$(awk -v s="$secs" 'BEGIN { print (s - 3) / 10 }')"
done
probes1=$(cnt TCP_PERSIST_PROBES)
wait $cpid || { cat "$tmp/client.out"; "$DEMI_TOP/build/demistat" -c "$wpid"; fail "the client"; }
cat "$tmp/client.out"
want=$(apps_sha "$tmp/www/big")
echo "paused ${secs} s: zero-window probes $((probes1 - probes0)) (over the pause), packet buffers in use" \
	"$pool0 first, $poolmax at most; worker RSS $rss0 kB first, $rssmax kB at most"
grep -q "^RESULT bytes=$((32 << 20)) sha256=$want\$" "$tmp/client.out" || fail "the body differs"
[ $((probes1 - probes0)) -ge 2 ] || fail "no zero-window probes over the pause"
[ "$poolmax" -le "$pool0" ] || fail "packet buffers in use grew from $pool0 to $poolmax"
[ $((rssmax - rss0)) -lt 1024 ] || fail "the worker's RSS grew from $rss0 to $rssmax kB"
echo "zero window over tap: ${secs} s without reading, probes sent, no growth, 32 MiB byte-exact"
