#!/usr/bin/env bash
# A device that cannot start gives one line naming the device and the
# reason, exit status 2, and leaves nothing behind (no counters file, no
# socket file): a missing interface for af_packet and af_xdp, a tap name
# taken by another interface, a memif socket path that is a plain file, a
# memif server whose socket a live server holds, an unknown kind.
. "$(dirname "$0")/../lib/net.sh"
need_root
. "$(dirname "$0")/lib.sh"

ns=$(net_ns_new der)
tmp=$(mktemp -d /tmp/demi-err.XXXXXX)
net_cleanup_add "rm -rf $tmp"

expect_error() { # device reason-regex
	local dev=$1 want=$2 out rc
	out=$(ip netns exec "$ns" "$DEMI_ECHO" -d "$dev" -a 198.18.2.2/24 -t 5 serve 2>&1)
	rc=$?
	echo "$dev -> exit $rc: $out"
	[ $rc -eq 2 ] || fail "$dev: exit $rc, want 2"
	[ "$(echo "$out" | grep -c .)" -eq 1 ] || fail "$dev: more than one line of output"
	echo "$out" | grep -qF "device '$dev'" || fail "$dev: the line does not name the device"
	echo "$out" | grep -qE "$want" || fail "$dev: the reason does not match /$want/"
}

expect_error "af_packet:dnoif0" "no port.*No such device"
expect_error "af_xdp:dnoif0" "no port.*dnoif0"
ip -n "$ns" link add dtaken0 type veth peer name dtaken1
expect_error "tap:dtaken0" "dtaken0 exists and is not a tap"
echo plain >"$tmp/file.sock"
expect_error "memif:$tmp/file.sock,role=server" "not a socket"
stack_start "$ns" "memif:$tmp/live.sock,role=server" 198.18.2.1/24 serve
for ((i = 0; i < 100; i++)); do [ -S "$tmp/live.sock" ] && break; sleep 0.05; done
expect_error "memif:$tmp/live.sock,role=server" "another memif server"
stack_stop
expect_error "memif:$tmp/x.sock" "role=server or role=client"
expect_error "eth:x" "unknown kind"
ls "$tmp"/*.sock 2>/dev/null | grep -v file.sock && fail "a socket file was left behind"
echo "device errors: one clear line each, exit 2, nothing left behind"
