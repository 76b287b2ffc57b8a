#!/usr/bin/env bash
# Two independent processes share one interface (device xdp:IF, no queue
# named): a veth with 2 queues, two python http.servers under libdemi on
# ports 8001 and 8002 of the interface's own address. They share one XDP
# program (one id) and each takes a queue of its own; both serve from the
# other namespace through their stacks. The one on 8001 is SIGKILLed: the
# program stays (same id) and the other keeps serving. A third process
# then takes the freed queue and clears what the killed one left there
# (its port 8001). An af_xdp process on the interface is refused in one
# line naming the shared program. After the last one leaves (one by SIGINT, one by
# SIGKILL), no XDP program is left on the interface and the kernel serves
# every port again.
. "$(dirname "$0")/../lib/apps.sh"
need_root
need_cmd curl ethtool
[ -x "$PY" ] || skip "$PY missing"
need_lib

sns=$(net_ns_new dx2s) kns=$(net_ns_new dx2k)
sdev=$(net_tag dx2s) kdev=$(net_tag dx2k)
net_cleanup_add "rm -f /run/libdemi/xdp.*.$sdev.*" # the queues' lock files (xdp/share.c)
ip -n "$sns" link add "$sdev" numtxqueues 2 numrxqueues 2 type veth peer name "$kdev" numtxqueues 2 \
	numrxqueues 2 netns "$kns" || fail "veth with 2 queues"
ip -n "$sns" addr add 198.18.21.2/24 dev "$sdev"
ip -n "$sns" link set "$sdev" up
ip -n "$kns" addr add 198.18.21.1/24 dev "$kdev"
ip -n "$kns" link set "$kdev" up
ip netns exec "$kns" ethtool -K "$kdev" tx off >/dev/null || fail "ethtool -K $kdev tx off"
T=$APPS_TMP
mkdir -p "$T/www"
echo "hello from a shared interface" >"$T/www/index.html"
kx() { ip netns exec "$kns" "$@"; }
stat_of() { "$DEMI_TOP/build/demistat" "$1" 2>&1; }
prog_id() { ip -n "$sns" -d link show "$sdev" | sed -n 's/.*prog\/xdp id \([0-9]*\).*/\1/p' | head -1; }
ctr() { stat_of "$1" | awk -v n="$2" '$1 == n {v = $2} END {print v + 0}'; }

# serve PORT: an http.server under libdemi on PORT; sets srv
serve() {
	demi_conf "$T/d$1.conf" device="xdp:$sdev" listen="$1" level=info
	demi_pre -n "$sns" "$T/d$1.conf"
	(trap - INT; exec "${DEMI_PRE[@]}" $PY -m http.server "$1" --bind 0.0.0.0 --directory "$T/www") \
		>"$T/http$1.log" 2>&1 &
	srv=$!
	net_kill_at_exit $srv
	net_wait_tcp "$kns" 198.18.21.2 "$1" 20 || { apps_logs "$T/http$1.log"; fail "no server on port $1"; }
	# the stack starts at the first wait: until its queue shows in demistat
	for ((i = 0; i < 100; i++)); do stat_of $srv | grep -q "queue [01]: pid $srv," && break; sleep 0.1; done
	stat_of $srv | grep -q "queue [01]: pid $srv," || { stat_of $srv; apps_logs "$T/http$1.log"; fail "port $1: no queue"; }
	apps_bypassed "$T/http$1.log" || { apps_logs "$T/http$1.log"; fail "port $1 is not on the stack"; }
}
# fetch PORT N: N requests, each a new connection (the peer's queue choice
# is per connection); all must succeed
fetch() {
	for ((i = 0; i < $2; i++)); do
		got=$(kx curl -sS --max-time 10 "http://198.18.21.2:$1/") || { for p in ${a:-} ${b:-} ${c:-}; do stat_of $p; done | grep -v "^ *[A-Z_]* *0$" | head -80; fail "port $1: request $i failed"; }
		[ "$got" = "hello from a shared interface" ] || fail "port $1: request $i got '$got'"
	done
}

serve 8001; a=$srv
serve 8002; b=$srv
id=$(prog_id)
[ -n "$id" ] || fail "no XDP program on $sdev"
stat_of $b >"$T/stat1.txt"
sed -n '/^  xdp:/,$p' "$T/stat1.txt"
qa=$(sed -n "s/^    queue \([01]\): pid $a,.*/\1/p" "$T/stat1.txt")
qb=$(sed -n "s/^    queue \([01]\): pid $b,.*/\1/p" "$T/stat1.txt")
[ -n "$qa" ] && [ -n "$qb" ] && [ "$qa" != "$qb" ] || fail "not one queue each (8001: '$qa', 8002: '$qb')"
grep -q "xdp: program demi_steer id $id on $sdev (native)" "$T/stat1.txt" || fail "demistat: not the program $id"
grep -q "listen ports (port/queue):.* 8001/$qa" "$T/stat1.txt" || fail "demistat: no 8001 on queue $qa"
grep -q "listen ports (port/queue):.* 8002/$qb" "$T/stat1.txt" || fail "demistat: no 8002 on queue $qb"

fetch 8001 24
fetch 8002 24
# a SYN on the other process's queue goes to the kernel (the listener's
# kernel twin there); with 24 connections each, both stacks took some
oa=$(ctr $a TCP_PASSIVE_OPENS) ob=$(ctr $b TCP_PASSIVE_OPENS)
echo "through the stacks: 8001 $oa, 8002 $ob of 24 connections each"
[ "$oa" -gt 0 ] && [ "$ob" -gt 0 ] || fail "a stack served no connection (8001: $oa, 8002: $ob)"

kill -9 $a
wait $a 2>/dev/null
[ "$(prog_id)" = "$id" ] || fail "the program changed or left with the killed process ($(prog_id), was $id)"
ob1=$(ctr $b TCP_PASSIVE_OPENS)
fetch 8002 24
ob2=$(ctr $b TCP_PASSIVE_OPENS)
[ "$ob2" -gt "$ob1" ] || fail "8002's stack served nothing after the other was killed"
echo "8001 killed: program $id stays, 8002 served 24 more ($((ob2 - ob1)) through its stack)"

# an af_xdp device on the shared interface would take the program over:
# refused in one line, the program untouched
demi_conf "$T/afx.conf" device="af_xdp:$sdev" address=198.18.21.2/24 listen=8009
demi_run -n "$sns" "$T/afx.conf" $PY -c '
import socket
s = socket.socket(); s.bind(("0.0.0.0", 8009)); s.listen(); s.settimeout(0.3)
try:
    s.accept()  # the first wait starts the stack
except socket.timeout:
    print("waited")
' >"$T/afx.log" 2>&1 || { cat "$T/afx.log"; fail "the af_xdp process failed"; }
grep -q "warn: stack unavailable: device 'af_xdp:$sdev': $sdev is shared with the kernel by xdp:$sdev processes (libdemi's program, id $id)" \
	"$T/afx.log" || { cat "$T/afx.log"; fail "af_xdp on the shared interface: no line naming the shared program"; }
[ "$(prog_id)" = "$id" ] || fail "the af_xdp process changed the program"
fetch 8002 4

# a third process takes the killed one's queue and clears its entries
serve 8003; c=$srv
stat_of $c >"$T/stat2.txt"
sed -n '/^  xdp:/,$p' "$T/stat2.txt"
grep -q "queue $qa: pid $c," "$T/stat2.txt" || fail "the third process did not take the freed queue $qa"
grep -q "8001/" "$T/stat2.txt" && fail "the killed process's port 8001 is still steered"
grep -q "listen ports (port/queue):.* 8003/$qa" "$T/stat2.txt" || fail "demistat: no 8003 on queue $qa"
[ "$(prog_id)" = "$id" ] || fail "the program was replaced when the third process came"
fetch 8003 8
fetch 8002 8

kill -INT $b
for ((i = 0; i < 100; i++)); do kill -0 $b 2>/dev/null || break; sleep 0.05; done
kill -0 $b 2>/dev/null && fail "8002 did not stop on SIGINT"
[ "$(prog_id)" = "$id" ] || fail "the program left while a process still uses it"
fetch 8003 8
kill -9 $c
wait $c 2>/dev/null
for ((i = 0; i < 50; i++)); do [ -z "$(prog_id)" ] && break; sleep 0.1; done
[ -z "$(prog_id)" ] || fail "an XDP program is left on $sdev after every process left: $(prog_id)"
for p in 8001 8002 8003; do
	ip netns exec "$sns" $PY -m http.server $p --bind 198.18.21.2 --directory "$T/www" >/dev/null 2>&1 &
	net_kill_at_exit $!
	net_wait_tcp "$kns" 198.18.21.2 $p 20 || fail "the kernel does not serve port $p"
	fetch $p 2
done
echo "all gone: no XDP program on $sdev, the kernel serves 8001-8003"
