#!/usr/bin/env bash
# Two stacks in two processes joined by memif: TCP 64 MiB each way,
# byte-exact, with half-close.
. "$(dirname "$0")/../lib/net.sh"
need_root
. "$DEMI_TOP/tests/interop/lib.sh"

tmp=$(mktemp -d /tmp/demi-memif.XXXXXX)
net_cleanup_add "rm -rf $tmp"
sock=$tmp/memif.sock
ns=$(net_ns_new dmt)

stack_start "$ns" "memif:$sock,role=server" 198.18.9.1/24 server tcp 7
stack_wait_listening
out=$tmp/client.log
"$DEMI_ECHO" -d "memif:$sock,role=client" -a 198.18.9.2/24 -t 120 client tcp 198.18.9.1:7 -n $((64 << 20)) >"$out" 2>&1
grep RESULT "$out"
grep -q "RESULT.* ok=1" "$out" || { cat "$out" "$stack_log"; fail "TCP over memif"; }
stack_stop
echo "memif: two stacks, TCP 64 MiB each way byte-exact"
