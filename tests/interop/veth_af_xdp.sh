#!/usr/bin/env bash
# The stack on af_xdp over a veth pair, the kernel as the peer (veth.sh);
# also: the XDP program goes with the process, and one left by a killed
# process is reclaimed by the next start.
. "$(dirname "$0")/veth.sh"
veth_run af_xdp
