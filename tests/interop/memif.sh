#!/usr/bin/env bash
# Two stacks in two processes joined by memif (no kernel on the path):
# UDP 2000 datagrams, byte-exact; the server's socket file goes with a
# clean exit, and one left by a killed server is reclaimed by the next.
# (TCP over memif: memif_tcp.sh.) Both ends busy-poll: runs are short.
. "$(dirname "$0")/../lib/net.sh"
need_root
. "$(dirname "$0")/lib.sh"

tmp=$(mktemp -d /tmp/demi-memif.XXXXXX)
net_cleanup_add "rm -rf $tmp"
sock=$tmp/memif.sock
ns=$(net_ns_new dmf) # only to reuse stack_start; memif needs no network

run_client() { # expected-regex args...
	local want=$1 out rc; shift
	out=$tmp/client.log
	"$DEMI_ECHO" -d "memif:$sock,role=client" -a 198.18.9.2/24 -t 120 "$@" >"$out" 2>&1
	rc=$?
	echo "client $*: $(grep RESULT "$out")"
	grep -qE "RESULT.*$want" "$out" || { cat "$out" "$stack_log"; fail "memif client $* (exit $rc)"; }
}


stack_start "$ns" "memif:$sock,role=server" 198.18.9.1/24 server udp 7
stack_wait_listening
kill -9 "$stack_pid"; wait "$stack_pid" 2>/dev/null
rm -f "/dev/shm/demi.$stack_pid.0"
[ -S "$sock" ] || fail "a killed server left no socket file (nothing to reclaim)"
stack_start "$ns" "memif:$sock,role=server" 198.18.9.1/24 server udp 7
stack_wait_listening
echo "memif: the socket file a killed server left was reclaimed"
run_client "ok=1" client udp 198.18.9.1:7 -n 2000 -s 512
stack_stop
[ ! -e "$sock" ] || fail "the socket file outlived a clean exit"
echo "memif: two stacks, UDP byte-exact, socket file handled"
