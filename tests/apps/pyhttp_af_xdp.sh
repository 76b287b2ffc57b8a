#!/usr/bin/env bash
# python3 -m http.server (a thread per request: the stack is driven by several
# threads, none of them an EAL lcore, so mbufs come from the whole pool rather
# than lcore 0's cache) under libdemi on af_xdp over a veth pair, the kernel
# with curl on the other end: 16 MiB four times in a row, then four at once,
# then once more; every byte is compared. Each download cycles more mbufs than
# the pool holds, so an mbuf outside the af_xdp UMEM (the kernel rejects its
# descriptors: sends stall, then the port goes dead) cannot go unnoticed.
# KIND=af_packet runs the same on af_packet (tests/apps/pyhttp_af_packet.sh).
. "$(dirname "$0")/../lib/apps.sh"
need_root
need_cmd curl ethtool
[ -x "$PY" ] || skip "$PY missing"
need_lib

net_veth_pair dx 198.18.9.1/24
sns=$NET_SNS kns=$NET_KNS sdev=$NET_SDEV kdev=$NET_KDEV
T=$APPS_TMP

mkdir -p "$T/www"
head -c $((16 << 20)) /dev/urandom >"$T/www/big.bin"
want=$(apps_sha "$T/www/big.bin")
KIND=${KIND:-af_xdp}
demi_conf "$T/demi.conf" device="$KIND:$sdev" address=198.18.9.2/24 listen=8000 level=info
# started directly (not through demi_run) so that $! is the server itself;
# SIGINT back to its default (a background job ignores it, and python then
# installs no KeyboardInterrupt), so the stop below is http.server's own
demi_pre -n "$sns" "$T/demi.conf"
(trap - INT; exec "${DEMI_PRE[@]}" $PY -m http.server 8000 --bind 0.0.0.0 --directory "$T/www") \
	>"$T/http.log" 2>&1 &
srv=$!
net_kill_at_exit $srv
net_wait_tcp "$kns" 198.18.9.2 8000 20 || { apps_logs "$T/http.log"; fail "http.server on 198.18.9.2:8000 unreachable"; }
apps_bypassed "$T/http.log" || { apps_logs "$T/http.log"; fail "http.server's listener is not on the stack"; }

kx() { ip netns exec "$kns" "$@"; }
get() { kx curl -sS --max-time 30 -o "$1" http://198.18.9.2:8000/big.bin; }
check() { # FILE WHAT
	[ "$(apps_sha "$1")" = "$want" ] && return 0
	apps_logs "$T/http.log"
	ip -n "$sns" -s link show "$sdev"
	"$DEMI_TOP/build/demistat" "$srv" 2>&1 | head -40
	fail "$2: $(stat -c %s "$1" 2>/dev/null || echo 0) of $((16 << 20)) bytes, or bytes differ"
}

for i in 1 2 3 4; do
	get "$T/seq.$i"
	check "$T/seq.$i" "download $i in a row"
done
pids=()
for i in 1 2 3 4; do
	get "$T/par.$i" &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
for i in 1 2 3 4; do check "$T/par.$i" "parallel download $i"; done
get "$T/last"
check "$T/last" "the download after the parallel ones"
# af_xdp and af_packet have no rx interrupt: an idle stack sleeps on the
# driver's socket, which the device's frames wake (not a timer's naps);
# read from the live server
woke=$("$DEMI_TOP/build/demistat" "$srv" | awk '$1 == "RT_WAKE_DEVICE" {print $2}')
[ "${woke:-0}" -gt 0 ] || { "$DEMI_TOP/build/demistat" "$srv"; fail "no sleep ended by the device"; }
# a graceful stop: Ctrl-C's KeyboardInterrupt, status 0 within 5 s, and the
# stack removed its counters file at exit
kill -INT $srv 2>/dev/null
for ((i = 0; i < 100; i++)); do kill -0 $srv 2>/dev/null || break; sleep 0.05; done
kill -0 $srv 2>/dev/null && { kill -9 $srv; fail "http.server did not stop on SIGINT within 5 s"; }
wait $srv
rc=$?
[ $rc -eq 0 ] || { apps_logs "$T/http.log"; fail "http.server exited $rc on SIGINT, want 0"; }
grep -q "Keyboard interrupt received" "$T/http.log" || { apps_logs "$T/http.log"; fail "http.server did not see the SIGINT"; }
ls /dev/shm/demi."$srv".* >/dev/null 2>&1 && fail "http.server left /dev/shm/demi.$srv.* at exit"
echo "python3 http.server on $KIND over veth: 9 x 16 MiB, 4 of them at once, byte-exact; $woke sleeps ended by frames"
