#!/usr/bin/env bash
# Every socket call of tests/shim/sockcalls.c (return values, errno, bytes)
# is the same on the kernel and under the shim: no config, rules that match
# nothing, and rules that bypass every listener with a device that cannot start.
. "$(dirname "$0")/../lib/shim.sh"
shim_compare "$DEMI_TOP/build/tests/shim/sockcalls"
