#!/usr/bin/env bash
# epoll, poll and select (tests/shim/waits.c) see the same readiness
# sequences and errors on the kernel and under the shim, including a
# listener that changes sides while it is in an epoll set.
. "$(dirname "$0")/../lib/shim.sh"
shim_compare "$DEMI_TOP/build/tests/shim/waits"
