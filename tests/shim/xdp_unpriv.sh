#!/usr/bin/env bash
# A process that never had root on a shared NIC (device xdp:IF): python's
# http.server run as nobody (setpriv) on a veth.
# - Without capabilities: one line at the default level (warn) naming the
#   capability an AF_XDP socket needs (CAP_NET_RAW) and the others, and the
#   program serves on the kernel.
# - With the capabilities granted (ambient) but the interface not prepared:
#   one line saying to run `demi-run --prepare IF` as root.
# - After `demi-run --prepare IF`: it serves through its stack, and when it
#   exits (still nobody) no XDP program is left on the interface.
. "$(dirname "$0")/../lib/apps.sh"
need_root
need_cmd curl ethtool setpriv
[ -x "$PY" ] || skip "$PY missing"
need_lib
id nobody >/dev/null 2>&1 || skip "no user nobody"
grp=$(id -gn nobody)

sns=$(net_ns_new dxus) kns=$(net_ns_new dxuk)
sdev=$(net_tag dxus) kdev=$(net_tag dxuk)
ip -n "$sns" link add "$sdev" numtxqueues 2 numrxqueues 2 type veth peer name "$kdev" numtxqueues 2 \
	numrxqueues 2 netns "$kns" || fail "veth with 2 queues"
ip -n "$sns" addr add 198.18.25.2/24 dev "$sdev"
ip -n "$sns" link set "$sdev" up
ip -n "$kns" addr add 198.18.25.1/24 dev "$kdev"
ip -n "$kns" link set "$kdev" up
ip netns exec "$kns" ethtool -K "$kdev" tx off >/dev/null || fail "ethtool -K $kdev tx off"
ino=$(ip netns exec "$sns" stat -L -c %i /proc/self/ns/net)
net_cleanup_add "rm -f /run/libdemi/xdp.$ino.$sdev.lock /run/libdemi/xdp.$ino.$sdev.q0.lock /run/libdemi/xdp.$ino.$sdev.q1.lock"
T=$APPS_TMP
mkdir -p "$T/www"
echo "served as nobody" >"$T/www/index.html"
chmod 0755 "$T" "$T/www"; chmod 0644 "$T/www/index.html"
demi_conf "$T/demi.conf" device="xdp:$sdev" listen=8001 level=info
# nobody loads the preload itself: a copy it can read, as the tree may lie
# in a directory only root enters (a mktemp -d clone)
mkdir -p "$T/lib"
cp "$(dirname "$DEMI_LIB")/libdemi.so" "$(dirname "$DEMI_LIB")/libdemi-stack.so" "$T/lib/"
chmod 0755 "$T/lib"; chmod 0644 "$T/lib/"*.so
DEMI_LIB=$T/lib/libdemi.so
unset DEMI_PRELOAD
chmod 0644 "$T/demi.conf"
prog_id() { ip -n "$sns" -d link show "$sdev" | sed -n 's/.*prog\/xdp id \([0-9]*\).*/\1/p' | head -1; }
caps=+net_raw,+net_admin,+sys_admin,+ipc_lock

# serve NAME [SETPRIV OPTION...]: http.server on 8001 as nobody; sets srv
serve() {
	local name=$1; shift
	demi_pre -n "$sns" "$T/demi.conf"
	(trap - INT; exec "${DEMI_PRE[@]}" setpriv --reuid nobody --regid "$grp" --clear-groups "$@" \
		$PY -m http.server 8001 --bind 0.0.0.0 --directory "$T/www") >"$T/$name.log" 2>&1 &
	srv=$!
	net_kill_at_exit $srv
	net_wait_tcp "$kns" 198.18.25.2 8001 20 || { cat "$T/$name.log"; fail "$name: nothing on 8001"; }
}
get() { ip netns exec "$kns" curl -sS --max-time 10 http://198.18.25.2:8001/; }
stop() {
	kill -INT $srv
	for ((i = 0; i < 100; i++)); do kill -0 $srv 2>/dev/null || break; sleep 0.05; done
	kill -0 $srv 2>/dev/null && fail "http.server did not stop on SIGINT"
	wait $srv 2>/dev/null
}
# the stack starts at the first wait: a request makes sure it tried
wait_line() { # LOG PATTERN
	for ((i = 0; i < 100; i++)); do grep -q "$2" "$1" && return 0; sleep 0.1; done
	return 1
}

serve nocaps
[ "$(get)" = "served as nobody" ] || fail "no capabilities: the kernel did not serve"
wait_line "$T/nocaps.log" "stack unavailable" || { cat "$T/nocaps.log"; fail "no capabilities: no line"; }
grep "stack unavailable" "$T/nocaps.log"
[ "$(grep -c "stack unavailable" "$T/nocaps.log")" = 1 ] || fail "no capabilities: not one line"
grep -q "warn: stack unavailable: device 'xdp:$sdev': this process lacks CAP_NET_RAW (an AF_XDP socket needs it), CAP_NET_ADMIN, CAP_SYS_ADMIN, CAP_IPC_LOCK: .*every socket stays with the kernel" \
	"$T/nocaps.log" || fail "no capabilities: the line does not name CAP_NET_RAW and the others"
[ "$(get)" = "served as nobody" ] || fail "no capabilities: the kernel did not serve after the line"
stop

serve unprepared --inh-caps $caps --ambient-caps $caps
get >/dev/null || fail "unprepared: the kernel did not serve"
wait_line "$T/unprepared.log" "stack unavailable" || { cat "$T/unprepared.log"; fail "unprepared: no line"; }
grep "stack unavailable" "$T/unprepared.log"
grep -q "warn: stack unavailable: device 'xdp:$sdev': $sdev was not prepared for this user .*run \`demi-run --prepare $sdev\` as root" \
	"$T/unprepared.log" || fail "unprepared: the line does not say to run demi-run --prepare"
stop

ip netns exec "$sns" "$DEMI_TOP/build/demi-run" --prepare "$sdev" || fail "demi-run --prepare $sdev"
serve prepared --inh-caps $caps --ambient-caps $caps
wait_line "$T/prepared.log" "on the stack" || { cat "$T/prepared.log"; fail "prepared: the listener is not on the stack"; }
[ "$(stat -c %U /proc/$srv)" = nobody ] || fail "the server does not run as nobody"
for ((i = 0; i < 24; i++)); do [ "$(get)" = "served as nobody" ] || fail "prepared: request $i"; done
opens=$("$DEMI_TOP/build/demistat" $srv | awk '$1 == "TCP_PASSIVE_OPENS" {print $2}')
[ "${opens:-0}" -gt 0 ] || { "$DEMI_TOP/build/demistat" $srv; fail "prepared: no connection through the stack"; }
grep "stack unavailable" "$T/prepared.log" && fail "prepared: the stack was unavailable"
[ -n "$(prog_id)" ] || fail "prepared: no XDP program on $sdev"
stop
for ((i = 0; i < 50; i++)); do [ -z "$(prog_id)" ] && break; sleep 0.1; done
[ -z "$(prog_id)" ] || fail "an XDP program is left after the process (nobody) exited"
grep -h "libdemi.*error" "$T/prepared.log" && fail "libdemi logged errors (above)"
echo "as nobody: without capabilities one line naming CAP_NET_RAW; prepared, with them granted, $opens of 24 connections through the stack; nothing left at exit"
