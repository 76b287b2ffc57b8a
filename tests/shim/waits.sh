#!/usr/bin/env bash
# epoll, poll and select (tests/shim/waits.c) see the same readiness
# sequences and errors on the kernel and under the shim: first with every
# socket left with the kernel (including a listener that changes sides while
# it is in an epoll set), then with the sockets bypassed on a tap whose
# kernel end is the peer (shim_compare_bypassed), the listening and accepted
# sockets in one pass, the connecting ones in the other.
. "$(dirname "$0")/../lib/shim.sh"
shim_compare "$DEMI_TOP/build/tests/shim/waits"
echo "on the kernel in every run: the pipes in the sets, epoll_create errors, and fds that are no socket" \
	"(/dev/null, an unopened number)"
