#!/usr/bin/env bash
# Bad input for the shared NIC (device xdp:IF), each under the preload with
# on_error = kernel at the default log level: exactly one line naming the
# interface and the reason, and the program then runs on the kernel (its
# listener serves a client from the other namespace). A missing interface
# (with and without [net] address), an interface without XDP support (a tun:
# no Ethernet frames), a queue the interface does not have, and a foreign
# XDP program already attached (named, with its id). No bpffs case: the
# device pins nothing.
. "$(dirname "$0")/../lib/net.sh"
need_root
PY=/usr/bin/python3
[ -x "$PY" ] || skip "$PY missing"
BPF_CC=${BPF_CC:-clang}
need_cmd "$BPF_CC"

net_veth_pair dxr 198.18.16.1/24
sns=$NET_SNS kns=$NET_KNS sdev=$NET_SDEV
net_cleanup_add "rm -f /run/libdemi/xdp.*.$sdev.*" # the queues' lock files (xdp/share.c)
ip -n "$sns" addr add 198.18.16.2/24 dev "$sdev" || fail "address on $sdev"
tun=$(net_tag dxrt)
ip -n "$sns" tuntap add "$tun" mode tun || fail "tun $tun"
ip -n "$sns" link set "$tun" up
T=$(mktemp -d /tmp/demi-xdperr.XXXXXX)
net_cleanup_add "rm -rf $T"

cat >"$T/srv.py" <<'PYEOF'
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8080)); s.listen(); s.settimeout(15)
while True:
    c, a = s.accept(); c.sendall(b"from the kernel\n"); c.close()
PYEOF

# expect DEVICE REGEX [KEY=VALUE...]: one line matching REGEX and naming the
# interface; the listener still serves (on the kernel)
expect() {
	local dev=$1 want=$2 ifname got out; shift 2
	ifname=${dev#xdp:}; ifname=${ifname%%,*}
	demi_conf "$T/demi.conf" device="$dev" listen=8080 on_error=kernel "$@"
	demi_pre -n "$sns" "$T/demi.conf"
	"${DEMI_PRE[@]}" "$PY" "$T/srv.py" >"$T/out" 2>&1 &
	local pid=$!
	net_kill_at_exit $pid
	net_wait_tcp "$kns" 198.18.16.2 8080 20 || { cat "$T/out"; fail "$dev: nothing listens on 8080"; }
	got=$(ip netns exec "$kns" "$PY" -c 'import socket; print(socket.create_connection(("198.18.16.2", 8080), 10).makefile().readline().strip())')
	kill $pid; wait $pid 2>/dev/null
	out=$(cat "$T/out")
	echo "$dev -> $out"
	[ "$got" = "from the kernel" ] || fail "$dev: the client got '$got', not the kernel's answer"
	[ "$(grep -c . "$T/out")" -eq 1 ] || fail "$dev: not one line"
	echo "$out" | grep -qF "$ifname" || fail "$dev: the line does not name $ifname"
	echo "$out" | grep -qE "$want" || fail "$dev: the reason does not match /$want/"
	echo "$out" | grep -q "every socket stays with the kernel" || fail "$dev: the line does not say the kernel serves"
}

expect "xdp:dnoif0" "no interface dnoif0"
expect "xdp:dnoif0" "no interface dnoif0" address=198.18.16.2/24
expect "xdp:$tun" "no XDP support.*not an Ethernet" address=198.18.16.2/24
expect "xdp:$sdev,queue=1" "has 1 queue.*queue 1 asked"

# a foreign program: a plain XDP_PASS, attached as an administrator would
cat >"$T/other.c" <<'CEOF'
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("xdp") int other_fw(struct xdp_md *c) { return XDP_PASS; }
char _license[] SEC("license") = "GPL";
CEOF
"$BPF_CC" -target bpf -O2 -I"/usr/include/$(cc -print-multiarch)" -c "$T/other.c" -o "$T/other.o" ||
	fail "cannot build the foreign program"
ip -n "$sns" link set "$sdev" xdp obj "$T/other.o" sec xdp || fail "cannot attach the foreign program"
id=$(ip -n "$sns" -d link show "$sdev" | sed -n 's/.*prog\/xdp id \([0-9]*\).*/\1/p' | head -1)
[ -n "$id" ] || fail "no id for the foreign program"
expect "xdp:$sdev" "another XDP program attached: other_fw \\(id $id\\)"
ip -n "$sns" -d link show "$sdev" | grep -q "id $id " || fail "the foreign program was removed"
ip -n "$sns" link set "$sdev" xdp off
echo "xdp: bad input: one line each naming the interface and the reason, the kernel serves"
