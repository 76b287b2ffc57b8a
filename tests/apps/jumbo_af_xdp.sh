#!/usr/bin/env bash
# Jumbo frames: [net] mtu = 9000 on af_xdp over a veth. af_xdp's frames are
# page-sized, so the stack takes the largest MTU that fits one (about 3300;
# tap and memif in DPDK 22.11 take only 1500), sizes its packet buffers for
# whole packets, sets the interface's MTU and advertises the MSS that goes
# with it; the kernel's end has MTU 3000. Both directions, byte-exact:
# python3's http.server under libdemi serves 16 MiB to a kernel curl (the
# stack sends big frames), then curl under libdemi downloads 16 MiB from a
# kernel http.server (the stack receives them). The frames' average size on
# the kernel's end shows the big segments were really used.
. "$(dirname "$0")/../lib/apps.sh"
need_root
need_cmd curl ethtool
[ -x "$PY" ] || skip "$PY missing"
need_lib

net_veth_pair dj 198.18.9.1/24 3000
sns=$NET_SNS kns=$NET_KNS sdev=$NET_SDEV kdev=$NET_KDEV

T=$APPS_TMP
mkdir -p "$T/www"
head -c $((16 << 20)) /dev/urandom >"$T/www/big.bin"
kx() { ip netns exec "$kns" "$@"; }
conf() { # FILE BYPASS-KEY=VALUE
	demi_conf "$1" device="af_xdp:$sdev" address=198.18.9.2/24 mtu=9000 "$2" level=info
}
# avg_frame rx|tx : bytes per frame counted on the kernel's end
avg_frame() {
	ip -n "$kns" -s -j link show "$kdev" |
		$PY -c 'import json,sys; s=json.load(sys.stdin)[0]["stats64"][sys.argv[1]]; print(s["bytes"] // max(1, s["packets"]))' "$1"
}
if_mtu() { ip -n "$sns" -j link show "$sdev" | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["mtu"])'; }

# 1. the stack sends: a server under the shim
conf "$T/srv.conf" listen=8000
# not through a shell function: $! must be the server itself, to stop it
demi_pre -n "$sns" "$T/srv.conf"
"${DEMI_PRE[@]}" $PY -c 'import http.server as h, functools as f, sys
h.HTTPServer(("", 8000), f.partial(h.SimpleHTTPRequestHandler, directory=sys.argv[1])).serve_forever()' \
	"$T/www" >"$T/srv.log" 2>&1 &
srv=$!
net_kill_at_exit $srv
net_wait_tcp "$kns" 198.18.9.2 8000 20 || { apps_logs "$T/srv.log"; fail "http.server on the stack unreachable"; }
apps_bypassed "$T/srv.log" || { apps_logs "$T/srv.log"; fail "the listener is not on the stack"; }
m=$(if_mtu)
[ "$m" -gt 3000 ] && [ "$m" -le 3542 ] || fail "the stack's interface has MTU $m, not af_xdp's largest"
kx curl -sS --max-time 30 -o "$T/got1" http://198.18.9.2:8000/big.bin || { apps_logs "$T/srv.log"; fail "curl from the stack"; }
[ "$(apps_sha "$T/www/big.bin")" = "$(apps_sha "$T/got1")" ] || fail "download from the stack differs ($(stat -c %s "$T/got1") bytes)"
sent=$(avg_frame rx)
[ "$sent" -gt 2000 ] || fail "the stack's frames average $sent bytes: no big frames"
kill $srv; wait $srv 2>/dev/null

# 2. the stack receives: curl under the shim, a kernel server
kx $PY -m http.server 8001 --bind 0.0.0.0 --directory "$T/www" >"$T/ksrv.log" 2>&1 &
net_kill_at_exit $!
net_wait_tcp "$kns" 198.18.9.1 8001 20 || fail "kernel http.server did not start"
conf "$T/cli.conf" connect=198.18.9.0/24
tx0=$(ip -n "$kns" -s -j link show "$kdev" | $PY -c 'import json,sys; s=json.load(sys.stdin)[0]["stats64"]["tx"]; print(s["bytes"], s["packets"])')
demi_run -n "$sns" "$T/cli.conf" curl -sS --max-time 40 --retry 0 -o "$T/got2" http://198.18.9.1:8001/big.bin \
	>"$T/cli.log" 2>&1 || { apps_logs "$T/cli.log" "$T/ksrv.log"; fail "curl under the shim"; }
grep -q "on the stack" "$T/cli.log" || { apps_logs "$T/cli.log"; fail "curl's socket was not bypassed"; }
[ "$(apps_sha "$T/www/big.bin")" = "$(apps_sha "$T/got2")" ] || fail "download to the stack differs ($(stat -c %s "$T/got2") bytes)"
got=$(ip -n "$kns" -s -j link show "$kdev" | $PY -c 'import json,sys; s=json.load(sys.stdin)[0]["stats64"]["tx"]; b0,p0=map(int,sys.argv[1:]); print((s["bytes"]-b0)//max(1,s["packets"]-p0))' $tx0)
[ "$got" -gt 2000 ] || fail "frames to the stack average $got bytes: no big frames"
echo "MTU $m on af_xdp (9000 asked): 16 MiB each way byte-exact; frames averaged $sent bytes from the stack, $got to it"
