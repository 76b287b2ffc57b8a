#!/usr/bin/env bash
# Every socket call of tests/shim/sockcalls.c (return values, errno, bytes)
# is the same on the kernel and under the shim: first with every socket left
# with the kernel (no config, rules that match nothing, rules that bypass
# every listener with a device that cannot start), then with the sockets
# bypassed on a tap whose kernel end is the peer (shim_compare_bypassed):
# the listening, accepted and bound sockets in one pass, the connecting ones
# in the other, argument errors included (EINVAL, EFAULT, EBADF, short
# optlen, truncation).
. "$(dirname "$0")/../lib/shim.sh"
shim_compare "$DEMI_TOP/build/tests/shim/sockcalls"
echo "on the kernel in every run (nothing to bypass): socket() with a bad domain or type, bind" \
	"with a short length (before any socket is decided), calls on a closed number (EBADF), socketpair (AF_UNIX)"
